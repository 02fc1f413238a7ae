"""Uploading a profile in the portal: the errors listed readably, nothing stored when refused."""

from products.models import Product
from tests.products.fixtures import (
    WATER_METER_ZIP,
    build_zip,
    changed,
    import_files,
    service_path,
    upload,
    water_meter_files,
    water_meter_zip,
)

URL = "/products/upload/"


def test_a_developer_uploads_into_an_application_of_theirs(client, personas):
    client.force_login(personas.developer)
    response = client.post(URL, {"application": personas.app.application.app_id, "file": upload(water_meter_zip())})
    product = Product.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/products/{product.product_id}/"
    assert product.application == personas.app.application


def test_a_refused_upload_lists_file_path_line_and_message(client, personas):
    # given
    files = changed(water_meter_files(), service_path("Electricity"), ("services", 0, "properties", 0, "dataType"), "x")
    files[service_path("WaterMeter")] = '{"services": [\n  {"serviceType": "WaterMeter",}]}'
    client.force_login(personas.owner)
    # when
    response = client.post(URL, {"application": personas.app.application.app_id, "file": upload(build_zip(files))})
    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert "The profile was refused: 2 problems" in page
    assert service_path("Electricity") in page and "$.services[0].properties[0].dataType" in page
    assert service_path("WaterMeter") in page and "2:32" in page
    assert "PROFILE_DATA_TYPE" in page and "F-2.8" in page
    assert "dataType “x” must be one of int, decimal, double, string, DateTime, jsonObject." in page
    assert not Product.objects.exists()


def test_errors_show_in_chinese_for_a_chinese_portal(client, personas):
    client.force_login(personas.owner)
    client.cookies["django_language"] = "zh-hans"
    response = client.post(
        URL, {"application": personas.app.application.app_id, "file": upload(b"no zip", WATER_METER_ZIP)}
    )
    assert "文件不是 zip 格式" in response.content.decode()


def test_no_file_is_the_documented_error(client, personas):
    client.force_login(personas.owner)
    response = client.post(URL, {"application": personas.app.application.app_id})
    assert "PROFILE_FILE_MISSING" in response.content.decode()


def test_a_viewer_may_not_upload(client, personas):
    client.force_login(personas.viewer)
    assert client.get(URL).status_code == 403
    response = client.post(URL, {"application": personas.app.application.app_id, "file": upload(water_meter_zip())})
    assert response.status_code == 403
    assert not Product.objects.exists()


def test_nobody_uploads_into_someone_elses_application(client, personas):
    client.force_login(personas.outsider)
    response = client.post(URL, {"application": personas.app.application.app_id, "file": upload(water_meter_zip())})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Product.objects.exists()


def test_the_application_choice_lists_only_the_accounts_applications(client, personas):
    client.force_login(personas.owner)
    page = client.get(URL).content.decode()
    assert personas.app.application.name in page
    assert personas.other_app.application.name not in page


def test_replace_in_the_portal(client, personas):
    product = import_files(personas.app)
    client.force_login(personas.owner)
    unit = ("services", 0, "properties", 0, "unit")
    data = build_zip(changed(water_meter_files(), service_path("Electricity"), unit, "kV"))
    response = client.post(f"/products/{product.product_id}/replace/", {"file": upload(data)})
    assert response.status_code == 302
    assert Product.objects.get(pk=product.pk).profile["services"][0]["properties"][0]["unit"] == "kV"


def test_replace_by_a_viewer_or_an_outsider_changes_nothing(client, personas):
    product = import_files(personas.app)
    client.force_login(personas.viewer)
    assert client.post(f"/products/{product.product_id}/replace/", {"file": upload(b"x")}).status_code == 403
    client.force_login(personas.outsider)
    assert client.post(f"/products/{product.product_id}/replace/", {"file": upload(b"x")}).status_code == 404
    assert Product.objects.get(pk=product.pk).revision == product.revision
