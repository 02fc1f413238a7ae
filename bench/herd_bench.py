"""The thundering herd (issue 23): a fleet registering at once after a network outage, through a real
`manage.py run_ingress`, against one device registering alone in the same run.

The fleet is D LwM2M devices behind one address (127.0.0.1, one source port each, as behind a carrier's
NAT), spread over G generator processes of raw UDP sockets (CoAP encoded by aiocoap's Message, so the
generator is not what limits). At once, every device sends its registration (`POST /rd?ep=..`) and
behaves as a Huawei module does (F-1.5):

- it retransmits an unanswered confirmable request after 2 s, and gives up on an attempt that has no
  final answer 4 s after it began (error 513); it tries again after a random pause drawn from the
  retry window (`--retry-min`..`--retry-max` s);
- a 5.03 Service Unavailable is a refusal: it tries again after the answer's Max-Age;
- a 2.01 within 4 s registers it; it then answers the platform's observe of /19/0/0 as a module does.

The ingress runs with its admission control (ingress.admission; the refusals' Max-Age window is the
same `--retry-min`..`--retry-max`); `--compare` runs the fleet a second time with it off (an unlimited
backlog and answer time), the behaviour before issue 23. It prints, per run: attempts, the share
answered 2.01 in time, refused with 5.03, not answered within 4 s (an answer after that finds the
module given up); p50/p99 of the time to a final answer; the time until every device was registered; and the
ratio of the p50 to the baseline, one device registering alone (median of `--alone` registrations
before the fleet, the ingress idle).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_herd REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/herd_bench.py [--devices 2000 --workers 2 --generators 2 --compare]
    # the issue's figure: 100,000 devices within 10 minutes
    .venv/bin/python bench/herd_bench.py --devices 100000 --workers 2 --generators 8 --deadline 600 --compare
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import resource
import selectors
import socket
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

GIVE_UP_SECONDS = 4.0  # F-1.5: a module reports error 513 when its registration is not answered by then
RETRANSMIT_SECONDS = 2.0  # CoAP ACK_TIMEOUT, without its random factor


def register_request(node_id: str, mid: int, token: bytes) -> bytes:
    from aiocoap import Message
    from aiocoap.numbers import codes
    from aiocoap.numbers.types import CON

    message = Message(
        code=codes.POST,
        uri_path=("rd",),
        uri_query=(f"ep={node_id}", "lt=86400", "b=U"),
        content_format=40,
        payload=b"</19/0>",
    )
    message.mtype, message.mid, message.token = CON, mid, token
    return message.encode()


def answer(mtype, code, mid: int, token: bytes = b"", **options) -> bytes:
    """A datagram of the device's (aiocoap's Message only encodes it; the bench does its own exchanges)."""
    from aiocoap import Message

    message = Message(code=code, **options)
    message.mtype, message.mid, message.token = mtype, mid, token
    return message.encode()


def fleet(
    port: int,
    node_ids: list[str],
    start_at: float,
    deadline: float,
    window: tuple[int, int],
    out: multiprocessing.Queue,
) -> None:
    """One generator process: its devices register from `start_at` (wall clock) until all are registered
    or `deadline` seconds have passed. Puts (attempt outcomes, registered-at seconds) on `out`."""
    from aiocoap import Message
    from aiocoap.numbers import codes
    from aiocoap.numbers.types import ACK, CON

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    selector = selectors.DefaultSelector()
    sockets = []
    for index in range(len(node_ids)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Five loopback source addresses (NAT addresses, many ports each): one address has ~28,000
        # ephemeral ports, fewer than a 100,000-device fleet's sockets.
        sock.bind((f"127.0.0.{index % 5 + 1}", 0))
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        sockets.append(sock)
        selector.register(sock, selectors.EVENT_READ, index)
    count = len(node_ids)
    next_try = [0.0] * count  # seconds after the start at which the next attempt begins
    attempt_at: list[float | None] = [None] * count  # the current attempt's start, None between attempts
    resent = [False] * count
    acked = [False] * count  # an empty ACK: no more retransmission, the answer comes separately
    requests: list[bytes] = [b""] * count
    tokens: list[bytes] = [b""] * count
    registered_at: list[float | None] = [None] * count
    outcomes: list[tuple[str, float]] = []  # (created | refused | late | unanswered, seconds to the answer)
    mids = [random.getrandbits(16) for _ in range(count)]
    while time.time() < start_at:
        time.sleep(0.001)
    started = time.monotonic()
    left = count
    while left and time.monotonic() - started < deadline:
        now = time.monotonic() - started
        for index in range(count):
            if registered_at[index] is not None:
                continue
            at = attempt_at[index]
            if at is None and now >= next_try[index]:
                mids[index] = (mids[index] + 1) & 0xFFFF
                tokens[index] = random.randbytes(4)
                requests[index] = register_request(node_ids[index], mids[index], tokens[index])
                attempt_at[index], resent[index], acked[index] = now, False, False
                sockets[index].send(requests[index])
            elif at is not None and now - at >= GIVE_UP_SECONDS:
                outcomes.append(("unanswered", now - at))
                attempt_at[index] = None
                next_try[index] = now + random.uniform(*window)
            elif at is not None and now - at >= RETRANSMIT_SECONDS and not (resent[index] or acked[index]):
                sockets[index].send(requests[index])
                resent[index] = True
        for selected, _ in selector.select(timeout=0.01):
            index = selected.data
            while True:
                try:
                    data = sockets[index].recv(2048)
                except OSError:
                    break
                try:
                    message = Message.decode(data)
                except Exception:  # a malformed datagram is skipped
                    continue
                now = time.monotonic() - started
                if message.code == codes.GET:  # the platform's observe of /19/0/0: the module answers
                    sockets[index].send(answer(ACK, codes.CONTENT, message.mid, message.token, observe=1))
                    continue
                if message.mtype == CON and message.code.is_response():
                    sockets[index].send(answer(ACK, codes.EMPTY, message.mid))
                if message.mtype == ACK and message.code == codes.EMPTY:
                    acked[index] = True
                    continue
                at = attempt_at[index]
                if at is None or message.token != tokens[index] or not message.code.is_response():
                    continue  # an answer to an attempt given up: the module no longer waits for it
                seconds = now - at
                attempt_at[index] = None
                if message.code == codes.CREATED:
                    outcomes.append(("created", seconds))
                    registered_at[index] = now
                    left -= 1
                elif message.code == codes.SERVICE_UNAVAILABLE:
                    outcomes.append(("refused", seconds))
                    next_try[index] = now + (message.opt.max_age or 60)
                else:
                    outcomes.append((f"other {message.code}", seconds))
                    next_try[index] = now + random.uniform(*window)
        # Answers that came after 4 s were recorded as "unanswered" at 4 s; the device had given up.
    out.put({"outcomes": outcomes, "registered": [value for value in registered_at if value is not None]})
    for sock in sockets:
        sock.close()


def run_fleet(port: int, node_ids: list[str], generators: int, deadline: float, window: tuple[int, int]) -> dict:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    start_at = time.time() + 1.0 + len(node_ids) / 20000  # every generator has opened its sockets by then
    processes = [
        multiprocessing.Process(
            target=fleet, args=(port, node_ids[index::generators], start_at, deadline, window, queue)
        )
        for index in range(generators)
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=deadline + 120) for _ in processes]
    for process in processes:
        process.join()
    outcomes = [outcome for result in results for outcome in result["outcomes"]]
    registered = sorted(value for result in results for value in result["registered"])
    answers = sorted(seconds for kind, seconds in outcomes if kind in ("created", "refused"))

    def percentile(values: list[float], fraction: float) -> float:
        return values[min(len(values) - 1, int(fraction * len(values)))] if values else math.nan

    names = ("created", "refused", "unanswered")
    kinds = {kind: sum(1 for outcome, _ in outcomes if outcome == kind) for kind in names}
    return {
        "attempts": len(outcomes),
        **kinds,
        "other": len(outcomes) - sum(kinds.values()),
        "p50": percentile(answers, 0.5),
        "p99": percentile(answers, 0.99),
        "registered": len(registered),
        "all_in": registered[-1] if len(registered) == len(node_ids) else math.nan,
        "half_in": percentile(registered, 0.5),
    }


def alone(port: int, node_ids: list[str]) -> list[float]:
    """One device at a time registering on the idle ingress: seconds to its 2.01."""
    times = []
    for node_id in node_ids:
        queue: multiprocessing.Queue = multiprocessing.Queue()
        fleet(port, [node_id], time.time(), 10.0, (1, 2), queue)
        result = queue.get()
        times += [seconds for kind, seconds in result["outcomes"] if kind == "created"]
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--generators", type=int, default=0, help="default: one per 15,000 devices, at least 2")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds the fleet has to register")
    parser.add_argument("--retry-min", type=int, default=5, help="the refusals' Max-Age window, and a module's")
    parser.add_argument("--retry-max", type=int, default=60, help="pause after it gave up on an attempt")
    parser.add_argument("--alone", type=int, default=20, help="registrations of one device alone (the baseline)")
    parser.add_argument("--compare", action="store_true", help="the fleet again with admission control off")
    args = parser.parse_args()
    generators = args.generators or max(2, math.ceil(args.devices / 15000))

    from bench.ingest_bench import cleanup, prepare_codec, setup_django, start_ingress, stop_ingress, wait_for_workers

    database_url = setup_django(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_herd"))
    from ingress.models import DeviceSession

    window = (args.retry_min, args.retry_max)
    modes = {"admission control": {}}
    if args.compare:
        modes["no admission control"] = {
            "INGRESS_REGISTER_BACKLOG": str(10**9),
            "INGRESS_REGISTER_ANSWER_SECONDS": str(10**9),
        }
    application, node_ids = prepare_codec(args.devices + args.alone, "online", model="herd")
    lonely, herd = node_ids[: args.alone], node_ids[args.alone :]
    results = {}
    baseline: list[float] = []
    try:
        for mode, env in modes.items():
            DeviceSession.objects.filter(device__application=application).delete()
            ingress, port = start_ingress(
                database_url,
                args.workers,
                INGRESS_REGISTER_RETRY_MIN=str(args.retry_min),
                INGRESS_REGISTER_RETRY_MAX=str(args.retry_max),
                **env,
            )
            try:
                wait_for_workers(args.workers, ingress)
                if not baseline:
                    baseline = sorted(alone(port, lonely))
                results[mode] = run_fleet(port, herd, generators, args.deadline, window)
                print(f"{mode}: done", flush=True)
            finally:
                stop_ingress(ingress)
    finally:
        cleanup(application)

    load = os.getloadavg()
    one = baseline[len(baseline) // 2] if baseline else math.nan
    print(
        f"herd bench: {args.devices} devices at once from one address, {args.workers} ingress workers, "
        f"{generators} generators; retry window {args.retry_min}-{args.retry_max} s; deadline {args.deadline:.0f} s; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"baseline: one device registering alone, median of {len(baseline)}: {one * 1000:.1f} ms")
    for mode, result in results.items():
        attempts = result["attempts"] or 1
        share = {kind: result[kind] / attempts for kind in ("created", "refused", "unanswered", "other")}
        all_in = f"{result['all_in']:.1f} s" if not math.isnan(result["all_in"]) else "not within the deadline"
        print(
            f"{mode}: {result['attempts']} attempts: {share['created']:.1%} answered 2.01 within 4 s, "
            f"{share['refused']:.1%} refused 5.03 with Max-Age, {share['unanswered']:.1%} not answered within 4 s"
            + (f", {share['other']:.1%} other answers" if result["other"] else "")
        )
        print(
            f"  answer time p50 {result['p50'] * 1000:.1f} ms, p99 {result['p99'] * 1000:.1f} ms "
            f"(x{result['p50'] / one:.1f} and x{result['p99'] / one:.1f} the device alone); "
            f"registered {result['registered']} of {args.devices}: half by {result['half_in']:.1f} s, all {all_in}"
        )


if __name__ == "__main__":
    main()
