"""Activate a version, delete a version, delete a codec: the lock rule, and only the owner's."""

from __future__ import annotations

import pytest

from products.models import Codec, CodecVersion
from tests.products.codecs.fixtures import deploy, meter


@pytest.fixture
def codec(owner_app):
    product = meter(owner_app)
    deploy(product)
    return deploy(product).codec


def _state():
    return list(CodecVersion.objects.order_by("number").values_list("number", "active"))


def test_the_owner_activates_a_version(client, owner_app, codec):
    response = client.post(f"/api/v1/codecs/{codec.codec_id}/versions/1/activate", headers=owner_app.headers())
    assert response.status_code == 200
    assert response.json()["activeVersion"] == 1
    assert _state() == [(1, True), (2, False)]


def test_activating_an_unknown_version_is_404(client, owner_app, codec):
    assert (
        client.post(f"/api/v1/codecs/{codec.codec_id}/versions/5/activate", headers=owner_app.headers()).status_code
        == 404
    )


def test_the_owner_deletes_a_version_then_the_codec(client, owner_app, codec):
    assert client.delete(f"/api/v1/codecs/{codec.codec_id}/versions/1", headers=owner_app.headers()).status_code == 204
    assert _state() == [(2, True)]
    assert client.delete(f"/api/v1/codecs/{codec.codec_id}", headers=owner_app.headers()).status_code == 204
    assert not Codec.objects.exists()


def test_a_locked_product_keeps_its_codec_and_active_version(client, owner_app, codec, registered_devices):
    registered_devices(codec.product, 1)
    for url in (f"/api/v1/codecs/{codec.codec_id}/versions/2", f"/api/v1/codecs/{codec.codec_id}"):
        response = client.delete(url, headers=owner_app.headers())
        assert response.status_code == 409
        assert (response.json()["error_code"], response.json()["errors"][0]["code"]) == ("200002", "CODEC_LOCKED")
    assert _state() == [(1, False), (2, True)]
    # activation stays possible: it is how a locked product's codec changes
    assert (
        client.post(f"/api/v1/codecs/{codec.codec_id}/versions/1/activate", headers=owner_app.headers()).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/versions/1/activate"), ("delete", "/versions/1"), ("delete", "")],
)
def test_another_application_gets_404_and_nothing_changes(client, other_app, codec, method, path):
    response = getattr(client, method)(f"/api/v1/codecs/{codec.codec_id}{path}", headers=other_app.headers())
    assert response.status_code == 404
    assert _state() == [(1, False), (2, True)]


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/versions/1/activate"), ("delete", "/versions/1"), ("delete", "")],
)
def test_anonymous_is_refused_and_nothing_changes(client, codec, method, path):
    assert getattr(client, method)(f"/api/v1/codecs/{codec.codec_id}{path}").status_code == 403
    assert _state() == [(1, False), (2, True)]
