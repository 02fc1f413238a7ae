import pytest

from tests.applications.fixtures import create_app
from tests.ingress.process import ingress  # noqa: F401  (the run_ingress process fixture)


@pytest.fixture(autouse=True)
def _ingress_settings(settings):
    # The real codec path (issue 19): products.codecs, with the WaterMeter JavaScript plugin that
    # tests.ingress.fixtures.water_product uploads; pushes go to local receivers; CoAP retransmission
    # is shortened so timeouts take a second, not 225 s.
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.PUSH_ALLOW_PRIVATE = True
    settings.INGRESS_ACK_TIMEOUT = 0.2
    settings.INGRESS_MAX_RETRANSMIT = 2
    settings.INGRESS_HEARTBEAT_SECONDS = 1


@pytest.fixture
def owner_app(db):
    return create_app("Water utility")
