"""`python -m portal.launcher run` (what `make run` starts) as a subprocess of a test, and its output."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from portal.env import BASE_DIR
from portal.ports import free_port
from tests.conftest import database_url_for_tests


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], Any], seconds: float = 30, what: str = "condition") -> Any:
    """Poll `condition` until it returns something true, or fail naming `what`."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {seconds}s waiting for {what}"
        time.sleep(0.05)


class RunningPlatform:
    """The launcher with every process, on free loopback ports, against the test database."""

    def __init__(self, data_dir: Path, **overrides: str) -> None:
        self.http_port = free_port()
        self.coap_port = free_udp_port()
        self.mqtt_port = free_port()
        from django.conf import settings

        self.env = {
            **os.environ,
            "DATABASE_URL": database_url_for_tests(),
            # The test process's key: device secrets it encrypted must decrypt in the platform's processes.
            "SECRET_KEY": settings.SECRET_KEY,
            "DATA_DIR": str(data_dir),
            "BIND_ADDRESS": "127.0.0.1",
            "HTTP_PORT": str(self.http_port),
            "COAP_PORT": str(self.coap_port),
            "COAPS_PORT": str(free_udp_port()),
            "MQTT_PORT": str(self.mqtt_port),
            "WEB_WORKERS": "1",
            "INGRESS_WORKERS": "1",
            "LAUNCHER_RESTART_DELAY": "0.2",
            "LAUNCHER_RESTART_MAX_DELAY": "2",
            **overrides,
        }
        self.lines: list[str] = []
        self.process: subprocess.Popen | None = None
        self.leftovers: list[int] = []

    def start(self, timeout: float = 90) -> RunningPlatform:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "portal.launcher", "run"],
            cwd=BASE_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_line(r"\[launcher\] running;", timeout)
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for raw in iter(self.process.stdout.readline, b""):
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def wait_line(self, pattern: str, timeout: float = 30, after: int = 0) -> re.Match:
        """The first output line from index `after` on that matches `pattern`."""
        regex = re.compile(pattern)

        def found() -> re.Match | None:
            for line in self.lines[after:]:
                match = regex.search(line)
                if match:
                    return match
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError("the launcher exited:\n" + "\n".join(self.lines[-40:]))
            return None

        return wait_for(found, timeout, f"a line matching {pattern!r}")

    def pid_of(self, name: str, after: int = 0) -> int:
        """The pid of the latest start of a child (web, worker, beat, ingress, mqtt)."""
        match = self.wait_line(rf"\[launcher\] started {name} \(pid (\d+)\)", after=after)
        pattern = re.compile(rf"\[launcher\] started {name} \(pid (\d+)\)")
        pids = [int(found[1]) for found in map(pattern.search, self.lines) if found]
        return pids[-1] if pids else int(match[1])

    def started_pids(self) -> list[int]:
        pattern = re.compile(r"\[launcher\] started \w+ \(pid (\d+)\)")
        return [int(match[1]) for match in map(pattern.search, self.lines) if match]

    def stop(self) -> int:
        """Ctrl-C, as a developer stops it; anything the launcher left behind is killed (and reported)."""
        assert self.process is not None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.leftovers = [pid for pid in self.started_pids() if _group_alive(pid)]
        for pid in self.leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        return self.process.returncode


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
