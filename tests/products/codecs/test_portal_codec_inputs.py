"""Issue 19 in the portal: uploads without vectors warn, refusals show the plugin's logs, a product with
devices asks whether to activate, and the debugger takes fPort and variables."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from products.models import CodecVersion
from tests.products.codecs.fixtures import deploy, manifest, meter, oceanconnect_zip, plugin_zip


@pytest.fixture
def product(personas):
    return meter(personas.app)


@pytest.fixture
def developer(client, personas):
    client.force_login(personas.developer)
    return client


def _upload(developer, product, data: bytes, **fields):
    return developer.post(
        f"/products/{product.product_id}/codec/upload/",
        {"file": SimpleUploadedFile("codec.zip", data), **fields},
        follow=True,
    )


def _states(product) -> list[tuple[int, bool]]:
    return list(CodecVersion.objects.filter(codec__product=product).order_by("number").values_list("number", "active"))


def test_an_upload_without_vectors_is_stored_and_the_page_warns(developer, product):
    page = _upload(developer, product, oceanconnect_zip(**{"vectors.json": None})).content.decode()
    assert "Version 1 uploaded and active." in page
    assert "The plugin carries no decode test vectors." in page
    assert 'class="flash flash-warning"' in page
    assert _states(product) == [(1, True)]


def test_a_refusal_shows_what_the_plugin_printed(developer, product):
    source = "function decode(b) { console.log('saw', b.length); return {msgType: 'deviceRsp', errcode: 1}; }"
    page = _upload(developer, product, oceanconnect_zip(**{"codec.js": source})).content.decode()
    assert 'data-code="CODEC_VECTOR_FAILED"' in page
    assert "report: saw 7" in page


def test_without_devices_the_upload_asks_nothing(developer, product):
    page = developer.get(f"/products/{product.product_id}/codec/upload/").content.decode()
    assert 'name="activate"' not in page


def test_with_devices_the_upload_asks_and_keeps_the_current_version_by_default(developer, product, registered_devices):
    deploy(product)
    registered_devices(product, 2)
    page = developer.get(f"/products/{product.product_id}/codec/upload/").content.decode()
    assert 'name="activate" value="later"' in page and 'name="activate" value="now"' in page
    page = _upload(developer, product, oceanconnect_zip(), activate="later").content.decode()
    assert "Version 2 uploaded and kept aside" in page
    assert _states(product) == [(1, True), (2, False)]
    page = _upload(developer, product, oceanconnect_zip(), activate="now").content.decode()
    assert "Version 3 uploaded and active." in page
    assert _states(product) == [(1, False), (2, False), (3, True)]


def test_the_debugger_takes_fport_and_variables(developer, product):
    source = """
    function decodeUplink(input) {
      console.log('site', input.variables.site);
      return input.fPort === 2 ? {data: {level: input.bytes[0]}} : {data: {temperature: input.bytes[0] - 40}};
    }
    """
    files = {"manifest.json": manifest(format="ttn", fPort=1), "codec.js": source}
    _upload(developer, product, plugin_zip(files))
    url = f"/products/{product.product_id}/codec/debug/"
    page = developer.get(url).content.decode()
    assert 'name="fPort"' in page and 'name="variables"' in page
    body = {"operation": "decode", "version": 1, "payload": "3D", "fPort": "2", "variables": '{"site": "north"}'}
    page = developer.post(url, body).content.decode()
    assert "&quot;level&quot;: 61" in page and "site north" in page
    page = developer.post(url, {**body, "fPort": "999"}).content.decode()
    assert 'data-code="CODEC_FPORT"' in page
    page = developer.post(url, {**body, "variables": "[1]"}).content.decode()
    assert 'data-code="CODEC_VARIABLES"' in page


def test_the_codec_page_says_when_uplinks_were_kept_undecoded(developer, product, personas):
    from products.undecoded import note_undecoded

    deploy(product)
    other = meter(personas.app, model="m2")
    deploy(other)
    page = developer.get(f"/products/{product.product_id}/codec/").content.decode()
    assert 'class="flash flash-warning undecoded"' not in page
    note_undecoded({product.pk: 3})
    page = developer.get(f"/products/{product.product_id}/codec/").content.decode()
    assert "3 uplinks of this product were kept undecoded in the last hour" in page
    assert f'href="/devices/replay/{product.product_id}/1/"' in page
    assert "kept undecoded" not in developer.get(f"/products/{other.product_id}/codec/").content.decode()


def test_the_new_words_speak_chinese(developer, product, registered_devices):
    from products.undecoded import note_undecoded

    deploy(product)
    registered_devices(product, 1)
    note_undecoded({product.pk: 2})
    developer.cookies["django_language"] = "zh-hans"
    page = developer.get(f"/products/{product.product_id}/codec/").content.decode()
    assert "该产品有 2 条上行数据未解码" in page and "回放已存储的上行数据" in page
    page = developer.get(f"/products/{product.product_id}/codec/upload/").content.decode()
    assert "先用已存储的上行数据试用新版本" in page and "立即启用新版本" in page
    page = developer.get(f"/products/{product.product_id}/codec/debug/").content.decode()
    assert "编解码器的变量" in page
