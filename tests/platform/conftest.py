import pytest

from tests.applications.fixtures import create_app


@pytest.fixture
def owner_app(db):
    return create_app("Water utility")
