import pytest

from tests.applications.fixtures import create_app
from tests.ingress.process import ingress  # noqa: F401  (the run_ingress process fixture)


@pytest.fixture(autouse=True)
def _pushes_to_localhost(settings):
    settings.PUSH_ALLOW_PRIVATE = True


@pytest.fixture
def owner_app(db):
    return create_app("Owner application")


@pytest.fixture
def other_app(db):
    return create_app("Other application")


@pytest.fixture
def no_wake(monkeypatch):
    calls = []
    monkeypatch.setattr("subscriptions.actions.wake", calls.append)
    return calls
