"""The modify-device body parsed by its serializer (devices.requests): each bad field answers 100022
naming it with its rule, the first bad one in the order the fields are checked; `null` leaves a field
as it is; a refused body changes nothing."""

import json

import pytest

from tests.devices.fixtures import register


def _put(client, credentials, device, body):
    return client.put(
        f"/iocm/app/dm/v1.4.0/devices/{device.device_id}",
        json.dumps(body),
        content_type="application/json",
        headers=credentials.headers(),
    )


@pytest.mark.parametrize(
    ("body", "desc"),
    [
        ({"name": ""}, "name must be 1 to 256 characters"),
        ({"name": 5}, "name must be a string of at most 256 characters"),
        ({"endUser": "x" * 257}, "endUser must be a string of at most 256 characters"),
        ({"location": "x" * 1025}, "location must be a string of at most 1024 characters"),
        ({"timezone": ["Asia/Shanghai"]}, "timezone must be a string of at most 64 characters"),
        ({"imsi": "4" * 65}, "imsi must be a string of at most 64 characters"),
        ({"mute": True}, 'mute must be "TRUE" or "FALSE"'),
        ({"protocolType": "lwm2m"}, "protocolType must be one of CoAP, huaweiM2M, Z-Wave, ONVIF, WPS, Hue, WiFi, "
                                    "J808, Gateway, ZigBee, LWM2M"),
        ({"isSecure": "true"}, "isSecure must be true or false"),
        ({"psk": "0123456"}, "psk must be 8 to 32 hexadecimal characters"),
        ({"psk": 12345678}, "psk must be 8 to 32 hexadecimal characters"),
        ({"deviceConfig": {"dataConfig": {"dataAgingTime": True}}},
         "deviceConfig.dataConfig.dataAgingTime must be a whole number of days from 0 to 90"),
        ({"deviceConfig": "3"}, "deviceConfig.dataConfig.dataAgingTime must be a whole number of days from 0 to 90"),
        # of several bad fields, the first in the order they are checked
        ({"psk": "no", "mute": "yes", "model": 1}, "model must be a string of at most 256 characters"),
        ({"psk": "no", "isSecure": 1}, "isSecure must be true or false"),
    ],
)  # fmt: skip
def test_a_bad_field_is_named_with_its_rule(client, owner_app, no_wake, body, desc):
    device = register(owner_app)
    response = _put(client, owner_app, device, {"name": "kept", **body} if "name" not in body else body)
    assert response.status_code == 400
    assert response.json() == {"error_code": "100022", "error_desc": f"The input is invalid: {desc}."}
    device.refresh_from_db()
    assert (device.name, device.mute, device.protocol_type, device.is_secure) == ("", False, "", False)


def test_a_body_that_is_not_an_object(client, owner_app, no_wake):
    device = register(owner_app)
    response = _put(client, owner_app, device, ["name"])
    assert response.json() == {
        "error_code": "100022",
        "error_desc": "The input is invalid: the body must be a JSON object.",
    }


def test_null_leaves_a_field_as_it_is_and_the_rest_change(client, owner_app, no_wake):
    device = register(owner_app)
    device.name, device.location = "before", "hall"
    device.save(update_fields=["name", "location"])
    body = {
        "name": None, "location": None, "mute": "TRUE", "isSecure": True, "protocolType": "LWM2M",
        "psk": "00112233AABBCCDD", "region": "", "deviceConfig": {"dataConfig": {"dataAgingTime": 0}},
    }  # fmt: skip
    assert _put(client, owner_app, device, body).status_code == 204
    device.refresh_from_db()
    assert (device.name, device.location, device.mute, device.is_secure) == ("before", "hall", True, True)
    assert (device.protocol_type, device.psk, device.region, device.data_aging_days) == (
        "LWM2M", "00112233AABBCCDD", "", 0,
    )  # fmt: skip
