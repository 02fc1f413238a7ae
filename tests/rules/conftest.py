import pytest

from tests.applications.fixtures import create_app


@pytest.fixture(autouse=True)
def _rule_settings(settings, monkeypatch):
    # The real codec engine decodes the meter's bytes; pushes stay in the outbox (no worker here).
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.PUSH_ALLOW_PRIVATE = True
    settings.INGRESS_ACK_TIMEOUT = 0.2
    settings.INGRESS_MAX_RETRANSMIT = 2
    settings.INGRESS_HEARTBEAT_SECONDS = 1
    settings.CODEC_VERSION_CACHE_SECONDS = 0
    monkeypatch.setattr("subscriptions.actions.wake", lambda target_id: None)


@pytest.fixture
def owner_app(db):
    return create_app("Owner application")


@pytest.fixture
def other_app(db):
    return create_app("Other application")
