"""ASGI entry point of the web process: Django for HTTP, Channels for the portal's websockets.

HTTP requests run through Django's WSGI handler on a fixed pool of WEB_THREADS threads
(portal.bridge), not through its ASGI handler: every view here is synchronous, and the ASGI handler
starts a thread (and with it takes a database connection from the pool) for each request, then hops
between the event loop and that thread at every step: about 3 ms of CPU per northbound call,
measured by bench/commands_bench.py. Northbound paths get a shorter middleware list (portal.handlers).
Websockets stay on the event loop (Channels).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

from portal import handlers  # noqa: E402
from portal.bridge import ThreadedWSGI  # noqa: E402

django_application = ThreadedWSGI(handlers.build(), workers=settings.WEB_THREADS)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from portal.routing import websocket_urlpatterns  # noqa: E402
from portal.security import OriginValidator  # noqa: E402

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


class UnderscoreHeaders:
    """Let OceanConnect's `app_key` header reach Django, and only it.

    Servers commonly drop headers whose name has an underscore (Django's own ASGI handler does), to
    prevent spoofing between `app_key` and `app-key`, which both become HTTP_APP_KEY; the original's
    clients would never authenticate. We rename `app_key` to `app-key` in the scope after dropping
    any `app-key` the client sent itself, so only the original header can fill HTTP_APP_KEY.
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
            "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
)
