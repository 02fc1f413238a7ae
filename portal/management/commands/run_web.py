"""`python manage.py run_web`: the web process (portal, northbound API, websockets) under uvicorn.

HTTP on HTTP_PORT always; HTTPS on HTTPS_PORT as well when TLS_CERT_FILE and TLS_KEY_FILE are set.
Both servers share one event loop and stop together on SIGINT/SIGTERM. With WEB_WORKERS (or
`--workers`) above 1 this process supervises that many such processes (`--worker`), which share the
ports through SO_REUSEPORT: Python runs one thread at a time in a process (the GIL), so one web
process never uses more than one core.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import ssl
import sys

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from applications.supervisor import supervise
from portal.ports import check_free


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us, so two servers stop together."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def build_configs(
    host: str,
    http_port: int,
    https_port: int,
    cert: str,
    key: str,
    *,
    client_ca: str = "",
    client_cert_required: bool = True,
    **extra,
) -> list[uvicorn.Config]:
    # uvicorn takes the client's address and scheme from X-Forwarded-For/-Proto only from the same
    # proxies as applications.addresses does (TRUSTED_PROXIES), so the two never disagree.
    common = dict(
        app="portal.asgi:application",
        host=host,
        lifespan="off",
        ws="websockets-sansio",
        proxy_headers=True,
        forwarded_allow_ips=list(settings.TRUSTED_PROXIES),
        **extra,
    )
    configs = [uvicorn.Config(port=http_port, **common)]
    if cert and key:
        # The original's clients use two-way TLS. Without TLS_CLIENT_CA_FILE they are served without
        # their certificate being checked: Python's CERT_OPTIONAL would abort the handshake on a
        # certificate from an unknown CA, so the server asks for none (CERT_NONE) and a client that
        # has one simply connects. Application identity is the appId/secret login, as in the original.
        # With TLS_CLIENT_CA_FILE, two-way TLS as the original's: a client certificate signed by one
        # of those CAs is required (CERT_REQUIRED), or, with TLS_CLIENT_CERT_REQUIRED off, verified
        # when sent and not asked for otherwise (CERT_OPTIONAL).
        tls: dict = {"ssl_cert_reqs": ssl.CERT_NONE}
        if client_ca:
            tls = {
                "ssl_ca_certs": client_ca,
                "ssl_cert_reqs": ssl.CERT_REQUIRED if client_cert_required else ssl.CERT_OPTIONAL,
            }
        configs.append(uvicorn.Config(port=https_port, ssl_certfile=cert, ssl_keyfile=key, **tls, **common))
    return configs


def shared_socket(host: str, port: int) -> socket.socket:
    """A listening address several worker processes bind at once (SO_REUSEPORT): the kernel spreads the
    connections over them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every answer waits for the client's delayed ACK (about 40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((host, port))
    return sock


async def serve(configs: list[uvicorn.Config], *, shared: bool = False) -> None:
    servers = [_Server(config) for config in configs]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    if shared:
        sockets = [[shared_socket(config.host, config.port)] for config in configs]
        await asyncio.gather(*(server.serve(sockets=each) for server, each in zip(servers, sockets, strict=True)))
    else:
        await asyncio.gather(*(server.serve() for server in servers))


class Command(BaseCommand):
    help = "Run the web process: portal, northbound API and websockets (HTTP, and HTTPS when TLS files are set)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--log-level", default="info")
        parser.add_argument("--workers", type=int, default=None, help="web processes (WEB_WORKERS)")
        parser.add_argument("--worker", action="store_true", help="run one of several workers in this process")

    def handle(self, *args, log_level: str, workers: int | None, worker: bool, **options) -> None:
        cert, key = settings.TLS_CERT_FILE, settings.TLS_KEY_FILE
        if bool(cert) != bool(key):
            raise CommandError("TLS_CERT_FILE and TLS_KEY_FILE must be set together")
        ports = [("HTTP_PORT", settings.HTTP_PORT)] + ([("HTTPS_PORT", settings.HTTPS_PORT)] if cert else [])
        workers = max(1, workers or settings.WEB_WORKERS)
        if not worker:
            problem = check_free(settings.BIND_ADDRESS, ports)
            if problem:
                raise CommandError(problem)
        if workers > 1 and not worker:
            command = [sys.executable, "manage.py", "run_web", "--worker", "--log-level", log_level]
            print(f"web: {workers} workers on HTTP port {settings.HTTP_PORT}", flush=True)
            supervise("web", command, workers, settings.BASE_DIR)
            return
        if settings.TLS_CLIENT_CA_FILE and not cert:
            raise CommandError("TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE (two-way TLS is on HTTPS_PORT)")
        configs = build_configs(
            settings.BIND_ADDRESS,
            settings.HTTP_PORT,
            settings.HTTPS_PORT,
            cert,
            key,
            client_ca=settings.TLS_CLIENT_CA_FILE,
            client_cert_required=settings.TLS_CLIENT_CERT_REQUIRED,
            log_level=log_level,
        )
        from portal import observability

        observability.serve_web()  # WEB_METRICS_PORT + WORKER_INDEX on METRICS_ADDRESS, when set: never HTTP_PORT
        asyncio.run(serve(configs, shared=worker))
