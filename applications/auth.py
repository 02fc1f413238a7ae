"""Northbound authentication: `app_key` + `Authorization: Bearer <token>` on every call.

Checks, in the original's order and with its answers:
- no bearer token: 403 `{"resultcode":"1010005",...}`;
- a token but no `app_key` (or `x-app-key`): 400 100220;
- a token that is unknown, expired, or belongs to another application than app_key: 403 1010005;
- `appId=` naming another application (the original's "authorized application"): 403 100217;
- the application's flow-control window exhausted: 403 1010004 with Retry-After.

`app_key` has an underscore, which Django's ASGI handler drops: portal.asgi renames it to
`app-key` before Django sees the request, so here both arrive as `app-key`.
"""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from applications.actions import check_access_token
from applications.audit import set_actor
from applications.errors import GatewayError, NorthboundError
from applications.models import ActorKind, Application
from applications.throttling import check_rate


def bearer_token(request: Request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def app_key(request: Request) -> str | None:
    return request.headers.get("app-key") or request.headers.get("x-app-key") or None


class NorthboundAuthentication(BaseAuthentication):
    """DRF authentication: `request.auth` becomes the calling Application."""

    def authenticate(self, request: Request) -> tuple[None, Application]:
        token = bearer_token(request)
        if token is None:
            raise GatewayError("1010005")
        key = app_key(request)
        if key is None:
            raise NorthboundError("100220")
        application = check_access_token(key, token)
        target = request.query_params.get("appId")
        if target and target != application.app_id:
            raise NorthboundError("100217")
        check_rate(application)
        # Changes this call makes are audited as this application's, from the request's address.
        set_actor(ActorKind.APPLICATION, application.app_id)
        return None, application

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class IsApplication(BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        return isinstance(request.auth, Application)


def get_application(request: Request) -> Application:
    """The authenticated application of a northbound request."""
    application = request.auth
    assert isinstance(application, Application)
    return application
