"""ASGI entry point of the web process: Django for HTTP, Channels for the portal's websockets."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from portal.routing import websocket_urlpatterns  # noqa: E402

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


class UnderscoreHeaders:
    """Let OceanConnect's `app_key` header reach Django.

    Django's ASGIRequest drops every header whose name has an underscore (to prevent spoofing
    between `app_key` and `app-key`), so the original's clients would never authenticate. We rename
    `app_key` to `app-key` in the scope, after dropping any `app-key` the client sent itself, so
    only the original header can fill it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            if any(name == b"app_key" for name, _ in headers):
                renamed = [(b"app-key", value) for name, value in headers if name == b"app_key"]
                kept = [(name, value) for name, value in headers if name not in (b"app_key", b"app-key")]
                scope = dict(scope, headers=kept + renamed)
        await self.app(scope, receive, send)


application = UnderscoreHeaders(
    ProtocolTypeRouter(
        {
            "http": django_application,
            "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
)
