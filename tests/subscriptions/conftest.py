import pytest

from tests.applications.fixtures import create_app
from tests.subscriptions.receiver import Receiver


@pytest.fixture(autouse=True)
def _private_callbacks_allowed(settings):
    # The receivers of these tests listen on 127.0.0.1; tests of the refusal turn this off.
    settings.PUSH_ALLOW_PRIVATE = True
    settings.CELERY_TASK_ALWAYS_EAGER = False


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def second_receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def owner_app(db):
    return create_app("Owner application")


@pytest.fixture
def other_app(db):
    return create_app("Other application")


@pytest.fixture
def no_wake(monkeypatch):
    """Deliver by calling delivery directly: no Celery task is started by commits."""
    calls = []
    monkeypatch.setattr("subscriptions.actions.wake", calls.append)
    return calls
