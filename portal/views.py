"""The portal shell: dashboard, accounts, audit log, health check."""

from __future__ import annotations

import csv
import datetime as dt
import json

from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from applications import actions, audit
from applications.addresses import client_address
from applications.models import Application, AuditEvent
from applications.redis import get_redis, key
from portal import dashboard as fleet
from portal.forms import AccountForm, AuditFilterForm


class LoginView(auth_views.LoginView):
    """Django's sign-in, throttled per (account, address) and per account (applications.login_throttle)."""

    template_name = "portal/login.html"

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        username = request.POST.get("username", "")
        blocked = actions.check_portal_login(username, client_address(request)) if username else None
        if blocked is None:
            return super().post(request, *args, **kwargs)
        # Refused before the password is checked: guessing on does not tell right from wrong.
        minutes = max(1, -(-blocked.retry_after // 60))
        context = self.get_context_data(form=self.get_form(), throttled_minutes=minutes)
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(blocked.retry_after)
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        username = form.data.get("username", "")
        if username and form.data.get("password"):
            actions.do_record_portal_login(username, client_address(self.request), succeeded=False)
        return super().form_invalid(form)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        actions.do_record_portal_login(user.get_username(), client_address(self.request), succeeded=True)
        return super().form_valid(form)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The fleet of one application at a glance: devices by status, traffic, pushes, commands, upgrades.

    `?application=<appId>` chooses among the visible applications; without it the first by name. The
    figures come from `portal.dashboard` (per-minute counters and a short-lived snapshot), never from a
    scan per request."""
    applications = list(Application.objects.visible_to(request.user).order_by("name", "pk")[:500])
    chosen = request.GET.get("application", "")
    application = next((one for one in applications if one.app_id == chosen), None)
    if application is None and chosen:
        application = Application.objects.visible_to(request.user).filter(app_id=chosen).first()
    if application is None and applications:
        application = applications[0]
    heartbeat = get_redis().get(key("heartbeat"))
    context = {
        "applications": applications,
        "application": application,
        "heartbeat": dt.datetime.fromisoformat(heartbeat.decode()) if heartbeat else None,
    }
    if application is not None:
        context["standing"] = fleet.standing_counts(application)
        context["traffic"] = fleet.traffic(application)
        context["snapshot_seconds"] = fleet.SNAPSHOT_SECONDS
    return render(request, "portal/dashboard.html", context)


def _require_operator(request: HttpRequest) -> None:
    if not request.user.is_staff:
        raise PermissionDenied("Only platform operators manage accounts.")


@login_required
def accounts(request: HttpRequest) -> HttpResponse:
    _require_operator(request)
    users = get_user_model().objects.annotate(application_count=Count("memberships")).order_by("username")
    return render(request, "portal/accounts.html", {"users": users})


@login_required
def account_create(request: HttpRequest) -> HttpResponse:
    _require_operator(request)
    form = AccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with transaction.atomic():
            user = get_user_model().objects.create_user(
                username=data["username"], password=data["password"], is_staff=data["is_operator"]
            )
            audit.record("account.created", target=user.get_username(), detail={"operator": data["is_operator"]})
            if data["application"] and not data["is_operator"]:
                actions.do_add_member(data["application"], user, data["role"])
        return redirect("portal:accounts")
    return render(request, "portal/account_form.html", {"form": form})


AUDIT_PAGE_SIZE = 100
AUDIT_COLUMNS = ("when", "actor_kind", "actor", "address", "action", "application", "target", "detail")


def _audit_events(form: AuditFilterForm):
    events = AuditEvent.objects.select_related("application").order_by("-occurred_at", "-id")
    if not form.is_valid():
        return events.none()
    data = form.cleaned_data
    if data["application"]:
        events = events.filter(application__app_id=data["application"])
    if data["action"]:
        events = events.filter(action__startswith=data["action"])  # "login" finds login.failed, login.throttled
    if data["actor"]:
        events = events.filter(actor__icontains=data["actor"])
    if data["since"]:
        events = events.filter(occurred_at__date__gte=data["since"])
    if data["until"]:
        events = events.filter(occurred_at__date__lte=data["until"])
    return events


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """Every audited change and security event, for platform operators: filters, pages and a CSV export."""
    if not request.user.is_staff:
        raise PermissionDenied("Only platform operators read the audit log.")
    form = AuditFilterForm(request.GET)
    events = _audit_events(form)
    if request.GET.get("export") == "csv":
        return _audit_csv(events)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "form": form,
        "applications": Application.objects.order_by("name"),
        "actions": AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct(),
        "query": query.urlencode(),
    }
    template = "portal/partials/audit_table.html" if request.htmx else "portal/audit.html"
    return render(request, template, context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _audit_csv(events) -> StreamingHttpResponse:
    """The filtered events as CSV, streamed in chunks (no page limit): times in UTC ISO 8601."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(AUDIT_COLUMNS)
        for event in events.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    event.occurred_at.isoformat(),
                    event.actor_kind,
                    event.actor,
                    event.address or "",
                    event.action,
                    event.application.app_id if event.application else "",
                    event.target,
                    json.dumps(event.detail, ensure_ascii=False, separators=(",", ":")),
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{timezone.now():%Y%m%dT%H%M%SZ}.csv"'
    return response


@never_cache
def livez(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Touches nothing, so it is also the bare baseline of bench/."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when PostgreSQL and Redis both answer, 503 naming the one that does not."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:  # any failure is the answer here, not a crash
        checks["database"] = f"error: {error.__class__.__name__}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as error:
        checks["redis"] = f"error: {error.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers and bookmarks ask for whatever the page links: the portal's icon."""
    return HttpResponsePermanentRedirect(staticfiles_storage.url("portal/favicon.svg"))
