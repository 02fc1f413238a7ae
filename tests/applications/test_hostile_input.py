"""Hostile input on every API path: NUL characters, integers past 64 bits (or past a column's range) and
over-long strings answer 400, never 500, and change nothing (applications.guard, each field's rules).

The sweep walks the URL patterns themselves, so a path added later is swept too."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import get_resolver

from applications.models import Application
from commands.models import Command
from devices.models import Device, DeviceGroup
from subscriptions.models import Subscription
from tests.applications.fixtures import create_app
from tests.devices.fixtures import WATER_METER, register, water_meter

QUERY_NAMES = [
    "pageNo", "pageSize", "deviceId", "gatewayId", "nodeId", "appId", "name", "status", "startTime", "endTime",
    "serviceId", "property", "notifyType", "callbackUrl", "channel", "devGroupId", "taskId", "commandId",
    "fileType", "deviceType", "model", "manufacturerName", "version", "operationType", "operationStatus",
    "subOperationStatus", "select", "sort", "cascade", "nodeType", "ownerFlag", "accessAppId", "q",
]  # fmt: skip
BODY_KEYS = [
    "deviceId", "nodeId", "verifyCode", "timeout", "psk", "endUserId", "name", "description", "maxDevNum",
    "deviceIds", "devGroupId", "expireTime", "maxRetransmit", "callbackUrl", "notifyType", "callbackurl",
    "status", "manufacturerId", "manufacturerName", "deviceType", "model", "protocolType", "location",
    "fileId", "taskName", "appId", "secret", "refreshToken", "accessToken", "deviceStatusTimeConfig",
]  # fmt: skip
NUL = "a\x00b"
HUGE = 99999999999999999999999
TOO_BIG_FOR_A_COLUMN = 2**40  # fits 64 bits, not an integer column
LONG = "x" * 5000


def api_paths() -> list[str]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    return [path for path in walk(get_resolver().url_patterns) if path.startswith(("iocm/", "iodm/", "api/v1/"))]


@pytest.fixture
def world(transactional_db, settings):
    settings.PUSH_ALLOW_PRIVATE = True
    owner = create_app("Owner")
    Application.objects.filter(pk=owner.application.pk).update(api_rate_limit=10**9)
    water_meter(owner)
    device = register(owner, info=WATER_METER)
    group = DeviceGroup.objects.create(application=owner.application, name="G")
    values = {
        "device_id": device.device_id,
        "group_id": group.dev_group_id,
        "app_id": owner.app_id,
        "number": "1",
    }
    return owner, values


def _targets(client: Client, owner, values: dict[str, str]) -> list[tuple[str, str]]:
    """(method, url) of every API path and body method it takes (a 405 is skipped)."""
    found = []
    for path in api_paths():
        url = _fill(path, values)
        for method in ("post", "put"):
            response = getattr(client, method)(url, "{}", content_type="application/json", headers=owner.headers())
            if response.status_code != 405:
                found.append((method, url))
    return found


def _fill(path: str, values: dict[str, str]) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda match: values.get(match.group(1), "x"), path)


def _state() -> tuple:
    return (
        Device.objects.count(),
        DeviceGroup.objects.count(),
        Command.objects.count(),
        Subscription.objects.count(),
        list(Device.objects.values_list("name", "node_id").order_by("pk")),
    )


def test_nul_and_huge_numbers_in_query_parameters(world):
    owner, values = world
    client = Client(raise_request_exception=False)
    failures = []
    for path in api_paths():
        url = _fill(path, values)
        for name in QUERY_NAMES:
            for value in (NUL, str(HUGE)) if name in ("pageNo", "nodeId", "manufacturerName") else (str(HUGE),):
                response = client.get(url, {name: value}, headers=owner.headers())
                if response.status_code >= 500 or "too long or out of range" in response.content.decode():
                    failures.append(f"GET {url}?{name}={value!r}: {response.content[:200]}")
                elif value == NUL:
                    body = response.json()
                    if (response.status_code, body["error_code"]) != (400, "100022") or name not in body["error_desc"]:
                        failures.append(f"GET {url}?{name}=NUL: {response.status_code} {body}")
    assert failures == []


def test_nul_anywhere_in_a_json_body_is_400_100022_naming_the_field(world):
    owner, values = world
    client = Client(raise_request_exception=False)
    before = _state()
    failures = []
    for method, url in _targets(client, owner, values):
        for key in ("nodeId", "name", "command", "deviceIds"):
            for value, words in ((NUL, "NUL"), (HUGE, "out of range"), ({"inner": [1, NUL]}, "NUL")):
                body = json.dumps({key: value})
                response = getattr(client, method)(url, body, content_type="application/json", headers=owner.headers())
                answer = response.json()
                if (
                    response.status_code != 400
                    or answer.get("error_code") != "100022"
                    or key not in answer["error_desc"]
                    or words not in answer["error_desc"]
                ):
                    failures.append(f"{method.upper()} {url} {body!r}: {response.status_code} {answer}")
    assert failures == []
    assert _state() == before


def test_numbers_past_a_columns_range_and_long_strings_are_never_500(world):
    owner, values = world
    client = Client(raise_request_exception=False)
    failures = []
    for method, url in _targets(client, owner, values):
        for key in BODY_KEYS:
            for value in (TOO_BIG_FOR_A_COLUMN, LONG):
                body = json.dumps({key: value})
                response = getattr(client, method)(url, body, content_type="application/json", headers=owner.headers())
                if response.status_code >= 500 or "too long or out of range" in response.content.decode():
                    failures.append(f"{method.upper()} {url} {key}={str(value)[:20]}: {response.content[:200]}")
    assert failures == []


def test_the_issues_examples(world):
    owner, _ = world
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/codecs?pageNo=99999999999999999999999", headers=owner.headers())
    assert response.status_code == 400 and response.json()["error_code"] == "100022"
    assert "pageNo" in response.json()["error_desc"]
    response = client.post(
        "/iocm/app/devgroup/v1.3.0/devGroups",
        json.dumps({"name": "Huge", "maxDevNum": 2**40}),
        content_type="application/json",
        headers=owner.headers(),
    )
    assert response.status_code in (200, 400) and response.json()["error_code"] in ("100022", "100604")
    assert not DeviceGroup.objects.filter(name="Huge").exists()
    response = client.get("/iodm/northbound/v1.5.0/category?manufacturerName=%00", headers=owner.headers())
    assert response.status_code == 400
    assert response.json() == {
        "error_code": "100022",
        "error_desc": "The input is invalid: manufacturerName: must not contain NUL characters.",
    }
    response = client.post(
        "/iocm/app/reg/v1.1.0/deviceCredentials",
        '{"verifyCode":"a","nodeId":"a\\u0000b"}',
        content_type="application/json",
        headers=owner.headers(),
    )
    assert response.status_code == 400
    assert response.json()["error_desc"] == "The input is invalid: nodeId: must not contain NUL characters."
    assert not Device.objects.filter(node_id__startswith="a").exists()


def test_login_form_with_nul_is_100022(client, db):
    credentials = create_app(login=False)
    response = client.post(
        "/iocm/app/sec/v1.1.0/login",
        f"appId={credentials.app_id}&secret=s%00",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert response.json()["error_desc"] == "The input is invalid: secret: must not contain NUL characters."


def test_portal_pages_name_the_field(client, db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("operator", password="pw", is_staff=True)
    client.force_login(user)
    response = client.get("/devices/?q=%00")
    assert response.status_code == 400
    assert response.content.decode() == "The input is invalid: q must not contain NUL characters."
    response = client.get("/devices/?q=%00", headers={"Accept-Language": "zh-hans"})
    assert response.status_code == 400
    assert response.content.decode() == "输入无效\uff1aq 不能包含 NUL 字符\u3002"
    response = client.post("/devices/groups/", {"name": "G", "description": "", "max_devices": 2**40})
    assert response.status_code == 200  # the form names the field
    assert not DeviceGroup.objects.exists()
