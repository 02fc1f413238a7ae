"""LwM2M management through /api/v1/devices/{deviceId}/lwm2m and the real `run_ingress`: Read, Write,
Write-Attributes, Execute (reboot) and Discover reach a standard client, its answers come back and are
logged on the device; bad requests are refused with 100022 naming the rule; other applications see nothing."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.db import connections
from django.test import Client

from devices.models import DeviceLog
from ingress.models import ManagementOperation
from tests.applications.fixtures import create_app
from tests.ingress.standard_client import StandardClient
from tests.ingress.test_standard_objects import IMEI, _shadow, _until
from tests.products.lwm2m_fixtures import standard_device

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def port(ingress, settings):
    # Operations reach the worker over the channel layer: use the prefix the ingress process derives.
    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "prefix": f"{settings.REDIS_KEY_PREFIX}asgi"}
    settings.CHANNEL_LAYERS = layers
    _, port = ingress(workers=1)
    return port


def _post(credentials, device, body) -> tuple[int, dict]:
    try:
        response = Client(headers=credentials.headers()).post(
            f"/api/v1/devices/{device.device_id}/lwm2m", json.dumps(body), content_type="application/json"
        )
        return response.status_code, response.json()
    finally:
        connections.close_all()


def _get(credentials, device, operation_id) -> dict:
    try:
        return (
            Client(headers=credentials.headers()).get(f"/api/v1/devices/{device.device_id}/lwm2m/{operation_id}").json()
        )
    finally:
        connections.close_all()


def test_read_write_write_attributes_execute_and_discover_reach_the_device_and_answer(owner_app, port):
    device = standard_device(owner_app, IMEI)
    requests = [
        {"operation": "read", "path": "/3/0/9"},
        {"operation": "write", "path": "/3/0/15", "value": "Europe/Berlin"},
        {"operation": "write_attributes", "path": "/3304/0/5700", "value": {"pmin": 10, "st": 2}},
        {"operation": "execute", "path": "/3/0/4"},
        {"operation": "discover", "path": "/3303/0"},
        {"operation": "read", "path": "/3/0/13"},  # the client has no Current Time: its 4.04 is the answer
    ]

    async def scenario():
        client = await StandardClient(f"urn:imei:{IMEI}", ("127.0.0.1", port)).start()
        answers = []
        try:
            await _until(lambda: _shadow(device, "Humidity").get("humidity") == 40.0)
            for body in requests:
                status, accepted = await asyncio.to_thread(_post, owner_app, device, body)
                assert status == 202 and accepted["status"] == "PENDING", accepted
                done = await _until(
                    lambda accepted=accepted: (
                        (answer := _get(owner_app, device, accepted["operationId"]))["status"] != "PENDING" and answer
                    )
                )
                answers.append(done)
        finally:
            await client.stop()
        return client, answers

    client, answers = asyncio.run(scenario())

    read, write, attributes, execute, discover, missing = answers
    assert (read["status"], read["code"], read["result"]) == ("DONE", "2.05", {"/3/0/9": 87})
    assert (write["status"], write["code"]) == ("DONE", "2.04") and client.values["/3/0/15"] == "Europe/Berlin"
    assert attributes["status"] == "DONE" and client.attributes["/3304/0/5700"] == {"pmin": "10", "st": "2"}
    assert execute["status"] == "DONE" and client.executed == ["/3/0/4"]
    assert discover["result"][:3] == [
        {"path": "/3303/0", "attributes": {}},
        {"path": "/3303/0/5700", "attributes": {"pmin": "60", "pmax": "3600", "st": "0.5"}},
        {"path": "/3303/0/5701", "attributes": {"pmin": "60", "pmax": "3600"}},
    ]
    assert (missing["status"], missing["code"]) == ("FAILED", "4.04")
    summaries = list(
        DeviceLog.objects.filter(device=device, summary__startswith="LwM2M ").values_list("summary", flat=True)
    )
    assert "LwM2M execute /3/0/4: DONE 2.04" in summaries
    assert "LwM2M read /3/0/13: FAILED 4.04" in summaries


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"operation": "write", "path": "/3/0/9", "value": 5}, "does not allow write"),
        ({"operation": "execute", "path": "/3/0/0"}, "does not allow execute"),
        ({"operation": "write", "path": "/3/0/15", "value": 5}, "must be a string"),
        ({"operation": "write", "path": "/3/0/4"}, "does not allow write"),
        ({"operation": "read", "path": "/64999/0"}, "neither in the registry"),
        ({"operation": "read", "path": "3/0"}, "must be /object"),
        ({"operation": "reboot", "path": "/3/0/4"}, "operation: must be one of"),
        ({"operation": "write_attributes", "path": "/3/0/0", "value": {"gt": 1}}, "numeric resources only"),
        ({"operation": "read", "path": "/3/0/9", "value": 1}, "read takes no value"),
    ],
)
def test_a_bad_request_is_refused_naming_the_rule_and_stores_nothing(owner_app, body, words):
    device = standard_device(owner_app, IMEI)
    status, answer = _post(owner_app, device, body)
    assert status == 400 and answer["error_code"] == "100022", answer
    assert words in answer["error_desc"]
    assert not ManagementOperation.objects.exists()


def test_another_application_cannot_manage_or_see_the_device(owner_app):
    device = standard_device(owner_app, IMEI)
    status, _ = _post(owner_app, device, {"operation": "read", "path": "/3/0/9"})  # no session: fails at once
    operation = ManagementOperation.objects.get()
    assert status == 202 and operation.status == "FAILED" and "no session" in operation.detail
    logged = DeviceLog.objects.filter(device=device, summary__startswith="LwM2M ").order_by("id")
    assert [log.summary for log in logged] == ["LwM2M read /3/0/9 requested", "LwM2M read /3/0/9: FAILED"]
    other = create_app("Other")
    status, answer = _post(other, device, {"operation": "execute", "path": "/3/0/4"})
    assert status in (400, 404) and answer["error_code"] != "100022"
    assert ManagementOperation.objects.count() == 1
    assert _get(other, device, str(operation.operation_id)).get("operationId") is None


@pytest.fixture
def sleepy_port(ingress, settings):
    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "prefix": f"{settings.REDIS_KEY_PREFIX}asgi"}
    settings.CHANNEL_LAYERS = layers
    _, port = ingress(workers=1, INGRESS_QUEUE_AWAKE_SECONDS="1")
    return port


def test_an_operation_for_a_sleeping_queue_mode_device_is_held_until_its_next_update(owner_app, sleepy_port):
    from applications.redis import get_redis
    from devices.downlink import asleep, held_key
    from devices.models import Device

    device = standard_device(owner_app, IMEI)

    def _asleep() -> bool:
        try:
            return asleep(Device.objects.get(pk=device.pk))
        finally:
            connections.close_all()

    async def scenario():
        client = await StandardClient(f"urn:imei:{IMEI}", ("127.0.0.1", sleepy_port), binding="UQ").start()
        try:
            await _until(lambda: _shadow(device, "Humidity").get("humidity") == 40.0)
            await _until(_asleep)  # its wake window (1 s) closed
            status, accepted = await asyncio.to_thread(
                _post, owner_app, device, {"operation": "execute", "path": "/3/0/4"}
            )
            await _until(lambda: get_redis().llen(held_key(device.pk)) == 1)
            executed_while_asleep = list(client.executed)
            await client.update()
            done = await _until(
                lambda: (answer := _get(owner_app, device, accepted["operationId"]))["status"] != "PENDING" and answer
            )
        finally:
            await client.stop()
        return status, accepted, executed_while_asleep, done, client.executed

    status, accepted, executed_while_asleep, done, executed = asyncio.run(scenario())

    assert status == 202 and accepted["detail"] == "held until the device wakes (queue mode)"
    assert executed_while_asleep == []
    assert (done["status"], done["code"]) == ("DONE", "2.04") and executed == ["/3/0/4"]


def _command(credentials, device, service_id: str, method: str, paras: dict) -> tuple[int, dict]:
    try:
        response = Client(headers=credentials.headers()).post(
            "/iocm/app/cmd/v1.4.0/deviceCommands",
            json.dumps(
                {"deviceId": device.device_id, "command": {"serviceId": service_id, "method": method, "paras": paras}}
            ),
            content_type="application/json",
        )
        return response.status_code, response.json()
    finally:
        connections.close_all()


def _status(command_id: str) -> str:
    from commands.models import Command

    try:
        return Command.objects.get(command_id=command_id).status
    finally:
        connections.close_all()


def test_commands_mapped_to_write_and_execute_reach_the_resources_and_succeed_on_their_answer(owner_app, port):
    from commands import actions as command_actions

    device = standard_device(owner_app, IMEI)
    command_actions.do_set_delivery_policy(product=device.product, power_mode="DRX")  # sent at once

    async def scenario():
        client = await StandardClient(f"urn:imei:{IMEI}", ("127.0.0.1", port)).start()
        try:
            await _until(lambda: _shadow(device, "Humidity").get("humidity") == 40.0)
            created, write = await asyncio.to_thread(
                _command, owner_app, device, "Device", "SET_TIMEZONE", {"timezone": "Asia/Shanghai"}
            )
            assert created == 201, write
            await _until(lambda: _status(write["commandId"]) == "SUCCESSFUL")
            _, reboot = await asyncio.to_thread(_command, owner_app, device, "Device", "REBOOT", {})
            await _until(lambda: _status(reboot["commandId"]) == "SUCCESSFUL")
        finally:
            await client.stop()
        return client

    client = asyncio.run(scenario())

    assert client.values["/3/0/15"] == "Asia/Shanghai"  # the para's value, written as text
    assert client.executed == ["/3/0/4"]


def test_a_discover_answer_that_is_not_link_format_is_kept_raw_not_lost():
    from aiocoap import Message
    from aiocoap.numbers import codes

    from ingress.lwm2m_management import _answer

    operation = ManagementOperation(operation="discover", path="/3")
    answer = Message(code=codes.CONTENT, payload=b"\xff3/0", content_format=40)

    status, result, detail = _answer(operation, answer)

    assert (status, result) == ("DONE", {"raw": "ff332f30"})
    assert detail.startswith("the answer could not be read: ")
