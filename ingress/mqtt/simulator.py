"""Simulated MQTT devices (paho-mqtt 2.2), as OceanConnect's device SDKs connect: for simulate_devices.

Each device connects with the static connection (client id `{deviceId}_0_1_{hour}`, its hourly HMAC
password), subscribes to its command topics, then the fleet publishes RATE uplinks per second in all,
round robin, for DURATION seconds: JSON reports to data/json or bytes to data/binary, QoS 1 (PUBACK
= acknowledged, after the platform stored it) or 0. `fetch_secret` plays the dynamic connection first
for a device that knows only its product's secret.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt

from ingress.mqtt.auth import COMMAND_TOPIC, SECRET_TOPIC, hour_string, password
from ingress.simulator import FleetResult


class SecretRefused(Exception):
    """The dynamic connection did not give the device its secret; the message says why."""


def fetch_secret(
    product_id: str, product_secret: str, node_id: str, port: int, *, host: str = "127.0.0.1", timeout: float = 10
) -> tuple[str, str]:
    """The dynamic connection: (deviceId, secret) from secretNotify, acknowledged on secretACK."""
    hour = hour_string(dt.datetime.now(dt.UTC))
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"{product_id}_{node_id}_1_1_{hour}", protocol=mqtt.MQTTv311
    )
    client.username_pw_set(product_id, password(product_secret, hour))
    events: queue.Queue = queue.Queue()
    client.on_connect = lambda client, userdata, flags, reason, properties: events.put(("connect", reason))
    client.on_message = lambda client, userdata, message: events.put(("message", message))
    try:
        client.connect(host, port, keepalive=30)
    except OSError as problem:
        raise SecretRefused(f"{node_id}: {problem}") from None
    client.loop_start()
    try:
        _, reason = events.get(timeout=timeout)
        if reason.is_failure:
            raise SecretRefused(f"{node_id}: dynamic connection refused ({reason})")
        client.subscribe(SECRET_TOPIC.format(product_id=product_id, node_id=node_id, kind="secretNotify"), qos=1)
        _, message = events.get(timeout=timeout)
        notification = json.loads(message.payload)
        ack = SECRET_TOPIC.format(product_id=product_id, node_id=node_id, kind="secretACK")
        client.publish(ack, json.dumps({"msgType": "deviceRsp", "errcode": 0}), qos=1).wait_for_publish(timeout)
        return notification["deviceid"], notification["secret"]
    except queue.Empty:
        raise SecretRefused(f"{node_id}: no answer from the platform in {timeout:g} s") from None
    finally:
        client.disconnect()
        client.loop_stop()


def run_mqtt_fleet(
    devices: list[tuple[str, str]],
    port: int,
    *,
    payload: bytes,
    kind: str = "binary",
    rate: float,
    duration: float,
    host: str = "127.0.0.1",
    qos: int = 1,
    progress: Callable[[FleetResult, float], None] | None = None,
) -> FleetResult:
    """Connect every (deviceId, secret), then publish `payload` to data/`kind` at `rate` per second."""
    result = FleetResult()
    lock = threading.RLock()  # paho may call on_publish from inside publish()
    sent_at: dict[tuple[str, int], float] = {}
    clients: list[tuple[str, mqtt.Client]] = []
    hour = hour_string(dt.datetime.now(dt.UTC))
    for device_id, secret in devices:
        connected = threading.Event()
        outcome: list = []
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"{device_id}_0_1_{hour}", protocol=mqtt.MQTTv311
        )
        client.username_pw_set(device_id, password(secret, hour))

        def on_connect(client, userdata, flags, reason, properties, outcome=outcome, connected=connected) -> None:
            outcome.append(reason)
            connected.set()

        def on_publish(client, userdata, mid, reason, properties, device_id=device_id) -> None:
            with lock:
                started = sent_at.pop((device_id, mid), None)
                result.acknowledged += 1
                if started is not None:
                    result.latencies.append(time.monotonic() - started)

        client.on_connect = on_connect
        client.on_publish = on_publish
        try:
            client.connect(host, port, keepalive=60)
        except OSError as problem:
            result.errors.append(f"{device_id}: {problem}")
            continue
        client.loop_start()
        if not connected.wait(10) or outcome[0].is_failure:
            result.errors.append(f"{device_id}: connection refused ({outcome[0] if outcome else 'no CONNACK'})")
            client.loop_stop()
            continue
        for command_kind in ("json", "binary"):
            client.subscribe(COMMAND_TOPIC.format(device_id=device_id, kind=command_kind), qos=1)
        clients.append((device_id, client))
    result.connected = len(clients)
    if not clients:
        return result

    started = time.monotonic()
    interval = 1.0 / rate if rate > 0 else 0.0
    sent = 0
    next_report = started + 1
    while time.monotonic() - started < duration:
        device_id, client = clients[sent % len(clients)]
        with lock:
            info = client.publish(f"/huawei/v1/devices/{device_id}/data/{kind}", payload, qos=qos)
            if qos:
                sent_at[(device_id, info.mid)] = time.monotonic()
        sent += 1
        result.sent = sent
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            result.failed += 1
        now = time.monotonic()
        if progress is not None and now >= next_report:
            progress(result, now - started)
            next_report = now + 1
        time.sleep(max(0.0, started + sent * interval - time.monotonic()))
    deadline = time.monotonic() + 10
    while qos and sent_at and time.monotonic() < deadline:
        time.sleep(0.05)  # the last PUBACKs
    if not qos:
        result.acknowledged = 0
    for _, client in clients:
        client.disconnect()
        client.loop_stop()
    return result


def run_mqtt_gateway(
    device_id: str,
    secret: str,
    node_ids: list[str],
    port: int,
    *,
    product: dict[str, str],
    services: list[dict],
    rate: float,
    duration: float,
    host: str = "127.0.0.1",
    qos: int = 1,
    progress: Callable[[FleetResult, float], None] | None = None,
) -> FleetResult:
    """One gateway (ingress.mqtt.gateway): connect, add `node_ids` as its sub-devices (topo/add), then
    publish `rate` datas messages per second, each reporting `services` for every sub-device, and
    answer every command to a sub-device with a successful deviceRsp on commandResponse.

    In the result, `connected` is the number of sub-devices the platform added (or already had),
    `sent`/`acknowledged` count datas messages, each carrying one report per sub-device."""
    result = FleetResult()
    hour = hour_string(dt.datetime.now(dt.UTC))
    base = f"/huawei/v1/devices/{device_id}"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{device_id}_0_1_{hour}", protocol=mqtt.MQTTv311)
    client.username_pw_set(device_id, password(secret, hour))
    events: queue.Queue = queue.Queue()
    lock = threading.RLock()
    sent_at: dict[int, float] = {}

    def on_message(client, userdata, message) -> None:
        if message.topic == f"{base}/command/json":  # a command for a sub-device: it succeeds
            request = json.loads(message.payload)
            answer = {"msgType": "deviceRsp", "deviceId": request.get("deviceId"), "mid": request.get("mid")}
            client.publish(f"{base}/commandResponse", json.dumps({**answer, "errcode": 0, "body": {}}), qos=1)
        else:
            events.put(message)

    def on_publish(client, userdata, mid, reason, properties) -> None:
        with lock:
            started = sent_at.pop(mid, None)
            if started is not None:
                result.acknowledged += 1
                result.latencies.append(time.monotonic() - started)

    client.on_connect = lambda client, userdata, flags, reason, properties: events.put(reason)
    client.on_message = on_message
    client.on_publish = on_publish
    try:
        client.connect(host, port, keepalive=60)
    except OSError as problem:
        result.errors.append(f"{device_id}: {problem}")
        return result
    client.loop_start()
    try:
        reason = events.get(timeout=10)
        if reason.is_failure:
            result.errors.append(f"{device_id}: connection refused ({reason})")
            return result
        client.subscribe([(f"{base}/topo/+", 1), (f"{base}/command/json", 1)])
        sub_ids = []
        for start in range(0, len(node_ids), 1000):  # at most 1,000 sub-devices per request
            infos = [{"nodeId": node_id, **product} for node_id in node_ids[start : start + 1000]]
            client.publish(f"{base}/topo/add", json.dumps({"mid": start // 1000 + 1, "deviceInfos": infos}), qos=1)
            response = json.loads(events.get(timeout=60).payload)
            if response.get("statusCode") != 0:
                result.errors.append(f"topo/add refused: {response.get('statusDesc')}")
                return result
            sub_ids += [entry["deviceInfo"]["deviceId"] for entry in response["data"]]
        result.connected = len(sub_ids)
        body = json.dumps({"devices": [{"deviceId": sub_id, "services": services} for sub_id in sub_ids]})
        started = time.monotonic()
        interval = 1.0 / rate if rate > 0 else 0.0
        next_report = started + 1
        while time.monotonic() - started < duration:
            with lock:
                info = client.publish(f"{base}/datas", body, qos=qos)
                if qos:
                    sent_at[info.mid] = time.monotonic()
            result.sent += 1
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                result.failed += 1
            now = time.monotonic()
            if progress is not None and now >= next_report:
                progress(result, now - started)
                next_report = now + 1
            time.sleep(max(0.0, started + result.sent * interval - time.monotonic()))
        deadline = time.monotonic() + 30
        while qos and sent_at and time.monotonic() < deadline:
            time.sleep(0.05)  # the last PUBACKs
        return result
    except queue.Empty:
        result.errors.append(f"{device_id}: no answer from the platform")
        return result
    finally:
        client.disconnect()
        client.loop_stop()
