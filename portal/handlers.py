"""The web process's Django handlers: the whole middleware list for the portal and our own API, a
short one for the OceanConnect northbound paths.

A northbound call carries `app_key` and a bearer token, never a session, a CSRF token or a language
choice, and answers JSON that no browser frames: sessions, CSRF, authentication, messages, locale,
htmx, clickjacking and static files do nothing for it but cost about 0.7 ms of CPU per call
(bench/commands_bench.py). The security and common middlewares stay, the hostile-input guard, and the
audit context (the caller's address for the audit log).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

NORTHBOUND_PREFIXES = ("/iocm/", "/iodm/")
NORTHBOUND_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    # The audit log's "from where" (and a fresh actor per call, so nothing is carried over by a thread).
    "portal.middleware.AuditContextMiddleware",
    "applications.guard.HostileInputMiddleware",
]


class NorthboundHandler(WSGIHandler):
    """Django's WSGI handler built with NORTHBOUND_MIDDLEWARE instead of settings.MIDDLEWARE."""

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler reads settings.MIDDLEWARE; this runs once, when the process starts.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = NORTHBOUND_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


def build() -> Callable[[dict, Callable], Iterable[bytes]]:
    """One WSGI application routing by path: northbound calls to the short chain."""
    full, northbound = WSGIHandler(), NorthboundHandler()

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        handler = northbound if environ.get("PATH_INFO", "").startswith(NORTHBOUND_PREFIXES) else full
        return handler(environ, start_response)

    return application
