import pytest

from tests.portal.fixtures import create_personas


@pytest.fixture
def personas(db):
    return create_personas()
