"""The portal shell: dashboard, accounts, health check."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from applications import actions
from applications.models import Application
from applications.redis import get_redis, key
from portal.forms import AccountForm


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    applications = Application.objects.visible_to(request.user)
    heartbeat = get_redis().get(key("heartbeat"))
    return render(
        request,
        "portal/dashboard.html",
        {
            "application_count": applications.count(),
            "recent_applications": applications.order_by("-created_at")[:5],
            "heartbeat": _readable(heartbeat.decode()) if heartbeat else None,
        },
    )


def _readable(iso_time: str) -> str:
    """`2026-11-26T07:18:34+00:00` as `2026-11-26 07:18:34`, the way live.js shows times too."""
    return iso_time.replace("T", " ").removesuffix("+00:00")


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
            if data["application"] and not data["is_operator"]:
                actions.do_add_member(data["application"], user, data["role"])
        return redirect("portal:accounts")
    return render(request, "portal/account_form.html", {"form": form})


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
