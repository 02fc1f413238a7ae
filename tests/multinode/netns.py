"""Network namespaces for the multi-node tests: a client side, a balancer and N nodes, as separate machines.

    client (10.231.0.2) --- balancer (10.231.0.1 = the service address) --- node i (10.231.<i+1>.2)

Each node is its own namespace: its processes (a `run_ingress` or `run_mqtt` process group) bind the same
ports as on a machine of their own and see only the balancer. PostgreSQL and Redis stay in the root
namespace; socat carries them in (a UNIX socket in the shared file system, listened on by socat in the root
namespace, and a TCP listener on each node's own 127.0.0.1 with the port of the test's URL), so the nodes
use the test's DATABASE_URL and REDIS_URL unchanged.

Everything a topology starts is a process group of its own, killed with SIGKILL at `down()`, after which
the namespaces are deleted; `down()` runs from a fixture's finaliser, so a failed test cleans up too, and
namespaces left by a test process that was itself killed are deleted by the next run (`sweep_stale`).
Devices run in a thread of the test process that entered the client namespace (`NamespaceThread`): the
sockets it opens (and the threads it starts, which inherit the namespace) are there.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PREFIX = "mn"  # namespaces are named mn<pid><role>: a run's own, and its stale ones found by their pid
TOOLS = ("ip", "nft", "conntrack", "socat", "coap-client-notls", "nginx")
SERVICE_ADDRESS = "10.231.0.1"
CLIENT_ADDRESS = "10.231.0.2"


def unavailable() -> str | None:
    """Why namespaces cannot be used here (a skip reason), or None."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"not installed: {', '.join(missing)} (.ci/run installs them)"
    probe = f"{PREFIX}{os.getpid()}probe"
    created = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if created.returncode != 0:
        return f"`ip netns add` failed: {created.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def sh(*argv: str, namespace: str | None = None, check: bool = True) -> str:
    command = ["ip", "netns", "exec", namespace, *argv] if namespace else list(argv)
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def sweep_stale() -> None:
    """Delete the namespaces of earlier test processes that are gone (killed before their cleanup)."""
    for line in sh("ip", "netns", "list").splitlines():
        match = re.match(rf"({PREFIX}(\d+)\w*)", line)
        if match and not Path(f"/proc/{match.group(2)}").exists():
            _kill_inside(match.group(1))
            subprocess.run(["ip", "netns", "del", match.group(1)], capture_output=True)


def _kill_inside(namespace: str) -> None:
    for pid in sh("ip", "netns", "pids", namespace, check=False).split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def _die_with_parent() -> None:
    # In the child before exec: SIGKILL when the test process dies, even killed itself (prctl(2)); kept
    # across `ip netns exec`'s exec. Cleanup is then certain with or without down().
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Topology:
    """A client namespace, a balancer namespace and `nodes` node namespaces, wired and routed."""

    def __init__(self, nodes: int = 2) -> None:
        tag = f"{PREFIX}{os.getpid()}"
        self.client = f"{tag}c"
        self.balancer = f"{tag}b"
        self.nodes = [f"{tag}n{index}" for index in range(nodes)]
        self.node_addresses = [f"10.231.{index + 1}.2" for index in range(nodes)]
        self.directory = Path(tempfile.mkdtemp(prefix="multinode-"))
        self.processes: list[subprocess.Popen] = []
        self._bridged: set[tuple[str, int]] = set()

    # --- wiring --------------------------------------------------------------------------------------
    def up(self) -> Topology:
        sweep_stale()
        for namespace in (self.client, self.balancer, *self.nodes):
            sh("ip", "netns", "add", namespace)
            sh("ip", "-n", namespace, "link", "set", "lo", "up")
        self._link(self.client, "dev0", CLIENT_ADDRESS, self.balancer, "dev0", SERVICE_ADDRESS, "10.231.0.0")
        for index, node in enumerate(self.nodes):
            self._link(
                node, "eth0", self.node_addresses[index], self.balancer, f"node{index}", f"10.231.{index + 1}.1", ""
            )
            sh("ip", "-n", node, "route", "add", "default", "via", f"10.231.{index + 1}.1")
        sh("ip", "-n", self.client, "route", "add", "default", "via", SERVICE_ADDRESS)
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", namespace=self.balancer)
        return self

    @staticmethod
    def _link(left: str, left_name: str, left_address: str, right: str, right_name: str, right_address: str, _: str):
        sh("ip", "-n", left, "link", "add", left_name, "type", "veth", "peer", "name", right_name, "netns", right)
        sh("ip", "-n", left, "addr", "add", f"{left_address}/24", "dev", left_name)
        sh("ip", "-n", right, "addr", "add", f"{right_address}/24", "dev", right_name)
        sh("ip", "-n", left, "link", "set", left_name, "up")
        sh("ip", "-n", right, "link", "set", right_name, "up")

    def bridge(self, url: str, namespaces: list[str] | None = None) -> None:
        """Make a TCP service of the root namespace (a DATABASE_URL or REDIS_URL) reachable at the same
        host:port inside the nodes (a UNIX socket path needs nothing: the file system is shared)."""
        parts = urlsplit(url)
        if not parts.hostname or parts.hostname.startswith("/") or parts.scheme.startswith("unix"):
            return
        host, port = parts.hostname, parts.port or {"redis": 6379}.get(parts.scheme, 5432)
        socket_path = self.directory / f"{port}.sock"
        if (host, port) not in self._bridged:
            self.start(None, ["socat", f"UNIX-LISTEN:{socket_path},fork,mode=600", f"TCP:{host}:{port}"])
            wait_until(socket_path.exists, 10, f"socat did not listen on {socket_path}")
            self._bridged.add((host, port))
        for namespace in namespaces or self.nodes:
            listen = f"TCP-LISTEN:{port},bind={host},fork,reuseaddr"
            self.start(namespace, ["socat", listen, f"UNIX-CONNECT:{socket_path}"])

    # --- processes -----------------------------------------------------------------------------------
    def start(
        self, namespace: str | None, argv: list[str], *, env: dict[str, str] | None = None, log: str | None = None
    ) -> subprocess.Popen:
        """A process group of its own in `namespace` (`ip netns exec` execs the command: same pid)."""
        command = ["ip", "netns", "exec", namespace, *argv] if namespace else argv
        output = open(self.directory / log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
        process = subprocess.Popen(
            command,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=_base_dir(),
            preexec_fn=_die_with_parent,
        )
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        path = self.directory / name
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL the process group: a node's death, its workers with it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def down(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                self.kill(process)
        for namespace in (self.client, self.balancer, *self.nodes):
            _kill_inside(namespace)  # a process some command left there (none should be) would keep it
            sh("ip", "netns", "del", namespace, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    def namespaces_left(self) -> list[str]:
        names = sh("ip", "netns", "list")
        return [name for name in (self.client, self.balancer, *self.nodes) if re.search(rf"^{name}\b", names, re.M)]


class NamespaceThread:
    """An asyncio loop in a thread that entered a network namespace: what it opens is in there."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"netns-{namespace}")

    def _run(self) -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            descriptor = os.open(f"/var/run/netns/{self.namespace}", os.O_RDONLY)
            try:
                if libc.setns(descriptor, CLONE_NEWNET) != 0:  # this thread only (setns(2))
                    raise OSError(ctypes.get_errno(), f"setns into {self.namespace}")
            finally:
                os.close(descriptor)
        except BaseException as problem:
            self.failure = problem
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()
        self.loop.close()

    def start(self) -> NamespaceThread:
        self.thread.start()
        self.ready.wait(10)
        if self.failure is not None:
            raise self.failure
        return self

    def call(self, coroutine: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def run(self, function: Callable[..., Any], *args: Any, timeout: float = 60) -> Any:
        """A plain function in the namespace's thread (paho's connect, whose loop thread inherits it)."""

        async def wrapped() -> Any:
            return function(*args)

        return self.call(wrapped(), timeout)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)


def wait_until(condition: Callable[[], Any], timeout: float, message: str | Callable[[], str]) -> Any:
    """Poll `condition` until it is true (returned), failing with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message() if callable(message) else message)
        time.sleep(0.05)


def _base_dir() -> str:
    from portal.env import BASE_DIR

    return str(BASE_DIR)
