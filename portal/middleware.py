"""Request-wide context the layers below need without knowing HTTP."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from applications import audit
from applications.addresses import client_address
from applications.models import ActorKind


class AuditContextMiddleware:
    """Attribute the audit events of a request to its portal account (or nobody yet) and its address.

    The northbound authentication names the application once it knows it (applications.auth)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        address = client_address(request)
        # Only a session cookie makes request.user cost a query; API calls carry none, and the
        # northbound chain (portal.handlers) has no authentication middleware at all.
        user = getattr(request, "user", None) if request.COOKIES else None
        if user is not None and user.is_authenticated:
            kind, name = ActorKind.USER, user.get_username()
        else:
            kind, name = ActorKind.ANONYMOUS, ""
        with audit.acting_as(kind, name, address):
            return self.get_response(request)
