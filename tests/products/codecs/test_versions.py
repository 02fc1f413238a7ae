"""Versions: one active per product; deleting and replacing follow the profile lock rule (F-2.9)."""

from __future__ import annotations

import pytest

from products import codec_actions
from products.codec_actions import CodecLocked
from products.models import Codec, CodecVersion
from tests.products.codecs.fixtures import deploy, meter, upload


@pytest.fixture
def product(owner_app):
    return meter(owner_app)


def _state(product) -> list[tuple[int, str, bool]]:
    return list(
        CodecVersion.objects.filter(codec__product=product).order_by("number").values_list("number", "kind", "active")
    )


def test_each_deploy_or_upload_is_the_next_version_and_becomes_active(owner_app, product):
    deploy(product)
    upload(owner_app)
    deploy(product)
    assert _state(product) == [(1, "online", False), (2, "script", False), (3, "online", True)]


def test_activating_an_older_version(product):
    deploy(product)
    deploy(product)
    codec = Codec.objects.get(product=product)
    codec_actions.do_activate_version(codec, 1)
    assert _state(product) == [(1, "online", True), (2, "online", False)]


def test_on_a_locked_product_a_new_version_waits_to_be_activated(owner_app, product, registered_devices):
    deploy(product)
    registered_devices(product, 2)
    version = upload(owner_app)
    assert not version.active
    assert _state(product) == [(1, "online", True), (2, "script", False)]
    # activating is how a locked product's codec changes, after trying it on stored uplinks
    codec_actions.do_activate_version(Codec.objects.get(product=product), 2)
    assert _state(product) == [(1, "online", False), (2, "script", True)]


def test_a_locked_products_active_version_and_codec_cannot_be_deleted(product, registered_devices):
    deploy(product)
    deploy(product)
    registered_devices(product, 3)
    codec = Codec.objects.get(product=product)
    with pytest.raises(CodecLocked) as locked:
        codec_actions.do_delete_version(codec, 2)
    assert locked.value.code == "CODEC_LOCKED" and "3" in str(locked.value)
    with pytest.raises(CodecLocked):
        codec_actions.do_delete_codec(codec)
    assert _state(product) == [(1, "online", False), (2, "online", True)]
    codec_actions.do_delete_version(codec, 1)  # an inactive version may go
    assert _state(product) == [(2, "online", True)]


def test_an_unlocked_products_codec_is_deleted_with_its_versions(product):
    deploy(product)
    codec_actions.do_delete_codec(Codec.objects.get(product=product))
    assert not Codec.objects.exists() and not CodecVersion.objects.exists()


def test_deleting_the_product_deletes_its_codec(product):
    from products import actions

    deploy(product)
    actions.do_delete_product(product)
    assert not Codec.objects.exists()


def test_an_unknown_version(product):
    deploy(product)
    with pytest.raises(codec_actions.CodecError) as refused:
        codec_actions.do_activate_version(Codec.objects.get(product=product), 7)
    assert refused.value.code == "CODEC_VERSION_UNKNOWN"


def test_a_refused_plugin_stores_nothing(owner_app, product):
    from tests.products.codecs.fixtures import oceanconnect_zip

    with pytest.raises(codec_actions.CodecError) as refused:
        codec_actions.do_upload_codec(
            owner_app.application, "codec.zip", oceanconnect_zip(**{"codec.js": "function parse(b) {}"})
        )
    assert refused.value.report.results == []
    assert not Codec.objects.exists()


def test_a_plugin_for_a_product_of_another_application_is_refused(other_app, product):
    with pytest.raises(codec_actions.CodecError) as refused:
        upload(other_app)
    assert refused.value.code == "CODEC_PRODUCT_UNKNOWN"
    assert not Codec.objects.exists()


def test_the_draft_is_kept_apart_from_versions(product):
    codec_actions.do_save_draft(product, {"messages": [{"name": "half"}]})
    codec = Codec.objects.get(product=product)
    assert codec.draft == {"messages": [{"name": "half"}]} and not codec.versions.exists()
