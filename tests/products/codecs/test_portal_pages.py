"""The codec pages at work: list, upload with the checker's issues, the builder, debugging, the lock."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from products.models import Codec, CodecVersion
from tests.products.codecs.fixtures import deploy, full_definition, meter, oceanconnect_zip


@pytest.fixture
def product(personas):
    return meter(personas.app)


@pytest.fixture
def developer(client, personas):
    client.force_login(personas.developer)
    return client


def test_the_list_shows_each_product_with_its_codec_in_a_constant_number_of_queries(developer, personas):
    deploy(meter(personas.app, model="a"))
    with CaptureQueriesContext(connection) as short:
        developer.get("/products/codecs/")
    for number in range(6):
        product = meter(personas.app, model=f"b{number}")
        deploy(product)
        deploy(product)
    meter(personas.app, model="none")
    with CaptureQueriesContext(connection) as long:
        response = developer.get("/products/codecs/")
    assert len(long.captured_queries) == len(short.captured_queries)
    page = response.content.decode()
    assert page.count('class="active-version">2<') == 6
    assert "no codec" in page
    assert 'aria-current="page">Codecs<' in page


def test_a_refused_upload_lists_the_checkers_issues_readably(developer, product):
    bad = oceanconnect_zip(**{"codec.js": "function decode(bytes) {\n  return [;\n}"})
    response = developer.post(
        f"/products/{product.product_id}/codec/upload/", {"file": SimpleUploadedFile("codec.zip", bad)}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The plugin was refused: 1 problem" in page
    assert 'data-code="CODEC_JS_SYNTAX"' in page and "Fix the syntax error at the line given" in page
    assert not Codec.objects.exists()


def test_a_failing_vector_is_shown_with_the_others(developer, product):
    bad = oceanconnect_zip(
        **{"codec.js": "function decode(b) { throw new Error('nope'); }\nfunction encode(o) { return [1]; }"}
    )
    page = developer.post(
        f"/products/{product.product_id}/codec/upload/", {"file": SimpleUploadedFile("codec.zip", bad)}
    ).content.decode()
    assert 'data-vector="report"' in page and 'data-vector="unknown"' in page
    assert "Error: nope" in page


def test_a_good_upload_goes_to_the_codec_page(developer, product):
    response = developer.post(
        f"/products/{product.product_id}/codec/upload/",
        {"file": SimpleUploadedFile("codec.zip", oceanconnect_zip())},
        follow=True,
    )
    page = response.content.decode()
    assert "Version 1 uploaded and active." in page
    assert 'data-version="1"' in page


def test_no_file_is_a_rule_too(developer, product):
    page = developer.post(f"/products/{product.product_id}/codec/upload/", {}).content.decode()
    assert 'data-code="CODEC_FILE_MISSING"' in page


def _builder(developer, product, data):
    return developer.post(f"/products/{product.product_id}/codec/builder/", data)


BUILDER = {
    "m-count": "1",
    "m-0-name": "report",
    "m-0-kind": "dataReport",
    "m-0-serviceId": "Meter",
    "m-0-f-count": "2",
    "m-0-f-0-name": "messageId",
    "m-0-f-0-type": "uint8",
    "m-0-f-0-default": "0x01",
    "m-0-f-1-name": "reading",
    "m-0-f-1-type": "uint32",
    "m-0-f-1-target": "reading",
}


def test_the_builder_starts_empty_then_from_the_draft(developer, product):
    page = developer.get(f"/products/{product.product_id}/codec/builder/").content.decode()
    assert "No messages yet." in page and 'name="m-count" value="0"' in page
    assert _builder(developer, product, {**BUILDER, "_action": "save"}).status_code == 302
    page = developer.get(f"/products/{product.product_id}/codec/builder/").content.decode()
    assert 'name="m-0-f-1-name" value="reading"' in page


def test_adding_and_removing_messages_and_fields(developer, product):
    page = _builder(developer, product, {**BUILDER, "_action": "add-message"}).content.decode()
    assert 'name="m-count" value="2"' in page and 'value="message2"' in page
    page = _builder(developer, product, {**BUILDER, "_action": "add-field:0"}).content.decode()
    assert 'name="m-0-f-count" value="3"' in page
    page = _builder(developer, product, {**BUILDER, "_action": "move-field-up:0:1"}).content.decode()
    assert page.index('name="m-0-f-0-name" value="reading"') > 0
    page = _builder(developer, product, {**BUILDER, "_action": "remove-field:0:0"}).content.decode()
    assert 'name="m-0-f-count" value="1"' in page
    page = _builder(developer, product, {**BUILDER, "_action": "remove-message:0"}).content.decode()
    assert 'name="m-count" value="0"' in page
    assert not CodecVersion.objects.exists()


def test_the_live_preview_shows_the_layout_and_each_fields_problem(developer, product):
    data = {**BUILDER, "m-0-f-1-default": "0xZZ", "_action": "preview"}
    response = developer.post(f"/products/{product.product_id}/codec/builder/", data, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert '<div id="m-0-layout" class="layout-slot" aria-live="polite" hx-swap-oob="true">' in page
    assert 'data-field="reading"' in page and "<td>1\u20134</td>" in page  # reading: bytes 1 to 4
    slot = page[page.index('id="m-0-f-1-errors"') :]
    assert 'data-code="CODEC_DEFAULT_NOT_HEX"' in slot[: slot.index("</div>\n") + 200]
    assert "1 problem to fix before deploying." in page


def test_deploying_a_bad_plugin_names_message_field_and_rule_and_keeps_the_draft(developer, product):
    data = {**BUILDER, "m-0-f-1-name": "int", "_action": "deploy"}
    page = _builder(developer, product, data).content.decode()
    assert "The plugin was not deployed: 1 problem" in page
    assert 'data-code="CODEC_RESERVED_NAME"' in page and "<code>report</code>" in page
    assert Codec.objects.get().draft["messages"][0]["fields"][1]["name"] == "int"
    assert not CodecVersion.objects.exists()


def test_deploying_a_good_plugin(developer, product):
    response = developer.post(
        f"/products/{product.product_id}/codec/builder/", {**BUILDER, "_action": "deploy"}, follow=True
    )
    assert "Version 1 deployed and active." in response.content.decode()
    version = CodecVersion.objects.get()
    assert version.definition["messages"][0]["fields"][1] == {"name": "reading", "type": "uint32", "target": "reading"}


def test_debugging_decode_and_encode(developer, product):
    deploy(product, full_definition())
    url = f"/products/{product.product_id}/codec/debug/"
    page = developer.get(url).content.decode()
    assert "&quot;cmd&quot;: &quot;SET_PERIOD&quot;" in page  # an example command from the profile
    page = developer.post(url, {"operation": "decode", "version": 1, "payload": "01000004D200C8"}).content.decode()
    assert "&quot;temperature&quot;: 200" in page and 'data-code="CODEC_VALUE_RANGE"' in page
    page = developer.post(url, {"operation": "decode", "version": 1, "payload": "0100"}).content.decode()
    assert "The payload was not decoded" in page and 'data-code="CODEC_DECODE_TOO_SHORT"' in page
    message = '{"msgType": "cloudReq", "serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {"period": 60}, "mid": 7}'
    page = developer.post(url, {"operation": "encode", "version": 1, "message": message}).content.decode()
    assert "02 00 07 00 00 00 3C" in page
    ack = '{"msgType": "cloudRsp", "request": "0300070000"}'
    page = developer.post(url, {"operation": "encode", "version": 1, "message": ack}).content.decode()
    assert "the plugin sends no ACK for this report" in page
    page = developer.post(url, {"operation": "encode", "version": 1, "message": "{nope"}).content.decode()
    assert 'data-code="CODEC_INPUT_SHAPE"' in page


def test_a_locked_product_says_so_and_offers_no_deletion_of_the_active_version(developer, product, registered_devices):
    deploy(product)
    deploy(product)
    registered_devices(product, 2)
    page = developer.get(f"/products/{product.product_id}/codec/").content.decode()
    assert "Locked: 2 devices are registered with this product." in page
    assert f"/products/{product.product_id}/codec/versions/2/delete/" not in page
    assert f"/products/{product.product_id}/codec/versions/1/delete/" in page
    response = developer.post(f"/products/{product.product_id}/codec/versions/2/delete/", follow=True)
    assert "The product is locked: devices registered with it: 2." in response.content.decode()
    assert CodecVersion.objects.count() == 2
    page = developer.post(f"/products/{product.product_id}/codec/delete/").content.decode()
    assert "its codec cannot be deleted" in page
    assert Codec.objects.exists()


def test_the_product_page_links_to_its_codec(developer, product):
    page = developer.get(f"/products/{product.product_id}/").content.decode()
    assert f'href="/products/{product.product_id}/codec/"' in page


def test_the_layout_of_a_variable_field(developer, product):
    data = {
        **BUILDER,
        "m-0-f-count": "4",
        "m-0-f-2-name": "size",
        "m-0-f-2-type": "uint8",
        "m-0-f-3-name": "label",
        "m-0-f-3-type": "varstring",
        "m-0-f-3-lengthField": "size",
        "m-0-f-3-target": "label",
        "_action": "preview",
    }
    page = developer.post(
        f"/products/{product.product_id}/codec/builder/", data, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "variable length" in page
    assert "length of label" in page
    assert "Ready to deploy." in page
