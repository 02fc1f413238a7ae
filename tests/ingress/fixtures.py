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


# The WaterMeter codec as an OceanConnect-style JavaScript plugin, run by products.codecs in the sandbox:
# the layout of tests.ingress.water_codec (its docstring), so `water_codec.report()` builds its uplinks.
WATER_METER_JS = """
function decode(bytes) {
  var id = bytes[0];
  if (id === 0) {
    if (bytes.length !== 8) {
      throw new Error('data report: 8 bytes expected, got ' + bytes.length + ' (byte offset ' + bytes.length + ')');
    }
    var reading = ((bytes[2] << 24) >>> 0) + (bytes[3] << 16) + (bytes[4] << 8) + bytes[5];
    var data = {signalStrength: String(bytes[1]), currentReading: String(reading),
                flowRateReading: String((bytes[6] << 8) | bytes[7])};
    return {msgType: 'deviceReq', hasMore: 0, data: [{serviceId: 'WaterMeter', serviceData: data}]};
  }
  if (id === 1) {
    if (bytes.length !== 3) throw new Error('alarm report: 3 bytes expected, got ' + bytes.length);
    return {msgType: 'deviceReq', hasMore: 0,
            data: [{serviceId: 'WaterMeterAlarm', serviceData: {lowFlowAlarm: bytes[1], highFlowAlarm: bytes[2]}}]};
  }
  if (id === 2) {
    var result = (bytes[4] << 24) | (bytes[5] << 16) | (bytes[6] << 8) | bytes[7];
    return {msgType: 'deviceRsp', mid: (bytes[1] << 8) | bytes[2], errcode: bytes[3], body: {result: result}};
  }
  throw new Error('unknown messageId 0x' + ('0' + id.toString(16).toUpperCase()).slice(-2) + ' at byte offset 0');
}
function encode(obj) {
  if (obj.msgType === 'cloudRsp') return obj.request[0] === 0 ? [0xAA, 0xAA, obj.errcode, obj.hasMore] : null;
  var content = String(obj.paras.content), out = [3, obj.mid >> 8, obj.mid & 255];
  for (var i = 0; i < content.length; i++) out.push(content.charCodeAt(i) & 255);
  return out;
}
"""


def water_codec_zip() -> bytes:
    """The WaterMeter plugin as a user uploads it: manifest and script, no test vectors."""
    from tests.products.codecs.fixtures import plugin_zip

    manifest = {"manufacturerId": "Huawei", "model": "v1001", "entry": "codec.js", "version": "1.0.0"}
    return plugin_zip({"manifest.json": manifest, "codec.js": WATER_METER_JS})


def water_product(credentials: AppCredentials):
    """The application's WaterMeter product (imported once) with its JavaScript codec active: the real
    ingest path through products.codecs, the one shared fixture of the ingress tests (issue 19)."""
    from products import codec_actions
    from products.models import Product

    product = Product.objects.filter(application=credentials.application, model="v1001").first()
    if product is None:
        product = water_meter(credentials)
        codec_actions.do_upload_codec(credentials.application, "codec.zip", water_codec_zip(), product=product)
    return product


def water_device(credentials: AppCredentials, node_id: str = "863703030000001", **kwargs) -> Device:
    """A registered WaterMeter device, tied to the product (imported once per application, with the
    JavaScript WaterMeter codec: `water_product`)."""
    water_product(credentials)
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
