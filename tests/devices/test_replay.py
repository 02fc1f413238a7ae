"""A new codec version tried on the stored raw uplinks before activating it."""

import struct

import pytest

from devices import replay
from devices.models import Device
from ingress.pipeline import Uplink, handle_uplink
from tests.devices.fixtures import register
from tests.portal.fixtures import create_user
from tests.products.codecs.fixtures import deploy, full_definition, meter


@pytest.fixture
def product_with_uplinks(transactional_db, settings, monkeypatch):
    from applications.models import Membership
    from tests.applications.fixtures import create_app

    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.CODEC_VERSION_CACHE_SECONDS = 0
    monkeypatch.setattr("subscriptions.actions.wake", lambda target_id: None)
    credentials = create_app()
    product = meter(credentials)
    deploy(product)  # version 1, active
    device = register(
        credentials, "861234567890123", info={"manufacturerId": "Acme", "deviceType": "WaterMeter", "model": "m1"}
    )
    for reading, temperature in ((100, 21), (200, -5)):
        outcome = handle_uplink(Uplink(device.pk, b"\x01" + struct.pack(">Ih", reading, temperature)))
        assert outcome.result == "stored", outcome.detail
    handle_uplink(Uplink(Device.objects.get(pk=device.pk).pk, b"\x09\x00"))  # undecodable by version 1
    # Version 2 reads the temperature as unsigned: -5 would become 65531.
    definition = full_definition()
    definition["messages"][0]["fields"][2]["type"] = "uint16"
    deploy(product, definition)
    user = create_user("dev")
    Membership.objects.create(user=user, application=credentials.application, role="developer")
    return product, user


def test_replay_shows_which_uplinks_the_new_version_would_break(product_with_uplinks):
    product, _ = product_with_uplinks
    rows = replay.replay(product, 2)
    assert replay.summary(rows) == {"same": 1, "changed": 0, "fixed": 0, "broken": 1, "still_failing": 1}
    [broken] = [row for row in rows if row.verdict == "broken"]
    # -5 read as unsigned is 65531, beyond the profile's maximum of 125 for temperature.
    assert broken.current["data"][0]["serviceData"]["temperature"] == -5
    assert "temperature" in broken.candidate_error


def test_differences_name_each_changed_value():
    before = {"data": [{"serviceData": {"temperature": -5, "reading": 1}}]}
    after = {"data": [{"serviceData": {"temperature": 11, "reading": 1, "extra": 2}}]}
    assert replay.differences(before, after) == [
        ("data[0].serviceData.extra", None, 2),
        ("data[0].serviceData.temperature", -5, 11),
    ]


def test_replay_page(client, product_with_uplinks):
    product, user = product_with_uplinks
    client.force_login(user)
    page = client.get(f"/devices/replay/{product.product_id}/2/").content.decode()
    assert "temperature" in page
    assert "data-broken>1<" in page and "data-same>1<" in page


def test_replay_of_another_applications_product_is_404(client, product_with_uplinks):
    product, _ = product_with_uplinks
    client.force_login(create_user("stranger"))
    assert client.get(f"/devices/replay/{product.product_id}/2/").status_code == 404


def test_flatten_names_every_leaf():
    assert replay.flatten({"a": [{"b": 1}, 2], "c": None}) == {"a[0].b": 1, "a[1]": 2, "c": None}


def test_stored_uplinks_save_as_vectors_the_plugin_passes_with(client, product_with_uplinks):
    import json

    from products import codec_actions
    from products.codecs.checker import check_package
    from products.codecs.profile import index_for
    from tests.products.codecs.fixtures import oceanconnect_files, plugin_zip

    product, user = product_with_uplinks
    bare = oceanconnect_files(**{"vectors.json": None})
    version = codec_actions.do_upload_codec(product.application, "codec.zip", plugin_zip(bare), product=product)
    assert version.number == 3 and not version.active  # devices use the product: kept aside
    client.force_login(user)
    response = client.get(f"/devices/replay/{product.product_id}/3/?save=vectors")
    assert response["Content-Disposition"] == 'attachment; filename="vectors.json"'
    vectors = json.loads(response.content)
    assert sorted(vector["payload"] for vector in vectors["decode"]) == ["0100000064" + "0015", "01000000C8" + "FFFB"]
    assert all(vector["expected"]["msgType"] == "deviceReq" for vector in vectors["decode"])
    # the saved file is the plugin's vectors: the checker runs them, and they pass
    report = check_package("codec.zip", plugin_zip({**bare, "vectors.json": vectors}), index=index_for(product))
    assert report.passed, [str(found) for found in report.issues]
    assert [result.passed for result in report.results] == [True, True]
    page = client.get(f"/devices/replay/{product.product_id}/3/").content.decode()
    assert 'href="?save=vectors"' in page
    assert "?save=vectors" not in client.get(f"/devices/replay/{product.product_id}/2/").content.decode()


def test_another_application_cannot_save_the_vectors(client, product_with_uplinks):
    product, _ = product_with_uplinks
    client.force_login(create_user("stranger"))
    assert client.get(f"/devices/replay/{product.product_id}/2/?save=vectors").status_code == 404
