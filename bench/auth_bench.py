"""Northbound authentication throughput through the real web process, next to a bare Django view.

What it measures: requests per second that one web process (`python manage.py run_web`, uvicorn
serving portal.asgi, started as a subprocess exactly as production starts it) answers for

1. `GET /livez`: a bare Django view behind the full middleware stack, touching nothing (the baseline);
2. `GET /iocm/app/am/v1.1.0/applications/{appId}` with `app_key` + `Authorization: Bearer`: DRF,
   one indexed token query in PostgreSQL, one Redis pipeline for flow control, a JSON body;
3. the same call with an unknown token (403 1010005): DRF and the token query, no Redis.

Each figure is printed with its ratio to the baseline of the same round, since absolute numbers move
with the machine and whatever else runs on it; the scenarios are interleaved over several rounds and
the median is shown. The load comes from `wrk` (Debian's package) in its own process, so the server's
CPU is what is measured, not the client's; without wrk a small httpx/asyncio client runs in a
separate process instead. Everything stays on 127.0.0.1. Next to requests per second it prints the
web process's own CPU time per request (from /proc), the SQL queries each call makes (counted in the
bench process through Django's test client), and the token check and the flow-control step timed
alone in the bench process, to show where the time goes.

Run it:

    make bench                     # embedded PostgreSQL/Redis when DATABASE_URL/REDIS_URL are unset
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_auth REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/auth_bench.py [--rounds 3] [--duration 5] [--warmup 1] [--connections 2]

The database named in DATABASE_URL is created when missing and migrated; `postgres` (what the
embedded server under `make bench` and CI name, and the database `make run` uses) is never written
to: `bench_auth` on the same server is used instead. The application the bench creates is deleted at
the end, and its flow-control counters live under a Redis key prefix of their own, deleted too, so a
shared Redis is left as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))  # `python bench/auth_bench.py` puts bench/ first, not the project

MAINTENANCE_DBS = {"postgres", "template0", "template1"}
FALLBACK_DB = "bench_auth"
RATE_LIMIT = 10_000_000  # flow control counts every call but never refuses one during the run
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


class BenchError(RuntimeError):
    """Something is not as the benchmark needs it; the message says what."""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    non_2xx: int
    socket_errors: int


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    headers: dict[str, str]
    expect: str  # "livez", "ok" (every answer 2xx, the application's JSON) or "denied" (every answer 403 1010005)


@dataclass(frozen=True)
class Measured:
    load: LoadResult
    server_cpu_s: float  # CPU seconds the web process used during the measured run
    vs_baseline: float  # requests per second over the baseline's in the same round

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cpu_s / self.load.requests

    @property
    def cpu_share(self) -> float:
        return self.server_cpu_s / self.load.seconds


# --- Load generators, each in a process of its own -------------------------------------------

_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise BenchError(f"cannot read wrk's time {text!r}")
    return float(match[1]) * _TIME_UNITS[match[2]]


def parse_wrk(output: str) -> LoadResult:
    """Read wrk's `--latency` report."""
    total = re.search(r"^\s*(\d+) requests in ([\d.]+(?:us|ms|s|m))", output, re.M)
    rps = re.search(r"^Requests/sec:\s*([\d.]+)", output, re.M)
    if not total or not rps:
        raise BenchError(f"cannot read wrk's report:\n{output}")
    percentiles = dict(re.findall(r"^\s*(50|99)(?:\.0+)?%\s+(\S+)", output, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return LoadResult(
        requests=int(total[1]),
        seconds=_ms(total[2]) / 1000,
        rps=float(rps[1]),
        p50_ms=_ms(percentiles["50"]) if "50" in percentiles else None,
        p99_ms=_ms(percentiles["99"]) if "99" in percentiles else None,
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def run_wrk(wrk: str, url: str, headers: dict[str, str], connections: int, seconds: int) -> LoadResult:
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def run_python_load(url: str, headers: dict[str, str], connections: int, seconds: int) -> LoadResult:
    """The fallback: this file's `loadgen` mode, an httpx/asyncio client in a separate process."""
    command = [sys.executable, __file__, "loadgen", url, str(connections), str(seconds), json.dumps(headers)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise BenchError(f"the Python load generator failed: {done.stderr}")
    return LoadResult(**json.loads(done.stdout))


async def python_load(url: str, connections: int, seconds: float, headers: dict[str, str]) -> LoadResult:
    import httpx

    latencies: list[float] = []
    counts = {"non_2xx": 0, "errors": 0}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=5.0) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            while (sent := time.perf_counter()) < deadline:
                try:
                    response = await client.get(url)
                except httpx.HTTPError:
                    counts["errors"] += 1
                    continue
                latencies.append(time.perf_counter() - sent)
                if not 200 <= response.status_code < 400:
                    counts["non_2xx"] += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(share: float) -> float | None:
        return 1000 * latencies[min(len(latencies) - 1, int(share * len(latencies)))] if latencies else None

    return LoadResult(
        requests=len(latencies),
        seconds=elapsed,
        rps=len(latencies) / elapsed,
        p50_ms=percentile(0.50),
        p99_ms=percentile(0.99),
        non_2xx=counts["non_2xx"],
        socket_errors=counts["errors"],
    )


# --- Database, Redis and the application under test -------------------------------------------


def bench_database_url(url: str) -> str:
    """DATABASE_URL itself, or the same server's `bench_auth` when it names a maintenance database."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if name and name not in MAINTENANCE_DBS:
        return url
    return urlunsplit(parts._replace(path=f"/{FALLBACK_DB}"))


def ensure_database(url: str) -> bool:
    """Create the database named in `url` when missing (through the `postgres` database); True if created."""
    import psycopg
    from psycopg import errors, sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        try:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except errors.DuplicateDatabase:  # another run created it in between
            return False
    return True


@dataclass(frozen=True)
class Credentials:
    pk: int
    app_id: str
    access_token: str


@contextlib.contextmanager
def bench_application(redis_prefix: str) -> Iterator[Credentials]:
    """A fresh application with flow control raised out of the way, logged in; deleted at the end,
    with every Redis key under the bench's prefix."""
    from applications.actions import do_create_application, do_login
    from applications.models import Application
    from applications.redis import get_redis

    application, secret = do_create_application(f"bench {uuid.uuid4().hex[:8]}", api_rate_limit=RATE_LIMIT)
    try:
        pair = do_login(application.app_id, secret)
        yield Credentials(application.pk, application.app_id, pair.access_token)
    finally:
        try:
            Application.objects.filter(pk=application.pk).delete()
            redis = get_redis()
            for name in redis.scan_iter(match=f"{redis_prefix}*", count=1000):
                redis.delete(name)
        except Exception as error:  # cleaning up must not hide the failure that brought us here
            print(f"cleanup failed: {error!r}", file=sys.stderr)


def rate_counted(application_pk: int) -> int:
    """Calls flow control has counted for the application, over all windows."""
    from applications.redis import get_redis, key

    redis = get_redis()
    keys = list(redis.scan_iter(match=key("rate", application_pk, "*")))
    return sum(int(value or 0) for value in redis.mget(keys)) if keys else 0


def cpu_per_call(function: Callable[[], object], calls: int = 500) -> float:
    """CPU seconds of this process per call of `function`, after one call to warm it."""
    function()
    started = time.process_time()
    for _ in range(calls):
        function()
    return (time.process_time() - started) / calls


def queries_per_call(scenario: Scenario, app_id: str) -> int:
    """SQL queries one call of the scenario makes, through Django's test client in this process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(scenario.path, headers=scenario.headers)
    check_response(scenario, response.status_code, response.content, app_id)
    return len(queries.captured_queries)


def time_pieces(credentials: Credentials) -> dict[str, float]:
    """The two steps the authenticated call adds, timed alone in this process (CPU seconds per call)."""
    from django.db import connection

    from applications.actions import check_access_token
    from applications.models import Application
    from applications.throttling import check_rate

    def token_check() -> None:
        check_access_token(credentials.app_id, credentials.access_token)
        connection.close()  # back to the pool, as at the end of a request

    application = Application.objects.get(pk=credentials.pk)
    return {
        "token check (one query, pooled connection taken and returned)": cpu_per_call(token_check),
        "flow control (one Redis pipeline: INCR + EXPIRE)": cpu_per_call(lambda: check_rate(application)),
    }


# --- The web process --------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def web_process(env: dict[str, str], port: int, log: IO[str], log_level: str | None) -> Iterator[subprocess.Popen]:
    """`python manage.py run_web` on 127.0.0.1:port, as production starts it; SIGTERM and wait at the end."""
    # One process (WEB_WORKERS defaults to 2): the bench reads that process's own CPU time.
    command = [sys.executable, "manage.py", "run_web", "--workers", "1"]
    command += ["--log-level", log_level] if log_level else []
    child = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(child, port)
        yield child
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print(f"the web process did not stop in {STOP_TIMEOUT:.0f}s; killing it", file=sys.stderr)
                child.kill()
                child.wait()


def wait_until_serving(child: subprocess.Popen, port: int) -> None:
    import httpx

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise BenchError(f"the web process exited with code {child.returncode} before serving")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise BenchError(f"the web process did not answer /livez within {START_TIMEOUT:.0f}s")


# --- Scenarios and the report -----------------------------------------------------------------


def check_response(scenario: Scenario, status: int, body: bytes, app_id: str) -> None:
    """The scenario answered what it should, body included."""
    if scenario.expect == "livez":
        good = status == 200 and body == b"ok"
    elif scenario.expect == "ok":
        good = status == 200 and json.loads(body).get("appId") == app_id
    else:
        good = status == 403 and json.loads(body).get("resultcode") == "1010005"
    if not good:
        raise BenchError(f"{scenario.name}: unexpected answer {status} {body[:200]!r}")


def check_answer(base: str, scenario: Scenario, app_id: str) -> None:
    """One request through the web process before the load."""
    import httpx

    response = httpx.get(base + scenario.path, headers=scenario.headers, timeout=5.0)
    check_response(scenario, response.status_code, response.content, app_id)


def check_load(scenario: Scenario, load: LoadResult) -> None:
    if load.requests == 0:
        raise BenchError(f"{scenario.name}: no request completed")
    if load.socket_errors:
        raise BenchError(f"{scenario.name}: {load.socket_errors} socket errors")
    if scenario.expect != "denied" and load.non_2xx:
        raise BenchError(f"{scenario.name}: {load.non_2xx} of {load.requests} answers were not 2xx")
    if scenario.expect == "denied" and load.non_2xx != load.requests:
        raise BenchError(f"{scenario.name}: {load.requests - load.non_2xx} answers were 2xx, all should fail")


@dataclass(frozen=True)
class Runner:
    """Runs one scenario against the web process and checks what came back."""

    base: str
    load: Callable[[str, dict[str, str], int], LoadResult]
    application_pk: int
    duration: int
    warmup: int

    def run(self, server_pid: int, scenario: Scenario, baseline_rps: float) -> Measured:
        url = self.base + scenario.path
        if self.warmup:
            self.load(url, scenario.headers, self.warmup)
        counted_before = rate_counted(self.application_pk)
        cpu_before = cpu_seconds(server_pid)
        result = self.load(url, scenario.headers, self.duration)
        cpu_used = cpu_seconds(server_pid) - cpu_before
        check_load(scenario, result)
        if scenario.expect == "ok":
            counted = rate_counted(self.application_pk) - counted_before
            if counted < result.requests:
                raise BenchError(f"flow control counted {counted} of {result.requests} calls")
        return Measured(result, cpu_used, result.rps / (baseline_rps or result.rps))


def median_run(runs: list[Measured]) -> Measured:
    return sorted(runs, key=lambda run: run.load.rps)[(len(runs) - 1) // 2]


def median_cpu_ms(runs: list[Measured]) -> float:
    return statistics.median(run.cpu_ms_per_request for run in runs)


def format_table(results: dict[str, list[Measured]], queries: dict[str, int]) -> str:
    header = ("scenario", "req/s", "min-max", "p50 ms", "p99 ms", "server CPU ms/req", "busy")
    header += ("SQL/call", "vs /livez")
    rows = [header]
    for name, runs in results.items():
        run = median_run(runs)
        low, high = min(r.load.rps for r in runs), max(r.load.rps for r in runs)
        rows.append(
            (
                name,
                f"{run.load.rps:,.0f}",
                f"{low:,.0f}-{high:,.0f}",
                f"{run.load.p50_ms:.2f}" if run.load.p50_ms is not None else "-",
                f"{run.load.p99_ms:.2f}" if run.load.p99_ms is not None else "-",
                f"{median_cpu_ms(runs):.2f}",
                f"{100 * statistics.median(r.cpu_share for r in runs):.0f}%",
                str(queries[name]),
                f"{statistics.median(r.vs_baseline for r in runs):.2f}x",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        cells = [cell.rjust(width) for cell, width in zip(row, widths, strict=True)]
        cells[0] = row[0].ljust(widths[0])
        return "  ".join(cells)

    legend = (
        "req/s, p50, p99: the median round; min-max over the rounds. server CPU: the web process's own (all its\n"
        "threads, from /proc), per request and as a share of one core (busy). SQL/call: queries one call makes."
    )
    return "\n".join([line(rows[0]), "  ".join("-" * width for width in widths), *map(line, rows[1:]), legend])


def setup_django(database_url: str, redis_prefix: str) -> bool:
    """Point Django at the bench database and key prefix, create and migrate the database; True if created."""
    os.environ.update(DATABASE_URL=database_url, REDIS_KEY_PREFIX=redis_prefix)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    created = ensure_database(database_url)
    import django
    from django.core.management import call_command

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise, for the test client's calls
    call_command("migrate", interactive=False, verbosity=0)
    return created


def scenarios_for(credentials: Credentials) -> list[Scenario]:
    api_path = f"/iocm/app/am/v1.1.0/applications/{credentials.app_id}"
    auth_headers = {"app_key": credentials.app_id, "Authorization": f"Bearer {credentials.access_token}"}
    bad_headers = {"app_key": credentials.app_id, "Authorization": f"Bearer {secrets.token_hex(16)}"}
    return [
        Scenario("GET /livez (bare Django view)", "/livez", {}, "livez"),
        Scenario("GET application, authenticated", api_path, auth_headers, "ok"),
        Scenario("GET application, bad token (403)", api_path, bad_headers, "denied"),
    ]


def run_scenarios(
    runner: Runner, server_pid: int, scenarios: list[Scenario], app_id: str, rounds: int
) -> dict[str, list[Measured]]:
    """Every scenario once per round, interleaved, so drift on the machine hits them all alike."""
    for scenario in scenarios:
        check_answer(runner.base, scenario, app_id)
    results: dict[str, list[Measured]] = {scenario.name: [] for scenario in scenarios}
    for round_number in range(1, rounds + 1):
        baseline_rps = 0.0
        for scenario in scenarios:
            measured = runner.run(server_pid, scenario, baseline_rps)
            baseline_rps = baseline_rps or measured.load.rps
            results[scenario.name].append(measured)
        figures = ", ".join(f"{runs[-1].load.rps:,.0f}" for runs in results.values())
        print(f"round {round_number}: {figures} req/s", flush=True)
    return results


def measure(args: argparse.Namespace) -> None:
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise BenchError("DATABASE_URL and REDIS_URL must be set (`make bench` sets them)")
    database_url = bench_database_url(os.environ["DATABASE_URL"])
    redis_prefix = f"{os.environ.get('REDIS_KEY_PREFIX', 'oc:')}bench:{uuid.uuid4().hex[:8]}:"
    created = setup_django(database_url, redis_prefix)
    parts = urlsplit(database_url)
    print(
        f"database {parts.path.lstrip('/')} on {parts.hostname or 'a local socket'}: "
        f"{'created' if created else 'reused'}, migrated"
    )

    wrk = None if args.loadgen == "python" else shutil.which("wrk")
    if args.loadgen == "wrk" and wrk is None:
        raise BenchError("wrk is not installed (apt-get install -y wrk)")

    def load(url: str, headers: dict[str, str], seconds: int) -> LoadResult:
        if wrk:
            return run_wrk(wrk, url, headers, args.connections, seconds)
        return run_python_load(url, headers, args.connections, seconds)

    from portal.ports import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HTTP_PORT=str(port), BIND_ADDRESS="127.0.0.1", PYTHONUNBUFFERED="1")
    for name in ("TLS_CERT_FILE", "TLS_KEY_FILE"):  # HTTP only: no second server on HTTPS_PORT
        env.pop(name, None)
    generator = f"wrk {wrk}" if wrk else "httpx/asyncio client in a separate process"
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {generator}, "
        f"{args.connections} connections, rounds: {args.rounds} x ({args.warmup}s warm-up + {args.duration}s) "
        f"per scenario, one web process on {base}",
        flush=True,
    )

    with (
        bench_application(redis_prefix) as credentials,
        tempfile.NamedTemporaryFile("w+", prefix="auth_bench_web_", suffix=".log") as log,
    ):
        runner = Runner(base, load, credentials.pk, args.duration, args.warmup)
        scenarios = scenarios_for(credentials)
        try:
            with web_process(env, port, log, args.log_level) as server:
                results = run_scenarios(runner, server.pid, scenarios, credentials.app_id, args.rounds)
        except BaseException:
            log.flush()
            log.seek(0)
            print(f"--- end of the web process's output ---\n{log.read()[-3000:]}", file=sys.stderr)
            raise
        queries = {scenario.name: queries_per_call(scenario, credentials.app_id) for scenario in scenarios}
        pieces = time_pieces(credentials)

    print()
    print(format_table(results, queries))
    livez, auth, denied = (median_cpu_ms(runs) for runs in results.values())
    print()
    print(f"server CPU per request over /livez: authenticated +{auth - livez:.2f} ms, ", end="")
    print(f"refused token +{denied - livez:.2f} ms")
    print("the same steps timed alone in the bench process (CPU per call):")
    for name, seconds in pieces.items():
        print(f"  {name}: {1000 * seconds:.2f} ms")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["loadgen"]:  # internal: the fallback load generator's own process
        url, connections, seconds, headers = argv[1], int(argv[2]), float(argv[3]), json.loads(argv[4])
        print(json.dumps(asdict(asyncio.run(python_load(url, connections, seconds, headers)))))
        return 0
    parser = argparse.ArgumentParser(description="Northbound auth requests/s through run_web, next to /livez.")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is shown (3)")
    parser.add_argument("--duration", type=int, default=5, help="seconds measured per scenario and round (5)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load before each (1)")
    parser.add_argument("--connections", type=int, default=2, help="concurrent keep-alive connections (2)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto", help="auto: wrk if found")
    parser.add_argument("--log-level", help="run_web's --log-level (default: production's, info)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0 or args.connections < 1:
        parser.error("rounds, duration and connections must be at least 1, warmup at least 0")
    try:
        measure(args)
    except BenchError as error:
        print(f"auth_bench: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
