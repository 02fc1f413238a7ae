from collections.abc import Callable, Iterator

import pytest

from products import locks
from tests.applications.fixtures import create_app
from tests.products.fixtures import Personas


@pytest.fixture
def owner_app(db):
    """The application whose products a test works on."""
    return create_app("Owner application")


@pytest.fixture
def other_app(db):
    """Another tenant, which must neither see nor change the owner's products."""
    return create_app("Other application")


@pytest.fixture
def personas(db) -> Personas:
    return Personas()


@pytest.fixture
def registered_devices() -> Iterator[Callable[[object, int], None]]:
    """Pretend devices are registered with products, as the devices app's counter will report them.

    `registered_devices(product, 3)` makes the product count 3 devices; the counter is removed after
    the test, so other tests see the real (empty) registry.
    """
    counts: dict[int, int] = {}
    queries: list[list[int]] = []

    def counter(product_ids):
        queries.append(list(product_ids))
        return {pk: counts[pk] for pk in product_ids if pk in counts}

    unregister = locks.register_device_counter(counter)

    def register(product, count: int) -> None:
        counts[product.pk] = count

    register.queries = queries
    yield register
    unregister()
