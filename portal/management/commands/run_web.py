"""`python manage.py run_web`: the web process (portal, northbound API, websockets) under uvicorn.

HTTP on HTTP_PORT always; HTTPS on HTTPS_PORT as well when TLS_CERT_FILE and TLS_KEY_FILE are set.
Both servers share one event loop and stop together on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.ports import check_free


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us, so two servers stop together."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def build_configs(host: str, http_port: int, https_port: int, cert: str, key: str, **extra) -> list[uvicorn.Config]:
    common = dict(
        app="portal.asgi:application", host=host, lifespan="off", ws="websockets-sansio", proxy_headers=True, **extra
    )
    configs = [uvicorn.Config(port=http_port, **common)]
    if cert and key:
        # The original's clients use two-way TLS. They are served without their certificate being
        # checked: Python's CERT_OPTIONAL would abort the handshake on a certificate from an
        # unknown CA, so the server asks for none (CERT_NONE) and a client that has one simply
        # connects. Application identity is the appId/secret login, as in the original.
        configs.append(
            uvicorn.Config(port=https_port, ssl_certfile=cert, ssl_keyfile=key, ssl_cert_reqs=ssl.CERT_NONE, **common)
        )
    return configs


async def serve(configs: list[uvicorn.Config]) -> None:
    servers = [_Server(config) for config in configs]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    await asyncio.gather(*(server.serve() for server in servers))


class Command(BaseCommand):
    help = "Run the web process: portal, northbound API and websockets (HTTP, and HTTPS when TLS files are set)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--log-level", default="info")

    def handle(self, *args, log_level: str, **options) -> None:
        cert, key = settings.TLS_CERT_FILE, settings.TLS_KEY_FILE
        if bool(cert) != bool(key):
            raise CommandError("TLS_CERT_FILE and TLS_KEY_FILE must be set together")
        ports = [("HTTP_PORT", settings.HTTP_PORT)] + ([("HTTPS_PORT", settings.HTTPS_PORT)] if cert else [])
        problem = check_free(settings.BIND_ADDRESS, ports)
        if problem:
            raise CommandError(problem)
        configs = build_configs(
            settings.BIND_ADDRESS, settings.HTTP_PORT, settings.HTTPS_PORT, cert, key, log_level=log_level
        )
        asyncio.run(serve(configs))
