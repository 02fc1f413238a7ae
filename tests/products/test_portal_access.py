"""Every products page: anonymous callers are sent to sign in and change nothing; operators may change any."""

import pytest

from products.models import Product
from tests.products.fixtures import import_files, upload, water_meter_zip

PAGES = [
    "/products/",
    "/products/new/",
    "/products/upload/",
    "/products/{id}/",
    "/products/{id}/edit/",
    "/products/{id}/replace/",
    "/products/{id}/export/",
    "/products/{id}/delete/",
    "/products/{id}/services/new/",
    "/products/{id}/services/0/",
    "/products/{id}/services/0/delete/",
    "/products/{id}/services/0/properties/0/",
    "/products/{id}/services/0/properties/0/delete/",
    "/products/{id}/services/2/commands/0/",
    "/products/{id}/services/2/commands/0/paras/0/",
    "/products/{id}/services/2/commands/0/responses/0/",
    "/products/{id}/services/2/commands/0/responses/0/paras/0/delete/",
]


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_callers_sign_in_first_and_change_nothing(client, personas, page):
    product = import_files(personas.app)
    url = page.format(id=product.product_id)
    for response in (client.get(url), client.post(url, {"revision": product.revision, "unit": "mV"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    stored = Product.objects.get(pk=product.pk)
    assert (stored.revision, Product.objects.count()) == (product.revision, 1)


def test_an_operator_changes_any_applications_products(client, personas):
    product = import_files(personas.app)
    client.force_login(personas.operator)
    response = client.post(f"/products/{product.product_id}/services/0/properties/0/delete/", {"revision": 1})
    assert response.status_code == 302
    assert Product.objects.get(pk=product.pk).property_count == 6
    created = client.post(
        "/products/upload/", {"application": personas.other_app.application.app_id, "file": upload(water_meter_zip())}
    )
    assert created.status_code == 200  # the pair is taken: F-2.7 holds for operators too
    assert "PROFILE_DUPLICATE" in created.content.decode()
