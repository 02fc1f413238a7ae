"""MQTT uplinks through the whole pipeline, next to the same messages through a bare amqtt broker.

What it measures, all on 127.0.0.1, in one run:

1. baseline: a bare amqtt 0.12.1 broker (its default plugins, anonymous allowed) in a process of its
   own; every QoS 1 PUBLISH is acknowledged by amqtt on receipt and goes nowhere;
2. platform: `manage.py run_mqtt --workers K` (SO_REUSEPORT) with D devices in password mode; each
   connects with its hourly HMAC password and publishes QoS 1 JSON deviceReq reports on its data/json
   topic; every one goes through the pipeline (flow control, profile check, shadow, history, device
   log, push outbox) before its PUBACK.

The load: G processes of paho-mqtt 2.2 clients (one connection per device, W messages in flight per
connection), N messages per device. It reports PUBACKs per second (first send to last PUBACK) and,
for the platform, stored history rows per second. Flow-control limits are raised for the bench's
application.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_mqtt REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/mqtt_bench.py [--devices 40 --messages 250 --generators 2 --window 10 --workers 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

SECRET = "0123456789abcdef0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def report(number: int) -> bytes:
    data = {"signalStrength": "20", "currentReading": str(number), "flowRateReading": "3"}
    return json.dumps({"msgType": "deviceReq", "data": [{"serviceId": "WaterMeter", "serviceData": data}]}).encode()


def generate(port: int, device_ids: list[str], messages: int, window: int, out: multiprocessing.Queue) -> None:
    """One generator process: a paho client per device, `messages` QoS 1 reports each."""
    import paho.mqtt.client as mqtt

    hour = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H")
    password = hmac.new(hour.encode(), SECRET.encode(), hashlib.sha256).hexdigest()
    acked = [0]
    lock = threading.Lock()
    done = threading.Event()
    total = messages * len(device_ids)
    last = [0.0]

    def on_publish(client, userdata, mid, reason, properties) -> None:
        with lock:
            acked[0] += 1
            last[0] = time.perf_counter()
            if acked[0] == total:
                done.set()

    clients = []
    for device_id in device_ids:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"{device_id}_0_1_{hour}", protocol=mqtt.MQTTv311
        )
        client.username_pw_set(device_id, password)
        client.max_inflight_messages_set(window)
        client.max_queued_messages_set(0)
        client.on_publish = on_publish
        client.connect("127.0.0.1", port, keepalive=60)
        client.loop_start()
        clients.append((device_id, client))
    time.sleep(1.0)  # every CONNACK in
    first = time.perf_counter()
    for number in range(messages):
        for device_id, client in clients:
            client.publish(f"/huawei/v1/devices/{device_id}/data/json", report(number), qos=1)
    done.wait(timeout=300)
    for _, client in clients:
        client.disconnect()
        client.loop_stop()
    out.put((acked[0], first, last[0]))


def run_load(port: int, device_ids: list[str], messages: int, generators: int, window: int) -> tuple[int, float]:
    out: multiprocessing.Queue = multiprocessing.Queue()
    shares = [device_ids[index::generators] for index in range(generators)]
    processes = [
        multiprocessing.Process(target=generate, args=(port, share, messages, window, out)) for share in shares if share
    ]
    for process in processes:
        process.start()
    results = [out.get(timeout=400) for _ in processes]
    for process in processes:
        process.join()
    acked = sum(result[0] for result in results)
    elapsed = max(result[2] for result in results) - min(result[1] for result in results)
    return acked, elapsed


def serve_baseline(port: int) -> None:
    import asyncio
    import logging

    from amqtt.broker import Broker

    logging.disable(logging.WARNING)

    async def main() -> None:
        broker = Broker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}}})
        await broker.start()
        await asyncio.get_running_loop().create_future()

    asyncio.run(main())


def wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=40)
    parser.add_argument("--messages", type=int, default=250, help="messages per device")
    parser.add_argument("--generators", type=int, default=2)
    parser.add_argument("--window", type=int, default=10, help="QoS 1 messages in flight per connection")
    parser.add_argument("--workers", type=int, default=2, help="run_mqtt worker processes (SO_REUSEPORT)")
    parser.add_argument("--serve-baseline", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return

    from bench.ingest_bench import cleanup, prepare, setup_django, stored

    database_url = setup_django(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_mqtt"))
    from devices import secrets
    from devices.models import Device

    application, _ = prepare(args.devices)
    Device.objects.filter(application=application).update(
        secret_encrypted=secrets.encrypt(SECRET), protocol_type="MQTT"
    )
    device_ids = list(Device.objects.filter(application=application).values_list("device_id", flat=True))
    total = args.devices * args.messages
    rows = []
    try:
        port = free_port()
        baseline = subprocess.Popen([sys.executable, __file__, "--serve-baseline", str(port)], cwd=BASE_DIR)
        try:
            wait_for_port(port, baseline)
            acked, elapsed = run_load(port, device_ids, args.messages, args.generators, args.window)
        finally:
            stop(baseline)
        rows.append(("bare amqtt broker, QoS 1 PUBACKs", acked / elapsed, acked))

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
            acked, elapsed = run_load(port, device_ids, args.messages, args.generators, args.window)
            rows.append(("run_mqtt, QoS 1 PUBACKs (stored first)", acked / elapsed, acked))
            rows.append(("run_mqtt, uplinks stored (history rows)", (stored(application) - before) / elapsed, None))
        finally:
            stop(platform)
    finally:
        cleanup(application)
    print(f"{args.devices} devices x {args.messages} messages = {total}, {args.generators} generator processes, "
          f"window {args.window}, {args.workers} run_mqtt workers")  # fmt: skip
    print(f"{'':48}{'per second':>12}{'count':>10}{'x bare':>9}")
    for name, rate, count in rows:
        print(f"{name:48}{rate:12,.0f}{'' if count is None else count:>10}{rate / rows[0][1]:9.2f}")


if __name__ == "__main__":
    main()
