"""GET /api/v1/profiles/{id}: one profile of the calling application."""

import uuid

from tests.products.fixtures import import_files


def _url(product) -> str:
    return f"/api/v1/profiles/{product.product_id}"


def test_the_owner_reads_its_profile_with_services(client, owner_app):
    product = import_files(owner_app)
    response = client.get(_url(product), headers=owner_app.headers())
    assert response.status_code == 200
    body = response.json()
    assert body["profileId"] == str(product.product_id)
    alarm = body["serviceCapabilities"][2]
    assert alarm["serviceId"] == "WaterMeterAlarm" and alarm["option"] == "Mandatory"
    assert alarm["commands"][0]["paras"][0]["paraName"] == "highFlow"
    assert alarm["commands"][0]["responses"][0]["paras"][0]["paraName"] == "result"


def test_another_application_gets_404_like_a_missing_profile(client, owner_app, other_app):
    product = import_files(owner_app)
    theirs = client.get(_url(product), headers=other_app.headers())
    missing = client.get(f"/api/v1/profiles/{uuid.uuid4()}", headers=other_app.headers())
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json() == {"error_code": "200001", "error_desc": "The resource is not found"}


def test_anonymous_is_refused(client, owner_app):
    product = import_files(owner_app)
    response = client.get(_url(product))
    assert response.status_code == 403
    assert "profileId" not in response.json()


def test_an_id_that_is_no_uuid_is_404(client, owner_app):
    response = client.get("/api/v1/profiles/not-a-uuid", headers=owner_app.headers())
    assert response.status_code == 404
    assert response.json()["error_code"] == "200001"
