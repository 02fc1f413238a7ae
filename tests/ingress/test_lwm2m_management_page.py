"""The device page's LwM2M management panel (ingress.views.lwm2m_operate, lwm2m_operation) without a
device session: what the form's value means per operation, refusals naming the rule and storing nothing,
the operation's page, and who may do what (viewer 403, another application's member 404)."""

from __future__ import annotations

import pytest

from devices.models import DeviceLog
from ingress.models import ManagementOperation
from tests.portal.fixtures import create_personas
from tests.products.lwm2m_fixtures import standard_device

IMEI = "867724030023555"


@pytest.fixture
def device(db):
    personas = create_personas()
    return personas, standard_device(personas.app, IMEI)


def _url(device, tail: str = "") -> str:
    return f"/ingress/devices/{device.device_id}/lwm2m/{tail}"


@pytest.mark.parametrize(
    ("operation", "path", "value", "stored"),
    [
        ("read", "/3/0", "", None),
        ("write", "/3/0/15", "Europe/Berlin", "Europe/Berlin"),  # text
        ("write", "/3/0/14", "+02", "+02"),  # a String that reads as a number stays text
        ("write", "/3/0/13", "1700000000", 1700000000),  # a Time: a number
        ("write_attributes", "/3/0/9", "pmin=60&pmax=600", {"pmin": 60, "pmax": 600}),
        ("write_attributes", "/3303/0/5700", '{"st": 0.5}', {"st": 0.5}),
        ("execute", "/3/0/4", "", None),
        ("discover", "/3303/0", "", None),
    ],
)
def test_the_form_asks_the_operation_of_the_api_with_the_value_the_resource_takes(
    client, device, operation, path, value, stored
):
    personas, device = device
    client.force_login(personas.owner)

    response = client.post(_url(device), {"operation": operation, "path": path, "value": value})

    saved = ManagementOperation.objects.get()
    assert response.status_code == 302 and response["Location"] == _url(device, f"{saved.operation_id}/")
    assert (saved.operation, saved.path, saved.value) == (operation, path, stored)
    # no session: it fails at once, and the operation's page says so
    page = client.get(response["Location"]).content.decode()
    assert 'data-status="FAILED"' in page and "no session" in page
    assert DeviceLog.objects.filter(device=device, summary=f"LwM2M {operation} {path} requested").exists()


@pytest.mark.parametrize(
    ("operation", "path", "value", "words"),
    [
        ("read", "/3/0/4", "", "is not readable"),
        ("write", "/3/0/9", "5", "does not allow write"),
        ("write_attributes", "/3/0/0", "gt=1", "numeric resources only"),
        ("read", "3/0", "", "must be /object"),
        ("reboot", "/3/0/4", "", "must be one of"),
    ],
)
def test_a_refusal_names_the_rule_and_stores_nothing(client, device, operation, path, value, words):
    personas, device = device
    client.force_login(personas.owner)

    page = client.post(_url(device), {"operation": operation, "path": path, "value": value})
    panel = client.post(
        _url(device), {"operation": operation, "path": path, "value": value}, headers={"HX-Request": "true"}
    )

    assert page.status_code == 400 and words in page.content.decode()
    assert panel.status_code == 200 and "data-operation-refused" in panel.content.decode()
    assert words in panel.content.decode()
    assert not ManagementOperation.objects.exists()


def test_the_panel_shows_on_the_owners_page_only_and_others_are_refused(client, device):
    personas, device = device
    client.force_login(personas.owner)
    assert "data-lwm2m-manage" in client.get(f"/devices/{device.device_id}/").content.decode()
    client.post(_url(device), {"operation": "read", "path": "/3/0/9"})
    operation = ManagementOperation.objects.get()

    client.force_login(personas.viewer)
    assert "data-lwm2m-manage" not in client.get(f"/devices/{device.device_id}/").content.decode()
    assert client.post(_url(device), {"operation": "read", "path": "/3/0/9"}).status_code == 403
    assert client.get(_url(device, f"{operation.operation_id}/")).status_code == 200  # a viewer may look

    client.force_login(personas.outsider)
    assert client.post(_url(device), {"operation": "read", "path": "/3/0/9"}).status_code == 404
    assert client.get(_url(device, f"{operation.operation_id}/")).status_code == 404
    assert client.get(_url(device, "not-a-uuid/")).status_code == 404
    assert ManagementOperation.objects.count() == 1


def test_the_panel_speaks_simplified_chinese(client, device):
    personas, device = device
    client.force_login(personas.owner)
    client.cookies["django_language"] = "zh-hans"
    page = client.get(f"/devices/{device.device_id}/").content.decode()
    assert "LwM2M 管理" in page and "发送到设备" in page


def test_a_discover_answer_that_is_not_link_format_is_shown_raw_not_left_pending():
    from aiocoap import Message
    from aiocoap.numbers import codes

    from ingress.lwm2m_management import _answer

    operation = ManagementOperation(operation="discover", path="/3303/0")
    answer = Message(code=codes.CONTENT, payload=b'[{"bn":"/3303/0/","n":"5700","v":21.5}]', content_format=110)

    status, result, detail = _answer(operation, answer)

    assert status == "DONE" and result == {"raw": answer.payload.hex()}
    assert detail.startswith("the answer could not be read:")
