"""The online editor: the upload's rules, each issue shown beside the field it concerns."""

import io
import zipfile

import pytest

from products.models import Origin, Product
from tests.products.fixtures import import_files, service_path, simple_files

PROPERTY = {
    "propertyName": "pressure",
    "dataType": "decimal",
    "method": ["R", "E"],
    "required": "on",
    "min": "0",
    "max": "16.5",
    "step": "0.1",
    "maxLength": "",
    "unit": "bar",
    "enumList": "",
}


def _base(product) -> str:
    return f"/products/{product.product_id}"


def _post(client, url: str, product, data: dict, **kwargs):
    return client.post(url, {**data, "revision": product.revision}, **kwargs)


def _stored(product) -> Product:
    return Product.objects.get(pk=product.pk)


@pytest.fixture
def water_meter(personas):
    return import_files(personas.app)


@pytest.fixture
def developer(client, personas):
    client.force_login(personas.developer)
    return client


# --- Creating a product ----------------------------------------------------------------------------


def test_a_developer_creates_a_product_online(developer, personas):
    response = developer.post(
        "/products/new/",
        {
            "application": personas.app.application.app_id,
            "deviceType": "SmokeDetector",
            "manufacturerId": "Acme",
            "manufacturerName": "Acme Ltd",
            "model": "sd1",
            "protocolType": "LWM2M",
        },
    )
    product = Product.objects.get()
    assert response["Location"] == f"/products/{product.product_id}/"
    assert (product.archive_name, product.origin, product.service_count) == (
        "SmokeDetector_Acme_sd1.zip",
        Origin.ONLINE,
        0,
    )
    assert product.application == personas.app.application


def test_creating_shows_each_issue_beside_its_field(developer, personas, water_meter):
    response = developer.post(
        "/products/new/",
        {
            "application": personas.app.application.app_id,
            "deviceType": "smoke detector",
            "manufacturerId": "Huawei",
            "manufacturerName": "",
            "model": "v1001",
            "protocolType": "CoAP",
        },
    )
    errors = response.context["form"].errors
    assert errors["deviceType"] == [
        "deviceType “smoke detector” must be UpperCamelCase: a capital letter, then letters and digits "
        "(like WaterMeter)."
    ]
    assert errors["manufacturerName"] == ["manufacturerName must not be empty."]
    assert Product.objects.count() == 1
    page = response.content.decode()
    assert 'id="id_deviceType-error"' in page


def test_the_duplicate_rule_shows_beside_the_manufacturer_id(developer, personas, water_meter):
    response = developer.post(
        "/products/new/",
        {
            "application": personas.app.application.app_id,
            "deviceType": "WaterMeter",
            "manufacturerId": "Huawei",
            "manufacturerName": "Huawei",
            "model": "v1001",
            "protocolType": "CoAP",
        },
    )
    assert response.context["form"].errors["manufacturerId"] == ["The manufacturerId and model already exist."]
    assert Product.objects.count() == 1


# --- Properties ------------------------------------------------------------------------------------


def test_a_property_is_added_to_a_service(developer, water_meter):
    response = _post(developer, f"{_base(water_meter)}/services/0/properties/new/", water_meter, PROPERTY)
    assert response.status_code == 302
    assert response["Location"].endswith("#service-0")
    stored = _stored(water_meter)
    assert stored.profile["services"][0]["properties"][1] == {
        "propertyName": "pressure",
        "dataType": "decimal",
        "required": True,
        "min": 0,
        "max": 16.5,
        "step": 0.1,
        "maxLength": None,
        "method": "RE",
        "unit": "bar",
        "enumList": None,
    }
    assert (stored.property_count, stored.revision, stored.origin) == (8, water_meter.revision + 1, Origin.ONLINE)


def test_a_property_is_edited_and_the_export_has_it(developer, water_meter):
    url = f"{_base(water_meter)}/services/0/properties/0/"
    form = developer.get(url).context["form"]
    assert form.initial["propertyName"] == "voltage" and form.initial["method"] == ["R", "E"]
    data = {**form.initial, "unit": "mV", "max": "3000000", "required": "on"}
    response = _post(developer, url, water_meter, data)
    assert response.status_code == 302
    exported = zipfile.ZipFile(io.BytesIO(developer.get(f"{_base(water_meter)}/export/").content))
    assert '"unit": "mV"' in exported.read(service_path("Electricity")).decode()
    assert _stored(water_meter).profile["services"][0]["properties"][0]["max"] == 3000000


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"dataType": "float"}, "dataType", "dataType “float” must be one of"),
        ({"propertyName": "deviceAddress"}, "propertyName", "is already used at $.services[0].properties[0]"),
        ({"propertyName": ""}, "propertyName", "propertyName must not be empty."),
        ({"min": "20", "max": "10"}, "min", "min 20 is greater than max 10."),
        ({"enumList": "LOW,HIGH"}, "enumList", "enumList is for string data only"),
        ({"maxLength": "ten"}, "maxLength", "maxLength “ten” must be a whole number."),
        ({"step": "fast"}, "step", "step “fast” must be a number"),
        ({"method": []}, "method", "method must not be empty."),
    ],
)
def test_a_bad_property_shows_the_upload_rule_beside_its_field(developer, water_meter, changes, field, message):
    # the WaterMeter service (index 1) already has deviceAddress
    response = _post(
        developer, f"{_base(water_meter)}/services/1/properties/new/", water_meter, {**PROPERTY, **changes}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert f'id="id_{field}-error"' in response.content.decode() or field == "method"
    assert _stored(water_meter).revision == water_meter.revision


def test_live_validation_answers_with_the_form_and_saves_nothing(developer, water_meter):
    url = f"{_base(water_meter)}/services/0/properties/new/"
    headers = {"HX-Request": "true"}
    bad = _post(developer, url, water_meter, {**PROPERTY, "dataType": "float", "_validate": "1"}, headers=headers)
    good = _post(developer, url, water_meter, {**PROPERTY, "_validate": "1"}, headers=headers)
    # only the error slots come back, out of band: what the user types elsewhere is never replaced
    assert "<input" not in bad.content.decode()
    assert 'id="errors-dataType" hx-swap-oob="true"><div class="error" id="id_dataType-error"' in bad.content.decode()
    assert "No problems found." in good.content.decode()
    assert _stored(water_meter).property_count == 7


def test_an_edit_based_on_an_old_revision_is_refused(developer, water_meter):
    url = f"{_base(water_meter)}/services/0/properties/0/"
    stale = water_meter.revision
    _post(developer, url, water_meter, {**PROPERTY, "propertyName": "voltage", "unit": "mV"})
    response = developer.post(url, {**PROPERTY, "propertyName": "voltage", "unit": "kV", "revision": stale})
    assert "changed by someone else" in response.context["form"].non_field_errors()[0]
    assert _stored(water_meter).profile["services"][0]["properties"][0]["unit"] == "mV"


def test_a_property_is_deleted(developer, water_meter):
    response = _post(developer, f"{_base(water_meter)}/services/1/properties/0/delete/", water_meter, {})
    assert response.status_code == 302
    names = [p["propertyName"] for p in _stored(water_meter).profile["services"][1]["properties"]]
    assert names == ["signalStrength", "currentReading", "flowRateReading"]


# --- Services --------------------------------------------------------------------------------------


def test_a_service_is_added_renamed_and_deleted(developer, water_meter):
    base = _base(water_meter)
    add = _post(
        developer,
        f"{base}/services/new/",
        water_meter,
        {"serviceId": "Battery", "serviceType": "Battery", "option": "Optional"},
    )
    assert add["Location"].endswith("#service-3")
    product = _stored(water_meter)
    assert [s["serviceType"] for s in product.profile["services"]][-1] == "Battery"
    rename = _post(
        developer,
        f"{base}/services/3/",
        product,
        {"serviceId": "Power", "serviceType": "Power", "option": "", "description": "Mains"},
    )
    assert rename.status_code == 302
    product = _stored(water_meter)
    assert product.profile["device"]["serviceTypeCapabilities"][3] == {
        "serviceId": "Power",
        "serviceType": "Power",
        "option": "",
    }
    assert product.profile["services"][3]["description"] == "Mains"
    assert "battery" not in product.search_text
    delete = _post(developer, f"{base}/services/3/delete/", product, {})
    assert delete.status_code == 302
    product = _stored(water_meter)
    assert [s["serviceType"] for s in product.profile["services"]] == ["Electricity", "WaterMeter", "WaterMeterAlarm"]


def test_a_bad_service_type_is_shown_beside_it_and_nowhere_else(developer, water_meter):
    response = _post(
        developer,
        f"{_base(water_meter)}/services/0/",
        water_meter,
        {"serviceId": "Electricity", "serviceType": "mains power", "option": "Optional"},
    )
    errors = response.context["form"].errors
    assert list(errors) == ["serviceType"]
    assert "UpperCamelCase" in errors["serviceType"][0]


def test_a_second_service_of_an_existing_type_shares_its_content(developer, water_meter):
    _post(
        developer,
        f"{_base(water_meter)}/services/new/",
        water_meter,
        {"serviceId": "Backup", "serviceType": "Electricity", "option": "Optional"},
    )
    product = _stored(water_meter)
    assert product.service_count == 4
    assert product.service_capabilities()[3]["properties"][0]["propertyName"] == "voltage"


# --- Commands, responses, paras ----------------------------------------------------------------------


def test_a_command_with_paras_and_a_response_is_built_step_by_step(developer, personas):
    product = import_files(personas.app, simple_files())
    base = f"{_base(product)}/services/0/commands"
    steps = [
        (f"{base}/new/", {"commandName": "SET_THRESHOLD"}),
        (f"{base}/1/paras/new/", {"paraName": "level", "dataType": "int", "min": "1", "max": "0", "required": "on"}),
        (f"{base}/1/responses/new/", {"responseName": "SET_THRESHOLD_RSP"}),
        (f"{base}/1/responses/0/paras/new/", {"paraName": "result", "dataType": "string", "enumList": "OK, FAILED"}),
    ]
    for url, data in steps:
        response = _post(developer, url, _stored(product), data)
        assert response.status_code == 302, response.context["form"].errors
    command = _stored(product).profile["services"][0]["commands"][1]
    assert command["commandName"] == "SET_THRESHOLD"
    assert (command["paras"][0]["paraName"], command["paras"][0]["min"], command["paras"][0]["max"]) == ("level", 1, 0)
    assert command["responses"][0]["paras"][0]["enumList"] == ["OK", "FAILED"]
    assert _stored(product).command_count == 2


def test_a_bad_command_name_and_a_duplicate_para_are_shown_beside_their_fields(developer, water_meter):
    base = f"{_base(water_meter)}/services/2/commands"
    name = _post(developer, f"{base}/0/", water_meter, {"commandName": "set alarm"})
    para = _post(developer, f"{base}/0/paras/new/", water_meter, {"paraName": "highFlow", "dataType": "int"})
    assert "letters, digits and underscores" in name.context["form"].errors["commandName"][0]
    assert "already used" in para.context["form"].errors["paraName"][0]
    assert _stored(water_meter).revision == water_meter.revision


def test_responses_and_paras_are_deleted(developer, water_meter):
    base = f"{_base(water_meter)}/services/2/commands/0"
    _post(developer, f"{base}/responses/0/paras/0/delete/", water_meter, {})
    product = _stored(water_meter)
    assert product.profile["services"][2]["commands"][0]["responses"][0]["paras"] == []
    _post(developer, f"{base}/responses/0/delete/", product, {})
    product = _stored(water_meter)
    _post(developer, f"{base}/paras/0/delete/", product, {})
    command = _stored(water_meter).profile["services"][2]["commands"][0]
    assert (command["responses"], command["paras"]) == ([], [])


# --- Who may edit --------------------------------------------------------------------------------


def test_a_viewer_gets_403_and_changes_nothing(client, personas, water_meter):
    client.force_login(personas.viewer)
    url = f"{_base(water_meter)}/services/0/properties/0/"
    assert client.get(url).status_code == 403
    assert _post(client, url, water_meter, PROPERTY).status_code == 403
    assert _post(client, f"{url}delete/", water_meter, {}).status_code == 403
    assert _stored(water_meter).revision == water_meter.revision


def test_an_outsider_gets_404_and_changes_nothing(client, personas, water_meter):
    client.force_login(personas.outsider)
    url = f"{_base(water_meter)}/services/0/properties/0/"
    assert client.get(url).status_code == 404
    assert _post(client, url, water_meter, PROPERTY).status_code == 404
    assert _post(client, f"{_base(water_meter)}/edit/", water_meter, {"deviceType": "Hacked"}).status_code == 404
    assert _stored(water_meter).revision == water_meter.revision


def test_positions_that_do_not_exist_are_404(developer, water_meter):
    assert developer.get(f"{_base(water_meter)}/services/9/").status_code == 404
    assert developer.get(f"{_base(water_meter)}/services/0/properties/5/").status_code == 404
    assert developer.get(f"{_base(water_meter)}/services/0/commands/0/").status_code == 404


def test_a_locked_product_refuses_edits_with_the_count(developer, water_meter, registered_devices):
    registered_devices(water_meter, 4)
    url = f"{_base(water_meter)}/services/0/properties/0/"
    response = _post(developer, url, water_meter, {**PROPERTY, "propertyName": "voltage"})
    assert "devices registered with it: 4" in response.context["form"].non_field_errors()[0]
    deleted = _post(developer, f"{url}delete/", water_meter, {}, follow=True)
    assert "devices registered with it: 4" in deleted.content.decode()
    assert _stored(water_meter).revision == water_meter.revision


def test_the_device_fields_are_edited(developer, water_meter):
    url = f"{_base(water_meter)}/edit/"
    form = developer.get(url).context["form"]
    assert "application" not in form.fields
    response = _post(developer, url, water_meter, {**form.initial, "manufacturerName": "Huawei Technologies"})
    assert response.status_code == 302
    assert _stored(water_meter).manufacturer_name == "Huawei Technologies"
