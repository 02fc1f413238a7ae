"""One gateway reporting for 1,000 sub-devices, next to the same number of direct MQTT uplinks, in one run.

What it measures, all on 127.0.0.1, against one `manage.py run_mqtt --workers K` (SO_REUSEPORT):

1. direct (the baseline): D devices in password mode, each its own paho-mqtt connection, publish QoS 1
   JSON deviceReq reports on their data/json topics (bench/mqtt_bench.py's load, G generator
   processes, W messages in flight per connection) until S reports are sent;
2. gateway: one gateway connection adds N sub-devices in one topo/add message (timed), then publishes
   QoS 1 `datas` messages, each reporting one WaterMeter service for all N sub-devices (ingress.mqtt.gateway),
   S / N messages with W in flight; the PUBACK of each comes once its N reports are stored.

Both go through the same pipeline (flow control, profile check, shadow, history, device log, push
outbox). It reports stored history rows per second (first send to last PUBACK) and the ratio to the
direct baseline. Flow-control limits are raised for the bench's application.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_mqtt REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/gateway_bench.py [--sub-devices 1000 --reports 10000 --devices 40 --window 2]

With `--protocol lwm2m`, against one `manage.py run_ingress --workers K` instead (ingress.lwm2m_gateway):

1. direct (the baseline): D registered LwM2M devices notify on /19/0/0 for S seconds (bench/ingest_bench.py's
   raw-UDP generator processes, W notifications in flight per device);
2. gateway: one LwM2M gateway registers listing N end devices in object 25 (timed: from the register
   to the last /{prefix}/19/0/0 observed, which includes reading /25, N reads of /{prefix}/3/0, adding
   them in one transaction), then notifies for them round robin for S seconds, W x 16 in flight. The
   gateway is one asyncio process (ingress.simulator): its figure is a lower bound of the platform's.

    .venv/bin/python bench/gateway_bench.py --protocol lwm2m [--sub-devices 1000 --seconds 8 --devices 400]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import queue
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from bench.mqtt_bench import SECRET, free_port, run_load, stop, wait_for_port  # noqa: E402


def gateway_load(port: int, gateway_id: str, sub_devices: int, messages: int, window: int) -> tuple[float, int, float]:
    """Add the sub-devices in one message, then send `messages` datas messages for all of them.
    Returns (seconds the add took, datas messages acknowledged, seconds from first send to last PUBACK)."""
    import paho.mqtt.client as mqtt

    hour = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H")
    password = hmac.new(hour.encode(), SECRET.encode(), hashlib.sha256).hexdigest()
    base = f"/huawei/v1/devices/{gateway_id}"
    responses: queue.Queue = queue.Queue()
    acked, last = [0], [0.0]
    done = threading.Event()
    lock = threading.Lock()

    def on_publish(client, userdata, mid, reason, properties) -> None:
        with lock:
            acked[0] += 1
            last[0] = time.perf_counter()
            if acked[0] == messages + 1:  # the topo/add too
                done.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{gateway_id}_0_1_{hour}", protocol=mqtt.MQTTv311)
    client.username_pw_set(gateway_id, password)
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.on_message = lambda client, userdata, message: responses.put(message)
    client.connect("127.0.0.1", port, keepalive=60)
    client.loop_start()
    time.sleep(1.0)
    client.subscribe(f"{base}/topo/+", qos=1)
    time.sleep(0.2)
    infos = [{"nodeId": f"{gateway_id[:8]}-{number:05d}", "manufacturerId": "Huawei", "model": "v1001"}
             for number in range(sub_devices)]  # fmt: skip
    started = time.perf_counter()
    client.publish(f"{base}/topo/add", json.dumps({"mid": 1, "deviceInfos": infos}), qos=1)
    response = json.loads(responses.get(timeout=120).payload)
    added = time.perf_counter() - started
    if response["statusCode"] != 0:
        raise SystemExit(f"topo/add refused: {response['statusDesc']}")
    ids = [entry["deviceInfo"]["deviceId"] for entry in response["data"]]
    first = time.perf_counter()
    for number in range(messages):
        data = {"signalStrength": "20", "currentReading": str(number), "flowRateReading": "3"}
        devices = [{"deviceId": sub_id, "services": [{"serviceId": "WaterMeter", "data": data}]} for sub_id in ids]
        client.publish(f"{base}/datas", json.dumps({"devices": devices}), qos=1)
    done.wait(timeout=600)
    client.disconnect()
    client.loop_stop()
    return added, acked[0] - 1, last[0] - first


def lwm2m_gateway_load(
    port: int, node_id: str, sub_devices: int, seconds: float, window: int
) -> tuple[float, int, float]:
    """Register one LwM2M gateway with `sub_devices` end devices and notify for them for `seconds`.
    Returns (seconds until all were observed, notifications acknowledged, seconds of sending)."""
    import asyncio

    from ingress.simulator import DeviceError, SimulatedDevice, SubDevice

    payload = b"\x00" + struct.pack(">BIH", 20, 1234, 7)

    async def run() -> tuple[float, int, float]:
        subs = [
            SubDevice(f"{node_id}-{n:05d}", f"d{n:05d}", manufacturer="Huawei", model="v1001")
            for n in range(sub_devices)
        ]
        gateway = SimulatedDevice(node_id, ("127.0.0.1", port), sub_devices=subs, timeout=5.0)
        await gateway.open()
        started = time.perf_counter()
        await gateway.register()
        await gateway.wait_sub_devices_observed(timeout=300)
        listed = time.perf_counter() - started
        acknowledged, index = [0], [0]
        first = time.perf_counter()
        deadline = first + seconds

        async def sender() -> None:
            while time.perf_counter() < deadline:
                sub = subs[index[0] % len(subs)]
                index[0] += 1
                try:
                    await gateway.notify_sub(sub, payload)
                except DeviceError:
                    continue
                acknowledged[0] += 1

        await asyncio.gather(*(sender() for _ in range(window * 16)))
        elapsed = time.perf_counter() - first
        gateway.close()
        return listed, acknowledged[0], elapsed

    return asyncio.run(run())


def lwm2m_main(args: argparse.Namespace) -> None:

    from bench.ingest_bench import cleanup, prepare, setup_django, start_ingress, stop_ingress, stored, wait_for_workers
    from bench.ingest_bench import run_load as coap_load

    database_url = setup_django(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_ingest"))
    from products.models import Product

    application, endpoints = prepare(args.devices + 1)
    application.device_quota = 10**6
    application.save(update_fields=["device_quota"])
    Product.objects.filter(application=application).update(lwm2m_gateway=True)
    gateway, endpoints = endpoints[0], endpoints[1:]
    rows = []
    ingress, port = start_ingress(database_url, args.workers, INGRESS_CODEC_MODULE="products.codecs")
    try:
        wait_for_workers(args.workers, ingress)
        before = stored(application)
        direct = coap_load("ingress", port, endpoints, args.generators, args.seconds, args.window)
        time.sleep(1)  # the last batch commits
        rows.append(
            (f"direct: {args.devices} devices, uplinks stored", (stored(application) - before) / direct["elapsed"])
        )
        before = stored(application)
        listed, acknowledged, elapsed = lwm2m_gateway_load(port, gateway, args.sub_devices, args.seconds, args.window)
        time.sleep(1)
        rows.append(
            (f"gateway: {args.sub_devices} sub-devices, uplinks stored", (stored(application) - before) / elapsed)
        )
        rows.append((f"gateway: notifications acknowledged ({acknowledged})", acknowledged / elapsed))
    finally:
        stop_ingress(ingress)
        cleanup(application)
    print(f"LwM2M: {args.seconds:.0f} s per phase; direct: {args.devices} devices, {args.generators} generator "
          f"processes, window {args.window}; gateway: {args.sub_devices} end devices, {args.window * 16} in flight; "
          f"{args.workers} run_ingress workers")  # fmt: skip
    print(f"listing {args.sub_devices} end devices (register to the last observed): {listed:.2f} s")
    print(f"{'':56}{'per second':>12}{'x direct':>10}")
    for name, rate in rows:
        print(f"{name:56}{rate:12,.0f}{rate / rows[0][1]:10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", choices=["mqtt", "lwm2m"], default="mqtt")
    parser.add_argument("--seconds", type=float, default=8.0, help="lwm2m: seconds of sending in each phase")
    parser.add_argument("--sub-devices", type=int, default=1000)
    parser.add_argument("--reports", type=int, default=10_000, help="uplinks stored in each phase")
    parser.add_argument("--devices", type=int, default=40, help="direct devices of the baseline")
    parser.add_argument("--generators", type=int, default=2, help="processes of the baseline's clients")
    parser.add_argument("--window", type=int, default=2, help="QoS 1 messages in flight per connection")
    parser.add_argument("--workers", type=int, default=2, help="run_mqtt (run_ingress) worker processes")
    args = parser.parse_args()
    if args.protocol == "lwm2m":
        if "--devices" not in sys.argv:
            args.devices = 400
        lwm2m_main(args)
        return

    from bench.ingest_bench import cleanup, prepare, setup_django, stored

    database_url = setup_django(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_mqtt"))
    from devices import secrets
    from devices.models import Device

    application, _ = prepare(args.devices + 1)
    Device.objects.filter(application=application).update(
        secret_encrypted=secrets.encrypt(SECRET), protocol_type="MQTT"
    )
    application.device_quota = 10**6
    application.save(update_fields=["device_quota"])
    device_ids = list(Device.objects.filter(application=application).order_by("pk").values_list("device_id", flat=True))
    gateway_id, device_ids = device_ids[0], device_ids[1:]
    messages = max(1, args.reports // args.sub_devices)
    per_device = max(1, args.reports // args.devices)
    rows = []
    try:
        port = free_port()
        env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
        platform = subprocess.Popen(
            [sys.executable, "manage.py", "run_mqtt", "--port", str(port), "--workers", str(args.workers)],
            cwd=BASE_DIR,
            env=env,
        )
        try:
            wait_for_port(port, platform)
            time.sleep(2)  # every worker listening
            before = stored(application)
            acked, elapsed = run_load(port, device_ids, per_device, args.generators, args.window)
            rows.append(
                (f"direct: {args.devices} devices, uplinks stored", (stored(application) - before) / elapsed, True)
            )
            before = stored(application)
            added, acked, elapsed = gateway_load(port, gateway_id, args.sub_devices, messages, args.window)
            count = stored(application) - before
            rows.append((f"gateway: {args.sub_devices} sub-devices, uplinks stored", count / elapsed, True))
            rows.append((f"gateway: datas messages acknowledged ({acked})", acked / elapsed, False))
        finally:
            stop(platform)
    finally:
        cleanup(application)
    print(f"{args.reports} uplinks per phase; direct: {args.devices} devices x {per_device} messages, "
          f"{args.generators} generator processes; gateway: {messages} datas messages x {args.sub_devices} "
          f"sub-devices; window {args.window}, {args.workers} run_mqtt workers")  # fmt: skip
    print(f"adding {args.sub_devices} sub-devices in one topo/add message: {added:.2f} s")
    print(f"{'':56}{'per second':>12}{'x direct':>10}")
    for name, rate, comparable in rows:  # messages per second are not uplinks: no ratio
        print(f"{name:56}{rate:12,.0f}{rate / rows[0][1]:10.2f}" if comparable else f"{name:56}{rate:12,.1f}")


if __name__ == "__main__":
    main()
