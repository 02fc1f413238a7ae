"""Run a command as several worker processes and keep them running: the web, ingress and MQTT processes
each start their workers this way (they share their ports through SO_REUSEPORT).

Each worker has the environment variable WORKER_INDEX (0, 1, ...), kept by the worker started in its
place, so a worker can take a resource of its own such as its metrics port (applications.prometheus).
A worker that exits is started again; SIGINT or SIGTERM stops them all (SIGTERM, then SIGKILL after
`grace` seconds). Plain process plumbing, kept in the bottom layer so every process can use it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def supervise(label: str, command: list[str], count: int, cwd: Path | str, *, grace: float = 10) -> None:
    """Start `count` copies of `command` and restart any that exits until this process is signalled."""

    def start(index: int) -> subprocess.Popen:
        return subprocess.Popen(command, cwd=cwd, env={**os.environ, "WORKER_INDEX": str(index)})

    children = [start(index) for index in range(count)]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        for index, child in enumerate(children):
            if child.poll() is not None and not stopping:
                print(f"{label}: worker {child.pid} exited with {child.returncode}; starting another", flush=True)
                children[index] = start(index)
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


class Backoff:
    """Delays before restarting a process that keeps dying: `initial`, doubling up to `ceiling` seconds.

    A process that ran at least `stable_after` seconds before dying starts again after `initial`:
    one crash after hours of work is not a crash loop."""

    def __init__(self, initial: float = 1.0, ceiling: float = 30.0, stable_after: float = 60.0) -> None:
        self.initial, self.ceiling, self.stable_after = initial, ceiling, stable_after
        self.delay = 0.0

    def next_delay(self, ran_for: float) -> float:
        if ran_for >= self.stable_after or self.delay == 0:
            self.delay = self.initial
        else:
            self.delay = min(self.ceiling, self.delay * 2)
        return self.delay
