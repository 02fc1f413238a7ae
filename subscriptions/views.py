"""Portal pages: subscriptions, push targets, the push log and the debugging page."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from applications import audit
from applications.errors import NorthboundError
from applications.models import Application
from subscriptions import actions
from subscriptions.forms import PushFilterForm, SampleForm, SubscribeForm
from subscriptions.models import PushMessage, PushTarget, Subscription


def _editable(request: HttpRequest):
    return Application.objects.editable_by(request.user)


@login_required
def subscription_list(request: HttpRequest) -> HttpResponse:
    visible = Application.objects.visible_to(request.user)
    editable = _editable(request)
    form = SubscribeForm(request.POST or None, applications=editable)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_subscribe(
                form.cleaned_data["application"], form.cleaned_data["notify_type"], form.cleaned_data["callback_url"]
            )
        except NorthboundError as error:
            audit.record_refusal(error)
            field = "notify_type" if error.error_code == "200002" else "callback_url"
            form.add_error(field, f"{error.error_desc} ({error.error_code})")
        else:
            messages.success(request, _("Subscribed."))
            return redirect("subscriptions:list")
    subscriptions = Subscription.objects.filter(application__in=visible).select_related("application")
    targets = PushTarget.objects.filter(application__in=visible).select_related("application").order_by("host", "port")
    return render(
        request,
        "subscriptions/list.html",
        {
            "subscriptions": subscriptions.order_by("application__name", "notify_type"),
            "targets": targets,
            "form": form,
            "editable_ids": set(editable.values_list("pk", flat=True)),
        },
    )


@login_required
@require_POST
def subscription_delete(request: HttpRequest, subscription_id: str) -> HttpResponse:
    subscription = get_object_or_404(
        Subscription.objects.filter(application__in=Application.objects.visible_to(request.user)),
        subscription_id=subscription_id,
    )
    if not _editable(request).filter(pk=subscription.application_id).exists():
        return HttpResponseForbidden(_("Only owners, developers and operators change subscriptions."))
    subscription.delete()
    messages.success(request, _("Subscription deleted."))
    return redirect("subscriptions:list")


@login_required
@require_POST
def target_lift(request: HttpRequest, target_id: int) -> HttpResponse:
    target = get_object_or_404(PushTarget.objects.filter(application__in=_editable(request)), pk=target_id)
    actions.do_lift_blacklist(target)
    messages.success(request, _("Blacklist lifted: pending pushes go out now."))
    return redirect("subscriptions:list")


@login_required
def push_log(request: HttpRequest) -> HttpResponse:
    visible = Application.objects.visible_to(request.user)
    filters = PushFilterForm(request.GET or None)
    pushes = PushMessage.objects.filter(application__in=visible).select_related("application")
    if filters.is_valid():
        data = filters.cleaned_data
        if data["application"]:
            pushes = pushes.filter(application__app_id=data["application"])
        if data["notify_type"]:
            pushes = pushes.filter(notify_type=data["notify_type"])
        if data["state"]:
            pushes = pushes.filter(state=data["state"])
        if data["q"]:
            pushes = pushes.filter(url__icontains=data["q"]) | pushes.filter(push_id__startswith=data["q"])
    page = Paginator(pushes.defer("body").order_by("-created_at", "-id"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "applications": visible,
        "query": query.urlencode(),
        "editable_ids": set(_editable(request).values_list("pk", flat=True)),
    }
    template = "subscriptions/partials/push_table.html" if request.htmx else "subscriptions/push_log.html"
    return render(request, template, context)


@login_required
def push_detail(request: HttpRequest, push_id: int) -> HttpResponse:
    push = get_object_or_404(
        PushMessage.objects.filter(application__in=Application.objects.visible_to(request.user)).select_related(
            "application", "target"
        ),
        pk=push_id,
    )
    body = bytes(push.body).decode(errors="replace")
    try:
        pretty = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        pretty = body
    return render(
        request,
        "subscriptions/push_detail.html",
        {
            "push": push,
            "body": pretty,
            "attempts": push.attempt_log.all(),
            "can_edit": _editable(request).filter(pk=push.application_id).exists(),
        },
    )


@login_required
@require_POST
def push_redeliver(request: HttpRequest, push_id: int) -> HttpResponse:
    push = get_object_or_404(PushMessage.objects.filter(application__in=_editable(request)), pk=push_id)
    actions.do_redeliver(push)
    messages.success(request, _("Push queued for delivery again."))
    return redirect("subscriptions:push-detail", push_id=push.pk)


@login_required
def debug(request: HttpRequest) -> HttpResponse:
    form = SampleForm(request.POST or None, applications=_editable(request))
    attempt = push = None
    if request.method == "POST" and form.is_valid():
        try:
            attempt = actions.do_send_sample(
                form.cleaned_data["application"], form.cleaned_data["notify_type"], form.cleaned_data["url"]
            )
        except NorthboundError as error:
            audit.record_refusal(error)
            form.add_error("url", error.error_desc)
        else:
            push = attempt.message if attempt else None
    return render(request, "subscriptions/debug.html", {"form": form, "attempt": attempt, "push": push})
