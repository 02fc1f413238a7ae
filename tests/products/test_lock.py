"""F-2.9: a product with registered devices can be neither edited, replaced nor deleted."""

import pytest

from products import actions, documents, locks
from products.actions import ProductLocked
from products.models import Product
from tests.products.fixtures import WATER_METER_ZIP, import_files, put_file, simple_files, water_meter_zip


def test_without_a_devices_app_no_product_has_devices(owner_app):
    product = import_files(owner_app)
    assert product.device_count() == 0
    assert not product.is_locked()
    assert locks.count_devices([]) == {}


def test_a_product_with_devices_cannot_be_deleted_and_the_message_counts_them(owner_app, registered_devices):
    # given
    product = import_files(owner_app)
    registered_devices(product, 3)
    # when
    with pytest.raises(ProductLocked) as refused:
        actions.do_delete_product(product)
    # then
    assert refused.value.device_count == 3
    assert refused.value.issue.code == "PROFILE_LOCKED"
    assert "devices registered with it: 3" in refused.value.issue.message_en
    assert "已注册 3 个设备" in refused.value.issue.message_zh
    assert Product.objects.filter(pk=product.pk).exists()


def test_a_product_with_devices_cannot_be_edited(owner_app, registered_devices):
    product = import_files(owner_app)
    registered_devices(product, 1)
    edit = documents.set_property(product.profile, 0, 0, {"unit": "mV"})
    with pytest.raises(ProductLocked):
        actions.do_edit_profile(product, edit.profile, revision=product.revision)
    stored = Product.objects.get(pk=product.pk)
    assert stored.profile["services"][0]["properties"][0]["unit"] == "V"
    assert stored.revision == product.revision


def test_a_product_with_devices_cannot_be_replaced(owner_app, registered_devices):
    product = import_files(owner_app)
    before = bytes(Product.objects.get(pk=product.pk).archive)
    registered_devices(product, 2)
    with pytest.raises(ProductLocked):
        actions.do_replace_profile(product, WATER_METER_ZIP, water_meter_zip())
    assert bytes(Product.objects.get(pk=product.pk).archive) == before


def test_the_api_answers_409_with_the_count(client, owner_app, registered_devices):
    product = import_files(owner_app)
    registered_devices(product, 5)
    url = f"/api/v1/profiles/{product.product_id}"
    deleted = client.delete(url, headers=owner_app.headers())
    replaced = put_file(client, url, water_meter_zip(), headers=owner_app.headers())
    for response in (deleted, replaced):
        assert response.status_code == 409
        body = response.json()
        assert body["error_code"] == "200002"
        assert body["errors"][0]["code"] == "PROFILE_LOCKED"
        assert "devices registered with it: 5" in body["errors"][0]["message"]
    assert Product.objects.filter(pk=product.pk).exists()


def test_freed_products_can_be_deleted_again(owner_app, registered_devices):
    product = import_files(owner_app)
    registered_devices(product, 1)
    with pytest.raises(ProductLocked):
        actions.do_delete_product(product)
    registered_devices(product, 0)
    actions.do_delete_product(product)
    assert not Product.objects.filter(pk=product.pk).exists()


def test_a_list_counts_every_product_with_one_call_per_counter(owner_app, registered_devices):
    products = [import_files(owner_app, simple_files(model=f"m{number}")) for number in range(5)]
    registered_devices(products[2], 4)
    registered_devices.queries.clear()
    counts = actions.device_counts(products)
    assert counts == {product.pk: (4 if product == products[2] else 0) for product in products}
    assert len(registered_devices.queries) == 1
