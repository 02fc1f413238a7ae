"""A gateway over MQTT (paho as the gateway): it adds, deletes and reports its sub-devices, reports
their data and answers their commands; it can act for nothing else (ingress.mqtt.gateway)."""

from __future__ import annotations

import json
import time

import pytest
from django.db import close_old_connections

from applications.models import Application
from commands.models import Command, CommandEvent
from devices.models import DataHistory, Device, DeviceLog, LogKind, NodeType, Status, StatusDetail
from subscriptions.models import PushMessage
from tests.mqtt.fixtures import GatewayClient, mqtt_device, mqtt_gateway, wait_for
from tests.subscriptions.fixtures import subscribe

pytestmark = pytest.mark.django_db(transaction=True)


class Nowhere:
    """A callback receiver nobody delivers to: the tests look at the push outbox."""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:9{path}"


def pushed(notify_type: str) -> list[dict]:
    return [json.loads(bytes(m.body)) for m in PushMessage.objects.filter(notify_type=notify_type).order_by("pk")]


def connected(gateway: Device, server) -> GatewayClient:
    client = GatewayClient(gateway, server.port)
    assert not client.connect().is_failure
    return client


def gateway_logs(gateway: Device) -> list[str]:
    return list(DeviceLog.objects.filter(device=gateway).order_by("pk").values_list("summary", flat=True))


def test_a_gateway_adds_hundreds_of_sub_devices_in_one_message_with_a_device_added_each(owner_app, server):
    subscribe(owner_app, Nowhere(), "deviceAdded")
    gateway = mqtt_gateway(owner_app)
    client = connected(gateway, server)
    node_ids = [f"meter-{number:04d}" for number in range(300)]

    response = client.add(node_ids, mid=7)

    assert response["mid"] == 7 and response["statusCode"] == 0, response
    added = {entry["deviceInfo"]["nodeId"]: entry["deviceInfo"]["deviceId"] for entry in response["data"]}
    assert list(added) == node_ids
    children = {device.node_id: device for device in Device.objects.filter(gateway=gateway)}
    assert {node_id: device.device_id for node_id, device in children.items()} == added
    one = children["meter-0000"]
    assert (one.node_type, one.product.model, one.activated, one.status) == ("ENDPOINT", "v1001", True, "ONLINE")
    gateway.refresh_from_db()
    assert gateway.node_type == NodeType.GATEWAY
    bodies = [body for body in pushed("deviceAdded") if body["deviceId"] in added.values()]
    assert len(bodies) == 300
    assert {body["gatewayId"] for body in bodies} == {gateway.device_id}
    assert {body["nodeType"] for body in bodies} == {"ENDPOINT"}

    # Adding them again (a gateway that restarted) keeps them: same deviceIds, nothing new.
    again = client.add(node_ids[:2], mid=8)
    client.close()
    assert again["statusCode"] == 0
    assert [entry["deviceInfo"]["deviceId"] for entry in again["data"]] == [added[n] for n in node_ids[:2]]
    assert Device.objects.filter(gateway=gateway).count() == 300


def test_adding_past_the_quota_or_a_taken_node_id_adds_nothing_and_says_why(server):
    from tests.applications.fixtures import create_app

    owner = create_app("Small utility")
    Application.objects.filter(pk=owner.application.pk).update(device_quota=4)
    owner.application.refresh_from_db()
    gateway = mqtt_gateway(owner)
    direct = mqtt_device(owner, node_id="taken-0001")
    client = connected(gateway, server)

    over = client.add(["a-1", "a-2", "a-3"], mid=1)
    taken = client.add(["b-1", direct.node_id], mid=2)
    unknown = client.add(["c-1"], mid=3, manufacturerId="Nobody", model="x")
    client.close()

    assert over["statusCode"] == 1 and "quota (4) leaves room for 2 of the 3" in over["statusDesc"]
    assert taken["statusCode"] == 1 and "taken-0001 is already registered" in taken["statusDesc"]
    assert unknown["statusCode"] == 1 and "no product of this application" in unknown["statusDesc"]
    assert not Device.objects.filter(gateway=gateway).exists()
    assert Device.objects.filter(application=owner.application).count() == 2
    summaries = gateway_logs(gateway)
    assert any("gateway topo/add refused: the application's device quota" in s for s in summaries)
    assert any("gateway topo/add refused: nodeId taken-0001" in s for s in summaries)


def test_a_gateway_reports_for_several_sub_devices_in_one_message(owner_app, server):
    subscribe(owner_app, Nowhere(), "deviceDataChanged")
    gateway = mqtt_gateway(owner_app)
    client = connected(gateway, server)
    response = client.add(["m-1", "m-2", "m-3"])
    ids = [entry["deviceInfo"]["deviceId"] for entry in response["data"]]

    client.report({ids[0]: "11", ids[1]: "22", ids[2]: "33"})

    # The PUBACK came after the pipeline stored all three.
    pks = list(Device.objects.filter(gateway=gateway).values_list("pk", flat=True))
    rows = {row.device_id: row.data["currentReading"] for row in DataHistory.objects.filter(device_id__in=pks)}
    client.close()
    children = {device.device_id: device for device in Device.objects.filter(gateway=gateway)}
    assert rows == {children[ids[0]].pk: "11", children[ids[1]].pk: "22", children[ids[2]].pk: "33"}
    assert children[ids[1]].shadow["WaterMeter"]["data"]["currentReading"] == "22"
    bodies = pushed("deviceDataChanged")
    assert sorted(body["deviceId"] for body in bodies) == sorted(ids)
    assert {body["gatewayId"] for body in bodies} == {gateway.device_id}
    assert DeviceLog.objects.filter(
        device=children[ids[0]], kind=LogKind.DECODED, summary="MQTT gateway uplink: WaterMeter"
    ).exists()


def test_a_datas_message_with_one_part_breaking_its_profile_is_refused_whole(owner_app, server):
    gateway = mqtt_gateway(owner_app)
    client = connected(gateway, server)
    ids = [entry["deviceInfo"]["deviceId"] for entry in client.add(["p-1", "p-2"])["data"]]
    devices = [
        {"deviceId": ids[0], "services": [{"serviceId": "WaterMeter", "data": {"currentReading": "5"}}]},
        {"deviceId": ids[1], "services": [{"serviceId": "NoSuchService", "data": {"x": 1}}]},
    ]
    client.publish(f"/huawei/v1/devices/{gateway.device_id}/datas", json.dumps({"devices": devices}))
    client.close()
    pks = list(Device.objects.filter(device_id__in=ids).values_list("pk", flat=True))
    assert not DataHistory.objects.filter(device_id__in=pks).exists()
    assert all(device.shadow == {} for device in Device.objects.filter(pk__in=pks))
    reason = (
        f"gateway datas refused: sub-device {ids[1]} does not match its profile: data[0]: serviceId 'NoSuchService'"
    )
    assert any(summary.startswith(reason) for summary in gateway_logs(gateway)), gateway_logs(gateway)


def _wait_status(command_id: str, wanted: str, seconds: float = 10) -> Command:
    deadline = time.monotonic() + seconds
    while True:
        command = Command.objects.get(command_id=command_id)
        close_old_connections()
        if command.status == wanted or time.monotonic() > deadline:
            return command
        time.sleep(0.05)


ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}


def _command(client, owner_app, device_id: str) -> str:
    created = client.post(
        "/iocm/app/cmd/v1.4.0/deviceCommands",
        json.dumps({"deviceId": device_id, "command": ALARM, "expireTime": 0}),
        content_type="application/json",
        headers=owner_app.headers(),
    )
    assert created.status_code == 201, created.content
    return created.json()["commandId"]


@pytest.mark.parametrize("errcode, final", [(0, "SUCCESSFUL"), (1, "FAILED")])
def test_a_command_to_a_sub_device_goes_through_its_gateway_and_is_answered_with_its_id(
    owner_app, server, settings, client, errcode, final
):
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    gateway = mqtt_gateway(owner_app)
    mqtt = connected(gateway, server)
    sub_id = mqtt.add(["valve-1"])["data"][0]["deviceInfo"]["deviceId"]

    command_id = _command(client, owner_app, sub_id)

    message = mqtt.messages.get(timeout=10)
    cloud_req = json.loads(message.payload)
    assert message.topic == mqtt.topic("command", "json")
    assert cloud_req["msgType"] == "cloudReq" and cloud_req["deviceId"] == sub_id
    assert cloud_req["cmd"] == "SET_HIGHFLOW_ALARM" and cloud_req["paras"] == {"highFlow": 30}
    assert _wait_status(command_id, "DELIVERED").status == "DELIVERED"

    response = {"msgType": "deviceRsp", "deviceId": sub_id, "mid": cloud_req["mid"], "errcode": errcode, "body": {}}
    mqtt.publish(f"/huawei/v1/devices/{gateway.device_id}/commandResponse", json.dumps(response))
    mqtt.close()

    command = _wait_status(command_id, final)
    assert command.status == final and command.device.device_id == sub_id
    statuses = list(CommandEvent.objects.filter(command=command).values_list("status", flat=True))
    assert statuses == ["PENDING", "SENT", "DELIVERED", final]


def test_a_gateway_reaching_for_a_device_not_its_own_is_refused_logged_and_changes_nothing(owner_app, server):
    gateway = mqtt_gateway(owner_app)
    other = mqtt_gateway(owner_app, node_id="gw-0002")
    direct = mqtt_device(owner_app, node_id="direct-0001")
    theirs = connected(other, server)
    foreign = theirs.add(["theirs-1"])["data"][0]["deviceInfo"]["deviceId"]
    theirs.close()
    client = connected(gateway, server)
    mine = client.add(["mine-1"])["data"][0]["deviceInfo"]["deviceId"]
    before = Device.objects.filter(device_id__in=[foreign, direct.device_id, mine]).order_by("pk")
    before = [(d.device_id, d.status, d.gateway_id, d.shadow) for d in before]

    delete = client.request("topo/delete", {"mid": 4, "deviceIds": [mine, foreign]})
    statuses = [{"deviceId": direct.device_id, "status": "OFFLINE"}]
    update = client.request("topo/update", {"mid": 5, "deviceStatuses": statuses})
    client.report({mine: "1", foreign: "2"})
    rsp = {"msgType": "deviceRsp", "deviceId": direct.device_id, "mid": 1, "errcode": 0, "body": {}}
    client.publish(f"/huawei/v1/devices/{gateway.device_id}/commandResponse", json.dumps(rsp))
    client.publish(f"/huawei/v1/devices/{other.device_id}/datas", b"{}")  # another gateway's topic
    client.close()

    assert delete["statusCode"] == 1 and delete["statusDesc"] == f"not sub-devices of this gateway: {foreign}"
    assert update["statusCode"] == 1 and direct.device_id in update["statusDesc"]
    after = Device.objects.filter(device_id__in=[foreign, direct.device_id, mine]).order_by("pk")
    assert [(d.device_id, d.status, d.gateway_id, d.shadow) for d in after] == before
    assert not DataHistory.objects.filter(device_id__in=[d.pk for d in after]).exists()
    summaries = gateway_logs(gateway)
    assert f"gateway topo/delete refused: not sub-devices of this gateway: {foreign}" in summaries
    assert f"gateway datas refused: not sub-devices of this gateway: {foreign}" in summaries
    assert f"gateway commandResponse refused: not sub-devices of this gateway: {direct.device_id}" in summaries
    # A foreign topic's refusal is logged from a task of its own (DeviceTopicPlugin): it may come last.
    foreign_topic = f"refused to publish to '/huawei/v1/devices/{other.device_id}/datas'"
    assert wait_for(lambda: any(foreign_topic in s for s in gateway_logs(gateway))), gateway_logs(gateway)


REFUSED = "gateway {} refused: "
BAD_MESSAGES = [
    ("topo/add", b"{nope", "not JSON"),
    ("topo/add", b'{"deviceInfos": []}', "mid None is not a whole number"),
    ("topo/add", b'{"mid": 1, "deviceInfos": []}', "deviceInfos must be a non-empty list"),
    (
        "topo/add",
        b'{"mid": 1, "deviceInfos": [{"nodeId": "x"}]}',
        "deviceInfos[0]: productId, or manufacturerId and model, name the product",
    ),
    (
        "topo/add",
        b'{"mid": 1, "deviceInfos": [{"nodeId": "x", "productId": "p"}, {"nodeId": "x", "productId": "p"}]}',
        "nodeId x appears more than once",
    ),
    (
        "topo/update",
        b'{"mid": 1, "deviceStatuses": [{"deviceId": "d"}]}',
        "deviceStatuses[0]: status must be a string of 1 to 256 characters",
    ),
    (
        "topo/update",
        b'{"mid": 1, "deviceStatuses": [{"deviceId": "d", "status": "ABNORMAL"}]}',
        "status 'ABNORMAL' of d: ONLINE or OFFLINE expected",
    ),
    ("datas", b"[1]", "not a JSON object"),
    (
        "datas",
        b'{"devices": [{"deviceId": "d", "services": [{"serviceId": "s", "data": 1}]}]}',
        "devices[0].services[0]: data must be an object",
    ),
    ("commandResponse", b'{"mid": 1}', "commandResponse: deviceId must be a string of 1 to 256 characters"),
    (
        "datas",
        b'{"devices": [{"deviceId": "d", "services": [{"serviceId": "s", "data": {"x": "a\\u0000"}}]}]}',
        "cannot be stored: devices[0].services[0].data.x: must not contain NUL characters",
    ),
    ("topo/add", b'{"mid": 99999999999999999999, "deviceInfos": []}', "cannot be stored: mid: is out of range"),
]


@pytest.mark.parametrize("kind, body, reason", BAD_MESSAGES)
def test_every_bad_gateway_message_is_logged_with_its_reason_and_changes_nothing(owner_app, server, kind, body, reason):
    gateway = mqtt_gateway(owner_app)
    client = connected(gateway, server)
    if kind.startswith("topo/"):
        assert client.request(kind, body)["statusCode"] == 1
    else:
        client.publish(f"/huawei/v1/devices/{gateway.device_id}/{kind}", body)
    client.close()
    expected = REFUSED.format(kind) + reason
    assert wait_for(lambda: any(s.startswith(expected) for s in gateway_logs(gateway))), gateway_logs(gateway)
    assert not Device.objects.filter(gateway=gateway).exists()


def test_sub_devices_follow_their_gateway_offline_and_back_online(owner_app, server):
    subscribe(owner_app, Nowhere(), "deviceInfoChanged")
    gateway = mqtt_gateway(owner_app)
    client = connected(gateway, server)
    ids = [entry["deviceInfo"]["deviceId"] for entry in client.add(["s-1", "s-2", "s-3"])["data"]]
    update = client.request("topo/update", {"mid": 2, "deviceStatuses": [{"deviceId": ids[2], "status": "OFFLINE"}]})
    assert update["statusCode"] == 0 and update["data"] == [{"deviceId": ids[2], "statusCode": 0, "status": "OFFLINE"}]

    client.close()

    def statuses() -> list[tuple[str, str]]:
        return [(d.status, d.status_detail) for d in Device.objects.filter(device_id__in=ids).order_by("node_id")]

    bridge = (Status.OFFLINE, StatusDetail.BRIDGE_OFFLINE)
    assert wait_for(lambda: statuses()[0] == bridge), statuses()
    # The one its gateway had reported OFFLINE stays as it was; the others went with the gateway.
    assert statuses() == [bridge, bridge, (Status.OFFLINE, StatusDetail.NONE)]
    assert Device.objects.get(pk=gateway.pk).status == Status.OFFLINE
    changed = [body for body in pushed("deviceInfoChanged") if body["deviceId"] in ids[:2]]
    assert changed[-1]["gatewayId"] == gateway.device_id and changed[-1]["deviceInfo"]["status"] == "OFFLINE"

    again = connected(gateway, server)
    assert wait_for(lambda: statuses()[0] == (Status.ONLINE, StatusDetail.NONE)), statuses()
    again.close()
    assert statuses()[:2] == [(Status.ONLINE, StatusDetail.NONE)] * 2
    assert Device.objects.get(pk=gateway.pk).status in (Status.ONLINE, Status.OFFLINE)


def test_commands_to_sub_devices_of_an_offline_gateway_follow_the_rules_of_direct_devices(
    owner_app, server, settings, client
):
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    gateway = mqtt_gateway(owner_app)
    mqtt = connected(gateway, server)
    sub_id = mqtt.add(["valve-2"])["data"][0]["deviceInfo"]["deviceId"]
    mqtt.close()
    assert wait_for(lambda: Device.objects.get(device_id=sub_id).status_detail == StatusDetail.BRIDGE_OFFLINE)

    def create(expire_time: int):
        body = {"deviceId": sub_id, "command": ALARM, "expireTime": expire_time}
        return client.post(
            "/iocm/app/cmd/v1.4.0/deviceCommands", json.dumps(body), "application/json", headers=owner_app.headers()
        )

    # Offline with its gateway: refused as for an offline direct device (F-4.7).
    refused = create(600)
    assert refused.status_code == 200 and refused.json()["error_code"] == "100428"
    assert not Command.objects.exists()

    # Back with its gateway: a cached command (PSM, the default) waits for the sub-device's next report.
    again = connected(gateway, server)
    assert wait_for(lambda: Device.objects.get(device_id=sub_id).status == Status.ONLINE)
    created = create(600)
    assert created.status_code == 201, created.content
    cached = created.json()["commandId"]
    assert Command.objects.get(command_id=cached).status == "PENDING"
    again.report({sub_id: "9"})
    command = _wait_status(cached, "DELIVERED", seconds=20)
    sub_logs = list(DeviceLog.objects.filter(device__device_id=sub_id).order_by("pk").values_list("summary", flat=True))
    assert command.status == "DELIVERED", sub_logs
    message = again.messages.get(timeout=10)
    again.close()
    assert message.topic == again.topic("command", "json") and json.loads(message.payload)["deviceId"] == sub_id
