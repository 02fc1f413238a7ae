"""Plain helpers for ingress tests: a WaterMeter device tied to its product, a worker on a free port."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from devices.models import Device
from ingress.worker import IngressWorker
from portal.ports import free_port
from tests.applications.fixtures import AppCredentials
from tests.devices.fixtures import WATER_METER, register, water_meter


def free_udp_port() -> int:
    import socket

    for _ in range(20):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free UDP port")


def water_device(credentials: AppCredentials, node_id: str = "863703030000001", **kwargs) -> Device:
    """A registered WaterMeter device, tied to the product (imported once per application)."""
    from products.models import Product

    if not Product.objects.filter(application=credentials.application, model="v1001").exists():
        water_meter(credentials)
    return register(credentials, node_id, info=WATER_METER, **kwargs)


class WorkerThread:
    """An ingress worker with its own event loop in a thread of the test process."""

    def __init__(self, port: int | None = None, coaps_port: int | None = None) -> None:
        self.port = port or free_udp_port()
        self.coaps_port = coaps_port or free_udp_port()
        self.loop = asyncio.new_event_loop()
        self.worker = IngressWorker(host="127.0.0.1", port=self.port, coaps_port=self.coaps_port)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop.run_forever()
        # Closed in its own thread: channels_redis wraps close() to flush with run_until_complete,
        # which fails in a thread where another loop runs (Playwright's, in browser tests).
        self.loop.close()

    def start(self) -> WorkerThread:
        self.thread.start()
        self.call(self.worker.start())
        return self

    def call(self, coroutine: Any, timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def run(self, function: Callable[[], Any], timeout: float = 10) -> Any:
        async def wrapped():
            return function()

        return self.call(wrapped(), timeout)

    def stop(self) -> None:
        self.call(self.worker.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


async def off_loop(function: Callable, *args: Any) -> Any:
    """Run ORM code from a test's coroutine in a thread, returning its connection to the pool."""
    from django.db import close_old_connections

    def run():
        try:
            return function(*args)
        finally:
            close_old_connections()

    return await asyncio.to_thread(run)
