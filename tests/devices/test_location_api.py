"""`POST /iocm/app/location/v1.1.0/queryDeviceRealtimeLocation`: the last position a device (or its
gateway) reported, in the original's body (QueryDeviceRealtimeLocationOutDTO: deviceId, pd, poserr)."""

import json

from devices.models import Device, NodeType
from tests.devices.fixtures import register

URL = "/iocm/app/location/v1.1.0/queryDeviceRealtimeLocation"
CRS = {"coordinateReferenceSystem": {"identifier": {"code": "4326", "codeSpace": "EPSG", "edition": "6.1"}}}


def _ask(client, credentials, body):
    return client.post(URL, json.dumps(body), content_type="application/json", headers=credentials.headers())


def _shadow(device, shadow):
    Device.objects.filter(pk=device.pk).update(shadow=shadow)


def test_the_last_reported_location_in_the_originals_body(client, owner_app, django_assert_max_num_queries):
    device = register(owner_app)
    _shadow(
        device,
        {
            "WaterMeter": {"serviceType": "WaterMeter", "data": {"currentReading": "3"}, "eventTime": "20250101T0000Z"},
            "Location": {
                "serviceType": "Location",
                "data": {"latitude": 31.230416, "longitude": "121.473701", "radius": 25},
                "eventTime": "20250102T030405Z",
            },
        },
    )
    with django_assert_max_num_queries(3):  # token, throttle-free; the device with its gateway
        response = _ask(client, owner_app, {"deviceId": device.device_id, "horAcc": 1000, "geoInfo": CRS})
    assert response.status_code == 200
    assert response.json() == {
        "deviceId": device.device_id,
        "pd": {
            "time": "20250102T030405Z",
            "utcOff": "+0000",
            "srsName": "www.epsg.org/#4326",
            "X": "31.230416",
            "Y": "121.473701",
            "radius": "25",
        },
        "poserr": None,
    }


def test_a_sub_device_without_its_own_is_where_its_gateway_is(client, owner_app):
    gateway = register(owner_app, node_id="gw-1")
    Device.objects.filter(pk=gateway.pk).update(node_type=NodeType.GATEWAY)
    child = register(owner_app, node_id="child-1", gateway=gateway)
    _shadow(gateway, {"Position": {"data": {"Latitude": 48.85, "Longitude": 2.35}, "eventTime": "20250103T000000Z"}})
    body = _ask(client, owner_app, {"deviceId": child.device_id}).json()
    assert (body["pd"]["X"], body["pd"]["Y"], body["pd"]["radius"]) == ("48.85", "2.35", None)


def test_no_location_is_the_position_error(client, owner_app):
    device = register(owner_app)
    _shadow(device, {"Location": {"data": {"latitude": 123, "longitude": 0}}})  # out of range: not a position
    body = _ask(client, owner_app, {"deviceId": device.device_id}).json()
    assert body["pd"] is None
    assert body["poserr"]["resid"] == "6"
    assert list(body["poserr"]) == ["time", "resid", "add_info"]


def test_bad_input_and_other_applications(client, owner_app, other_app):
    device = register(owner_app)
    _shadow(device, {"Location": {"data": {"latitude": 1, "longitude": 2}}})
    missing = _ask(client, owner_app, {"horAcc": 10})
    assert (missing.status_code, missing.json()["error_code"]) == (400, "100022")
    assert "deviceId" in missing.json()["error_desc"]
    foreign = _ask(client, other_app, {"deviceId": device.device_id})
    assert (foreign.status_code, foreign.json()["error_code"]) == (404, "100418")
    anonymous = client.post(URL, json.dumps({"deviceId": device.device_id}), content_type="application/json")
    assert anonymous.status_code == 403 and anonymous.json()["resultcode"] == "1010005"
