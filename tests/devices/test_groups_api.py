import json

from devices.models import DeviceGroup
from tests.devices.fixtures import register

GROUPS = "/iocm/app/devgroup/v1.3.0/devGroups"


def _post(client, credentials, url, body):
    return client.post(url, json.dumps(body), content_type="application/json", headers=credentials.headers())


def test_create_list_get_modify_delete(client, owner_app, no_wake):
    devices = [register(owner_app, node_id=f"g{n}").device_id for n in range(3)]
    created = _post(client, owner_app, GROUPS, {"name": "Floor 1", "maxDevNum": 10, "deviceIds": devices[:2]})
    assert created.status_code == 201
    group = created.json()
    assert (group["name"], group["maxDevNum"], group["curDevNum"]) == ("Floor 1", 10, 2)
    listing = client.get(GROUPS, headers=owner_app.headers()).json()
    assert listing["totalCount"] == 1 and listing["list"][0]["curDevNum"] == 2
    assert list(listing["list"][0]) == ["id", "name", "description", "appId", "maxDevNum", "curDevNum", "creator"]
    assert listing["list"][0]["creator"] == owner_app.app_id
    url = f"{GROUPS}/{group['id']}"
    assert client.get(url, headers=owner_app.headers()).json()["name"] == "Floor 1"
    modified = client.put(
        url, json.dumps({"name": "Floor one"}), content_type="application/json", headers=owner_app.headers()
    )
    assert modified.json()["name"] == "Floor one"
    members = client.get(
        f"/iocm/app/dm/v1.2.0/devices/ids?devGroupId={group['id']}", headers=owner_app.headers()
    ).json()
    assert sorted(members["deviceIds"]) == sorted(devices[:2])
    _post(
        client,
        owner_app,
        "/iocm/app/dm/v1.1.0/devices/addDevGroupTagToDevices",
        {"devGroupId": group["id"], "deviceIds": [devices[2]]},
    )
    _post(
        client,
        owner_app,
        "/iocm/app/dm/v1.1.0/devices/deleteDevGroupTagFromDevices",
        {"devGroupId": group["id"], "deviceIds": [devices[0]]},
    )
    assert sorted(DeviceGroup.objects.get().devices.values_list("device_id", flat=True)) == sorted(devices[1:])
    deleted = client.delete(url, headers=owner_app.headers())
    assert (deleted.status_code, deleted.content) == (200, b"")  # the original's 200, not 204
    assert not DeviceGroup.objects.exists()


def test_name_in_use_is_100602(client, owner_app):
    _post(client, owner_app, GROUPS, {"name": "A"})
    assert _post(client, owner_app, GROUPS, {"name": "A"}).json()["error_code"] == "100602"


def test_group_full_is_100601(client, owner_app, no_wake):
    devices = [register(owner_app, node_id=f"f{n}").device_id for n in range(2)]
    group = _post(client, owner_app, GROUPS, {"name": "Small", "maxDevNum": 1, "deviceIds": devices[:1]}).json()
    response = _post(
        client,
        owner_app,
        "/iocm/app/dm/v1.1.0/devices/addDevGroupTagToDevices",
        {"devGroupId": group["id"], "deviceIds": devices[1:]},
    )
    assert response.json()["error_code"] == "100601"


def test_bad_name_is_100604(client, owner_app):
    assert _post(client, owner_app, GROUPS, {"name": ""}).json()["error_code"] == "100604"


def test_another_applications_group_does_not_exist(client, owner_app, other_app, no_wake):
    group = _post(client, owner_app, GROUPS, {"name": "Mine"}).json()
    assert client.get(f"{GROUPS}/{group['id']}", headers=other_app.headers()).json()["error_code"] == "100603"
    assert client.delete(f"{GROUPS}/{group['id']}", headers=other_app.headers()).json()["error_code"] == "100603"
    assert DeviceGroup.objects.exists()


def test_another_applications_devices_cannot_join(client, owner_app, other_app, no_wake):
    foreign = register(other_app, node_id="foreign").device_id
    response = _post(client, owner_app, GROUPS, {"name": "Sneaky", "deviceIds": [foreign]})
    assert response.json()["error_code"] == "100418"
    assert not DeviceGroup.objects.exists()
