"""A firmware package delivered block-wise to many devices at once, next to a no-op aiocoap server.

What it measures, all on 127.0.0.1:

1. baseline: W processes of a bare aiocoap 0.4.17 server (udp6, SO_REUSEPORT, the ingress's tuning)
   answering GET /fw/x with Block2, each block sliced from a package held in memory, nothing else;
2. ingress: `manage.py run_ingress --workers W` serving the Package URIs of a real upgrade task
   (`/fw/<subOperationId>`, ingress.firmware.PackageServer: the sub-operation looked up, progress
   written every 64 blocks, the first block reported as the step "downloading").

In both, D devices fetch a P-byte package (default 100 devices, 1 MiB) at once, each one block at a
time as an LwM2M client fetching a Package URI does (Block2, 1024-byte blocks, the next request when
the previous block arrived, a retransmission after 2 s), from G generator processes of raw UDP. It
prints blocks per second and the total time until the last device has the whole package, and the
ratio to the baseline. The upgrade task is created through firmware.actions with a driver that only
records (the LwM2M exchange before and after the transfer is a handful of messages per device); the
devices' sub-operations are then processing, as when the Package URI has been written.

    make bench BENCH=firmware
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_ingest REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/firmware_bench.py [--devices 100 --size 1048576 --workers 2 --generators 2]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing
import os
import random
import selectors
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from bench.ingest_bench import (  # noqa: E402  (after the path is set)
    ACK,
    CON,
    GET,
    _free_udp_port,
    cleanup,
    encode,
    parse,
    prepare,
    setup_django,
    start_ingress,
    stop_ingress,
    uint,
    wait_for_workers,
)

CONTENT = 69
BLOCK2, URI_PATH = 23, 11
SZX = 6  # 1024-byte blocks


def fetch(port: int, paths: list[str], size: int, digest: str, out: multiprocessing.Queue) -> None:
    """One generator process: every path fetched block by block, one outstanding request per device."""
    selector = selectors.DefaultSelector()
    sockets, received, blocks, done_at, sent_at, mids = [], [], [], [], [], []
    for index, _ in enumerate(paths):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, index)
        sockets.append(sock)
        received.append(bytearray())
        blocks.append(0)
        done_at.append(None)
        sent_at.append(0.0)
        mids.append(random.getrandbits(16))
    retransmissions = 0

    def request(index: int) -> None:
        mids[index] = (mids[index] + 1) & 0xFFFF
        options = [(URI_PATH, b"fw"), (URI_PATH, paths[index].encode()), (BLOCK2, uint(blocks[index] << 4 | SZX))]
        sockets[index].send(encode(CON, GET, mids[index], b"f", options, b""))
        sent_at[index] = time.monotonic()

    started = time.monotonic()
    for index in range(len(paths)):
        request(index)
    remaining = len(paths)
    deadline = started + 600
    while remaining and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.1):
            index = key.data
            while True:
                try:
                    data = sockets[index].recv(4096)
                except OSError:
                    break
                mtype, code, mid, _, options, payload = parse(data)
                if mtype == CON:
                    # A separate response (the server acknowledged first, e.g. while it looked the URI
                    # up): acknowledge it; it answers the request outstanding (one per device).
                    sockets[index].send(encode(ACK, 0, mid, b"", [], b""))
                    if BLOCK2 not in options or int.from_bytes(options[BLOCK2][0], "big") >> 4 != blocks[index]:
                        continue
                elif mtype != ACK or mid != mids[index] or code == 0:
                    continue  # an empty ACK (the response follows), or a late answer to a retransmission
                if done_at[index] is not None:
                    continue
                if code != CONTENT:
                    out.put({"error": f"block {blocks[index]} of {paths[index]} answered {code >> 5}.{code & 31:02d}"})
                    return
                received[index] += payload
                value = int.from_bytes(options[BLOCK2][0], "big")
                if value & 0x08:  # more
                    blocks[index] += 1
                    request(index)
                else:
                    done_at[index] = time.monotonic()
                    remaining -= 1
        now = time.monotonic()
        for index in range(len(paths)):
            if done_at[index] is None and now - sent_at[index] > 2.0:
                retransmissions += 1
                request(index)
    finished = [at for at in done_at if at is not None]
    wrong = sum(1 for data in received if len(data) != size or hashlib.sha256(data).hexdigest() != digest)
    out.put(
        {
            "devices": len(paths),
            "complete": len(finished),
            "wrong": wrong,
            "blocks": sum(blocks) + len(finished),
            "seconds": (max(finished) - started) if finished else 0.0,
            "started": started,
            "retransmissions": retransmissions,
        }
    )
    for sock in sockets:
        sock.close()


def run_fetch(port: int, paths: list[str], package: bytes, generators: int) -> dict:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    digest = hashlib.sha256(package).hexdigest()
    parts = [paths[index::generators] for index in range(generators)]
    processes = [
        multiprocessing.Process(target=fetch, args=(port, part, len(package), digest, queue)) for part in parts
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=900) for _ in processes]
    for process in processes:
        process.join()
    errors = [result["error"] for result in results if "error" in result]
    if errors:
        raise SystemExit(f"fetching: {errors}")
    first = min(result["started"] for result in results)
    seconds = max(result["started"] + result["seconds"] for result in results) - first
    total = {key: sum(result[key] for result in results) for key in ("devices", "complete", "wrong", "blocks")}
    if total["complete"] != total["devices"] or total["wrong"]:
        raise SystemExit(f"fetching: {total}")
    retransmissions = sum(result["retransmissions"] for result in results)
    return {**total, "seconds": seconds, "rate": total["blocks"] / seconds, "retransmissions": retransmissions}


def serve_noop(port: int, size: int) -> None:
    """The baseline: aiocoap answering each Block2 request with its slice of a package in memory."""
    import asyncio
    import gc

    import aiocoap
    from aiocoap import resource
    from aiocoap.numbers.constants import TransportTuning

    TransportTuning.MAX_LATENCY = 10.0
    gc.set_threshold(50000, 20, 1000)
    package = make_package(size)

    class Package(resource.Resource):
        async def needs_blockwise_assembly(self, request):
            return False

        async def render_get(self, request):
            block = request.opt.block2
            number, szx = (block.block_number, block.size_exponent) if block else (0, SZX)
            step = 1 << (szx + 4)
            response = aiocoap.Message(code=aiocoap.CONTENT, payload=package[number * step : (number + 1) * step])
            response.opt.block2 = (number, (number + 1) * step < len(package), szx)
            return response

    async def main() -> None:
        site = resource.Site()
        site.add_resource(["fw", "x"], Package())
        await aiocoap.Context.create_server_context(site, bind=("::", port), transports=["udp6"])
        await asyncio.get_running_loop().create_future()

    asyncio.run(main())


def make_package(size: int) -> bytes:
    """A zip of about `size` bytes (stored, random content: what a firmware image looks like)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # A fixed date: the no-op servers build the same bytes in their own processes.
        member = zipfile.ZipInfo("firmware.bin", date_time=(2026, 1, 1, 0, 0, 0))
        archive.writestr(member, random.Random(7).randbytes(size - 130))
    return buffer.getvalue()


class RecordingDriver:
    """Leaves each started sub-operation processing, as after the Package URI was written."""

    def start(self, sub_operation) -> None:
        pass


def create_task(application, node_ids: list[str], package_bytes: bytes) -> list[str]:
    from devices.models import Device
    from firmware import actions, drivers

    drivers.register("firmware_upgrade", RecordingDriver())
    Device.objects.filter(node_id__in=node_ids).update(fw_version="V1.0", status="ONLINE", activated=True)
    fields = {
        "fileType": "firmwarePackage",
        "version": f"V{random.randint(2, 10**6)}",
        "deviceType": "WaterMeter",
        "manufacturerName": "Huawei",
        "model": "v1001",
        "protocolType": "LWM2M",
        "sourceVersions": "V1.0",
    }
    package = actions.do_upload_package(application, fields, "firmware.zip", package_bytes)
    devices = list(Device.objects.filter(node_id__in=node_ids).values_list("device_id", flat=True))
    body = {
        "fileId": package.file_id,
        "targets": {"deviceType": "WaterMeter", "model": "v1001", "manufacturerName": "Huawei", "devices": devices},
        "policy": {"executeType": "now"},
    }
    operation = actions.do_create_operation(application, body, "firmware_upgrade")
    actions.schedule(operation.pk)
    return list(operation.sub_operations.filter(status="processing").values_list("sub_operation_id", flat=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--size", type=int, default=1024 * 1024, help="package bytes")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--generators", type=int, default=2)
    parser.add_argument("--noop-serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.noop_serve:
        serve_noop(args.noop_serve, args.size)
        return
    package = make_package(args.size)
    database_url = setup_django(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_ingest"))

    # 1. the no-op aiocoap server, same number of processes
    port = _free_udp_port()
    command = [sys.executable, __file__, "--noop-serve", str(port), "--size", str(args.size)]
    noop = [subprocess.Popen(command) for _ in range(args.workers)]
    time.sleep(1.5)
    try:
        baseline = run_fetch(port, ["x"] * args.devices, package, args.generators)
    finally:
        for process in noop:
            process.send_signal(signal.SIGTERM)
            process.wait()

    # 2. the ingress, serving a real task's Package URIs
    application, node_ids = prepare(args.devices)
    paths = create_task(application, node_ids, package)
    ingress, port = start_ingress(database_url, args.workers)
    try:
        wait_for_workers(args.workers, ingress)
        result = run_fetch(port, paths, package, args.generators)
        time.sleep(1)
        from firmware.models import SubOperation

        downloading = SubOperation.objects.filter(sub_operation_id__in=paths, step="downloading").count()
    finally:
        stop_ingress(ingress)
        from firmware.models import Operation, Package

        Operation.objects.filter(application=application).delete()
        Package.objects.filter(application=application).delete()
        cleanup(application)

    print(
        f"firmware bench: {args.devices} devices fetching a {len(package):,}-byte package at once, "
        f"1024-byte Block2 blocks, {args.workers} workers, {args.generators} generators"
    )
    print(f"{'':44}{'blocks':>10}{'blocks/s':>10}{'total s':>9}{'retrans':>9}{'x no-op':>9}")
    for name, figures in (("no-op aiocoap, Block2 from memory", baseline), ("ingress, a task's Package URIs", result)):
        print(
            f"{name:44}{figures['blocks']:>10,}{figures['rate']:>10,.0f}{figures['seconds']:>9.1f}"
            f"{figures['retransmissions']:>9}{figures['rate'] / baseline['rate']:>9.2f}"
        )
    print(f"sub-operations reported downloading: {downloading} of {len(paths)}")


if __name__ == "__main__":
    main()
