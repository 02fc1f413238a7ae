"""GET /api/v1/profiles/{id}/export: the zip, byte for byte."""

from tests.products.fixtures import WATER_METER_ZIP, import_files, upload, water_meter_zip


def _url(product) -> str:
    return f"/api/v1/profiles/{product.product_id}/export"


def test_the_owner_downloads_the_zip_it_uploaded(client, owner_app):
    product = import_files(owner_app)
    response = client.get(_url(product), headers=owner_app.headers())
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="{WATER_METER_ZIP}"'
    assert response.content == water_meter_zip()


def test_the_exported_zip_imports_again_through_the_api(client, owner_app):
    product = import_files(owner_app)
    exported = client.get(_url(product), headers=owner_app.headers()).content
    profile = client.get(f"/api/v1/profiles/{product.product_id}", headers=owner_app.headers()).json()
    assert client.delete(f"/api/v1/profiles/{product.product_id}", headers=owner_app.headers()).status_code == 204
    again = client.post("/api/v1/profiles", {"file": upload(exported)}, headers=owner_app.headers()).json()
    assert again["serviceCapabilities"] == profile["serviceCapabilities"]


def test_another_application_gets_404(client, owner_app, other_app):
    product = import_files(owner_app)
    response = client.get(_url(product), headers=other_app.headers())
    assert response.status_code == 404
    assert b"PK" not in response.content


def test_anonymous_is_refused(client, owner_app):
    product = import_files(owner_app)
    response = client.get(_url(product))
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
