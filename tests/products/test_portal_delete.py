"""Deleting a product in the portal: a confirmation page, owners and developers only, never a locked one."""

from products.models import Product
from tests.products.fixtures import import_files


def _url(product) -> str:
    return f"/products/{product.product_id}/delete/"


def test_the_owner_confirms_and_deletes(client, personas):
    product = import_files(personas.app)
    client.force_login(personas.owner)
    confirm = client.get(_url(product)).content.decode()
    assert "Delete WaterMeter_Huawei_v1001?" in confirm
    assert Product.objects.filter(pk=product.pk).exists()  # the page alone deletes nothing
    response = client.post(_url(product))
    assert response.status_code == 302
    assert not Product.objects.exists()


def test_a_viewer_and_an_outsider_cannot_delete(client, personas):
    product = import_files(personas.app)
    client.force_login(personas.viewer)
    assert client.post(_url(product)).status_code == 403
    client.force_login(personas.outsider)
    assert client.post(_url(product)).status_code == 404
    assert Product.objects.filter(pk=product.pk).exists()


def test_a_locked_product_is_not_deleted(client, personas, registered_devices):
    product = import_files(personas.app)
    registered_devices(product, 1)
    client.force_login(personas.owner)
    page = client.post(_url(product)).content.decode()
    assert "devices registered with it: 1" in page
    assert Product.objects.filter(pk=product.pk).exists()
