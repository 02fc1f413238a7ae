"""The reference's WaterMeter_Huawei_v1001 example imports, and export followed by import is lossless."""

import io
import zipfile

from products import actions, documents
from products.models import Origin, Product
from products.validation import validate_archive
from tests.products.fixtures import WATER_METER_ZIP, build_zip, import_files, water_meter_files, water_meter_zip


def test_the_example_imports_with_its_three_services(owner_app):
    # when
    product = actions.do_import_profile(owner_app.application, WATER_METER_ZIP, water_meter_zip())
    # then
    product = Product.objects.get(pk=product.pk)
    assert (product.device_type, product.manufacturer_id, product.model) == ("WaterMeter", "Huawei", "v1001")
    assert (product.manufacturer_name, product.protocol_type) == ("Huawei", "CoAP")
    assert (product.service_count, product.property_count, product.command_count) == (3, 7, 2)
    assert product.origin == Origin.UPLOAD
    services = product.service_capabilities()
    assert [(s["serviceId"], s["option"]) for s in services] == [
        ("Electricity", "Optional"),
        ("WaterMeter", "Master"),
        ("WaterMeterAlarm", "Mandatory"),
    ]
    water_meter = services[1]
    assert [p["propertyName"] for p in water_meter["properties"]] == [
        "deviceAddress",
        "signalStrength",
        "currentReading",
        "flowRateReading",
    ]
    command = water_meter["commands"][0]
    assert (command["commandName"], command["paras"][0]["maxLength"], command["responses"]) == (
        "SET_METER_REPORT",
        1024,
        [],
    )
    assert services[0]["commands"] == []  # null in the file
    alarm = services[2]["commands"][0]
    assert alarm["responses"][0]["responseName"] == "SET_HIGHFLOW_ALARM_RSP"


def test_export_gives_back_the_uploaded_bytes(owner_app):
    data = water_meter_zip()
    product = actions.do_import_profile(owner_app.application, WATER_METER_ZIP, data)
    assert bytes(Product.objects.get(pk=product.pk).archive) == data


def test_export_then_import_gives_an_identical_profile(owner_app):
    # given
    product = actions.do_import_profile(owner_app.application, WATER_METER_ZIP, water_meter_zip())
    profile, exported = product.profile, bytes(Product.objects.get(pk=product.pk).archive)
    # when
    actions.do_delete_product(product)
    again = actions.do_import_profile(owner_app.application, product.archive_name, exported)
    # then
    assert Product.objects.get(pk=again.pk).profile == profile


def test_an_edited_product_exports_a_rebuilt_zip_that_imports_identically(owner_app):
    # given: the example, with a property changed in the online editor
    product = import_files(owner_app)
    edit = documents.set_property(product.profile, 0, 0, {"unit": "mV", "max": 3000000})
    product = actions.do_edit_profile(product, edit.profile, revision=product.revision)
    exported = bytes(product.archive)
    # when
    actions.do_delete_product(product)
    again = actions.do_import_profile(owner_app.application, product.archive_name, exported)
    # then
    stored = Product.objects.get(pk=again.pk).profile
    assert stored == product.profile
    assert stored["services"][0]["properties"][0]["unit"] == "mV"
    names = zipfile.ZipFile(io.BytesIO(exported)).namelist()
    assert "profile/devicetype-capability.json" in names
    assert "service/WaterMeterAlarm/profile/servicetype-capability.json" in names


def test_the_rebuilt_zip_is_the_same_bytes_for_the_same_profile():
    profile = validate_archive(WATER_METER_ZIP, water_meter_zip()).profile
    assert documents.build_archive(profile) == documents.build_archive(
        validate_archive(WATER_METER_ZIP, documents.build_archive(profile)).profile
    )


def test_the_display_file_survives_an_online_edit(owner_app):
    files = {**water_meter_files(), "profile/devicetype-display.json": ""}
    product = actions.do_import_profile(owner_app.application, WATER_METER_ZIP, build_zip(files))
    edit = documents.set_device(product.profile, {"manufacturerName": "Huawei Technologies"})
    product = actions.do_edit_profile(product, edit.profile, revision=product.revision)
    names = zipfile.ZipFile(io.BytesIO(bytes(product.archive))).namelist()
    assert "profile/devicetype-display.json" in names
    assert product.manufacturer_name == "Huawei Technologies"
