"""deviceDataHistory (F-4.10) and deviceCapabilities."""

import datetime as dt

import pytest

from devices import actions
from devices.models import Device
from tests.devices.fixtures import WATER_METER, register, report, water_meter

T0 = dt.datetime(2026, 5, 1, 10, 0, 0, tzinfo=dt.UTC)
HISTORY = "/iocm/app/data/v1.2.0/deviceDataHistory"


@pytest.fixture
def reporting_device(owner_app, no_wake):
    device = actions.do_bind_device(register(owner_app))
    device = Device.objects.select_related("application").get(pk=device.pk)
    for minute in range(5):
        report(device, "WaterMeter", T0 + dt.timedelta(minutes=minute), currentReading=str(minute))
    report(device, "Battery", T0 + dt.timedelta(minutes=10), batteryLevel=90)
    return device


def test_newest_first_with_the_originals_fields(client, owner_app, reporting_device):
    body = client.get(
        f"{HISTORY}?deviceId={reporting_device.device_id}&pageNo=0&pageSize=3", headers=owner_app.headers()
    ).json()
    assert (body["totalCount"], body["pageNo"], body["pageSize"]) == (6, 0, 3)
    first = body["deviceDataHistoryDTOs"][0]
    assert list(first) == ["deviceId", "gatewayId", "appId", "serviceId", "data", "timestamp"]
    assert first["serviceId"] == "Battery" and first["timestamp"] == "20260501T101000Z"
    assert [row["data"].get("currentReading") for row in body["deviceDataHistoryDTOs"][1:]] == ["4", "3"]


def test_default_page_size_is_1(client, owner_app, reporting_device):
    body = client.get(f"{HISTORY}?deviceId={reporting_device.device_id}&pageNo=0", headers=owner_app.headers()).json()
    assert body["pageSize"] == 1 and len(body["deviceDataHistoryDTOs"]) == 1


def test_empty_page_no_means_no_paging(client, owner_app, reporting_device):
    body = client.get(f"{HISTORY}?deviceId={reporting_device.device_id}", headers=owner_app.headers()).json()
    assert len(body["deviceDataHistoryDTOs"]) == 6


def test_page_n(client, owner_app, reporting_device):
    url = f"{HISTORY}?deviceId={reporting_device.device_id}&pageNo=2&pageSize=2"
    rows = client.get(url, headers=owner_app.headers()).json()["deviceDataHistoryDTOs"]
    assert [row["data"]["currentReading"] for row in rows] == ["1", "0"]


def test_filters_by_service_property_and_time(client, owner_app, reporting_device):
    base = f"{HISTORY}?deviceId={reporting_device.device_id}&pageNo=0&pageSize=100"
    assert client.get(base + "&serviceId=Battery", headers=owner_app.headers()).json()["totalCount"] == 1
    assert client.get(base + "&property=currentReading", headers=owner_app.headers()).json()["totalCount"] == 5
    window = client.get(base + "&startTime=20260501T100100Z&endTime=20260501T100300Z", headers=owner_app.headers())
    assert window.json()["totalCount"] == 3


def test_v110_path_too(client, owner_app, reporting_device):
    url = f"/iocm/app/data/v1.1.0/deviceDataHistory?deviceId={reporting_device.device_id}&pageNo=0"
    assert client.get(url, headers=owner_app.headers()).json()["totalCount"] == 6


def test_device_and_gateway_both_missing_is_100419(client, owner_app):
    response = client.get(HISTORY + "?pageNo=0", headers=owner_app.headers())
    assert response.status_code == 400
    assert response.json()["error_code"] == "100419"


def test_page_size_over_2000_is_100216(client, owner_app, reporting_device):
    response = client.get(
        f"{HISTORY}?deviceId={reporting_device.device_id}&pageNo=0&pageSize=2001", headers=owner_app.headers()
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "100216"


def test_another_application_sees_no_history(client, other_app, reporting_device):
    body = client.get(f"{HISTORY}?deviceId={reporting_device.device_id}&pageNo=0", headers=other_app.headers()).json()
    assert body["totalCount"] == 0 and body["deviceDataHistoryDTOs"] == []


def test_capabilities_project_the_profile(client, owner_app, no_wake):
    water_meter(owner_app)
    device = register(owner_app, info=WATER_METER)
    body = client.get(
        f"/iocm/app/data/v1.1.0/deviceCapabilities?deviceId={device.device_id}", headers=owner_app.headers()
    ).json()
    [capabilities] = body["deviceCapabilities"]
    assert capabilities["deviceId"] == device.device_id
    services = {service["serviceId"]: service for service in capabilities["serviceCapabilities"]}
    assert set(services) == {"Electricity", "WaterMeter", "WaterMeterAlarm"}
    assert services["WaterMeterAlarm"]["commands"][0]["commandName"] == "SET_HIGHFLOW_ALARM"
    assert services["Electricity"]["properties"][0]["propertyName"] == "voltage"


def test_capabilities_of_another_applications_device_are_empty(client, owner_app, other_app, no_wake):
    device = register(owner_app)
    body = client.get(
        f"/iocm/app/data/v1.1.0/deviceCapabilities?deviceId={device.device_id}", headers=other_app.headers()
    ).json()
    assert body == {"deviceCapabilities": []}
