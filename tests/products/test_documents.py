"""The editor's changes to a profile, and the profile back into the zip's documents."""

import pytest

from products import documents
from products.validation import validate_archive, validate_documents
from tests.products.fixtures import WATER_METER_ZIP, water_meter_zip


@pytest.fixture
def profile() -> dict:
    return validate_archive(WATER_METER_ZIP, water_meter_zip()).profile


def test_documents_of_a_profile_validate_back_to_the_same_profile(profile):
    assert validate_documents(documents.to_documents(profile)) == profile


def test_the_documents_keep_the_originals_key_order(profile):
    device = documents.to_documents(profile)["profile/devicetype-capability.json"]["devices"][0]
    assert list(device)[:6] == [
        "manufacturerId",
        "manufacturerName",
        "model",
        "protocolType",
        "deviceType",
        "serviceTypeCapabilities",
    ]


def test_renaming_a_shared_service_type_copies_it(profile):
    shared = documents.set_service(profile, None, {"serviceId": "Backup", "serviceType": "Electricity", "option": ""})
    renamed = documents.set_service(
        shared.profile, 3, {"serviceId": "Backup", "serviceType": "Battery", "option": "", "description": "Cell"}
    )
    types = [service["serviceType"] for service in renamed.profile["services"]]
    assert types == ["Electricity", "WaterMeter", "WaterMeterAlarm", "Battery"]
    assert renamed.profile["services"][3]["properties"] == profile["services"][0]["properties"]
    assert validate_documents(documents.to_documents(renamed.profile))["services"][3]["description"] == "Cell"


def test_renaming_an_unshared_service_type_renames_it(profile):
    edit = documents.set_service(profile, 0, {"serviceId": "Power", "serviceType": "Power", "option": "Optional"})
    assert [s["serviceType"] for s in edit.profile["services"]] == ["Power", "WaterMeter", "WaterMeterAlarm"]
    assert edit.targets[1].file == "service/Power/profile/servicetype-capability.json"


def test_changes_never_touch_the_profile_they_start_from(profile):
    before = repr(profile)
    documents.set_property(profile, 0, 0, {"unit": "mV"})
    documents.delete_service(profile, 1)
    documents.set_para(profile, 2, 0, 0, None, {"paraName": "extra", "dataType": "int"})
    assert repr(profile) == before


def test_positions_out_of_range_are_not_found(profile):
    with pytest.raises(documents.NotFound):
        documents.set_property(profile, 7, 0, {})
    with pytest.raises(documents.NotFound):
        documents.delete_para(profile, 2, 0, None, 3)
