import pytest

from tests.applications.fixtures import create_app


@pytest.fixture
def owner_app(db):
    """The application whose resources a test works on."""
    return create_app("Owner application")


@pytest.fixture
def other_app(db):
    """Another tenant, which must neither see nor change the owner's resources."""
    return create_app("Other application")
