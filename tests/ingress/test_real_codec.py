"""The ingress with the real codec engine (products.codecs, issue 4) instead of the test codec."""

from __future__ import annotations

import asyncio
import struct

import pytest

from devices.models import DataHistory, DeviceLog, LogKind
from ingress.pipeline import DECODE_ERROR, STORED, Uplink, handle_uplink
from ingress.simulator import connect
from tests.devices.fixtures import register
from tests.ingress.fixtures import WorkerThread
from tests.products.codecs.fixtures import deploy, meter

pytestmark = pytest.mark.django_db(transaction=True)
ACME = {"manufacturerId": "Acme", "deviceType": "WaterMeter", "model": "m1", "protocolType": "LWM2M"}


@pytest.fixture(autouse=True)
def _real_codecs(settings):
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.CODEC_VERSION_CACHE_SECONDS = 0


@pytest.fixture
def device(owner_app):
    deploy(meter(owner_app))
    return register(owner_app, "867724030000001", info=ACME)


def test_an_online_plugin_decodes_the_uplink_over_lwm2m(device):
    worker = WorkerThread().start()
    try:

        async def scenario():
            simulated = await connect(device.node_id, worker.port)
            await simulated.notify(b"\x01" + struct.pack(">Ih", 4321, -5))
            simulated.close()

        asyncio.run(scenario())
    finally:
        worker.stop()
    rows = list(DataHistory.objects.filter(device_id=device.pk))
    assert [(row.service_id, row.data) for row in rows] == [("Meter", {"reading": 4321, "temperature": -5})]


def test_the_engines_error_names_message_field_and_offset_in_the_device_log(device):
    outcome = handle_uplink(Uplink(device.pk, b"\x01\x00\x00"))

    assert outcome.result == DECODE_ERROR
    entry = DeviceLog.objects.filter(device=device, kind=LogKind.DECODE_ERROR).get()
    assert entry.raw == "010000"
    assert "decode failed:" in entry.summary and "reading" in entry.summary


def test_a_stored_uplink_with_the_engine(device):
    assert handle_uplink(Uplink(device.pk, b"\x01" + struct.pack(">Ih", 7, 21))).result == STORED
