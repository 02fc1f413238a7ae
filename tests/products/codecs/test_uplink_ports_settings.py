"""The codec's uplink ports (products.codecs.ports) set through PATCH /api/v1/codecs/{id} and the codec
page's form: a bad entry is named and changes nothing; another application's codec is out of reach.
The ingress side is tests/ingress/test_uplink_ports.py."""

from __future__ import annotations

import pytest

from products.models import Codec
from tests.products.codecs.fixtures import deploy, meter


def _patch(client, credentials, codec, body):
    return client.patch(
        f"/api/v1/codecs/{codec.codec_id}", body, content_type="application/json", headers=credentials.headers()
    )


def test_the_api_sets_reads_and_clears_the_mapping(client, owner_app):
    codec = deploy(meter(owner_app)).codec
    assert client.get(f"/api/v1/codecs/{codec.codec_id}", headers=owner_app.headers()).json()["uplinkPorts"] == {}
    response = _patch(client, owner_app, codec, {"uplinkPorts": {"/19/0/0": 2, "data/binary": "3", "*": 1}})
    assert response.status_code == 200
    assert response.json()["uplinkPorts"] == {"/19/0/0": 2, "data/binary": 3, "*": 1}
    assert client.get("/api/v1/codecs", headers=owner_app.headers()).json()["codecs"][0]["uplinkPorts"]["*"] == 1
    assert _patch(client, owner_app, codec, {"uplinkPorts": {}}).json()["uplinkPorts"] == {}
    codec.refresh_from_db()
    assert codec.uplink_ports == {}


@pytest.mark.parametrize(
    ("body", "code", "where"),
    [
        ({"uplinkPorts": {"/19/0/0": 300}}, "CODEC_FPORT", "$.uplinkPorts['/19/0/0']"),
        ({"uplinkPorts": {"data/json": 1}}, "CODEC_PORT_CHANNEL", "$.uplinkPorts['data/json']"),
        ({"uplinkPorts": "1"}, "CODEC_PORT_CHANNEL", "$.uplinkPorts"),
        ({}, "CODEC_PORT_CHANNEL", "$.uplinkPorts"),
    ],
)
def test_a_bad_body_answers_100022_naming_the_entry_and_changes_nothing(client, owner_app, body, code, where):
    codec = deploy(meter(owner_app)).codec
    _patch(client, owner_app, codec, {"uplinkPorts": {"*": 2}})
    response = _patch(client, owner_app, codec, body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["error_code"] == "100022"
    assert [(error["code"], error["path"]) for error in answer["errors"]] == [(code, where)]
    codec.refresh_from_db()
    assert codec.uplink_ports == {"*": 2}


def test_another_application_cannot_change_or_see_it(client, owner_app, other_app):
    codec = deploy(meter(owner_app)).codec
    response = _patch(client, other_app, codec, {"uplinkPorts": {"*": 9}})
    assert (response.status_code, response.json()["error_code"]) == (404, "200001")
    codec.refresh_from_db()
    assert codec.uplink_ports == {}


@pytest.fixture
def product(personas):
    return meter(personas.app)


def test_the_codec_page_saves_one_channel_per_line(client, personas, product):
    deploy(product)
    client.force_login(personas.developer)
    url = f"/products/{product.product_id}/codec/"
    page = client.get(url).content.decode()
    assert 'name="uplink_ports"' in page and 'for="uplink-ports"' in page
    # once, in the page's content: the page's <title> is its name, not a second copy of the form
    assert page.count('name="uplink_ports"') == 1
    assert "uplink_ports" not in page.split("<title>", 1)[1].split("</title>", 1)[0]
    response = client.post(f"{url}ports/", {"uplink_ports": "* = 1\n\n/19/0/0 = 2\n"}, follow=True)
    assert "Uplink ports saved." in response.content.decode()
    assert Codec.objects.get().uplink_ports == {"*": 1, "/19/0/0": 2}
    assert "/19/0/0 = 2" in client.get(url).content.decode()


def test_the_page_names_a_bad_line_in_chinese_too_and_keeps_the_mapping(client, personas, product):
    deploy(product)
    Codec.objects.update(uplink_ports={"*": 1})
    client.force_login(personas.developer)
    url = f"/products/{product.product_id}/codec/"
    page = client.post(f"{url}ports/", {"uplink_ports": "/19/0/0 = 999"}, follow=True).content.decode()
    assert "999" in page and "is not a whole number from 0 to 255." in page
    page = client.post(
        f"{url}ports/", {"uplink_ports": "mqtt = 2"}, follow=True, HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "不是接入层可映射到 fPort 的通道" in page
    assert Codec.objects.get().uplink_ports == {"*": 1}


def test_a_viewer_or_an_outsider_cannot_change_it(client, personas, product):
    deploy(product)
    for user in (personas.viewer, personas.outsider):
        client.force_login(user)
        response = client.post(f"/products/{product.product_id}/codec/ports/", {"uplink_ports": "* = 3"})
        assert response.status_code in (403, 404)
    assert Codec.objects.get().uplink_ports == {}


def test_the_builder_asks_before_activating_on_a_product_with_devices(client, personas, product, registered_devices):
    from products.models import CodecVersion
    from tests.products.codecs.test_portal_pages import BUILDER

    deploy(product)
    registered_devices(product, 1)
    client.force_login(personas.developer)
    url = f"/products/{product.product_id}/codec/builder/"
    page = client.get(url).content.decode()
    assert 'name="activate" value="later" checked' in page and 'name="activate" value="now"' in page
    page = client.post(url, {**BUILDER, "_action": "deploy", "activate": "later"}, follow=True).content.decode()
    assert "Version 2 deployed. Devices are registered with the product: activate it when ready." in page
    assert CodecVersion.objects.get(active=True).number == 1
    page = client.post(url, {**BUILDER, "_action": "deploy"}, follow=True).content.decode()  # no choice: kept
    assert CodecVersion.objects.get(active=True).number == 1
    page = client.post(url, {**BUILDER, "_action": "deploy", "activate": "now"}, follow=True).content.decode()
    assert "Version 4 deployed and active." in page
    assert CodecVersion.objects.get(active=True).number == 4


def test_the_builder_activates_at_once_without_devices(client, personas, product):
    from products.models import CodecVersion
    from tests.products.codecs.test_portal_pages import BUILDER

    deploy(product)
    client.force_login(personas.developer)
    url = f"/products/{product.product_id}/codec/builder/"
    assert 'name="activate"' not in client.get(url).content.decode()
    client.post(url, {**BUILDER, "_action": "deploy", "activate": "later"})
    assert CodecVersion.objects.get(active=True).number == 2
