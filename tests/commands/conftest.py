import pytest

from devices import actions as device_actions
from devices.models import Device
from tests.applications.fixtures import create_app
from tests.devices.fixtures import WATER_METER, register, water_meter


@pytest.fixture(autouse=True)
def _pushes_to_localhost(settings):
    settings.PUSH_ALLOW_PRIVATE = True


@pytest.fixture
def no_wake(monkeypatch):
    calls = []
    monkeypatch.setattr("subscriptions.actions.wake", calls.append)
    return calls


class FakeTransport:
    """Stands in for the device's radio in these unit tests of the state machine; the end-to-end
    tests in tests/ingress drive real devices."""

    def __init__(self):
        self.sent = []
        self.refuse = None

    def encode(self, device, cloud_req):
        from commands.transport import EncodeError

        if self.refuse:
            raise EncodeError(self.refuse)
        return repr(cloud_req).encode()

    def deliver(self, command, payload):
        self.sent.append((command.command_id, payload))

    def reachable(self, device):
        return True


@pytest.fixture
def transport(monkeypatch):
    fake = FakeTransport()
    monkeypatch.setattr("commands.transport.encode", fake.encode)
    monkeypatch.setattr("commands.transport.deliver", fake.deliver)
    monkeypatch.setattr("commands.transport.reachable", fake.reachable)
    return fake


@pytest.fixture
def owner_app(db):
    return create_app("Owner application")


@pytest.fixture
def other_app(db):
    return create_app("Other application")


@pytest.fixture
def meter(owner_app, no_wake):
    """An online WaterMeter device of the owner application."""
    water_meter(owner_app)
    device = register(owner_app, info=WATER_METER)
    device_actions.do_bind_device(device)
    return Device.objects.select_related("product", "application").get(pk=device.pk)
