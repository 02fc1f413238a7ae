"""Middleware of the portal shell."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class SyncChain:
    """Keeps the whole middleware chain synchronous under ASGI.

    WhiteNoise and Django's MiddlewareMixin middlewares are adapted between async and sync at every
    boundary when the innermost one is async-capable, which costs a thread hop per middleware and
    request (measured by bench/auth_bench.py: about 0.8 ms of CPU per request). This sync-only
    middleware, last in the list, makes Django build one synchronous chain that runs in one thread.
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
