"""Two MQTT nodes behind nginx's stream module (deploy/nginx/mqtt-balancer.conf), one killed under load.

Each node is a `run_mqtt` process group in a namespace of its own; nginx in the balancer's namespace
proxies the service address's port 1883 to them (least connections, passive failure detection). paho
clients in the client namespace (one address) publish QoS 1 uplinks; node 0 is SIGKILLed; its clients
reconnect through nginx to node 1 and resend what was not acknowledged. Checked: every PUBACKed uplink is
stored, once; a command created (pending) for a device of the dead node is delivered from the survivor;
node 0 restarted takes new connections again. docs/multi-node.md.
"""

from __future__ import annotations

import collections
import json
import threading
import time

import pytest
from django.db import close_old_connections

from applications.models import Application
from commands.models import Command
from devices.models import DataHistory
from portal.env import BASE_DIR
from tests.applications.fixtures import create_app
from tests.ingress.process import live_workers
from tests.ingress.water_codec import report
from tests.mqtt.fixtures import DeviceClient, mqtt_device
from tests.multinode.conftest import elapsed, python
from tests.multinode.netns import SERVICE_ADDRESS, NamespaceThread, sh, wait_until

pytestmark = [pytest.mark.multinode, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DEVICES = 16
ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}
BALANCER_CONF = BASE_DIR / "deploy" / "nginx" / "mqtt-balancer.conf"


def start_node(topology, index: int, node_env):
    """`run_mqtt` (one process) in node `index`'s namespace; its process and its server's channel."""
    before = set(live_workers())
    log = f"mqtt{index}.log"
    process = topology.start(
        topology.nodes[index],
        [*python(), "run_mqtt", "--workers", "1", "--port", "1883"],
        env=node_env(MQTT_WORKERS="1", MQTT_MAX_CONNECTIONS_PER_ADDRESS="10000", MQTT_MAX_PENDING_PER_ADDRESS="1000"),
        log=log,
    )

    def started() -> set[str]:
        assert process.poll() is None, topology.log(log)
        return {
            channel
            for channel, name in live_workers().items()
            if channel not in before and name.startswith("mqtt-") and _group(name) == process.pid
        } and "listening on MQTT port" in topology.log(log)

    wait_until(started, 90, lambda: "node did not start: " + topology.log(log))
    channels = {channel for channel, name in live_workers().items() if _group(name) == process.pid}
    return process, channels


def _group(name: str) -> int | None:
    import os

    try:
        return os.getpgid(int(name.split("-")[1]))
    except (ProcessLookupError, ValueError, IndexError):
        return None


def start_nginx(topology) -> None:
    conf = topology.directory / "nginx.conf"
    conf.write_text(
        "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n"
        f"pid {topology.directory}/nginx.pid;\n"
        f"error_log {topology.directory}/nginx-error.log notice;\n"
        "daemon off;\nworker_processes 1;\nevents {}\n"
        f"stream {{ include {BALANCER_CONF}; }}\n"
    )
    topology.start(topology.balancer, ["nginx", "-c", str(conf)], log="nginx.log")
    wait_until(
        lambda: sh("ss", "-ltnH", "sport = :1883", namespace=topology.balancer).strip(),
        30,
        lambda: topology.log("nginx.log") + topology.log("nginx-error.log"),
    )


class Fleet:
    """paho clients in the client namespace; what each published and what was PUBACKed."""

    def __init__(self, devices: list) -> None:
        self.devices = {device.pk: device for device in devices}
        self.clients: dict[int, DeviceClient] = {}
        self.lock = threading.Lock()
        self.sent: dict[tuple[int, int], int] = {}  # (device, packet id) -> reading
        self.acked: list[tuple[int, int]] = []
        self.early: set[tuple[int, int]] = set()
        self.sequence = collections.Counter()
        self.commands: dict[int, list[bytes]] = collections.defaultdict(list)

    def connect(self, device) -> None:
        """In the client namespace's thread: the socket and paho's loop thread (which reconnects) are there."""
        client = DeviceClient(device, 1883, host=SERVICE_ADDRESS)
        paho = client.client
        paho.reconnect_delay_set(0.1, 1)
        command_topic = client.topic("command", "binary")

        def on_connect(paho_client, userdata, flags, reason, properties) -> None:
            client.connected.put(reason)
            paho_client.subscribe(command_topic, qos=1)  # clean session: again after every reconnection

        def on_publish(paho_client, userdata, mid, reason, properties) -> None:
            with self.lock:
                reading = self.sent.pop((device.pk, mid), None)
                if reading is None:
                    self.early.add((device.pk, mid))  # the PUBACK came before publish() returned its mid
                else:
                    self.acked.append((device.pk, reading))

        def on_message(paho_client, userdata, message) -> None:
            self.commands[device.pk].append(message.payload)

        paho.on_connect, paho.on_publish, paho.on_message = on_connect, on_publish, on_message
        assert not client.connect().is_failure
        self.clients[device.pk] = client

    def publish(self, device_pk: int) -> None:
        client = self.clients[device_pk]
        self.sequence[device_pk] += 1
        reading = device_pk * 10000 + self.sequence[device_pk]
        # Not under self.lock: paho calls on_publish holding its own lock, which publish() takes too.
        info = client.client.publish(client.topic("data", "binary"), report(reading=reading), qos=1)
        with self.lock:
            if (device_pk, info.mid) in self.early:
                self.early.discard((device_pk, info.mid))
                self.acked.append((device_pk, reading))
            else:
                self.sent[(device_pk, info.mid)] = reading

    def in_flight(self, device_pk: int) -> bool:
        with self.lock:
            return any(pk == device_pk for pk, _ in self.sent)

    def acked_since(self, count: int) -> collections.Counter:
        with self.lock:
            return collections.Counter(device_pk for device_pk, _ in self.acked[count:])

    def close(self) -> None:
        for client in self.clients.values():
            client.client.disconnect()
            client.client.loop_stop()


def stored_readings(device_pks: list[int]) -> collections.Counter:
    try:
        rows = DataHistory.objects.filter(device_id__in=device_pks, service_id="WaterMeter")
        return collections.Counter((row.device_id, int(row.data["currentReading"])) for row in rows)
    finally:
        close_old_connections()


def test_two_mqtt_nodes_behind_nginx_survive_the_death_of_one(topology, node_env, client, shared_channel_layer):
    started = time.monotonic()
    credentials = create_app()
    # Over its flow-control limits an uplink is acknowledged and dropped (F-8.2): not what is measured here.
    limits = {"uplink_rate_limit": 100000, "device_uplink_limit": 100000}
    Application.objects.filter(pk=credentials.application.pk).update(**limits)
    devices = [mqtt_device(credentials, node_id=f"8640000000{index:05d}") for index in range(DEVICES)]
    pks = [device.pk for device in devices]

    for url in (node_env()["DATABASE_URL"], node_env()["REDIS_URL"]):
        topology.bridge(url)
    node0, channels0 = start_node(topology, 0, node_env)
    _, channels1 = start_node(topology, 1, node_env)
    start_nginx(topology)

    fleet = Fleet(devices)
    thread = NamespaceThread(topology.client).start()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            for pk in pks:
                if pk not in quiet:
                    fleet.publish(pk)
            stop.wait(0.2)

    quiet: set[int] = set()
    loader = threading.Thread(target=load, daemon=True)
    try:
        for device in devices:
            thread.run(fleet.connect, device)
        owners = _owners(pks)
        on_node0 = [pk for pk in pks if owners.get(pk) in channels0]
        assert on_node0 and len(on_node0) < DEVICES, owners  # least_conn spread them over both nodes
        waiting_device = on_node0[0]

        # when: uplinks under load (every device has reported: ONLINE), node 0 dies
        loader.start()
        wait_until(lambda: min(fleet.acked_since(0)[pk] for pk in pks) >= 2, 60, "the load did not start")
        quiet.add(waiting_device)
        topology.kill(node0)
        killed_at = len(fleet.acked)
        command_id = _create(client, credentials, devices[pks.index(waiting_device)].device_id)
        assert Command.objects.get(command_id=command_id).status == "PENDING"

        # then: the dead node's devices reconnect through nginx to node 1 and their uplinks are stored
        moved = set(on_node0) - {waiting_device}
        wait_until(
            lambda: all(fleet.acked_since(killed_at)[pk] >= 3 for pk in moved),
            60,
            lambda: f"acked since the kill: {fleet.acked_since(killed_at)}",
        )
        wait_until(lambda: set(_owners(list(moved)).values()) <= channels1, 30, lambda: str(_owners(list(moved))))

        # The waiting device reports: its command goes out from node 1.
        quiet.discard(waiting_device)
        wait_until(
            lambda: Command.objects.get(command_id=command_id).status in ("DELIVERED", "SUCCESSFUL"),
            30,
            lambda: f"command {Command.objects.get(command_id=command_id).status}",
        )

        # Node 0 comes back and takes new connections again: once nginx tries it again (fail_timeout after
        # its last failure), least_conn sends it reconnecting devices. One device reconnects a second.
        _, channels0_again = start_node(topology, 0, node_env)
        reconnecting = iter(sorted(moved) * 40)
        deadline = time.monotonic() + 40
        while not set(_owners(pks).values()) & channels0_again:
            assert time.monotonic() < deadline, f"node 0 took no connection again: {_owners(pks)}"
            pk = next(reconnecting)
            # Between two messages, as a device whose connection dropped: a DUP resent while its first copy
            # is still in the old node's pipeline would be stored twice (first copies claim nothing).
            quiet.add(pk)
            wait_until(lambda pk=pk: not fleet.in_flight(pk), 30, "a message stayed unacknowledged")
            thread.run(fleet.clients[pk].client.reconnect)
            quiet.discard(pk)
            time.sleep(1)
        back_at = len(fleet.acked)
        wait_until(
            lambda: min(fleet.acked_since(back_at)[pk] for pk in pks) >= 2, 60, lambda: str(fleet.acked_since(back_at))
        )
        stop.set()
        loader.join(10)
        wait_until(lambda: not fleet.sent, 30, lambda: f"not acknowledged yet: {len(fleet.sent)}")
    finally:
        stop.set()
        fleet.close()
        thread.stop()

    stored = stored_readings(pks)
    acked = collections.Counter(fleet.acked)
    # The same uplinks acknowledged and stored: nothing acknowledged is lost, nothing stored unacknowledged.
    assert set(acked) == set(stored), {"acked, not stored": acked - stored, "stored, not acked": stored - acked}
    assert max(acked.values()) == 1
    # Stored twice only in the documented window (docs/multi-node.md): node 0 killed after committing an
    # uplink and before marking it done (one Redis write), so its retransmission to node 1 was stored too:
    # at most the one uplink each of node 0's devices had in flight at the kill.
    twice = [uplink for uplink, count in stored.items() if count > 1]
    assert max(stored.values()) <= 2 and {pk for pk, _ in twice} <= set(on_node0), twice
    assert len(twice) <= len({pk for pk, _ in twice}), twice
    # The command reached the device once (the codec's report ACKs, AA AA ..., are not commands).
    commands = [payload for payload in fleet.commands[waiting_device] if payload[:2] != b"\xaa\xaa"]
    assert len(commands) == 1
    print(f"multi-node MQTT: {len(fleet.acked)} uplinks PUBACKed and stored in {elapsed(started)}")


def _owners(pks: list[int]) -> dict[int, str]:
    from applications.redis import get_redis
    from devices.downlink import owner_key

    redis = get_redis()
    values = redis.mget([owner_key(pk) for pk in pks])
    return {pk: value.decode() for pk, value in zip(pks, values, strict=True) if value}


def _create(client, credentials, device_id: str) -> str:
    response = client.post(
        "/iocm/app/cmd/v1.4.0/deviceCommands",
        json.dumps({"deviceId": device_id, "command": ALARM}),
        content_type="application/json",
        headers=credentials.headers(),
    )
    assert response.status_code == 201, response.content
    return response.json()["commandId"]
