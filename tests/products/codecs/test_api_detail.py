"""GET /api/v1/codecs/{id} and /versions/{n}: one codec, one version; another application's is 404."""

from __future__ import annotations

from tests.products.codecs.fixtures import deploy, meter, upload


def test_the_owner_reads_its_codec_with_every_version(client, owner_app):
    product = meter(owner_app)
    version = deploy(product)
    upload(owner_app)
    body = client.get(f"/api/v1/codecs/{version.codec.codec_id}", headers=owner_app.headers()).json()
    assert body["profileId"] == str(product.product_id)
    assert [(item["version"], item["format"], item["active"]) for item in body["versions"]] == [
        (2, "oceanconnect", True),
        (1, "online", False),
    ]


def test_one_version_with_its_content(client, owner_app):
    meter(owner_app)
    codec = upload(owner_app).codec
    body = client.get(f"/api/v1/codecs/{codec.codec_id}/versions/1", headers=owner_app.headers()).json()
    assert body["definition"]["manufacturerId"] == "Acme" and body["definition"]["format"] == "oceanconnect"
    assert "function decode(bytes)" in body["source"]
    assert body["vectors"]["decode"][0]["name"] == "report"
    assert client.get(f"/api/v1/codecs/{codec.codec_id}/versions/9", headers=owner_app.headers()).status_code == 404


def test_another_application_gets_404(client, owner_app, other_app):
    codec = deploy(meter(owner_app)).codec
    for url in (f"/api/v1/codecs/{codec.codec_id}", f"/api/v1/codecs/{codec.codec_id}/versions/1"):
        response = client.get(url, headers=other_app.headers())
        assert (response.status_code, response.json()["error_code"]) == (404, "200001")
    assert client.get("/api/v1/codecs/not-a-uuid", headers=owner_app.headers()).status_code == 404


def test_anonymous_is_refused(client, owner_app):
    codec = deploy(meter(owner_app)).codec
    assert client.get(f"/api/v1/codecs/{codec.codec_id}").status_code == 403
    assert client.get(f"/api/v1/codecs/{codec.codec_id}/versions/1").status_code == 403
