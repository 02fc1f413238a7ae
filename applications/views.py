"""Portal pages of the Management Portal's applications area."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from applications import actions
from applications.forms import ApplicationForm, MemberForm
from applications.models import Application, Membership
from applications.picking import pick_applications, picker_applications, picker_text, render_options


def _visible(request: HttpRequest, app_id: str) -> Application:
    return get_object_or_404(Application.objects.visible_to(request.user), app_id=app_id)


def _can_manage(request: HttpRequest, application: Application) -> bool:
    return Application.objects.managed_by(request.user).filter(pk=application.pk).exists()


@login_required
def application_pick(request: HttpRequest) -> HttpResponse:
    """An application picker's options: the first of the account's applications (those it may change with
    `editable=1`) whose name or appId starts with `q`."""
    text = picker_text(request)
    options = [
        {"value": app.app_id, "label": str(app)} for app in pick_applications(picker_applications(request), text)
    ]
    return render_options(
        request,
        options,
        text,
        empty=_("No application's name or appId starts with “%(text)s”.") % {"text": text},
        hint=_("Type the start of an application's name or appId."),
    )


@login_required
def application_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    applications = Application.objects.visible_to(request.user).annotate(member_count=Count("memberships"))
    if query:
        applications = applications.filter(Q(name__icontains=query) | Q(app_id__icontains=query))
    template = "applications/partials/table.html" if request.htmx else "applications/list.html"
    return render(request, template, {"applications": applications, "query": query})


@login_required
def application_create(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        return HttpResponseForbidden(_("Only platform operators create applications."))
    form = ApplicationForm(request.POST or None, initial={"api_rate_limit": settings.NORTHBOUND_RATE_LIMIT})
    if request.method == "POST" and form.is_valid():
        fields = {name: value for name, value in form.cleaned_data.items() if name != "name"}
        application, secret = actions.do_create_application(form.cleaned_data["name"], owner=request.user, **fields)
        return render(request, "applications/created.html", {"application": application, "secret": secret})
    return render(request, "applications/form.html", {"form": form, "creating": True})


@login_required
def application_detail(request: HttpRequest, app_id: str) -> HttpResponse:
    application = _visible(request, app_id)
    members = Membership.objects.for_app(application).select_related("user").order_by("user__username")
    return render(
        request,
        "applications/detail.html",
        {
            "application": application,
            "members": members,
            "can_manage": _can_manage(request, application),
            "member_form": MemberForm(),
        },
    )


@login_required
def application_edit(request: HttpRequest, app_id: str) -> HttpResponse:
    application = _visible(request, app_id)
    if not _can_manage(request, application):
        return HttpResponseForbidden(_("Only the application's owners and operators change its settings."))
    form = ApplicationForm(request.POST or None, instance=application)
    if request.method == "POST" and form.is_valid():
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        if changes:
            actions.do_update_settings(application, changes)
        messages.success(request, _("Settings saved."))
        return redirect("applications:detail", app_id=application.app_id)
    return render(request, "applications/form.html", {"form": form, "application": application})


@login_required
@require_POST
def application_reset_secret(request: HttpRequest, app_id: str) -> HttpResponse:
    application = _visible(request, app_id)
    if not _can_manage(request, application):
        return HttpResponseForbidden(_("Only the application's owners and operators reset its secret."))
    secret = actions.do_reset_secret(application)
    return render(request, "applications/partials/secret.html", {"application": application, "secret": secret})


@login_required
@require_POST
def member_add(request: HttpRequest, app_id: str) -> HttpResponse:
    application = _visible(request, app_id)
    if not _can_manage(request, application):
        return HttpResponseForbidden(_("Only the application's owners and operators manage its members."))
    form = MemberForm(request.POST)
    if form.is_valid():
        actions.do_add_member(application, form.user, form.cleaned_data["role"])
        form = MemberForm()
    members = Membership.objects.for_app(application).select_related("user").order_by("user__username")
    return render(
        request,
        "applications/partials/members.html",
        {"application": application, "members": members, "can_manage": True, "member_form": form},
    )


@login_required
@require_POST
def member_remove(request: HttpRequest, app_id: str, user_id: int) -> HttpResponse:
    application = _visible(request, app_id)
    if not _can_manage(request, application):
        return HttpResponseForbidden(_("Only the application's owners and operators manage its members."))
    actions.do_remove_member(application, user_id)
    members = Membership.objects.for_app(application).select_related("user").order_by("user__username")
    return render(
        request,
        "applications/partials/members.html",
        {"application": application, "members": members, "can_manage": True, "member_form": MemberForm()},
    )
