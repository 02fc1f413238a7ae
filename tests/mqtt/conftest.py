import pytest

from tests.applications.fixtures import create_app


@pytest.fixture(autouse=True)
def _mqtt_settings(settings):
    # The real codec path (issue 19): products.codecs with the WaterMeter JavaScript plugin
    # (tests.ingress.fixtures.water_product) for binary uplinks and command bytes.
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.PUSH_ALLOW_PRIVATE = True
    settings.INGRESS_HEARTBEAT_SECONDS = 1
    settings.MQTT_ACK_TIMEOUT = 2


@pytest.fixture
def owner_app(db):
    return create_app("Water utility")


@pytest.fixture
def server():
    from tests.mqtt.fixtures import ServerThread

    thread = ServerThread().start()
    yield thread
    thread.stop()
