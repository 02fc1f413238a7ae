"""Every codec page for every persona: anonymous callers sign in first, outsiders get 404, viewers read
and debug but change nothing (403), owners, developers and operators change; refused calls change nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from products.models import Codec, CodecVersion
from tests.products.codecs.fixtures import deploy, meter, oceanconnect_zip

READ = ["/products/codecs/", "/products/{id}/codec/", "/products/{id}/codec/versions/1/", "/products/{id}/codec/debug/"]
CHANGE = [
    "/products/{id}/codec/upload/",
    "/products/{id}/codec/builder/",
    "/products/{id}/codec/delete/",
    "/products/{id}/codec/versions/1/activate/",
    "/products/{id}/codec/versions/1/delete/",
]
BUILDER = {
    "m-count": "1",
    "m-0-name": "report",
    "m-0-kind": "dataReport",
    "m-0-serviceId": "Meter",
    "m-0-f-count": "1",
    "m-0-f-0-name": "reading",
    "m-0-f-0-type": "uint32",
    "m-0-f-0-target": "reading",
}


@pytest.fixture
def product(personas):
    product = meter(personas.app)
    deploy(product)
    deploy(product)
    return product


def _state():
    return (
        list(CodecVersion.objects.order_by("number").values_list("number", "active")),
        list(Codec.objects.values_list("draft", flat=True)),
    )


def _post_data(url: str) -> dict:
    if url.endswith("/upload/"):
        return {"file": SimpleUploadedFile("codec.zip", oceanconnect_zip())}
    if url.endswith("/builder/"):
        return {**BUILDER, "_action": "deploy"}
    return {}


@pytest.mark.parametrize("page", READ + CHANGE)
def test_anonymous_callers_sign_in_first_and_change_nothing(client, product, page):
    before = _state()
    url = page.format(id=product.product_id)
    for response in (client.get(url), client.post(url, _post_data(url))):
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    assert _state() == before


@pytest.mark.parametrize("page", READ[1:] + CHANGE)
def test_outsiders_get_404_and_change_nothing(client, personas, product, page):
    before = _state()
    client.force_login(personas.outsider)
    url = page.format(id=product.product_id)
    assert client.get(url).status_code in (404, 405)
    assert client.post(url, _post_data(url)).status_code == 404
    assert _state() == before


def test_outsiders_list_none_of_the_codecs(client, personas, product):
    client.force_login(personas.outsider)
    response = client.get("/products/codecs/")
    # The product's id, not its model "m1", which a random token on the page may contain by chance.
    assert response.status_code == 200 and str(product.product_id).encode() not in response.content


@pytest.mark.parametrize("page", READ)
def test_viewers_read_and_debug(client, personas, product, page):
    client.force_login(personas.viewer)
    assert client.get(page.format(id=product.product_id)).status_code == 200


def test_viewers_decode_in_the_debugging_page(client, personas, product):
    client.force_login(personas.viewer)
    url = f"/products/{product.product_id}/codec/debug/"
    response = client.post(url, {"operation": "decode", "version": 2, "payload": "01000004D2FFF6"})
    assert b"&quot;reading&quot;: 1234" in response.content


@pytest.mark.parametrize("page", CHANGE)
def test_viewers_change_nothing(client, personas, product, page):
    before = _state()
    client.force_login(personas.viewer)
    url = page.format(id=product.product_id)
    if not url.endswith(("/activate/", "/delete/")) or url.endswith("/codec/delete/"):
        assert client.get(url).status_code == 403
    assert client.post(url, _post_data(url)).status_code == 403
    assert _state() == before


@pytest.mark.parametrize("persona", ["owner", "developer", "operator"])
def test_owners_developers_and_operators_change(client, personas, product, persona):
    client.force_login(getattr(personas, persona))
    base = f"/products/{product.product_id}/codec/"
    assert client.post(base + "versions/1/activate/").status_code == 302
    assert _state()[0] == [(1, True), (2, False)]
    assert client.post(base + "builder/", {**BUILDER, "_action": "deploy"}).status_code == 302
    assert _state()[0] == [(1, False), (2, False), (3, True)]
    assert client.post(base + "versions/1/delete/").status_code == 302
    assert client.post(base + "delete/").status_code == 302
    assert not Codec.objects.exists()
