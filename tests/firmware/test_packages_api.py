import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from firmware.models import Package
from tests.firmware.conftest import package_zip

FIELDS = {
    "fileType": "firmwarePackage", "version": "V1.1", "deviceType": "WaterMeter", "manufacturerName": "Huawei",
    "model": "v1001", "protocolType": "LWM2M", "sourceVersions": "V1.0 V1.0.1", "description": "fixes",
}  # fmt: skip


def _upload(client, credentials, data=None, **overrides):
    body = {**FIELDS, **overrides, "file": SimpleUploadedFile("fw.zip", data or package_zip())}
    return client.post("/api/v1/firmware-packages", body, headers=credentials.headers())


def test_upload_computes_the_sha256_and_answers_the_file_id(client, owner_app):
    import hashlib

    data = package_zip()
    response = _upload(client, owner_app, data)
    assert response.status_code == 201
    body = response.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["sourceVersions"] == ["V1.0", "V1.0.1"]
    assert Package.objects.get(file_id=body["fileId"]).size == len(data)


def test_not_a_zip_is_refused(client, owner_app):
    response = _upload(client, owner_app, b"MZ\x90\x00 not a zip")
    assert response.status_code == 400
    assert response.json()["error_code"] == "123001" and "not a zip" in response.json()["error_desc"]
    assert not Package.objects.exists()


def test_over_35_mb_is_refused(client, owner_app):
    response = _upload(client, owner_app, b"0" * (35 * 1024 * 1024 + 1))
    assert "35 MB" in response.json()["error_desc"]


@pytest.mark.parametrize("field", ["fileType", "version", "deviceType", "model"])
def test_missing_fields_are_named(client, owner_app, field):
    response = _upload(client, owner_app, **{field: ""})
    assert field in response.json()["error_desc"]


def test_category_lists_gets_and_deletes(client, owner_app, other_app):
    file_id = _upload(client, owner_app).json()["fileId"]
    listing = client.get(
        "/iodm/northbound/v1.5.0/category?fileType=firmwarePackage", headers=owner_app.headers()
    ).json()
    assert (listing["totalCount"], listing["pageSize"], listing["data"][0]["fileId"]) == (1, 10, file_id)
    assert client.get("/iodm/northbound/v1.5.0/category", headers=other_app.headers()).json()["totalCount"] == 0
    other = client.get(f"/iodm/northbound/v1.5.0/category/{file_id}", headers=other_app.headers())
    assert other.status_code == 404 and other.json()["error_code"] == "123002"
    assert client.delete(f"/iodm/northbound/v1.5.0/category/{file_id}", headers=other_app.headers()).status_code == 404
    assert client.delete(f"/iodm/northbound/v1.5.0/category/{file_id}", headers=owner_app.headers()).status_code == 200
    assert not Package.objects.exists()


def test_bad_page_size_is_120015(client, owner_app):
    response = client.get("/iodm/northbound/v1.5.0/category?pageSize=101", headers=owner_app.headers())
    assert response.status_code == 400 and response.json()["error_code"] == "120015"
