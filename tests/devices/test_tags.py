"""Device tags (issue 20, item 6): set on the device's edit page, the list filters by them, each
application's tags its own."""

from __future__ import annotations

import re

import pytest

from devices.actions import do_set_device_tags
from devices.models import DeviceTag
from tests.devices.fixtures import register
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.django_db


@pytest.fixture
def personas(no_wake):
    personas = create_personas()
    personas.devices = [register(personas.app, node_id=f"86111111111111{n}") for n in range(3)]
    personas.theirs = register(personas.other_app, node_id="862222222222222")
    return personas


def listed(client, **params) -> list[str]:
    return re.findall(r"<code>(86\d{13})</code>", client.get("/devices/", params).content.decode())


def test_the_owner_tags_a_device_and_the_list_filters_by_the_tag(client, personas):
    client.force_login(personas.owner)
    device = personas.devices[1]
    fields = {"name": "pump", "location": "", "tags": " basement , north wing,basement"}
    assert client.post(f"/devices/{device.device_id}/edit/", fields).status_code == 302
    assert sorted(device.tags.values_list("name", flat=True)) == ["basement", "north wing"]
    assert 'value="basement, north wing"' in client.get(f"/devices/{device.device_id}/edit/").content.decode()
    page = client.get("/devices/").content.decode()
    assert '<option value="north wing">north wing</option>' in page
    assert listed(client, tag="basement") == [device.node_id]
    assert 'data-total="1" data-exact="true"' in client.get("/devices/", {"tag": "basement"}).content.decode()
    # cleared: the device loses its tags, the tags stay for other devices
    client.post(f"/devices/{device.device_id}/edit/", {**fields, "tags": ""})
    assert not device.tags.exists() and DeviceTag.objects.filter(name="basement").exists()
    assert listed(client, tag="basement") == []


def test_a_tag_too_long_is_named_with_the_other_fields_checked_in_the_same_answer(client, personas):
    client.force_login(personas.owner)
    device = personas.devices[0]
    long_tag = "x" * 65
    page = client.post(
        f"/devices/{device.device_id}/edit/", {"name": "", "tags": f"ok, {long_tag}", "data_aging_days": 91}
    ).content.decode()
    assert f"A tag is at most 64 characters: {long_tag} has 65." in page
    assert "Ensure this value is less than or equal to 90." in page
    assert not device.tags.exists()


def test_another_applications_tags_are_neither_offered_nor_matched(client, personas):
    do_set_device_tags(personas.theirs, ["basement", "gas"])
    do_set_device_tags(personas.devices[0], ["basement"])
    client.force_login(personas.owner)
    page = client.get("/devices/").content.decode()
    assert '<option value="gas">' not in page
    assert listed(client, tag="basement") == [personas.devices[0].node_id]
    assert listed(client, tag="gas") == []
    client.force_login(personas.outsider)
    assert listed(client, tag="basement") == [personas.theirs.node_id]
    assert client.post(f"/devices/{personas.devices[0].device_id}/edit/", {"tags": "mine"}).status_code == 404
    assert list(personas.devices[0].tags.values_list("name", flat=True)) == ["basement"]


def test_tags_are_renamed_and_deleted_by_their_applications_editors_only(client, personas):
    do_set_device_tags(personas.devices[0], ["basement", "roof"])
    basement = DeviceTag.objects.get(name="basement")
    client.force_login(personas.owner)
    page = client.get("/devices/tags/").content.decode()
    assert "basement" in page and "Delete the tag basement? Its devices stay." in page
    client.post("/devices/tags/", {"tag": basement.pk, "name": "cellar"})
    assert DeviceTag.objects.get(pk=basement.pk).name == "cellar"
    taken = client.post("/devices/tags/", {"tag": basement.pk, "name": "roof"}, follow=True).content.decode()
    assert "Another tag of this application is called roof." in taken
    assert DeviceTag.objects.get(pk=basement.pk).name == "cellar"
    # a viewer and another application's owner change nothing
    for user in (personas.viewer, personas.outsider):
        client.force_login(user)
        assert client.post("/devices/tags/", {"tag": basement.pk, "name": "x"}).status_code == 404
        assert client.post(f"/devices/tags/{basement.pk}/delete/").status_code == 404
    client.force_login(personas.outsider)
    assert "cellar" not in client.get("/devices/tags/").content.decode()
    assert DeviceTag.objects.get(pk=basement.pk).name == "cellar"
    client.force_login(personas.owner)
    client.post(f"/devices/tags/{basement.pk}/delete/")
    assert not DeviceTag.objects.filter(pk=basement.pk).exists()
    assert list(personas.devices[0].tags.values_list("name", flat=True)) == ["roof"]
