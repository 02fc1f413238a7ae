"""The portal's browser-facing protections: response headers and the websocket origin check.

- Content-Security-Policy on every portal page (settings.CONTENT_SECURITY_POLICY): scripts only from
  our own static files, so an injected `<script>` or `onclick=` does not run. A constant header is
  one line here; a library (django-csp) would add a dependency and per-request machinery for nothing
  we use (no nonces: the pages have no inline script at all).
- Cookies marked `Secure` when the request came over TLS (directly on HTTPS_PORT, or through a proxy
  that says so in X-Forwarded-Proto). Not always: the same process answers plain HTTP on HTTP_PORT,
  where a Secure cookie would be dropped and nobody could sign in.
- HSTS is Django's SecurityMiddleware's (SECURE_HSTS_SECONDS, set from HSTS_SECONDS): sent only over TLS.
- Websocket handshakes: the Origin must be one the configured hosts allow, always. Channels'
  AllowedHostsOriginValidator accepts any Origin (even `null`) when ALLOWED_HOSTS is '*'; then
  the Origin must at least be the host the socket was opened to (same origin), which a page on
  another site cannot fake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


class SecurityHeadersMiddleware:
    """Adds the Content-Security-Policy header and marks cookies Secure under TLS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        if request.is_secure():
            for morsel in response.cookies.values():
                morsel["secure"] = True
        return response


def _host_and_port(netloc: str, scheme: str) -> tuple[str, str]:
    domain, port = split_domain_port(netloc.lower())
    return domain, port or DEFAULT_PORTS.get(scheme, "")


def origin_allowed(origin: str, host: str, scheme: str = "ws") -> bool:
    """Whether a websocket handshake with this Origin header, sent to this Host, may proceed.

    A configured ALLOWED_HOSTS (not '*') names the hosts an Origin may have, as Django's own host
    check does (".example.com" takes its subdomains); CSRF_TRUSTED_ORIGINS adds whole origins (a proxy
    on another port). With ALLOWED_HOSTS '*' (the development default) the Origin must be the socket's
    own host and port. No Origin, `null`, or anything but http(s): refused.
    """
    if not origin or origin == "null":
        return False
    parsed = urlsplit(origin)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return False
    if origin.lower().rstrip("/") in {trusted.lower().rstrip("/") for trusted in settings.CSRF_TRUSTED_ORIGINS}:
        return True
    origin_host, origin_port = _host_and_port(parsed.netloc, parsed.scheme)
    if not origin_host:
        return False
    if any(is_same_domain(origin_host, pattern) for pattern in settings.ALLOWED_HOSTS if pattern != "*"):
        return True
    if "*" not in settings.ALLOWED_HOSTS:
        return False
    # '*': same origin. The socket's scheme is ws/wss; the page's, http/https, on the same port.
    page_scheme = "https" if scheme == "wss" else "http"
    return (origin_host, origin_port) == _host_and_port(host, page_scheme)


class OriginValidator:
    """ASGI middleware refusing (403) websocket handshakes whose Origin the configured hosts do not allow."""

    def __init__(self, application: Callable) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> Any:
        if scope["type"] == "websocket":
            headers = dict(scope.get("headers") or [])
            origin = headers.get(b"origin", b"").decode("latin1")
            host = headers.get(b"host", b"").decode("latin1")
            if not origin_allowed(origin, host, scope.get("scheme", "ws")):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
