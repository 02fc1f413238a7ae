"""Issue 19 through the API: the activation choice of an upload, uploads without vectors, fPort and
variables as inputs of decode and encode."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from products.models import Codec, CodecVersion
from tests.products.codecs.fixtures import deploy, manifest, meter, oceanconnect_zip, plugin_zip

URL = "/api/v1/codecs"

MULTI_PORT = """
function decodeUplink(input) {
  console.log('port', input.fPort, 'site', input.variables.site);
  if (input.fPort === 2) return {data: {level: input.bytes[0]}};
  return {data: {temperature: input.bytes[0] - 40}};
}
function encodeDownlink(input) {
  return {bytes: [input.fPort, input.data.period & 255]};
}
"""


def _file(data: bytes, name: str = "codec.zip") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/zip")


def _ttn_codec(client, credentials) -> Codec:
    files = {"manifest.json": manifest(format="ttn", fPort=1, variables={"site": "north"}), "codec.js": MULTI_PORT}
    response = client.post(URL, {"file": _file(plugin_zip(files))}, headers=credentials.headers())
    assert response.status_code == 201, response.json()
    return Codec.objects.get(codec_id=response.json()["codecId"])


def _states(product) -> list[tuple[int, bool]]:
    return list(CodecVersion.objects.filter(codec__product=product).order_by("number").values_list("number", "active"))


def test_a_plugin_without_vectors_is_stored_with_a_warning(client, owner_app):
    meter(owner_app)
    response = client.post(
        URL, {"file": _file(oceanconnect_zip(**{"vectors.json": None}))}, headers=owner_app.headers()
    )
    assert response.status_code == 201, response.json()
    check = response.json()["check"]
    assert check["passed"] is True and check["errors"] == []
    assert [warning["code"] for warning in check["warnings"]] == ["CODEC_VECTORS_MISSING", "CODEC_VECTORS_MISSING"]


def test_a_refusal_carries_what_the_plugin_logged(client, owner_app):
    meter(owner_app)
    source = "function decode(b) { console.log('saw', b.length); return {msgType: 'deviceRsp', errcode: 1}; }"
    body = client.post(URL, {"file": _file(oceanconnect_zip(**{"codec.js": source}))}, headers=owner_app.headers())
    body = body.json()
    assert body["error_code"] == "100022"
    assert "report: saw 7" in body["logs"] and body["check"]["logs"] == body["logs"]


def test_without_devices_a_new_version_is_active_at_once_unless_kept_aside(client, owner_app):
    product = meter(owner_app)
    client.post(URL, {"file": _file(oceanconnect_zip())}, headers=owner_app.headers())
    response = client.post(URL, {"file": _file(oceanconnect_zip()), "activate": "false"}, headers=owner_app.headers())
    assert response.json()["uploaded"]["active"] is False
    assert _states(product) == [(1, True), (2, False)]


def test_with_devices_the_default_is_not_to_activate(client, owner_app, registered_devices):
    product = meter(owner_app)
    deploy(product)
    registered_devices(product, 2)
    response = client.post(URL, {"file": _file(oceanconnect_zip())}, headers=owner_app.headers())
    assert response.status_code == 201 and response.json()["uploaded"]["active"] is False
    assert _states(product) == [(1, True), (2, False)]
    response = client.post(URL, {"file": _file(oceanconnect_zip()), "activate": "true"}, headers=owner_app.headers())
    assert response.json()["uploaded"]["active"] is True
    assert _states(product) == [(1, False), (2, False), (3, True)]


def test_an_online_deploy_takes_the_choice_too(client, owner_app, registered_devices):
    from tests.products.codecs.fixtures import full_definition

    product = meter(owner_app)
    deploy(product)
    registered_devices(product, 1)
    body = {"profileId": str(product.product_id), "activate": True, **full_definition()}
    response = client.post(URL, body, content_type="application/json", headers=owner_app.headers())
    assert response.status_code == 201, response.json()
    assert _states(product) == [(1, False), (2, True)]


def test_an_activate_that_is_not_a_boolean_is_refused_and_stores_nothing(client, owner_app):
    product = meter(owner_app)
    response = client.post(URL, {"file": _file(oceanconnect_zip()), "activate": "later"}, headers=owner_app.headers())
    assert response.status_code == 400
    (issue,) = response.json()["errors"]
    assert (issue["code"], issue["path"]) == ("CODEC_ACTIVATE", "$.activate")
    assert _states(product) == []


def test_fport_and_variables_reach_the_decode(client, owner_app):
    meter(owner_app)
    codec = _ttn_codec(client, owner_app)
    url = f"/api/v1/codecs/{codec.codec_id}/decode"
    headers = owner_app.headers()
    default = client.post(url, {"payload": "3D"}, content_type="application/json", headers=headers).json()
    assert default["result"]["data"] == [{"serviceId": "Meter", "serviceData": {"temperature": 21}}]
    assert default["logs"] == ["port 1 site north"]
    body = {"payload": "3D", "fPort": 2, "variables": {"site": "south"}}
    chosen = client.post(url, body, content_type="application/json", headers=headers).json()
    assert chosen["result"]["data"] == [{"serviceId": "Battery", "serviceData": {"level": 61}}]
    assert chosen["logs"] == ["port 2 site south"]


def test_fport_reaches_the_encode(client, owner_app):
    meter(owner_app)
    codec = _ttn_codec(client, owner_app)
    url = f"/api/v1/codecs/{codec.codec_id}/encode"
    message = {"msgType": "cloudReq", "serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {"period": 60}, "mid": 1}
    response = client.post(url, {**message, "fPort": 4}, content_type="application/json", headers=owner_app.headers())
    assert response.status_code == 200, response.json()
    assert response.json()["payload"] == "043C"


def test_a_bad_fport_or_variables_names_the_rule(client, owner_app):
    meter(owner_app)
    codec = _ttn_codec(client, owner_app)
    url = f"/api/v1/codecs/{codec.codec_id}/decode"
    for body, code in (
        ({"payload": "3D", "fPort": 300}, "CODEC_FPORT"),
        ({"payload": "3D", "fPort": "one"}, "CODEC_FPORT"),
        ({"payload": "3D", "fPort": True}, "CODEC_FPORT"),
        ({"payload": "3D", "variables": ["site"]}, "CODEC_VARIABLES"),
        ({"payload": "3D", "variables": {"site": 1}}, "CODEC_VARIABLES"),
    ):
        response = client.post(url, body, content_type="application/json", headers=owner_app.headers())
        assert response.status_code == 400
        assert [issue["code"] for issue in response.json()["errors"]] == [code], body


def test_another_application_cannot_decode_with_the_codec(client, owner_app, other_app):
    meter(owner_app)
    codec = _ttn_codec(client, owner_app)
    url = f"/api/v1/codecs/{codec.codec_id}/decode"
    body = {"payload": "3D", "fPort": 2}
    assert client.post(url, body, content_type="application/json", headers=other_app.headers()).status_code == 404
