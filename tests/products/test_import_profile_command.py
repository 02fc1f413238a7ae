"""`manage.py import_profile PATH --app APPID`: the same validation and answers as the portal and the API."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from products.models import Product
from tests.products.fixtures import (
    WATER_METER_ZIP,
    build_zip,
    changed,
    import_files,
    service_path,
    water_meter_files,
    water_meter_zip,
)


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_profile", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _write(tmp_path, data: bytes, name: str = WATER_METER_ZIP):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_imports_a_zip_into_the_application(tmp_path, owner_app):
    out, _ = _run(_write(tmp_path, water_meter_zip()), "--app", owner_app.app_id)
    product = Product.objects.get()
    assert product.application == owner_app.application
    assert f"Imported {WATER_METER_ZIP}" in out
    assert str(product.product_id) in out


def test_json_output_is_the_apis_body(tmp_path, owner_app, client):
    out, _ = _run(_write(tmp_path, water_meter_zip()), "--app", owner_app.app_id, "--json")
    product = Product.objects.get()
    api = client.get(f"/api/v1/profiles/{product.product_id}", headers=owner_app.headers()).json()
    assert json.loads(out) == api


def test_a_refused_profile_lists_every_issue_and_stores_nothing(tmp_path, owner_app):
    files = changed(water_meter_files(), service_path("Electricity"), ("services", 0, "properties", 0, "method"), "RX")
    files[service_path("WaterMeter")] = '{"services": [\n  {"serviceType": "WaterMeter" "x": 1}]}'
    err = io.StringIO()
    with pytest.raises(CommandError, match="refused \\(2 issues\\)"):
        call_command("import_profile", _write(tmp_path, build_zip(files)), "--app", owner_app.app_id, stderr=err)
    lines = err.getvalue().splitlines()
    assert (
        f"{service_path('Electricity')} $.services[0].properties[0].method: PROFILE_METHOD: "
        "method “RX” must combine the letters R (read), W (write) and E (observe), each at most once, like RE."
    ) in lines
    assert any(line.startswith(f"{service_path('WaterMeter')}:2:32: PROFILE_JSON_SYNTAX") for line in lines)
    assert not Product.objects.exists()


def test_a_refused_profile_in_json_is_the_apis_error_body(tmp_path, owner_app, client):
    path = _write(tmp_path, b"not a zip")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_profile", path, "--app", owner_app.app_id, "--json", stdout=out)
    body = json.loads(out.getvalue())
    assert body["error_code"] == "100022"
    assert [error["code"] for error in body["errors"]] == ["PROFILE_NOT_ZIP"]


def test_the_duplicate_rule_applies_across_applications(tmp_path, owner_app, other_app):
    import_files(owner_app)
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_profile", _write(tmp_path, water_meter_zip()), "--app", other_app.app_id, stderr=err)
    assert "PROFILE_DUPLICATE: The manufacturerId and model already exist." in err.getvalue()
    assert owner_app.app_id not in err.getvalue()


def test_replace_updates_the_applications_product(tmp_path, owner_app):
    product = import_files(owner_app)
    files = changed(water_meter_files(), service_path("Electricity"), ("services", 0, "description"), "Mains")
    out, _ = _run(_write(tmp_path, build_zip(files)), "--app", owner_app.app_id, "--replace")
    assert "Replaced" in out
    assert Product.objects.get(pk=product.pk).profile["services"][0]["description"] == "Mains"


def test_replace_does_not_reach_another_applications_product(tmp_path, owner_app, other_app):
    product = import_files(owner_app)
    with pytest.raises(CommandError, match="has no product"):
        _run(_write(tmp_path, water_meter_zip()), "--app", other_app.app_id, "--replace")
    assert Product.objects.get(pk=product.pk).revision == product.revision


def test_an_unknown_application_or_file_is_a_clear_error(tmp_path, owner_app):
    with pytest.raises(CommandError, match="no application has the appId"):
        _run(_write(tmp_path, water_meter_zip()), "--app", "NoSuchApp")
    with pytest.raises(CommandError, match="no such file"):
        _run(str(tmp_path / "missing.zip"), "--app", owner_app.app_id)
