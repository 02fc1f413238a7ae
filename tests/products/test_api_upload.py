"""POST /api/v1/profiles: upload a zip as the multipart field `file`."""

from products.models import Product
from tests.products.fixtures import (
    DEVICE_FILE,
    WATER_METER_ZIP,
    build_zip,
    changed,
    service_path,
    upload,
    water_meter_files,
    water_meter_zip,
)

URL = "/api/v1/profiles"


def test_the_owner_uploads_a_profile_and_gets_it_back(client, owner_app):
    # when
    response = client.post(URL, {"file": upload(water_meter_zip())}, headers=owner_app.headers())
    # then
    assert response.status_code == 201
    body = response.json()
    product = Product.objects.get()
    assert product.application == owner_app.application
    assert body["profileId"] == str(product.product_id)
    assert (body["deviceType"], body["manufacturerId"], body["model"]) == ("WaterMeter", "Huawei", "v1001")
    assert body["deviceCount"] == 0
    assert [service["serviceId"] for service in body["serviceCapabilities"]] == [
        "Electricity",
        "WaterMeter",
        "WaterMeterAlarm",
    ]
    voltage = body["serviceCapabilities"][0]["properties"][0]
    assert voltage == {
        "propertyName": "voltage",
        "dataType": "double",
        "required": True,
        "min": 0,
        "max": 3000,
        "step": 0.1,
        "maxLength": None,
        "method": "RE",
        "unit": "V",
        "enumList": None,
    }
    assert len(body["createdAt"]) == 16 and body["createdAt"].endswith("Z")


def test_an_invalid_profile_is_400_with_every_issue_and_stores_nothing(client, owner_app):
    # given: a wrong data type, and a syntax error in another file
    files = changed(water_meter_files(), service_path("Electricity"), ("services", 0, "properties", 0, "dataType"), "x")
    files[service_path("WaterMeter")] = '{\n  "services": [\n    {"serviceType": "WaterMeter",}\n  ]\n}'
    # when
    response = client.post(URL, {"file": upload(build_zip(files))}, headers=owner_app.headers())
    # then
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "100022"
    assert body["error_desc"].startswith("The input is invalid.")
    assert "(1 more)" in body["error_desc"]
    assert sorted(body["errors"], key=lambda error: error["code"]) == [
        {
            "code": "PROFILE_DATA_TYPE",
            "file": service_path("Electricity"),
            "path": "$.services[0].properties[0].dataType",
            "line": None,
            "column": None,
            "message": "dataType “x” must be one of int, decimal, double, string, DateTime, jsonObject.",
            "message_zh": "dataType 的值 “x” 必须是 int、decimal、double、string、DateTime、jsonObject 之一。",
        },
        {
            "code": "PROFILE_JSON_SYNTAX",
            "file": service_path("WaterMeter"),
            "path": "",
            "line": 3,
            "column": 34,
            "message": "The input format is wrong, the file is not valid JSON: Expecting property name enclosed in "
            "double quotes.",
            "message_zh": "文件输入格式有误，不是合法的 JSON：Expecting property name enclosed in double quotes。",  # noqa: RUF001
        },
    ]
    assert not Product.objects.exists()


def test_a_file_that_is_no_zip_is_refused(client, owner_app):
    response = client.post(URL, {"file": upload(b"hello", "WaterMeter_Huawei_v1001.zip")}, headers=owner_app.headers())
    assert response.status_code == 400
    assert [error["code"] for error in response.json()["errors"]] == ["PROFILE_NOT_ZIP"]


def test_the_zip_name_counts(client, owner_app):
    response = client.post(URL, {"file": upload(water_meter_zip(), "profile.zip")}, headers=owner_app.headers())
    assert response.status_code == 400
    assert [error["code"] for error in response.json()["errors"]] == ["PROFILE_ZIP_NAME"]
    assert response.json()["errors"][0]["file"] == "profile.zip"


def test_no_file_is_a_documented_error(client, owner_app):
    multipart = client.post(URL, {"other": "x"}, headers=owner_app.headers())
    json_body = client.post(URL, '{"file": "x"}', content_type="application/json", headers=owner_app.headers())
    assert multipart.status_code == 400
    assert multipart.json()["errors"][0]["code"] == "PROFILE_FILE_MISSING"
    assert json_body.status_code == 400
    assert json_body.json()["error_code"] == "100022"
    assert not Product.objects.exists()


def test_a_file_over_the_limit_is_refused(client, owner_app, settings):
    settings.PROFILE_MAX_UPLOAD_BYTES = 1000
    response = client.post(URL, {"file": upload(water_meter_zip())}, headers=owner_app.headers())
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "PROFILE_UPLOAD_TOO_LARGE"
    assert not Product.objects.exists()


def test_anonymous_uploads_are_refused_and_store_nothing(client, db):
    response = client.post(URL, {"file": upload(water_meter_zip())})
    assert response.status_code == 403
    assert response.json() == {"resultcode": "1010005", "resultmsg": "Invalid access token or appId."}
    assert not Product.objects.exists()


def test_the_app_id_query_of_another_application_is_refused(client, owner_app, other_app):
    response = client.post(
        f"{URL}?appId={other_app.app_id}", {"file": upload(water_meter_zip())}, headers=owner_app.headers()
    )
    assert response.status_code == 403
    assert not Product.objects.exists()


def test_the_upload_and_its_errors_are_in_the_openapi_schema(client, db):
    schema = client.get("/api/schema/?format=json").json()
    post = schema["paths"]["/api/v1/profiles"]["post"]
    assert post["operationId"] == "uploadProfile"
    assert "multipart/form-data" in post["requestBody"]["content"]
    error = post["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/ProfileError")
    issue = schema["components"]["schemas"]["ProfileIssue"]["properties"]
    assert set(issue) == {"code", "file", "path", "line", "column", "message", "message_zh"}
    assert (
        "application/zip"
        in schema["paths"]["/api/v1/profiles/{profile_id}/export"]["get"]["responses"]["200"]["content"]
    )


def test_the_device_file_name_is_in_the_mismatch_error(client, owner_app):
    response = client.post(
        URL, {"file": upload(water_meter_zip(), "WaterMeter_Huawei_v9.zip")}, headers=owner_app.headers()
    )
    assert response.json()["errors"][0]["file"] == DEVICE_FILE
    assert WATER_METER_ZIP in response.json()["errors"][0]["message"]
