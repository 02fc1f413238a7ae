"""Whether a product's devices may act as LwM2M gateways (object 25): PATCH /api/v1/profiles/{id}
{"lwm2mGateway": ...} and the product page's switch; owners only, locked products too (not the profile)."""

import json

from products.models import Product
from tests.products.fixtures import import_files


def _url(product) -> str:
    return f"/api/v1/profiles/{product.product_id}"


def _patch(client, product, body, headers=None):
    return client.patch(_url(product), json.dumps(body), content_type="application/json", headers=headers or {})


def test_the_owner_turns_it_on_and_off_and_reads_it(client, owner_app):
    product = import_files(owner_app)
    assert client.get(_url(product), headers=owner_app.headers()).json()["lwm2mGateway"] is False

    response = _patch(client, product, {"lwm2mGateway": True}, owner_app.headers())

    assert response.status_code == 200 and response.json()["lwm2mGateway"] is True
    assert Product.objects.get(pk=product.pk).lwm2m_gateway is True
    listed = client.get("/api/v1/profiles", headers=owner_app.headers()).json()
    assert [one["lwm2mGateway"] for one in listed["profiles"]] == [True]
    assert _patch(client, product, {"lwm2mGateway": False}, owner_app.headers()).json()["lwm2mGateway"] is False
    assert Product.objects.get(pk=product.pk).lwm2m_gateway is False


def test_a_locked_product_may_change_it(client, owner_app, registered_devices):
    product = import_files(owner_app)
    registered_devices(product, 2)
    response = _patch(client, product, {"lwm2mGateway": True}, owner_app.headers())
    assert response.status_code == 200
    assert Product.objects.get(pk=product.pk).lwm2m_gateway is True


def test_another_application_gets_404_and_anonymous_403_and_nothing_changes(client, owner_app, other_app):
    product = import_files(owner_app)
    assert _patch(client, product, {"lwm2mGateway": True}, other_app.headers()).status_code == 404
    assert _patch(client, product, {"lwm2mGateway": True}).status_code == 403
    assert Product.objects.get(pk=product.pk).lwm2m_gateway is False


def test_anything_but_a_boolean_is_refused_with_100022(client, owner_app):
    product = import_files(owner_app)
    for body in ({"lwm2mGateway": "yes"}, {}, ["lwm2mGateway"]):
        response = _patch(client, product, body, owner_app.headers())
        assert response.status_code == 400 and response.json()["error_code"] == "100022", response.content
        assert "lwm2mGateway must be true or false" in response.json()["error_desc"]
    assert Product.objects.get(pk=product.pk).lwm2m_gateway is False


def test_the_product_page_switch_is_for_those_who_change_the_product(client, personas):
    product = import_files(personas.app)
    url = f"/products/{product.product_id}/lwm2m-gateway/"
    client.force_login(personas.owner)
    page = client.get(f"/products/{product.product_id}/").content.decode()
    assert "Let its devices act as LwM2M gateways" in page

    assert client.post(url, {"lwm2m_gateway": "on"}).status_code == 302
    assert Product.objects.get(pk=product.pk).lwm2m_gateway is True
    page = client.get(f"/products/{product.product_id}/").content.decode()
    assert "Stop acting as LwM2M gateways" in page

    client.force_login(personas.viewer)
    assert client.post(url, {}).status_code == 403
    client.force_login(personas.outsider)
    assert client.post(url, {}).status_code == 404
    assert Product.objects.get(pk=product.pk).lwm2m_gateway is True
    client.force_login(personas.owner)
    client.post(url, {})
    assert Product.objects.get(pk=product.pk).lwm2m_gateway is False


def test_object_19_settings_are_read_and_changed_with_patch(client, owner_app, registered_devices):
    product = import_files(owner_app)
    registered_devices(product, 1)  # locked: the setting is not part of the profile
    read = client.get(_url(product), headers=owner_app.headers()).json()
    assert read["lwm2mObject19"] == {"form": "auto", "uplinkInstance": 0, "downlinkInstance": 1}

    body = {"lwm2mObject19": {"form": "standard", "uplinkInstance": 2, "downlinkInstance": 3}}
    response = _patch(client, product, body, owner_app.headers())

    assert response.status_code == 200, response.content
    assert response.json()["lwm2mObject19"] == body["lwm2mObject19"]
    product.refresh_from_db()
    assert (product.lwm2m_object19, product.lwm2m_uplink_instance, product.lwm2m_downlink_instance) == (
        "standard",
        2,
        3,
    )
    assert product.lwm2m_gateway is False  # untouched
    listed = client.get("/api/v1/profiles", headers=owner_app.headers()).json()
    assert listed["profiles"][0]["lwm2mObject19"]["form"] == "standard"


def test_bad_object_19_settings_are_refused_with_100022_naming_the_field_and_change_nothing(
    client, owner_app, other_app
):
    product = import_files(owner_app)
    cases = {
        "lwm2mObject19.form must be one of auto, huawei, standard": {"form": "tlv"},
        "lwm2mObject19.uplinkInstance must be a whole number from 0 to 65534": {"uplinkInstance": -1},
        "lwm2mObject19.downlinkInstance must be a whole number": {"downlinkInstance": "1"},
        "lwm2mObject19.uplinkInstance and downlinkInstance must differ": {"uplinkInstance": 1},
        "lwm2mObject19.upInstance is not a setting": {"upInstance": 1},
        "lwm2mObject19 must be an object": [],
    }
    for message, value in cases.items():
        response = _patch(client, product, {"lwm2mObject19": value}, owner_app.headers())
        assert response.status_code == 400 and response.json()["error_code"] == "100022", response.content
        assert message in response.json()["error_desc"]
    assert _patch(client, product, {"lwm2mObject19": {"form": "huawei"}}, other_app.headers()).status_code == 404
    assert _patch(client, product, {"lwm2mObject19": {"form": "huawei"}}).status_code == 403
    product.refresh_from_db()
    assert (product.lwm2m_object19, product.lwm2m_uplink_instance, product.lwm2m_downlink_instance) == ("auto", 0, 1)
