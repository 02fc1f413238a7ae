"""POST /api/v1/codecs: an offline plugin (multipart `file`) or an online one (JSON), checked first."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from products.models import Codec, CodecVersion
from tests.products.codecs.fixtures import full_definition, meter, oceanconnect_zip

URL = "/api/v1/codecs"


def _file(data: bytes, name: str = "codec.zip") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/zip")


def test_the_owner_uploads_a_plugin_and_gets_the_codec_with_its_id(client, owner_app):
    product = meter(owner_app)
    response = client.post(URL, {"file": _file(oceanconnect_zip())}, headers=owner_app.headers())
    assert response.status_code == 201, response.json()
    body = response.json()
    codec = Codec.objects.get()
    assert body["codecId"] == str(codec.codec_id)
    assert body["profileId"] == str(product.product_id)
    assert (body["activeVersion"], body["format"], body["versionCount"]) == (1, "oceanconnect", 1)
    assert body["uploaded"]["version"] == 1 and body["uploaded"]["active"] is True
    assert body["uploaded"]["pluginVersion"] == "1.0.0" and body["uploaded"]["fileName"] == "codec.zip"
    assert body["check"]["passed"] is True
    assert [vector["passed"] for vector in body["check"]["vectors"]] == [True, True, True, True]
    assert set(body["check"]["msPerCall"]) == {"decode", "encode"}


def test_a_refused_plugin_answers_every_issue_and_stores_nothing(client, owner_app):
    meter(owner_app)
    bad = oceanconnect_zip(**{"codec.js": "function decode(bytes) {\n  return [;\n}"})
    response = client.post(URL, {"file": _file(bad)}, headers=owner_app.headers())
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "100022"
    (issue,) = body["errors"]
    assert (issue["code"], issue["file"]) == ("CODEC_JS_SYNTAX", "codec.js")
    assert "SyntaxError" in issue["detail"] and issue["fix"]
    assert body["check"]["passed"] is False
    assert not Codec.objects.exists()


def test_a_plugin_whose_vectors_fail_is_refused(client, owner_app):
    meter(owner_app)
    bad = oceanconnect_zip(**{"codec.js": "function decode(b) { return {msgType: 'deviceRsp', errcode: 1}; }"})
    body = client.post(URL, {"file": _file(bad)}, headers=owner_app.headers()).json()
    assert [issue["code"] for issue in body["errors"]][:1] == ["CODEC_VECTOR_FAILED"]
    assert not CodecVersion.objects.exists()


def test_no_file(client, owner_app):
    response = client.post(URL, {}, headers=owner_app.headers())
    assert response.status_code == 400
    assert [issue["code"] for issue in response.json()["errors"]] == ["CODEC_FILE_MISSING"]


def test_too_large(client, owner_app, settings):
    meter(owner_app)
    settings.CODEC_MAX_UPLOAD_BYTES = 64
    response = client.post(URL, {"file": _file(oceanconnect_zip())}, headers=owner_app.headers())
    assert [issue["code"] for issue in response.json()["errors"]] == ["CODEC_UPLOAD_TOO_LARGE"]


def test_a_plugin_for_another_applications_product_is_refused(client, owner_app, other_app):
    meter(owner_app)
    response = client.post(URL, {"file": _file(oceanconnect_zip())}, headers=other_app.headers())
    assert response.status_code == 400
    assert [issue["code"] for issue in response.json()["errors"]] == ["CODEC_PRODUCT_UNKNOWN"]
    assert not Codec.objects.exists()


def test_naming_another_applications_product_is_404(client, owner_app, other_app):
    product = meter(owner_app)
    data = {"file": _file(oceanconnect_zip()), "profileId": str(product.product_id)}
    assert client.post(URL, data, headers=other_app.headers()).status_code == 404
    assert not Codec.objects.exists()


def test_naming_another_of_its_own_products_is_a_mismatch(client, owner_app):
    meter(owner_app)
    other = meter(owner_app, model="m2")
    data = {"file": _file(oceanconnect_zip()), "profileId": str(other.product_id)}
    response = client.post(URL, data, headers=owner_app.headers())
    assert [issue["code"] for issue in response.json()["errors"]] == ["CODEC_MANIFEST_PRODUCT"]


def test_anonymous_is_refused_and_nothing_is_stored(client, owner_app):
    meter(owner_app)
    response = client.post(URL, {"file": _file(oceanconnect_zip())})
    assert response.status_code == 403
    assert not Codec.objects.exists()


def test_an_online_plugin_deploys_from_json(client, owner_app):
    product = meter(owner_app)
    body = {"profileId": str(product.product_id), **full_definition()}
    response = client.post(URL, body, content_type="application/json", headers=owner_app.headers())
    assert response.status_code == 201, response.json()
    assert response.json()["format"] == "online" and response.json()["activeVersion"] == 1


def test_an_online_plugin_breaking_f_3_2_names_message_field_and_rule(client, owner_app):
    product = meter(owner_app)
    definition = full_definition()
    definition["messages"][0]["fields"][1]["default"] = "0xZZ"
    body = {"profileId": str(product.product_id), **definition}
    response = client.post(URL, body, content_type="application/json", headers=owner_app.headers())
    assert response.status_code == 400
    (issue,) = response.json()["errors"]
    assert (issue["code"], issue["messageName"], issue["field"], issue["path"]) == (
        "CODEC_DEFAULT_NOT_HEX",
        "report",
        "reading",
        "$.messages[0].fields[1].default",
    )
    assert not Codec.objects.filter(versions__isnull=False).exists()
