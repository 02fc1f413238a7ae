import io
import zipfile

import pytest

from devices import actions as device_actions
from devices.models import Device
from firmware import drivers
from tests.applications.fixtures import create_app
from tests.devices.fixtures import WATER_METER, register, water_meter
from tests.ingress.process import ingress  # noqa: F401  (the run_ingress process fixture)


@pytest.fixture(autouse=True)
def _pushes_to_localhost(settings, monkeypatch):
    settings.PUSH_ALLOW_PRIVATE = True
    monkeypatch.setattr("subscriptions.actions.wake", lambda target_id: None)


def package_zip(size: int = 2048) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("firmware.bin", bytes(range(256)) * (size // 256))
    return buffer.getvalue()


class RecordingDriver:
    """The engine's unit tests start upgrades here; the protocol drivers are tested with real devices."""

    def __init__(self):
        self.started = []

    def start(self, sub_operation):
        self.started.append(sub_operation.device.node_id)


@pytest.fixture
def driver():
    recording = RecordingDriver()
    previous = dict(drivers.DRIVERS)
    drivers.register("firmware_upgrade", recording)
    drivers.register("software_upgrade", recording)
    yield recording
    drivers.DRIVERS.clear()
    drivers.DRIVERS.update(previous)


@pytest.fixture
def owner_app(db):
    return create_app("Owner application")


@pytest.fixture
def other_app(db):
    return create_app("Other application")


@pytest.fixture
def meters(owner_app):
    water_meter(owner_app)
    devices = []
    for number in range(3):
        device = device_actions.do_bind_device(
            register(owner_app, node_id=f"8600000000000{number:02d}", info=WATER_METER)
        )
        Device.objects.filter(pk=device.pk).update(fw_version="V1.0", manufacturer_name="Huawei")
        devices.append(Device.objects.select_related("product").get(pk=device.pk))
    return devices


@pytest.fixture
def ingress_settings(settings):
    """For tests with the real run_ingress process: the real codec path (products.codecs, the WaterMeter
    JavaScript plugin `water_device` uploads), as run_ingress has it, and this process's channel layer
    under the test's Redis key prefix (drivers hand work to its workers)."""
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.INGRESS_HEARTBEAT_SECONDS = 1
    layer = settings.CHANNEL_LAYERS["default"]
    config = {**layer["CONFIG"], "prefix": f"{settings.REDIS_KEY_PREFIX}asgi"}
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": config}}
