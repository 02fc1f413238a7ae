"""The profile editor's LwM2M mapping page (products.lwm2m_views): it saves through the action the API
calls, refuses a wrong path or type with the rule beside the field, keeps what it does not show, and its
picker searches the registry and the product's own objects; viewers read, outsiders get 404."""

from __future__ import annotations

import io

import pytest

from applications.actions import do_login
from products import actions
from products.models import Product
from tests.products.fixtures import import_files
from tests.products.lwm2m_fixtures import standard_files, standard_mapping
from tests.products.test_lwm2m_objects import OWN_DDF


@pytest.fixture
def product(personas):
    return import_files(personas.app, standard_files())


def _url(product, tail: str = "") -> str:
    return f"/products/{product.product_id}/lwm2m/{tail}"


def _stored(product) -> dict:
    return Product.objects.get(pk=product.pk).lwm2m_mapping


def _rows(product) -> dict[str, str]:
    """The form's field names of the standard profile's rows, by serviceId.name."""
    from products import lwm2m_forms

    return {f"{row.service_id}.{row.name}": row.prefix for row in lwm2m_forms.rows(product.profile, {})}


def test_the_owner_maps_properties_and_commands_and_the_api_returns_them(client, personas, product):
    client.force_login(personas.owner)
    rows = _rows(product)
    temperature, reboot, timezone = rows["Temperature.temperature"], rows["Device.REBOOT"], rows["Device.SET_TIMEZONE"]

    response = client.post(
        _url(product),
        {
            "pmin": "60",
            "pmax": "3600",
            f"{temperature}-path": "/3303/0/5700",
            f"{temperature}-st": "0.5",
            f"{reboot}-path": "/3/0/4",
            f"{reboot}-operation": "execute",
            f"{timezone}-path": "/3/0/15",
            f"{timezone}-operation": "write",
            f"{timezone}-para": "timezone",
        },
    )

    assert response.status_code == 302
    credentials = personas.app
    pair = do_login(credentials.application.app_id, credentials.secret)
    credentials.access_token, credentials.refresh_token = pair.access_token, pair.refresh_token
    exported = client.get(f"/api/v1/profiles/{product.product_id}/lwm2m", headers=credentials.headers()).json()
    assert exported == {
        "objects": [],
        "attributes": {"pmin": 60, "pmax": 3600},
        "properties": [
            {"serviceId": "Temperature", "property": "temperature", "path": "/3303/0/5700", "attributes": {"st": 0.5}}
        ],
        "commands": [
            {"serviceId": "Device", "command": "REBOOT", "path": "/3/0/4", "operation": "execute"},
            {"serviceId": "Device", "command": "SET_TIMEZONE", "path": "/3/0/15", "operation": "write",
             "para": "timezone"},
        ],
    }  # fmt: skip
    page = client.get(_url(product)).content.decode()
    assert 'value="/3303/0/5700"' in page
    assert "Temperature · Sensor Value · <code>Float</code>" in page  # the chosen resource, described


def test_a_type_that_does_not_fit_is_refused_with_the_rule_beside_the_field_and_nothing_changes(
    client, personas, product
):
    actions.do_set_lwm2m_mapping(product, standard_mapping())
    before = _stored(product)
    client.force_login(personas.developer)
    battery = _rows(product)["Device.battery"]  # an int property

    response = client.post(_url(product), {f"{battery}-path": "/3/0/0"})  # Manufacturer: a String

    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="{battery}-path-error"' in page
    assert "is String, which does not fit dataType int (LWM2M_TYPE)" in page
    assert f'aria-describedby="{battery}-path-help {battery}-path-error"' in page
    assert 'value="/3/0/0"' in page  # what was typed stays
    assert _stored(product) == before


@pytest.mark.parametrize(
    ("field", "value", "rule", "shown_at"),
    [
        ("path", "/3303/0", "LWM2M_PATH_SYNTAX", "path"),
        ("path", "/3303/0/9999", "LWM2M_PATH_RESOURCE", "path"),
        ("st", "-1", "LWM2M_ATTRIBUTE", "st"),
        ("pmin", "soon", "LWM2M_ATTRIBUTE", "pmin"),
    ],
)
def test_each_rule_shows_beside_its_own_field(client, personas, product, field, value, rule, shown_at):
    client.force_login(personas.owner)
    temperature = _rows(product)["Temperature.temperature"]
    data = {f"{temperature}-path": "/3303/0/5700", f"{temperature}-{field}": value}

    response = client.post(_url(product), data)

    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="{temperature}-{shown_at}-error"' in page
    assert f"({rule})" in page
    assert _stored(product) == {}


def test_a_product_level_attribute_and_a_command_operation_are_refused_at_their_fields(client, personas, product):
    client.force_login(personas.owner)
    reboot = _rows(product)["Device.REBOOT"]

    refused = client.post(_url(product), {"pmin": "600", "pmax": "60"})
    assert refused.status_code == 400
    assert 'id="product-pmin-error"' in refused.content.decode()

    refused = client.post(_url(product), {f"{reboot}-path": "/3/0/9", f"{reboot}-operation": "execute"})
    assert refused.status_code == 400
    assert f'id="{reboot}-operation-error"' in refused.content.decode()
    assert "does not allow execute" in refused.content.decode()
    assert _stored(product) == {}


def test_what_the_form_does_not_show_is_kept_and_an_own_object_is_uploaded_and_removed(client, personas, product):
    mapping = standard_mapping()
    mapping["attributes"]["epmin"] = 5
    mapping["properties"][2]["attributes"] = {"epmax": 900}
    actions.do_set_lwm2m_mapping(product, mapping)
    client.force_login(personas.owner)
    page = client.get(_url(product))
    humidity = _rows(product)["Humidity.humidity"]
    assert page.status_code == 200

    ddf = io.BytesIO(OWN_DDF)
    ddf.name = "own.xml"
    data = {"pmin": "60", "pmax": "3600", f"{humidity}-path": "/3304/0/5700", "ddf": ddf}
    assert client.post(_url(product), data).status_code == 302

    stored = _stored(product)
    assert stored["attributes"] == {"pmin": 60, "pmax": 3600, "epmin": 5}
    assert stored["properties"] == [
        {"serviceId": "Humidity", "property": "humidity", "path": "/3304/0/5700", "attributes": {"epmax": 900}}
    ]
    assert len(stored["objects"]) == 1
    own_id = next(iter(stored["definitions"]))
    # the picker now offers the product's own object first
    options = client.get(_url(product, "pick/"), {"q": own_id}).content.decode()
    assert f'data-value="/{own_id}/0/' in options

    client.post(_url(product), {"remove-object-0": "on"})
    assert _stored(product)["objects"] == []


def test_a_malformed_ddf_is_refused_with_its_rule(client, personas, product):
    client.force_login(personas.owner)
    ddf = io.BytesIO(b"<LWM2M><Object>")
    ddf.name = "broken.xml"

    response = client.post(_url(product), {"ddf": ddf})

    assert response.status_code == 400
    assert 'id="ddf-error"' in response.content.decode()
    assert "(DDF_XML)" in response.content.decode()


def test_the_picker_searches_names_ids_and_paths_and_keeps_what_the_row_can_use(client, personas, product):
    client.force_login(personas.viewer)

    by_name = client.get(_url(product, "pick/"), {"q": "temperature sensor value", "for": "property"})
    assert 'data-value="/3303/0/5700"' in by_name.content.decode()
    assert "Float" in by_name.content.decode()

    by_path = client.get(_url(product, "pick/"), {"q": "/3303/2/57", "for": "property"}).content.decode()
    assert 'data-value="/3303/2/5700"' in by_path and 'data-value="/3303/2/5701"' in by_path

    executable = client.get(_url(product, "pick/"), {"q": "/3/0/", "for": "execute"}).content.decode()
    assert 'data-value="/3/0/4"' in executable and 'data-value="/3/0/9"' not in executable

    # for an int property: the Manufacturer (String) is flagged, the Battery Level (Integer) is not
    device = client.get(_url(product, "pick/"), {"q": "/3/0/", "for": "property", "datatype": "int"}).content.decode()
    manufacturer = device.split('data-value="/3/0/0"')[1].split("</li>")[0]
    battery = device.split('data-value="/3/0/9"')[1].split("</li>")[0]
    assert "does not fit int" in manufacturer and "does not fit" not in battery
    assert "multiple-instance Integer" in device  # /3/0/6 Available Power Sources

    nothing = client.get(_url(product, "pick/"), {"q": "no such thing anywhere"}).content.decode()
    assert "No object or resource matches" in nothing


def test_a_viewer_reads_but_cannot_save_and_an_outsider_gets_404(client, personas, product):
    client.force_login(personas.viewer)
    page = client.get(_url(product)).content.decode()
    assert "Save the mapping" not in page
    assert client.post(_url(product), {"pmin": "60"}).status_code == 403

    client.force_login(personas.outsider)
    assert client.get(_url(product)).status_code == 404
    assert client.post(_url(product), {"pmin": "60"}).status_code == 404
    assert client.get(_url(product, "pick/"), {"q": "3303"}).status_code == 404
    assert _stored(product) == {}


def test_a_locked_product_still_changes_its_mapping(client, personas, product, registered_devices):
    registered_devices(product, 1)
    client.force_login(personas.owner)
    temperature = _rows(product)["Temperature.temperature"]
    assert client.post(_url(product), {f"{temperature}-path": "/3303/0/5700"}).status_code == 302
    assert _stored(product)["properties"][0]["path"] == "/3303/0/5700"


def test_the_page_reads_the_product_in_a_fixed_number_of_queries(
    client, personas, product, django_assert_max_num_queries
):
    actions.do_set_lwm2m_mapping(product, standard_mapping())
    client.force_login(personas.owner)
    with django_assert_max_num_queries(12):
        assert client.get(_url(product)).status_code == 200


def test_the_page_speaks_simplified_chinese(client, personas, product):
    client.force_login(personas.owner)
    client.cookies["django_language"] = "zh-hans"
    page = client.get(_url(product)).content.decode()
    assert "LwM2M 映射" in page and "保存映射" in page and "此路径的写属性" in page
    options = client.get(_url(product, "pick/"), {"q": "nothing like this"}).content.decode()
    assert "没有与“nothing like this”匹配的对象或资源。" in options


def test_the_product_page_links_the_editor_for_products_whose_devices_speak_lwm2m(client, personas, product):
    client.force_login(personas.viewer)
    page = client.get(f"/products/{product.product_id}/").content.decode()
    assert f'href="/products/{product.product_id}/lwm2m/"' in page
