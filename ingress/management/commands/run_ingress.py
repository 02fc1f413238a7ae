"""`python manage.py run_ingress`: the device-access process.

Without `--worker` it supervises INGRESS_WORKERS worker processes that share COAP_PORT through
SO_REUSEPORT, and starts a new one when one dies (its devices' next notifications are accepted by the
others meanwhile, and the new worker observes the devices of the dead one again). `--worker` runs one
worker in this process: the network loop of ingress.worker around the pipeline of ingress.pipeline.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from applications.supervisor import supervise


class Command(BaseCommand):
    help = "Run the ingress: CoAP/LwM2M device access on COAP_PORT, INGRESS_WORKERS worker processes."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--workers", type=int, default=None, help="worker processes (INGRESS_WORKERS)")
        parser.add_argument("--port", type=int, default=None, help="CoAP port (COAP_PORT)")
        parser.add_argument("--worker", action="store_true", help="run one worker in this process")

    def handle(self, *args, workers: int | None, port: int | None, worker: bool, **options) -> None:
        port = port or settings.COAP_PORT
        if worker:
            asyncio.run(_run_worker(port))
            return
        _check_free(port, "COAP_PORT")
        _check_free(settings.COAPS_PORT, "COAPS_PORT")
        _supervise(workers or settings.INGRESS_WORKERS, port)


def _check_free(port: int, variable: str) -> None:
    """One clear line naming the variable when the port is taken (a stale server would share it)."""
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:
            probe.bind(("::", port))
        except OSError:
            raise CommandError(
                f"Port {port} is already in use (set {variable} to a free port, e.g. {variable}={port + 1})."
            ) from None


async def _run_worker(port: int) -> None:
    from ingress import metrics as ingress_metrics
    from ingress.worker import IngressWorker

    worker = IngressWorker(port=port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await worker.start()
    ingress_metrics.export_worker(worker)  # INGRESS_METRICS_PORT + WORKER_INDEX, when set
    await stopping.wait()
    await worker.stop()


def _supervise(count: int, port: int) -> None:
    command = [sys.executable, "manage.py", "run_ingress", "--worker", "--port", str(port)]
    print(f"ingress: {count} workers on CoAP port {port}", flush=True)
    supervise("ingress", command, count, settings.BASE_DIR)
