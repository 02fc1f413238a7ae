"""F-2.9: a product with registered devices is locked; the devices app's counter makes it so."""

import pytest

from products import actions as product_actions
from tests.devices.fixtures import WATER_METER, register, water_meter


def test_a_product_with_devices_cannot_be_deleted(owner_app, no_wake):
    product = water_meter(owner_app)
    register(owner_app, node_id="a", info=WATER_METER)
    register(owner_app, node_id="b", info=WATER_METER)
    assert product.device_count() == 2
    with pytest.raises(product_actions.ProductLocked) as locked:
        product_actions.do_delete_product(product)
    assert "2" in str(locked.value)


def test_deleting_the_devices_unlocks_it(owner_app, no_wake):
    from devices.actions import do_delete_device

    product = water_meter(owner_app)
    device = register(owner_app, info=WATER_METER)
    do_delete_device(device)
    product_actions.do_delete_product(product)
