"""The device page's Reboot and Factory reset buttons (LwM2M Execute /3/0/4 and /3/0/5): shown with a
confirmation to those who change the application's devices, refused to viewers, invisible to outsiders."""

from __future__ import annotations

import pytest

from devices.models import DeviceLog
from ingress.models import ManagementOperation
from tests.products.fixtures import Personas
from tests.products.lwm2m_fixtures import standard_device


@pytest.fixture
def personas(db) -> Personas:
    return Personas()


def test_owners_see_the_buttons_with_a_confirmation_and_reboot(client, personas):
    device = standard_device(personas.app)
    client.force_login(personas.owner)
    page = client.get(f"/devices/{device.device_id}/").content.decode()
    assert f'action="/ingress/devices/{device.device_id}/reboot/"' in page
    assert 'data-confirm="Reboot this device (LwM2M Execute /3/0/4)?"' in page
    assert f'action="/ingress/devices/{device.device_id}/factory-reset/"' in page

    response = client.post(f"/ingress/devices/{device.device_id}/reboot/", follow=True)

    operation = ManagementOperation.objects.get()
    assert (operation.operation, operation.path) == ("execute", "/3/0/4")
    # No ingress holds this device in the test: the operation fails at once, and the page says why.
    assert operation.status == "FAILED"
    assert "Not sent: the device has no session" in response.content.decode()
    assert DeviceLog.objects.filter(device=device, summary="LwM2M execute /3/0/4 requested").exists()


def test_the_page_speaks_chinese(client, personas):
    device = standard_device(personas.app)
    client.force_login(personas.owner)
    page = client.get(f"/devices/{device.device_id}/", headers={"accept-language": "zh-hans"}).content.decode()
    assert "恢复出厂设置" in page and "重启此设备" in page


def test_viewers_are_refused_outsiders_see_nothing_and_nothing_is_sent(client, personas):
    device = standard_device(personas.app)
    client.force_login(personas.viewer)
    assert "/reboot/" not in client.get(f"/devices/{device.device_id}/").content.decode()
    assert client.post(f"/ingress/devices/{device.device_id}/reboot/").status_code == 403
    client.force_login(personas.outsider)
    assert client.post(f"/ingress/devices/{device.device_id}/factory-reset/").status_code == 404
    client.force_login(personas.owner)
    assert client.post(f"/ingress/devices/{device.device_id}/shutdown/").status_code == 404
    assert client.get(f"/ingress/devices/{device.device_id}/reboot/").status_code == 405
    assert not ManagementOperation.objects.exists()
