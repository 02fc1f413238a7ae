"""A device group's body parsed by its serializer (devices.api.serializers.GroupRequest): each bad
field answers 100604 with the original's sentence, the first bad one in the order they were checked;
on modify an absent or null field is kept. A refused body changes nothing."""

import json

import pytest

from devices.models import DeviceGroup
from tests.devices.fixtures import register

GROUPS = "/iocm/app/devgroup/v1.3.0/devGroups"
INVALID = "The device group request parameter is invalid"
NAME = f"{INVALID}: name must be 1 to 64 characters."
DESCRIPTION = f"{INVALID}: description is too long."
SIZE = f"{INVALID}: maxDevNum must be 0 to 2147483647."
IDS = f"{INVALID}: deviceIds must be a list."


def _send(client, credentials, method, url, body):
    response = getattr(client, method)(
        url, json.dumps(body), content_type="application/json", headers=credentials.headers()
    )
    return response.status_code, response.json() if response.content else None


@pytest.mark.parametrize(
    ("body", "desc"),
    [
        ({}, NAME),
        ({"name": None}, NAME),
        ({"name": ""}, NAME),
        ({"name": "x" * 65}, NAME),
        ({"name": 12}, NAME),
        ({"name": "g", "description": "x" * 1025}, DESCRIPTION),
        ({"name": "g", "description": 5}, DESCRIPTION),
        ({"name": "g", "maxDevNum": -1}, SIZE),
        ({"name": "g", "maxDevNum": "10"}, SIZE),
        ({"name": "g", "maxDevNum": True}, SIZE),
        ({"name": "g", "maxDevNum": 2**31}, SIZE),
        ({"name": "g", "deviceIds": "d1"}, IDS),
        ({"name": "g", "deviceIds": [1, 2]}, IDS),
        # the first bad field, in the original's order
        ({"description": "x" * 1025, "maxDevNum": -1}, NAME),
        ({"name": "g", "maxDevNum": -1, "deviceIds": "d1"}, SIZE),
    ],
)
def test_create_refuses_a_bad_field_with_its_sentence(client, owner_app, body, desc):
    assert _send(client, owner_app, "post", GROUPS, body) == (400, {"error_code": "100604", "error_desc": desc})
    assert not DeviceGroup.objects.exists()


def test_create_takes_no_device_ids_as_none(client, owner_app):
    for number, empty in enumerate((None, [], "")):
        status, group = _send(client, owner_app, "post", GROUPS, {"name": f"g{number}", "deviceIds": empty})
        assert (status, group["deviceIds"], group["curDevNum"], group["maxDevNum"]) == (201, [], 0, 0)


def test_modify_keeps_absent_and_null_fields_and_refuses_bad_ones(client, owner_app, no_wake):
    device = register(owner_app)
    _status, group = _send(
        client,
        owner_app,
        "post",
        GROUPS,
        {"name": "g", "description": "d", "maxDevNum": 5, "deviceIds": [device.device_id]},
    )
    url = f"{GROUPS}/{group['id']}"
    assert _send(client, owner_app, "put", url, {"name": None, "maxDevNum": 0, "deviceIds": "ignored"})[0] == 200
    stored = DeviceGroup.objects.get()
    assert (stored.name, stored.description, stored.max_devices, stored.devices.count()) == ("g", "d", 0, 1)
    assert _send(client, owner_app, "put", url, {"name": "", "description": 1}) == (
        400,
        {"error_code": "100604", "error_desc": NAME},
    )
    assert _send(client, owner_app, "put", url, {"description": 1})[1]["error_desc"] == DESCRIPTION
    stored.refresh_from_db()
    assert (stored.name, stored.description) == ("g", "d")
