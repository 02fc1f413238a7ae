"""Uplink ingestion through the whole ingress, next to a no-op aiocoap server in the same run.

What it measures, all on 127.0.0.1:

1. baseline: W processes of a bare aiocoap 0.4.17 server (udp6, SO_REUSEPORT, the ingress's tuning)
   answering every confirmable POST with 2.04 and doing nothing else: what aiocoap alone costs;
2. ingress: `manage.py run_ingress --workers W` with D registered and observed devices, each sending
   confirmable notifications on /19/0/0; every one goes through the pipeline (dedup, flow control,
   codec, profile check, shadow, history, device log, cloudRsp) before its ACK.

The load comes from G generator processes of raw UDP (no CoAP library: a few bytes of header built
by hand), one socket per device, a window of outstanding messages per socket, so the generator is not
what limits. It reports acknowledged messages per second and p50/p95/p99 of the time to the ACK;
stored uplinks per second come from the history table. The ingress's flow-control limits are raised
for the bench's application. The codec is the platform's (products.codecs), on the meter profile of
the codec tests, in two scenarios side by side with the baseline: an online (compiled) codec, and the
OceanConnect-style JavaScript plugin of the tests (decode and its cloudRsp ACK in the sandbox).

3. noisy neighbour (issue 19): one application's devices (JavaScript codec, one message outstanding
   each) alone, then beside another application with a well-behaved JavaScript codec, then beside one
   whose codec loops until CODEC_JS_TIMEOUT_MS, each fed 20 uplinks a second, all through one
   `run_ingress`: the first application's p50/p95 ACK times.

Each scenario is a function (`scenario_*`), so more can be added beside them.

    make bench BENCH=ingest
    .venv/bin/python bench/ingest_bench.py --rules 100 [--rounds 3]   # stored uplinks/s with and without rules:
        # the pipeline function in process, then the whole ingress over UDP, rounds alternating
    .venv/bin/python bench/ingest_bench.py --metrics [--rounds 3]   # the ingress with its Prometheus metrics
        # served and scraped every second against without them, rounds alternating (docs/observability.md)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_ingest REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/ingest_bench.py [--devices 400 --seconds 8 --workers 2 --generators 2]
        [--scenarios codecs,noisy --victim-devices 20 --noisy-rate 20 --noisy-rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

MAINTENANCE_DBS = {"", "postgres", "template0", "template1", "root", "test"}
CON, NON, ACK, RST = 0, 1, 2, 3
# The meter's data report (messageId 1, reading uint32, temperature int16) that both codecs decode.
METER_REPORT = b"\x01" + struct.pack(">Ih", 1234, 20)
# The WaterMeter data report of `prepare`'s product (its JavaScript codec), for the benches that use it
# (gateway, mqtt, firmware, rules).
WATER_REPORT = b"\x00" + struct.pack(">BIH", 20, 1234, 7)
POST, PUT, CREATED, CONTENT, GET = 2, 3, 65, 69, 1


# --- raw CoAP ------------------------------------------------------------------------------------
def _option(delta: int, value: bytes) -> bytes:
    def nibble(number: int) -> tuple[int, bytes]:
        if number < 13:
            return number, b""
        if number < 269:
            return 13, bytes([number - 13])
        return 14, struct.pack(">H", number - 269)

    d, dx = nibble(delta)
    n, nx = nibble(len(value))
    return bytes([(d << 4) | n]) + dx + nx + value


def encode(mtype: int, code: int, mid: int, token: bytes, options: list[tuple[int, bytes]], payload: bytes) -> bytes:
    out = bytearray([0x40 | (mtype << 4) | len(token), code]) + struct.pack(">H", mid) + token
    last = 0
    for number, value in sorted(options, key=lambda item: item[0]):
        out += _option(number - last, value)
        last = number
    if payload:
        out += b"\xff" + payload
    return bytes(out)


def decode(data: bytes) -> tuple[int, int, int, bytes, dict[int, list[bytes]]]:
    """(type, code, mid, token, {option number: [values]}) of a datagram."""
    return parse(data)[:5]


def parse(data: bytes) -> tuple[int, int, int, bytes, dict[int, list[bytes]], bytes]:
    """(type, code, mid, token, {option number: [values]}, payload) of a datagram."""
    mtype, tkl, code = (data[0] >> 4) & 3, data[0] & 15, data[1]
    mid = struct.unpack(">H", data[2:4])[0]
    token = data[4 : 4 + tkl]
    options: dict[int, list[bytes]] = {}
    offset, number = 4 + tkl, 0
    while offset < len(data) and data[offset] != 0xFF:
        byte = data[offset]
        offset += 1
        delta, length = byte >> 4, byte & 15
        if delta == 13:
            delta, offset = data[offset] + 13, offset + 1
        elif delta == 14:
            delta, offset = struct.unpack(">H", data[offset : offset + 2])[0] + 269, offset + 2
        if length == 13:
            length, offset = data[offset] + 13, offset + 1
        elif length == 14:
            length, offset = struct.unpack(">H", data[offset : offset + 2])[0] + 269, offset + 2
        number += delta
        options.setdefault(number, []).append(data[offset : offset + length])
        offset += length
    return mtype, code, mid, token, options, data[offset + 1 :]


def uint(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""


# --- the generator (one process) ------------------------------------------------------------------
def generate(
    mode: str,
    port: int,
    endpoints: list[str],
    seconds: float,
    window: int,
    payload: bytes,
    out: multiprocessing.Queue,
    pace: float = 0.0,
) -> None:
    """mode "ingress": register each endpoint, answer the observe, then notify; "baseline": POST;
    "standard": register listing </3303/0>, answer the Write-Attributes and observes, then notify the
    mapped /3303/0/5700 in SenML CBOR (issue 17).

    `pace` > 0: each device sends one message every `pace` seconds whatever the answers (open loop, the
    noisy neighbour); 0: a new message as soon as one is acknowledged (closed loop, `window` outstanding).
    """
    selector = selectors.DefaultSelector()
    sockets = []
    for _ in endpoints:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        sockets.append(sock)
        selector.register(sock, selectors.EVENT_READ, len(sockets) - 1)
    tokens: list[bytes | None] = [None] * len(endpoints)
    if mode in ("ingress", "standard"):
        links = b"</3303/0>" if mode == "standard" else b"</19/0>"
        pending = set(range(len(endpoints)))
        deadline = time.monotonic() + 60
        sent_at = [0.0] * len(endpoints)
        while pending and time.monotonic() < deadline:
            now = time.monotonic()
            for index in list(pending):
                if tokens[index] is None and now - sent_at[index] > 2:
                    query = [(15, f"ep={endpoints[index]}".encode()), (15, b"lt=3600"), (15, b"b=U")]
                    options = [(11, b"rd"), *query, (12, bytes([40]))]
                    sockets[index].send(encode(CON, POST, random.getrandbits(16), b"r", options, links))
                    sent_at[index] = now
            for key, _ in selector.select(timeout=0.05):
                index = key.data
                try:
                    data = sockets[index].recv(2048)
                except OSError:  # nothing yet, or ICMP: the port is not open yet
                    continue
                mtype, code, mid, token, options = decode(data)
                if mtype == CON and code == PUT:  # Write-Attributes on a mapped path: 2.04
                    sockets[index].send(encode(ACK, 68, mid, token, [], b""))
                    continue
                if mtype == CON and code != GET:  # a separate response (2.01): acknowledge it
                    sockets[index].send(encode(ACK, 0, mid, b"", [], b""))
                if code == GET and options.get(6) == [b""]:  # observe GET of /19/0/0 (or a mapped path)
                    answer = encode(ACK, CONTENT, mid, token, [(6, b"\x01"), (12, bytes([42]))], b"")
                    sockets[index].send(answer)
                    if mode != "standard" or options.get(11) == [b"3303", b"0", b"5700"]:
                        tokens[index] = token
                        pending.discard(index)
        if pending:
            out.put({"error": f"{len(pending)} devices were not observed"})
            return
    outstanding: list[dict[int, float]] = [{} for _ in endpoints]
    latencies: list[float] = []
    acknowledged = sent = 0
    mids = [random.getrandbits(16) for _ in endpoints]
    sequence = [2] * len(endpoints)

    def send(index: int) -> None:
        nonlocal sent
        mids[index] = (mids[index] + 1) & 0xFFFF
        if mode in ("ingress", "standard"):
            sequence[index] += 1
            options = [(6, uint(sequence[index])), (12, bytes([112 if mode == "standard" else 42]))]
            message = encode(CON, CONTENT, mids[index], tokens[index], options, payload)
        else:
            message = encode(CON, POST, mids[index], b"b", [(11, b"x")], payload)
        outstanding[index][mids[index]] = time.monotonic()
        sockets[index].send(message)
        sent += 1

    started = time.monotonic()
    end = started + seconds
    next_at = [started + pace * index / max(1, len(endpoints)) for index in range(len(endpoints))]
    if not pace:
        for index in range(len(endpoints)):
            for _ in range(window):
                send(index)
    while time.monotonic() < end:
        if pace:
            now = time.monotonic()
            for index in range(len(endpoints)):
                if now >= next_at[index]:
                    send(index)
                    next_at[index] += pace
        for key, _ in selector.select(timeout=0.05):
            index = key.data
            while True:
                try:
                    data = sockets[index].recv(2048)
                except OSError:
                    break
                if len(data) < 4:
                    continue
                mtype, code, mid, token, _ = decode(data)
                if mtype == ACK:
                    at = outstanding[index].pop(mid, None)
                    if at is not None:
                        latencies.append(time.monotonic() - at)
                        acknowledged += 1
                        if not pace and time.monotonic() < end:
                            send(index)
                elif mtype == CON:  # a downlink (the codec's cloudRsp as a CON): acknowledge it
                    sockets[index].send(encode(ACK, 68, mid, token, [], b""))
                elif mtype == NON and code in (POST, PUT):  # the cloudRsp as a NON: answer 2.04 as a NON
                    sockets[index].send(encode(NON, 68, random.getrandbits(16), token, [], b""))
        # A lost message (full socket buffer) is replaced after 5 s, so the window stays full.
        now = time.monotonic()
        for index, waiting in enumerate(outstanding):
            for mid, at in list(waiting.items()):
                if now - at > 5.0:
                    del waiting[mid]
                    if not pace:
                        send(index)
    out.put({"sent": sent, "acknowledged": acknowledged, "latencies": latencies, "elapsed": time.monotonic() - started})
    for sock in sockets:
        sock.close()


def registrations(port: int, endpoints: list[str], start_after: float, out: multiprocessing.Queue) -> None:
    """Register endpoints one after another while the load runs: seconds from the request to its 2.01."""
    time.sleep(start_after)
    times = []
    for endpoint in endpoints:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(("127.0.0.1", port))
        sock.settimeout(0.5)
        mid = random.getrandbits(16)
        options = [(11, b"rd"), (15, f"ep={endpoint}".encode()), (15, b"lt=3600"), (12, bytes([40]))]
        request = encode(CON, POST, mid, b"q", options, b"</19/0>")
        started = time.monotonic()
        answered = None
        for _ in range(16):  # retransmit every 0.5 s for up to 8 s
            sock.send(request)
            try:
                while True:
                    mtype, code, answer_mid, _, _ = decode(sock.recv(2048))
                    if mtype == CON:
                        sock.send(encode(ACK, 0, answer_mid, b"", [], b""))
                    if code == CREATED:
                        answered = time.monotonic() - started
                        break
            except OSError:
                continue
            break
        times.append(answered)
        sock.close()
    out.put(times)


def run_load(
    mode: str,
    port: int,
    endpoints: list[str],
    generators: int,
    seconds: float,
    window: int,
    late: list[str] = (),
    *,
    payload: bytes = WATER_REPORT,
    pace: float = 0.0,
    beside: tuple[list[str], float] | None = None,
) -> dict:
    """The load of `generators` processes; `beside` = (endpoints, pace): one more process sending at that
    pace meanwhile (the noisy neighbour), whose own figures are left out."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    slices = [endpoints[index::generators] for index in range(generators)]
    processes = [
        multiprocessing.Process(target=generate, args=(mode, port, part, seconds, window, payload, queue, pace))
        for part in slices
    ]
    noisy_queue: multiprocessing.Queue = multiprocessing.Queue()
    noisy = None
    if beside is not None:
        noisy = multiprocessing.Process(
            target=generate, args=(mode, port, beside[0], seconds + 2, 1, payload, noisy_queue, beside[1])
        )
        noisy.start()
        time.sleep(2)  # its devices are registered and observed, and it is sending
    registering = None
    if late:
        registered: multiprocessing.Queue = multiprocessing.Queue()
        registering = multiprocessing.Process(target=registrations, args=(port, list(late), 5.0, registered))
    for process in processes:
        process.start()
    if registering is not None:
        registering.start()
    results = [queue.get(timeout=seconds + 120) for _ in processes]
    for process in processes:
        process.join()
    if noisy is not None:
        noisy_result = noisy_queue.get(timeout=seconds + 120)
        noisy.join()
        if "error" in noisy_result:
            raise SystemExit(f"noisy generator: {noisy_result['error']}")
    registration_times = registered.get(timeout=120) if registering is not None else []
    errors = [result["error"] for result in results if "error" in result]
    if errors:
        raise SystemExit(f"load generator: {errors}")
    latencies = sorted(value for result in results for value in result["latencies"])
    elapsed = max(result["elapsed"] for result in results)

    def percentile(fraction: float) -> float:
        return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1000 if latencies else 0.0

    acknowledged = sum(result["acknowledged"] for result in results)
    answered = sorted(value for value in registration_times if value is not None)
    return {
        "registrations": (
            len(answered),
            len(registration_times),
            answered[len(answered) // 2] if answered else 0.0,
            answered[-1] if answered else 0.0,
        ),
        "acknowledged": acknowledged,
        "rate": acknowledged / elapsed,
        "p50": percentile(0.5),
        "p95": percentile(0.95),
        "p99": percentile(0.99),
        "elapsed": elapsed,
    }


# --- the no-op aiocoap server ------------------------------------------------------------------
def serve_noop(port: int) -> None:
    import asyncio

    import aiocoap
    from aiocoap import resource
    from aiocoap.numbers.constants import TransportTuning

    TransportTuning.MAX_LATENCY = 10.0
    import gc

    gc.set_threshold(50000, 20, 1000)

    class Noop(resource.Resource):
        async def render_post(self, request):
            return aiocoap.Message(code=aiocoap.CHANGED)

    async def main() -> None:
        site = resource.Site()
        site.add_resource(["x"], Noop())
        await aiocoap.Context.create_server_context(site, bind=("::", port), transports=["udp6"])
        await asyncio.get_running_loop().create_future()

    asyncio.run(main())


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the platform side ----------------------------------------------------------------------------
def setup_django(database_url: str) -> str:
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if name in MAINTENANCE_DBS:
        name = "bench_ingest"
        database_url = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    os.environ.update(DATABASE_URL=database_url, REDIS_KEY_PREFIX=f"bench-ingest-{uuid.uuid4().hex[:6]}:")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    return database_url


def prepare(count: int):
    """An application with raised limits, the WaterMeter product with its JavaScript codec (the ingress
    tests' plugin, tests.ingress.fixtures.WATER_METER_JS, decoded through products.codecs), `count`
    devices tied to it."""
    from applications.actions import do_create_application
    from devices.models import Device
    from products import codec_actions
    from products.actions import do_import_profile
    from tests.ingress.fixtures import water_codec_zip
    from tests.products.fixtures import WATER_METER_ZIP, build_zip, water_meter_files

    application, _ = do_create_application(f"ingest bench {uuid.uuid4().hex[:6]}")
    application.device_uplink_limit = application.uplink_rate_limit = 10**9
    application.save()
    from products.models import Product

    # A product is unique by manufacturer and model across applications: clear an interrupted run's.
    Device.objects.filter(product__manufacturer_id="Huawei", product__model="v1001").delete()
    Product.objects.filter(manufacturer_id="Huawei", model="v1001").delete()
    product = do_import_profile(application, WATER_METER_ZIP, build_zip(water_meter_files()))
    codec_actions.do_upload_codec(application, "codec.zip", water_codec_zip(), product=product)
    prefix = f"87{random.randint(10**6, 10**7 - 1)}"
    devices = [
        Device(
            application=application,
            node_id=f"{prefix}{number:06d}",
            verify_code=f"{prefix}{number:06d}",
            manufacturer_id="Huawei",
            device_type="WaterMeter",
            model="v1001",
            product=product,
            timeout=0,
        )
        for number in range(count)
    ]
    Device.objects.bulk_create(devices, batch_size=1000)
    return application, [device.node_id for device in devices]


# The looping codec of the noisy neighbour: every decode runs until CODEC_JS_TIMEOUT_MS stops it.
LOOPING_JS = "function decode(bytes) { while (true) {} }\nfunction encode(obj) { return null; }\n"


def prepare_codec(count: int, kind: str, model: str = "m1"):
    """An application (raised limits) with the meter product of the codec tests, its codec of `kind`
    through products.codecs (online: compiled from the builder's document, with the AA AA ACK;
    javascript: the OceanConnect-style plugin of the tests; looping: a decode that never returns),
    and `count` devices tied to it."""
    from applications.actions import do_create_application
    from devices.models import Device
    from products import codec_actions
    from products.actions import do_import_profile
    from products.models import Product
    from tests.products.codecs.fixtures import (
        ack_message,
        meter_files,
        oceanconnect_zip,
        report_message,
        set_period_message,
    )
    from tests.products.fixtures import build_zip, zip_name

    application, _ = do_create_application(f"codec bench {uuid.uuid4().hex[:6]}")
    application.device_uplink_limit = application.uplink_rate_limit = 10**9
    application.save()
    # A product is unique by manufacturer and model across applications: clear an interrupted run's.
    Device.objects.filter(product__manufacturer_id="Acme", product__model=model).delete()
    Product.objects.filter(manufacturer_id="Acme", model=model).delete()
    files = meter_files(model)
    product = do_import_profile(application, zip_name(files), build_zip(files))
    if kind == "online":
        document = {"messages": [report_message(ack="reportAck"), set_period_message(), ack_message()]}
        codec_actions.do_deploy_online(product, document)
    else:
        manifest = {"manufacturerId": "Acme", "model": model, "entry": "codec.js", "version": "1.0.0"}
        plugin: dict = {"vectors.json": None, "manifest.json": manifest}
        if kind == "looping":
            plugin["codec.js"] = LOOPING_JS
        codec_actions.do_upload_codec(application, "codec.zip", oceanconnect_zip(**plugin), product=product)
    prefix = f"88{random.randint(10**6, 10**7 - 1)}"
    devices = [
        Device(
            application=application,
            node_id=f"{prefix}{number:06d}",
            verify_code=f"{prefix}{number:06d}",
            manufacturer_id="Acme",
            device_type="WaterMeter",
            model=model,
            product=product,
            timeout=0,
        )
        for number in range(count)
    ]
    Device.objects.bulk_create(devices, batch_size=1000)
    return application, [device.node_id for device in devices]


# A standard client's notification of IPSO Temperature's Sensor Value: SenML CBOR, no codec (issue 17).
SENML_TEMPERATURE = bytes.fromhex("81a321682f333330332f302f00643537303002fb4035800000000000")


def prepare_standard(count: int):
    """An application (raised limits) with a product whose Temperature.temperature is mapped to
    /3303/0/5700 (products.lwm2m_mapping), and `count` devices tied to it."""
    from applications.actions import do_create_application
    from devices.models import Device
    from products.actions import do_import_profile, do_set_lwm2m_mapping
    from products.models import Product
    from tests.products.fixtures import build_zip, zip_name
    from tests.products.lwm2m_fixtures import standard_files

    application, _ = do_create_application(f"standard bench {uuid.uuid4().hex[:6]}")
    application.device_uplink_limit = application.uplink_rate_limit = 10**9
    application.save()
    Device.objects.filter(product__manufacturer_id="Std", product__model="bench").delete()
    Product.objects.filter(manufacturer_id="Std", model="bench").delete()
    files = standard_files(model="bench")
    product = do_import_profile(application, zip_name(files), build_zip(files))
    mapping = {"properties": [{"serviceId": "Temperature", "property": "temperature", "path": "/3303/0/5700"}]}
    do_set_lwm2m_mapping(product, mapping)
    prefix = f"89{random.randint(10**6, 10**7 - 1)}"
    devices = [
        Device(
            application=application,
            node_id=f"{prefix}{number:06d}",
            verify_code=f"{prefix}{number:06d}",
            manufacturer_id="Std",
            device_type="Sensor",
            model="bench",
            product=product,
            timeout=0,
        )
        for number in range(count)
    ]
    Device.objects.bulk_create(devices, batch_size=1000)
    return application, [device.node_id for device in devices]


def scenario_standard(args: argparse.Namespace, database_url: str) -> dict:
    """The ingress storing standard-object notifications (SenML CBOR on a mapped path, read by the
    object's definition, no codec) of devices that registered listing </3303/0>."""
    application, endpoints = prepare_standard(args.devices)
    ingress, port = start_ingress(database_url, args.workers, INGRESS_CODEC_MODULE="products.codecs")
    try:
        wait_for_workers(args.workers, ingress)
        before = stored(application)
        result = run_load(
            "standard", port, endpoints, args.generators, args.seconds, args.window, payload=SENML_TEMPERATURE
        )
        time.sleep(1)  # the last batch commits
        result["stored"] = (stored(application) - before) / result["elapsed"]
        # The production path: each device's observation of /3303/0/5700 stored with its session
        # (DeviceSession.observations), as a restarted ingress finds it.
        from ingress.models import DeviceSession

        held = DeviceSession.objects.filter(device__application=application).exclude(observations={}).count()
        if held != len(endpoints):
            raise SystemExit(f"standard: {held} of {len(endpoints)} sessions hold their mapped observation")
    finally:
        stop_ingress(ingress)
        cleanup(application)
    return result


def start_ingress(database_url: str, workers: int, **env: str) -> tuple[subprocess.Popen, int]:
    """`manage.py run_ingress --workers N` on free CoAP and CoAPS ports of 127.0.0.1, in a session of its
    own (stop it with `stop_ingress`); `env` adds to the environment (e.g. INGRESS_CODEC_MODULE).
    Call `wait_for_workers` before sending."""
    port, coaps = _free_udp_port(), _free_udp_port()
    environment = {**os.environ, "DATABASE_URL": database_url, "COAPS_PORT": str(coaps), "LOG_LEVEL": "WARNING", **env}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_ingress", "--workers", str(workers), "--port", str(port)],
        cwd=BASE_DIR,
        env=environment,
        start_new_session=True,
    )
    return process, port


def stop_ingress(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)


def wait_for_workers(count: int, process: subprocess.Popen) -> None:
    from applications.redis import get_redis
    from devices.downlink import worker_key

    deadline = time.monotonic() + 60
    while len(list(get_redis().scan_iter(match=worker_key("") + "*"))) < count:
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the ingress did not start")
        time.sleep(0.1)


def stored(application) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM devices_datahistory WHERE application_id = %s", [application.pk])
        return cursor.fetchone()[0]


def cleanup(application) -> None:
    from devices import history
    from devices.models import Device
    from products.models import Product

    history.delete_in_batches("application_id = %s", [application.pk])
    Device.objects.filter(application=application).delete()
    Product.objects.filter(application=application).delete()
    application.delete()


def scenario_baseline(args: argparse.Namespace) -> dict:
    """The no-op aiocoap server, as many processes as the ingress has workers."""
    port = _free_udp_port()
    noop = [subprocess.Popen([sys.executable, __file__, "--noop-serve", str(port)]) for _ in range(args.workers)]
    time.sleep(1.5)
    endpoints = [f"dev{number}" for number in range(args.devices)]
    try:
        return run_load("baseline", port, endpoints, args.generators, args.seconds, args.window, payload=METER_REPORT)
    finally:
        for process in noop:
            process.send_signal(signal.SIGTERM)
            process.wait()


def _memory(ingress: subprocess.Popen) -> int:
    rss = subprocess.run(["ps", "-o", "rss=", "--ppid", str(ingress.pid)], capture_output=True, text=True)
    return sum(int(value) for value in rss.stdout.split()) // 1024


def scenario_codec(args: argparse.Namespace, database_url: str, kind: str) -> dict:
    """The ingress decoding every uplink through products.codecs with a codec of `kind` (online or
    javascript), with registrations during the load."""
    application, endpoints = prepare_codec(args.devices + 20, kind)
    endpoints, late = endpoints[: args.devices], endpoints[args.devices :]
    ingress, port = start_ingress(database_url, args.workers, INGRESS_CODEC_MODULE="products.codecs")
    try:
        wait_for_workers(args.workers, ingress)
        before = stored(application)
        result = run_load(
            "ingress", port, endpoints, args.generators, args.seconds, args.window, late, payload=METER_REPORT
        )
        time.sleep(1)  # the last batch commits
        result["stored"] = (stored(application) - before) / result["elapsed"]
        result["memory"] = _memory(ingress)
    finally:
        stop_ingress(ingress)
        cleanup(application)
    return result


def scenario_noisy_neighbour(args: argparse.Namespace, database_url: str) -> tuple[dict, dict, dict]:
    """Another application's ACK times, through one real ingress: alone, beside a neighbour whose
    JavaScript codec is well-behaved (the same plugin), and beside one whose codec loops until its time
    limit, each neighbour fed `--noisy-rate` uplinks a second. The well-behaved row separates what any
    neighbour's uplinks cost (the victim's closed loop saturates the ingress, so every other uplink takes
    some of its throughput) from what the looping codec adds. `--noisy-rounds` rounds of the three, the
    order reversed every other round (ABC CBA), so that a shared machine's drift weighs on each alike;
    each figure is the median of the rounds'."""
    victim, endpoints = prepare_codec(args.victim_devices, "javascript", model="m1")
    polite, polite_endpoints = prepare_codec(args.noisy_rate, "javascript", model="m3")
    noisy, noisy_endpoints = prepare_codec(args.noisy_rate, "looping", model="m2")
    ingress, port = start_ingress(database_url, args.workers, INGRESS_CODEC_MODULE="products.codecs")
    besides = {"alone": None, "well-behaved": (polite_endpoints, 1.0), "looping": (noisy_endpoints, 1.0)}
    rounds: dict[str, list[dict]] = {name: [] for name in besides}
    try:
        wait_for_workers(args.workers, ingress)
        load = ("ingress", port, endpoints, 1, args.seconds, 1)
        for number in range(args.noisy_rounds):
            order = list(besides) if number % 2 == 0 else list(reversed(besides))
            for name in order:
                rounds[name].append(run_load(*load, payload=METER_REPORT, beside=besides[name]))
        time.sleep(1)
        noisy_outcomes = _noisy_outcomes(noisy)
    finally:
        stop_ingress(ingress)
        cleanup(victim)
        cleanup(polite)
        cleanup(noisy)

    def medians(results: list[dict]) -> dict:
        figures = {
            figure: sorted(result[figure] for result in results)[len(results) // 2]
            for figure in ("rate", "p50", "p95", "p99")
        }
        return {**figures, "rounds_p50": [result["p50"] for result in results]}

    alone, well_behaved, beside = (medians(rounds[name]) for name in besides)
    beside["noisy"] = noisy_outcomes
    return alone, well_behaved, beside


def _noisy_outcomes(application) -> dict[str, int]:
    """The looping application's uplinks: how many ran into the time limit, how many were kept undecoded
    (over its budget, or its script in quarantine after a time limit), without ever reaching the sandbox."""
    from devices.models import DeviceLog, LogKind
    from ingress.pipeline import OVER_BUDGET, QUARANTINED

    rows = DeviceLog.objects.filter(device__application=application, kind=LogKind.DECODE_ERROR)
    budget = rows.filter(summary=OVER_BUDGET).count()
    quarantine = rows.filter(summary=QUARANTINED).count()
    return {
        "timed out": rows.count() - budget - quarantine,  # kept too since issue 19 (TIMED_OUT), or failed
        "kept undecoded (over budget)": budget,
        "kept undecoded (script in quarantine)": quarantine,
    }


def bench_rules(properties: list[str], count: int, firing: int = 0) -> list[dict]:
    """`count` enabled rules on the bench's product, as an operator writes them: thresholds on each
    reported property (alarm, and a command for a fifth of them), AND/OR pairs, a range, a change. The
    bench's steady values (signal 20, reading 1234, flow 7) satisfy none, as a healthy fleet does,
    except the first `firing` rules: a threshold below the steady value, so they fire on every report
    (their alarm counted again, their command tried, their run recorded): an unhealthy fleet."""
    operators = [
        (">", 10**7),
        ("<", -1),
        (">=", 10**8),
        ("<=", -5),
        ("between", "5000000,6000000"),
        ("changedBy", 10**6),
    ]
    bodies = []
    for number in range(count):
        prop = properties[number % len(properties)]
        operator, value = operators[number % len(operators)]
        if number < firing:
            operator, value = ">", -(10**6)
        elif operator in (">", ">="):  # thresholds above the steady values, below them for < and <=
            value += number
        elif operator in ("<", "<="):
            value -= number
        condition = {
            "type": "DEVICE_TYPE_DATA",
            "operator": operator,
            "value": str(value),
            "deviceTypeInfo": {"manufacturerId": "Huawei", "model": "v1001", "path": f"WaterMeter/{prop}"},
        }
        conditions = [condition]
        if number % 4 == 3 and number >= firing:  # a pair on two properties
            other = properties[(number + 1) % len(properties)]
            conditions.append(
                {
                    **condition,
                    "operator": ">",
                    "value": str(10**7 + number),
                    "deviceTypeInfo": {**condition["deviceTypeInfo"], "path": f"WaterMeter/{other}"},
                }
            )
        actions = [{"type": "DEVICE_ALARM", "name": f"bench {number}", "severity": "major"}]
        if number % 5 == 0:
            actions.append(
                {
                    "type": "DEVICE_CMD",
                    "cmd": {"serviceId": "WaterMeter", "messageType": "SET_PERIOD", "messageBody": {}},
                }
            )
        bodies.append(
            {
                "name": f"bench rule {number}",
                "logic": "or" if number % 8 == 7 else "and",
                "conditions": conditions,
                "actions": actions,
            }
        )
    return bodies


class HookTimer:
    """Wall time spent in the rules' hook (rules.engine.on_reports) while the pipeline runs in this process."""

    def __init__(self) -> None:
        from devices import hooks
        from rules import engine

        self.seconds = 0.0
        handlers = hooks._uplinks_handlers
        self.original = engine.on_reports
        handlers[handlers.index(engine.on_reports)] = self

    def __call__(self, items: list) -> None:
        started = time.perf_counter()
        try:
            self.original(items)
        finally:
            self.seconds += time.perf_counter() - started


def pipeline_rate(device_pks: list[int], uplinks: int, batch: int) -> float:
    """Stored uplinks/s of the pipeline function itself (ingress.pipeline.handle_uplinks, in batches as the
    worker hands them over, hooks included), in this process: the same path without the network's noise."""
    from ingress.pipeline import STORED, Uplink, handle_uplinks

    payloads = [b"\x00" + struct.pack(">BIH", 20, 1234 + number % 50, 7) for number in range(uplinks)]
    started = time.perf_counter()
    done = 0
    for offset in range(0, uplinks, batch):
        chunk = [
            Uplink(device_pks[(offset + i) % len(device_pks)], payloads[offset + i])
            for i in range(min(batch, uplinks - offset))
        ]
        done += sum(outcome.result == STORED for outcome in handle_uplinks(chunk))
    return done / (time.perf_counter() - started)


def main_rules(args: argparse.Namespace, database_url: str) -> None:
    """Stored uplinks/s with `--rules` enabled rules and without any, alternately in one run (`--rounds`
    times each, ABBA order): the pipeline function in this process (the time in the rules' hook measured),
    then the whole ingress over UDP (a fresh ingress each round): the rules' cost on the uplink path."""
    from django.conf import settings

    from devices.models import Device
    from rules import actions, engine
    from rules.models import Rule

    application, endpoints = prepare(args.devices)
    bodies = bench_rules(["signalStrength", "currentReading", "flowRateReading"], args.rules, args.rules_firing)
    figures: dict[str, list[float]] = {"without": [], "with": []}
    inline: dict[str, list[float]] = {"without": [], "with": []}
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    device_pks = list(Device.objects.filter(application=application).values_list("pk", flat=True))
    timer = HookTimer()
    shares: dict[str, list[float]] = {"without": [], "with": []}
    kept_rates: dict[str, list[float]] = {"kept": [], "not kept": []}
    kept_hook: dict[str, list[float]] = {"kept": [], "not kept": []}
    kept_per_uplink: list[float] = []
    try:
        # 1. the pipeline function in this process, alternating, after a warm-up round (binding, caches)
        pipeline_rate(device_pks, len(device_pks), 50)
        for number in range(args.rounds):  # the order alternates too: ABBA, so neither goes first always
            for mode in ("without", "with") if number % 2 == 0 else ("with", "without"):
                Rule.objects.filter(application=application).delete()
                engine.changed()
                if mode == "with":
                    for body in bodies:
                        actions.do_create_rule(application, body)
                pipeline_rate(device_pks, 200, 50)  # the new rules compiled outside the timing
                in_hook = timer.seconds
                inline[mode].append(pipeline_rate(device_pks, args.pipeline_uplinks, 50))
                hook_us = (timer.seconds - in_hook) / args.pipeline_uplinks * 1e6
                shares[mode].append(hook_us / (1e6 / inline[mode][-1]))
                print(f"pipeline round {mode} rules: {inline[mode][-1]:,.0f} stored uplinks/s, "
                      f"{hook_us:.1f} us an uplink in the rules' hook", flush=True)  # fmt: skip
        # 3. the rules' last evaluations (rules.evaluations), kept and not kept (record a no-op), alternately
        from rules import evaluations

        Rule.objects.filter(application=application).delete()
        for body in bodies:
            actions.do_create_rule(application, body)
        pipeline_rate(device_pks, 200, 50)
        real_record = evaluations.record

        def counting(batch: list) -> None:
            kept_count[0] += len(batch)
            real_record(batch)

        kept_count = [0]
        for number in range(args.rounds):
            for mode in ("kept", "not kept") if number % 2 == 0 else ("not kept", "kept"):
                evaluations.record = counting if mode == "kept" else (lambda batch: None)
                in_hook, before = timer.seconds, kept_count[0]
                kept_rates[mode].append(pipeline_rate(device_pks, args.pipeline_uplinks, 50))
                kept_hook[mode].append((timer.seconds - in_hook) / args.pipeline_uplinks * 1e6)
                if mode == "kept":
                    kept_per_uplink.append((kept_count[0] - before) / args.pipeline_uplinks)
        evaluations.record = real_record
        # 2. the whole ingress over UDP, alternating
        for number in range(args.rounds):  # the order alternates too: ABBA, so neither goes first always
            for mode in ("without", "with") if number % 2 == 0 else ("with", "without"):
                Rule.objects.filter(application=application).delete()
                if mode == "with":
                    for body in bodies:
                        actions.do_create_rule(application, body)
                ingress, port = start_ingress(database_url, args.workers, INGRESS_CODEC_MODULE="products.codecs")
                try:
                    wait_for_workers(args.workers, ingress)
                    before = stored(application)
                    try:
                        result = run_load("ingress", port, endpoints, args.generators, args.seconds, args.window)
                    except SystemExit as error:  # a loaded machine: devices not observed in time
                        print(f"round {mode} rules skipped: {error}", flush=True)
                        continue
                    time.sleep(1)  # the last batch commits
                    figures[mode].append((stored(application) - before) / result["elapsed"])
                    print(f"round {mode} rules: {figures[mode][-1]:,.0f} stored uplinks/s", flush=True)
                finally:
                    stop_ingress(ingress)
    finally:
        Rule.objects.filter(application=application).delete()
        cleanup(application)

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    print(
        f"ingest bench, rules: {args.devices} devices, {args.workers} workers, {args.generators} generators, "
        f"window {args.window}, {args.seconds:.0f} s a round, {args.rounds} rounds each, alternating"
    )
    for title, values in (("pipeline function, in process", inline), ("whole ingress over UDP", figures)):
        if not values["with"] or not values["without"]:
            print(f"{title}: no complete rounds")
            continue
        print(title)
        label_with = f"{args.rules} enabled rules on the product" + (
            f", {args.rules_firing} firing" if args.rules_firing else ""
        )
        for mode, label in (("without", "no rules"), ("with", label_with)):
            rounds = ", ".join(f"{value:,.0f}" for value in values[mode])
            print(f"  {'stored uplinks/s, ' + label:50}{median(values[mode]):>10,.0f}   rounds: {rounds}")
        print(f"  {'with rules / without (medians)':50}{median(values['with']) / median(values['without']):>10.3f}")
    if shares["with"]:
        print(f"  share of the pipeline's time in the rules' hook, with rules (median): {median(shares['with']):.1%}")
    if kept_rates["kept"] and kept_rates["not kept"]:
        print("the rules' last evaluations (rules.evaluations), pipeline function with the rules, alternating")
        for mode in ("not kept", "kept"):
            rounds = ", ".join(f"{value:,.0f}" for value in kept_rates[mode])
            hook = median(kept_hook[mode])
            print(f"  {'stored uplinks/s, evaluations ' + mode:50}{median(kept_rates[mode]):>10,.0f}   rounds: {rounds}"
                  f"; {hook:.1f} us an uplink in the hook")  # fmt: skip
        ratio = median(kept_rates["kept"]) / median(kept_rates["not kept"])
        print(f"  {'kept / not kept (medians)':50}{ratio:>10.3f}")
        print(f"  evaluations kept an uplink: {median(kept_per_uplink):.2f}")


def main_metrics(args: argparse.Namespace, database_url: str) -> None:
    """The ingress with INGRESS_METRICS_PORT set and every worker's /metrics scraped each second (a
    pessimistic Prometheus: 15 s is usual) against the ingress without metrics, a fresh ingress each
    round, ABBA order, online codec: acknowledged and stored uplinks/s and ACK times, their ratios."""
    import threading
    import urllib.request

    from portal.ports import free_port_range

    application, endpoints = prepare_codec(args.devices, "online")
    figures: dict[str, list[dict]] = {"off": [], "on": []}
    scrapes = {"ok": 0, "failed": 0}
    order = ["off", "on", "on", "off"] * ((args.rounds + 1) // 2)
    try:
        for mode in order[: 2 * args.rounds]:
            env = {"INGRESS_CODEC_MODULE": "products.codecs"}
            base = 0
            if mode == "on":
                base = free_port_range(args.workers)
                env["INGRESS_METRICS_PORT"] = str(base)
            ingress, port = start_ingress(database_url, args.workers, **env)
            stop = threading.Event()

            def scrape(base: int = base, stop: threading.Event = stop) -> None:
                while not stop.wait(1.0):
                    for index in range(args.workers):
                        try:
                            with urllib.request.urlopen(f"http://127.0.0.1:{base + index}/metrics", timeout=5) as got:
                                got.read()
                            scrapes["ok"] += 1
                        except OSError:
                            scrapes["failed"] += 1

            scraper = threading.Thread(target=scrape, daemon=True) if base else None
            try:
                wait_for_workers(args.workers, ingress)
                if scraper is not None:
                    scraper.start()
                before = stored(application)
                result = run_load("ingress", port, endpoints, args.generators, args.seconds, args.window,
                                  payload=METER_REPORT)  # fmt: skip
                time.sleep(1)  # the last batch commits
                result["stored"] = (stored(application) - before) / result["elapsed"]
            finally:
                stop.set()
                stop_ingress(ingress)
            figures[mode].append(result)
    finally:
        cleanup(application)

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    load = os.getloadavg()
    print(
        f"ingest bench, metrics: {args.devices} devices, {args.workers} workers, {args.generators} generators, "
        f"window {args.window}, {args.seconds:.0f} s a round, {args.rounds} rounds each, alternating; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"scrapes {scrapes['ok']} ok, {scrapes['failed']} failed"
    )
    print(f"{'':44}{'metrics off':>14}{'metrics on':>14}{'on / off':>10}")
    for key, label in (
        ("rate", "acknowledged/s"),
        ("stored", "stored/s"),
        ("p50", "ACK p50 ms"),
        ("p99", "ACK p99 ms"),
    ):
        off = median([result[key] for result in figures["off"]])
        on = median([result[key] for result in figures["on"]])
        print(f"  {label + ' (median of rounds)':42}{off:>14,.1f}{on:>14,.1f}{on / off if off else 0:>10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--generators", type=int, default=2)
    parser.add_argument("--window", type=int, default=2, help="messages outstanding per device")
    parser.add_argument("--victim-devices", type=int, default=20, help="noisy neighbour: the other application's")
    parser.add_argument("--noisy-rate", type=int, default=20, help="noisy neighbour: its uplinks per second")
    parser.add_argument(
        "--noisy-rounds", type=int, default=3, help="noisy neighbour: rounds of alone / beside each, alternating"
    )
    parser.add_argument(
        "--scenarios",
        default="codecs,noisy",
        help="comma-separated: codecs (online, javascript), standard (mapped LwM2M objects), noisy",
    )
    parser.add_argument("--rules", type=int, default=0, help="compare stored uplinks/s with N rules and without")
    parser.add_argument("--rounds", type=int, default=3, help="with --rules: rounds of each, alternating")
    parser.add_argument(
        "--rules-firing", type=int, default=0, help="with --rules: how many of them fire on every report"
    )
    parser.add_argument("--pipeline-uplinks", type=int, default=3000, help="with --rules: uplinks a pipeline round")
    parser.add_argument(
        "--metrics", action="store_true", help="compare the ingress with its metrics served and without"
    )
    parser.add_argument("--noop-serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.noop_serve:
        serve_noop(args.noop_serve)
        return
    database_url = setup_django(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_ingest"))
    scenarios = set(args.scenarios.split(","))
    if args.rules:
        main_rules(args, database_url)
        return
    if args.metrics:
        main_metrics(args, database_url)
        return

    print(f"ingest bench: {args.devices} devices, {args.workers} workers, {args.generators} generators, "
          f"window {args.window}, {args.seconds:.0f} s each")  # fmt: skip
    if "standard" in scenarios and "codecs" not in scenarios:
        # The standard objects beside the object-19 codec and the no-op baseline, in the same run.
        baseline = scenario_baseline(args)
        online = scenario_codec(args, database_url, "online")
        standard = scenario_standard(args, database_url)
        print(f"{'':48}{'per second':>12}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'x no-op':>9}")
        rows = [
            ("no-op aiocoap, CON POST acknowledged", baseline, baseline["rate"]),
            ("ingress, object 19 + online codec: stored", online, online["stored"]),
            ("ingress, standard object SenML CBOR: acknowledged", standard, standard["rate"]),
            ("ingress, standard object SenML CBOR: stored", standard, standard["stored"]),
        ]
        for label, result, rate in rows:
            print(
                f"{label:48}{rate:>12,.0f}{result['p50']:>9.2f}{result['p95']:>9.2f}{result['p99']:>9.2f}"
                f"{rate / baseline['rate']:>9.2f}"
            )
        print(f"standard / object 19, uplinks stored per second: {standard['stored'] / online['stored']:.2f}")
    if "codecs" in scenarios:
        baseline = scenario_baseline(args)
        online = scenario_codec(args, database_url, "online")
        javascript = scenario_codec(args, database_url, "javascript")
        standard = scenario_standard(args, database_url) if "standard" in scenarios else None
        print(f"{'':48}{'per second':>12}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'x no-op':>9}")
        rows = [
            ("no-op aiocoap, CON POST acknowledged", baseline, baseline["rate"]),
            ("ingress, online codec: acknowledged", online, online["rate"]),
            ("ingress, online codec: stored", online, online["stored"]),
            ("ingress, JavaScript codec: acknowledged", javascript, javascript["rate"]),
            ("ingress, JavaScript codec: stored", javascript, javascript["stored"]),
        ]
        if standard is not None:
            rows += [
                ("ingress, standard object SenML CBOR: acknowledged", standard, standard["rate"]),
                ("ingress, standard object SenML CBOR: stored", standard, standard["stored"]),
            ]
        for label, result, rate in rows:
            print(
                f"{label:48}{rate:>12,.0f}{result['p50']:>9.2f}{result['p95']:>9.2f}{result['p99']:>9.2f}"
                f"{rate / baseline['rate']:>9.2f}"
            )
        print(
            f"JavaScript / online, uplinks stored per second: {javascript['stored'] / online['stored']:.2f} "
            f"(acknowledged: {javascript['rate'] / online['rate']:.2f})"
        )
        for label, result in (("online", online), ("JavaScript", javascript)):
            answered, tried, median, slowest = result["registrations"]
            print(
                f"{label}: registrations during the load {answered} of {tried} answered, median "
                f"{median * 1000:.0f} ms, slowest {slowest * 1000:.0f} ms; workers' memory {result['memory']} MB RSS"
            )
    if "noisy" in scenarios:
        alone, well_behaved, beside = scenario_noisy_neighbour(args, database_url)
        print(
            f"noisy neighbour: {args.victim_devices} devices of one application (JavaScript codec, one message "
            f"outstanding each); another's looping codec fed {args.noisy_rate} uplinks/s"
        )
        print(f"medians of {args.noisy_rounds} rounds of {args.seconds:.0f} s each, the order reversed every other one")
        print(f"{'':48}{'per second':>12}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        rows = (("alone", alone), ("beside a well-behaved codec, same rate", well_behaved))
        for label, result in (*rows, ("beside the looping codec", beside)):
            each = ", ".join(f"{value:.1f}" for value in result["rounds_p50"])
            print(
                f"{label:48}{result['rate']:>12,.0f}{result['p50']:>9.2f}{result['p95']:>9.2f}{result['p99']:>9.2f}"
                f"   p50 of each round: {each}"
            )
        print(
            f"p50 with the neighbour / alone: {beside['p50'] / alone['p50']:.2f}; "
            f"p95: {beside['p95'] / alone['p95']:.2f}"
        )
        print(
            f"p50 with the looping neighbour / with the well-behaved one: {beside['p50'] / well_behaved['p50']:.2f}; "
            f"p95: {beside['p95'] / well_behaved['p95']:.2f}"
        )
        print("the looping application's uplinks: " + ", ".join(f"{n} {what}" for what, n in beside["noisy"].items()))


if __name__ == "__main__":
    main()
