"""Device groups managed in the portal (issue 20, item 6): rename, limit, add and remove devices, delete;
through the same actions as the northbound group operations, each application's groups its own."""

from __future__ import annotations

import pytest

from devices.actions import do_create_group
from devices.models import Device, DeviceGroup
from tests.devices.fixtures import register
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.django_db


@pytest.fixture
def personas(no_wake):
    personas = create_personas()
    personas.devices = [register(personas.app, node_id=f"86111111111111{n}") for n in range(3)]
    personas.theirs = register(personas.other_app, node_id="862222222222222")
    personas.group = do_create_group(personas.app.application, "Kitchen", "", 0, [personas.devices[0].device_id])
    personas.other_group = do_create_group(personas.app.application, "Cellar", "", 0, [])
    return personas


def members(group: DeviceGroup) -> list[str]:
    return sorted(group.devices.values_list("node_id", flat=True))


def test_the_owner_renames_and_limits_a_group(client, personas):
    client.force_login(personas.owner)
    url = f"/devices/groups/{personas.group.dev_group_id}/"
    assert "Kitchen" in client.get(url).content.decode()
    response = client.post(url, {"name": " Pantry ", "description": "north wall", "max_devices": 5})
    assert response.status_code == 302
    group = DeviceGroup.objects.get(pk=personas.group.pk)
    assert (group.name, group.description, group.max_devices) == ("Pantry", "north wall", 5)


def test_every_field_is_checked_in_one_answer_and_a_taken_name_is_named(client, personas):
    client.force_login(personas.owner)
    url = f"/devices/groups/{personas.group.dev_group_id}/"
    page = client.post(url, {"name": "  ", "max_devices": -1}).content.decode()
    assert "A group needs a name." in page and "greater than or equal to 0" in page
    page = client.post(url, {"name": "Cellar", "max_devices": 0}).content.decode()
    assert "Another group of this application is called Cellar." in page
    assert DeviceGroup.objects.get(pk=personas.group.pk).name == "Kitchen"


def test_devices_are_added_and_removed_by_nodeid_and_strangers_are_named(client, personas):
    client.force_login(personas.owner)
    url = f"/devices/groups/{personas.group.dev_group_id}/members/"
    node_ids = f"{personas.devices[1].node_id}\n{personas.devices[2].node_id}\n{personas.theirs.node_id}\n"
    response = client.post(url, {"node_ids": node_ids, "action": "add"}, follow=True)
    page = response.content.decode()
    assert "2 devices added to the group." in page
    assert f"Not devices of this application: {personas.theirs.node_id}" in page
    assert members(personas.group) == sorted(d.node_id for d in personas.devices)
    client.post(url, {"node_ids": personas.devices[0].node_id, "action": "remove"})
    assert members(personas.group) == sorted(d.node_id for d in personas.devices[1:])
    assert Device.objects.filter(pk=personas.devices[0].pk).exists()


def test_the_groups_limit_is_said_in_plain_words(client, personas):
    DeviceGroup.objects.filter(pk=personas.group.pk).update(max_devices=2)
    client.force_login(personas.owner)
    url = f"/devices/groups/{personas.group.dev_group_id}/members/"
    node_ids = f"{personas.devices[1].node_id}\n{personas.devices[2].node_id}"
    page = client.post(url, {"node_ids": node_ids, "action": "add"}, follow=True).content.decode()
    assert "The group holds at most 2 devices: these would make it 3." in page
    assert members(personas.group) == [personas.devices[0].node_id]


def test_deleting_a_group_keeps_its_devices(client, personas):
    client.force_login(personas.owner)
    client.post(f"/devices/groups/{personas.group.dev_group_id}/delete/")
    assert not DeviceGroup.objects.filter(pk=personas.group.pk).exists()
    assert Device.objects.filter(pk=personas.devices[0].pk).exists()


def test_a_viewer_reads_but_changes_nothing(client, personas):
    client.force_login(personas.viewer)
    url = f"/devices/groups/{personas.group.dev_group_id}/"
    page = client.get(url).content.decode()
    assert personas.devices[0].node_id in page and "Delete the group" not in page
    assert client.post(url, {"name": "Mine", "max_devices": 0}).status_code == 403
    assert client.post(url + "delete/").status_code == 404
    assert client.post(url + "members/", {"node_ids": personas.devices[1].node_id, "action": "add"}).status_code == 404
    assert DeviceGroup.objects.get(pk=personas.group.pk).name == "Kitchen"
    assert members(personas.group) == [personas.devices[0].node_id]


def test_another_application_cannot_see_or_change_the_group(client, personas):
    client.force_login(personas.outsider)
    url = f"/devices/groups/{personas.group.dev_group_id}/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "Mine", "max_devices": 0}).status_code == 404
    assert client.post(url + "delete/").status_code == 404
    assert (
        client.post(url + "members/", {"node_ids": personas.devices[0].node_id, "action": "remove"}).status_code == 404
    )
    assert "Kitchen" not in client.get("/devices/groups/").content.decode()
    assert members(personas.group) == [personas.devices[0].node_id]


def test_an_anonymous_caller_is_sent_to_sign_in(client, personas):
    url = f"/devices/groups/{personas.group.dev_group_id}/"
    assert client.get(url).status_code == 302
    assert client.post(url + "delete/").status_code == 302
    assert DeviceGroup.objects.filter(pk=personas.group.pk).exists()
