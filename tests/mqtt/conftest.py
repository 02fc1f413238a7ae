import pytest

from tests.applications.fixtures import create_app


@pytest.fixture(autouse=True)
def _mqtt_settings(settings):
    # The WaterMeter test codec stands in for products.codecs (binary uplinks, command bytes).
    settings.INGRESS_CODEC_MODULE = "tests.ingress.water_codec"
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
