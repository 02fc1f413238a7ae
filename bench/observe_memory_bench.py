"""Memory per observed device on one ingress node (issue 23: 100,000 observed devices per node within 2 GB).

A real `manage.py run_ingress --workers W` is started on 127.0.0.1 and left idle: its processes' resident
memory (VmRSS from /proc/<pid>/status, the supervisor and every worker) is the baseline. Then D simulated
devices, one source port each, register (paced at `--rate` a second; a 5.03 is retried after its
Max-Age, capped at 2 s), answer the platform's observe and send one confirmable notification each
(decoded and stored, so the per-device caches an uplink fills are filled too); the memory is read again
once every device is observed and its notification acknowledged and the memory stopped growing, and
finally `--linger` seconds later (75: aiocoap holds every exchange's messages for about a minute). The
final difference over D is the cost of one observed device; it is extrapolated to 100,000 devices and
set against the 2 GB target.

`--objects 19` (default): devices listing </19/0>, observed on /19/0/0, the meter profile's online
codec; `--objects mapped`: devices listing </3303/0>, observed on the mapped /3303/0/5700 (SenML CBOR,
products.lwm2m_mapping), as standard LwM2M clients are.

`--trace`: the worker runs in this process instead, under tracemalloc, and the 15 allocation sites that
grew most while the devices registered are printed (where the memory goes, when the figure is high).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_observe REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/observe_memory_bench.py [--devices 2000 --workers 1 --objects 19|mapped]
    # the issue's figure (one worker process holds the devices the balancer gives it):
    .venv/bin/python bench/observe_memory_bench.py --devices 100000 --workers 1 --generators 6 --rate 1000
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import os
import random
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

TARGET_DEVICES = 100_000
TARGET_BYTES = 2 * 1024**3
METER_REPORT = b"\x01" + (1234).to_bytes(4, "big") + (20).to_bytes(2, "big")
SENML_TEMPERATURE = bytes.fromhex("81a321682f333330332f302f00643537303002fb4035800000000000")


def datagram(mtype, code, mid: int, token: bytes = b"", payload: bytes = b"", **options) -> bytes:
    from aiocoap import Message

    message = Message(code=code, payload=payload, **options)
    message.mtype, message.mid, message.token = mtype, mid, token
    return message.encode()


def devices(
    port: int, node_ids: list[str], objects: str, rate: float, ready: multiprocessing.Queue, stop
) -> None:  # stop: multiprocessing.Event
    """One generator process: register its devices at `rate` a second, answer observes, notify once each;
    report (observed, acknowledged) on `ready`, then keep answering until `stop` is set."""
    import tracemalloc

    from aiocoap import Message
    from aiocoap.numbers import codes
    from aiocoap.numbers.types import ACK, CON, NON

    tracemalloc.stop()  # forked from the --trace run: tracing the devices too would slow them tenfold
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    mapped = objects == "mapped"
    links = b"</3303/0>" if mapped else b"</19/0>"
    path = ("3303", "0", "5700") if mapped else ("19", "0", "0")
    payload, content_format = (SENML_TEMPERATURE, 112) if mapped else (METER_REPORT, 42)
    selector = selectors.DefaultSelector()
    sockets = []
    for index in range(len(node_ids)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # One loopback source address per 250 devices: one address has ~28,000 ephemeral ports, fewer
        # than a large fleet's sockets (connect() fails with EAGAIN at 100,000 devices).
        sock.bind((f"127.0.{index // 250 % 250 + 1}.{index % 250 + 1}", 0))
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        sockets.append(sock)
        selector.register(sock, selectors.EVENT_READ, index)
    count = len(node_ids)
    next_try = [index / rate for index in range(count)]
    sent_at = [None] * count
    registered = [False] * count
    observe_tokens: list[bytes | None] = [None] * count
    notified: list[int | None] = [None] * count  # the notification's message id, until acknowledged
    acknowledged = 0
    started = time.monotonic()

    def notify(index: int) -> None:
        mid = random.getrandbits(16)
        notified[index] = mid
        options = {"observe": 2, "content_format": content_format}
        sockets[index].send(datagram(CON, codes.CONTENT, mid, observe_tokens[index], payload, **options))

    reported = False
    progress_at = 0.0
    answers: collections.Counter = collections.Counter()
    while not stop.is_set():
        now = time.monotonic() - started
        for index in range(count):
            quiet = sent_at[index] is None or now - sent_at[index] > 3
            if not registered[index] and now >= next_try[index] and quiet:
                query = (f"ep={node_ids[index]}", "lt=86400", "b=U")
                request = datagram(
                    CON, codes.POST, random.getrandbits(16), b"r", links, uri_path=("rd",), uri_query=query,
                    content_format=40,
                )  # fmt: skip
                sockets[index].send(request)
                sent_at[index] = now
            elif notified[index] is not None and observe_tokens[index] and quiet:
                notify(index)  # lost: again (a retransmission would carry the same id; a new one is fine here)
                sent_at[index] = now
        for selected, _ in selector.select(timeout=0.02):
            index = selected.data
            while True:
                try:
                    message = Message.decode(sockets[index].recv(2048))
                except OSError:
                    break
                now = time.monotonic() - started
                code = message.code
                answers[f"{code} {message.payload[:40]!r}" if code.is_response() else str(code)] += 1
                if message.mtype == CON and code == codes.PUT and mapped:  # Write-Attributes: 2.04
                    sockets[index].send(datagram(ACK, codes.CHANGED, message.mid, message.token))
                elif code in (codes.GET, codes.FETCH) and message.opt.observe == 0:
                    options = {"observe": 1, "content_format": content_format}
                    sockets[index].send(datagram(ACK, codes.CONTENT, message.mid, message.token, **options))
                    if tuple(message.opt.uri_path) == path and observe_tokens[index] is None:
                        observe_tokens[index] = message.token
                        notify(index)
                        sent_at[index] = now
                elif message.mtype == CON and code.is_request():  # a downlink (cloudRsp): acknowledge it
                    sockets[index].send(datagram(ACK, codes.CHANGED, message.mid, message.token))
                elif message.mtype == NON and code.is_request():
                    continue
                elif message.mtype == CON:  # a separate response: acknowledge it
                    sockets[index].send(datagram(ACK, codes.EMPTY, message.mid))
                if code == codes.CREATED:
                    registered[index] = True
                elif code == codes.SERVICE_UNAVAILABLE and not registered[index]:  # (not a retry's, late)
                    next_try[index], sent_at[index] = now + min(2, message.opt.max_age or 2), None
                elif message.mtype == ACK and notified[index] == message.mid:
                    notified[index] = None
                    acknowledged += 1
        observed = sum(token is not None for token in observe_tokens)
        if time.monotonic() - progress_at > 10 and not reported:
            progress_at = time.monotonic()
            print(f"generator {os.getpid()}: {sum(registered)} registered, {observed} observed, {acknowledged} "
                  f"notifications acknowledged of {count}; received {dict(answers)}",
                  file=sys.stderr, flush=True)  # fmt: skip
        if not reported and observed == count and acknowledged == count:
            ready.put((observed, acknowledged, time.monotonic() - started))
            reported = True
    for sock in sockets:
        sock.close()


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def node_rss_kb(supervisor: subprocess.Popen) -> tuple[int, list[int]]:
    """The supervisor's and each worker's resident memory."""
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(supervisor.pid)], capture_output=True, text=True)
    return rss_kb(supervisor.pid), [rss_kb(int(pid)) for pid in children.stdout.split()]


def start_devices(port: int, node_ids: list[str], args: argparse.Namespace):
    ready: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    parts = [node_ids[index :: args.generators] for index in range(args.generators)]
    processes = [
        multiprocessing.Process(
            target=devices, args=(port, part, args.objects, args.rate / args.generators, ready, stop)
        )
        for part in parts
    ]
    for process in processes:
        process.start()
    return processes, ready, stop


def wait_ready(processes, ready, seconds: float) -> float:
    results = [ready.get(timeout=seconds) for _ in processes]
    return max(result[2] for result in results)


def settle(read, seconds: float = 30.0) -> int:
    """The memory once it stops growing (the last registrations' work done): polled every second."""
    deadline = time.monotonic() + seconds
    last = read()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = read()
        if abs(now - last) < 512:  # KB
            return now
        last = now
    return last


def main_node(args: argparse.Namespace, database_url: str, node_ids: list[str]) -> None:
    """The idle node; `--warmup` devices (the first uses of caches, imports and allocator arenas, which do
    not grow with the fleet); then the rest: the slope between the last two readings is a device's cost."""
    from bench.ingest_bench import start_ingress, stop_ingress, wait_for_workers

    ingress, port = start_ingress(database_url, args.workers, INGRESS_CODEC_MODULE="products.codecs")
    groups: list[tuple[list, object]] = []
    warmup = min(args.warmup, len(node_ids) // 2)

    def total() -> int:
        parent, workers = node_rss_kb(ingress)
        return parent + sum(workers)

    try:
        wait_for_workers(args.workers, ingress)
        time.sleep(2)  # imports and first connections done: the idle figure
        idle = total()
        readings = []
        took = 0.0
        for part in (node_ids[:warmup], node_ids[warmup:]):
            processes, ready, stop = start_devices(port, part, args)
            groups.append((processes, stop))
            took += wait_ready(processes, ready, 300 + len(part) / args.rate * 5)
            settle(total)
            # aiocoap keeps each exchange's messages for EXCHANGE_LIFETIME (about a minute): read once the
            # registrations' are gone.
            time.sleep(args.linger)
            readings.append(total())
    finally:
        for processes, stop in groups:
            stop.set()
            for process in processes:
                process.join(timeout=30)
        stop_ingress(ingress)
    warm, after = readings
    report(args, warm, after, took, len(node_ids) - warmup,
           f"idle node {idle / 1024:.1f} MB; after the {warmup} warm-up devices {warm / 1024:.1f} MB "
           f"(x{warm / idle:.2f} idle); the per-device figure is the slope from there")  # fmt: skip


def report(args: argparse.Namespace, before_kb: int, after_kb: int, took: float, devices: int, detail: str) -> None:
    per_device = (after_kb - before_kb) * 1024 / devices
    path = "/3303/0/5700" if args.objects == "mapped" else "/19/0/0"
    at_target = before_kb * 1024 + per_device * TARGET_DEVICES
    load = os.getloadavg()
    print(
        f"observe memory bench: {args.devices} devices observed on {path}"
        f" through one ingress node of {args.workers} worker(s), registered at {args.rate:.0f}/s in {took:.1f} s; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )  # fmt: skip
    print(f"  {detail}")
    print(f"  baseline (before the {devices} devices): {before_kb / 1024:8.1f} MB RSS")
    budget = TARGET_BYTES / TARGET_DEVICES
    print(f"  with them observed:                {after_kb / 1024:10.1f} MB RSS   x{after_kb / before_kb:.2f} baseline")
    print(
        f"  per observed device:               {per_device / 1024:10.2f} KB   (budget {budget / 1024:.1f} KB"
        f": x{per_device / budget:.2f})"
    )
    print(
        f"  extrapolated to {TARGET_DEVICES:,} devices:   {at_target / 1024**2:10.0f} MB   "
        f"x{at_target / TARGET_BYTES:.2f} the 2 GB target"
    )


def main_trace(args: argparse.Namespace, node_ids: list[str]) -> None:
    """The worker in this process under tracemalloc: where the devices' memory goes."""
    import gc
    import tracemalloc

    from bench.ingest_bench import _free_udp_port
    from ingress.worker import IngressWorker

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    port = _free_udp_port()
    worker = IngressWorker(host="127.0.0.1", port=port, coaps_port=None)
    asyncio.run_coroutine_threadsafe(worker.start(), loop).result(30)
    time.sleep(1)
    gc.collect()
    tracemalloc.start(10)
    before = tracemalloc.take_snapshot()
    processes, ready, stop = start_devices(port, node_ids, args)
    try:
        took = wait_ready(processes, ready, 300 + len(node_ids) / args.rate * 5)
        time.sleep(3)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=30)
        asyncio.run_coroutine_threadsafe(worker.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
    traced = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(
        f"tracemalloc: {args.devices} devices observed in {took:.1f} s; Python heap grew {traced / 1024**2:.1f} MB, "
        f"{traced / args.devices / 1024:.2f} KB a device; the 15 sites that grew most (10 frames each):"
    )
    for stat in after.compare_to(before, "traceback")[:15]:
        frame = stat.traceback[-1] if stat.traceback else None
        where = next((f for f in stat.traceback if "/site-packages/" not in f.filename), frame)
        print(f"  {stat.size_diff / 1024:10.0f} KB {stat.count_diff:+8d} blocks  {frame}  (ours: {where})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--generators", type=int, default=0, help="default: one per 15,000 devices, at least 1")
    parser.add_argument("--rate", type=float, default=500.0, help="registrations a second, all generators")
    parser.add_argument("--objects", choices=("19", "mapped"), default="19")
    parser.add_argument("--warmup", type=int, default=100, help="devices registered before the baseline")
    parser.add_argument("--linger", type=float, default=75.0, help="seconds before the final memory reading")
    parser.add_argument("--trace", action="store_true", help="tracemalloc's top sites, the worker in this process")
    args = parser.parse_args()
    args.generators = args.generators or max(1, -(-args.devices // 15000))

    from bench.ingest_bench import cleanup, prepare_codec, prepare_standard, setup_django

    database_url = setup_django(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_observe"))
    if args.objects == "mapped":
        application, node_ids = prepare_standard(args.devices)
    else:
        application, node_ids = prepare_codec(args.devices, "online", model="observe")
    try:
        if args.trace:
            from django.conf import settings

            settings.INGRESS_CODEC_MODULE = "products.codecs"
            main_trace(args, node_ids)
        else:
            main_node(args, database_url, node_ids)
    finally:
        cleanup(application)


if __name__ == "__main__":
    main()
