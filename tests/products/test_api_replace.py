"""PUT /api/v1/profiles/{id}: a new zip for the same manufacturerId and model."""

from products.models import Product
from tests.products.fixtures import (
    DEVICE_FILE,
    build_zip,
    changed,
    import_files,
    put_file,
    service_path,
    water_meter_files,
)

VOLTAGE_UNIT = ("services", 0, "properties", 0, "unit")


def _url(product) -> str:
    return f"/api/v1/profiles/{product.product_id}"


def _changed_zip() -> bytes:
    return build_zip(changed(water_meter_files(), service_path("Electricity"), VOLTAGE_UNIT, "mV"))


def test_the_owner_replaces_the_profile(client, owner_app):
    product = import_files(owner_app)
    response = put_file(client, _url(product), _changed_zip(), headers=owner_app.headers())
    assert response.status_code == 200
    assert response.json()["serviceCapabilities"][0]["properties"][0]["unit"] == "mV"
    stored = Product.objects.get(pk=product.pk)
    assert bytes(stored.archive) == _changed_zip()
    assert stored.revision == product.revision + 1


def test_a_zip_for_another_product_is_refused(client, owner_app):
    product = import_files(owner_app)
    files = changed(water_meter_files(), DEVICE_FILE, ("devices", 0, "model"), "v2")
    response = put_file(
        client, _url(product), build_zip(files), "WaterMeter_Huawei_v2.zip", headers=owner_app.headers()
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "PROFILE_REPLACE_MISMATCH"
    assert "“v2”" in error["message"] and "“v1001”" in error["message"]
    assert Product.objects.get(pk=product.pk).model == "v1001"


def test_an_invalid_zip_changes_nothing(client, owner_app):
    product = import_files(owner_app)
    before = bytes(Product.objects.get(pk=product.pk).archive)
    bad = build_zip(changed(water_meter_files(), service_path("Electricity"), VOLTAGE_UNIT, 7))
    response = put_file(client, _url(product), bad, headers=owner_app.headers())
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "PROFILE_FIELD_TYPE"
    assert bytes(Product.objects.get(pk=product.pk).archive) == before


def test_another_application_gets_404_and_nothing_changes(client, owner_app, other_app):
    product = import_files(owner_app)
    response = put_file(client, _url(product), _changed_zip(), headers=other_app.headers())
    assert response.status_code == 404
    assert Product.objects.get(pk=product.pk).profile["services"][0]["properties"][0]["unit"] == "V"


def test_anonymous_is_refused_and_nothing_changes(client, owner_app):
    product = import_files(owner_app)
    response = put_file(client, _url(product), _changed_zip())
    assert response.status_code == 403
    assert Product.objects.get(pk=product.pk).revision == product.revision
