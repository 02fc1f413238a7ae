"""Simulated MQTT devices (paho-mqtt 2.2), as OceanConnect's device SDKs connect: for simulate_devices.

Each device connects with the static connection (client id `{deviceId}_0_1_{hour}`, its hourly HMAC
password), subscribes to its command topics, then the fleet publishes RATE uplinks per second in all,
round robin, for DURATION seconds: JSON reports to data/json or bytes to data/binary, QoS 1 (PUBACK
= acknowledged, after the platform stored it) or 0.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt

from ingress.mqtt.auth import COMMAND_TOPIC, hour_string, password
from ingress.simulator import FleetResult


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
