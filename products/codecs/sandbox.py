"""Running JavaScript plugins: a child process that holds V8 isolates, and the calls into it.

Why a child process: V8 stops a runaway script with a timeout (`JSTimeoutException`) or a heap limit
(`JSOOMException`), and mini-racer keeps the context usable after either; but some allocations
(`new Array(3e8).fill(0)` makes a dictionary larger than V8 allows) abort the whole process with
"Fatal JavaScript out of memory", and a builtin that is running when the timeout fires finishes
before the termination takes effect. A plugin must never harm the platform's process, so the
isolates live in `_sandbox_child.py`, one per script, reused from call to call. If the child dies,
the call gets a clear error and the next call starts a new child; if it does not answer in time
(timeout plus a grace period), it is killed.

The child is started on first use in each process (after any fork: a V8 context created before a fork
hangs in the child), and leaves when its stdin closes, that is when this process ends.

Each call carries its limits: `CODEC_JS_TIMEOUT_MS` of wall time per payload and
`CODEC_JS_MAX_MEMORY` bytes of heap. Payloads are decoded in batches (`run` takes many inputs): one
crossing into V8 costs far more than a decode (shared/reference/device-protocols.md section 7).
Calls from several threads of one process take turns on the one child.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

CHILD = Path(__file__).with_name("_sandbox_child.py")
_LENGTH = struct.Struct(">I")
# What a child that stopped answering gets on top of the call's own time limit before it is killed.
GRACE_MS = 2000


@dataclass(frozen=True)
class Limits:
    """What one call into a plugin may use; from settings unless a caller (the checker) says otherwise."""

    timeout_ms: int
    max_memory: int
    load_timeout_ms: int
    log_lines: int = 50
    log_chars: int = 500
    result_chars: int = 65536

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            timeout_ms=settings.CODEC_JS_TIMEOUT_MS,
            max_memory=settings.CODEC_JS_MAX_MEMORY,
            load_timeout_ms=settings.CODEC_JS_LOAD_TIMEOUT_MS,
        )


class SandboxFailure(Exception):
    """A call that produced no result: `kind` is syntax, exception, timeout, memory, crashed or engine.

    `stage` says whether loading the script failed (every call of it would) or this call did.
    """

    def __init__(self, kind: str, message: str, *, stage: str = "run") -> None:
        self.kind = kind
        self.message = message
        self.stage = stage  # "load": the script itself did not load; "run": this call failed
        super().__init__(f"{kind}: {message}")


_spent = threading.local()


def spent_seconds() -> tuple[float, float]:
    """(seconds of JavaScript this thread has run in the sandbox so far, the part of them spent in
    crossings stopped by their time limit): V8's own time per crossing as the child measures it, the
    whole limit for a crossing stopped by it. The ingress charges the difference around a codec call
    to the application's budget (ingress.budget), so waiting for another thread's crossing is not
    counted, and time limits reached cost more."""
    return getattr(_spent, "seconds", 0.0), getattr(_spent, "timed_out", 0.0)


def _spend(seconds: float, *, timed_out: bool = False) -> None:
    _spent.seconds = getattr(_spent, "seconds", 0.0) + seconds
    if timed_out:
        _spent.timed_out = getattr(_spent, "timed_out", 0.0) + seconds


@dataclass(frozen=True)
class RunResult:
    results: list[dict[str, Any]]
    elapsed_us: int


class Sandbox:
    """The child process of this process, and which scripts it has loaded."""

    def __init__(self, *, idle: bool = False) -> None:
        self.idle = idle  # the child runs at the lowest CPU priority (the quarantine child)
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._owner_pid: int | None = None
        self._loaded: dict[str, list[str]] = {}
        self.starts = 0  # how many children this process started: tests see restarts

    # --- the child -----------------------------------------------------------------------------

    def _alive(self) -> subprocess.Popen[bytes]:
        process = self._process
        if process is not None and self._owner_pid == os.getpid() and process.poll() is None:
            return process
        if process is not None and self._owner_pid == os.getpid():
            self._stop(process)
        # After a fork the parent's child is not ours to use or stop: start our own.
        self._process = subprocess.Popen(
            [sys.executable, "-I", str(CHILD), str(_heap_mb()), *(["idle"] if self.idle else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
        )
        self._owner_pid = os.getpid()
        self._loaded = {}
        self.starts += 1
        return self._process

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        if self._process is process:
            self._process = None
            self._loaded = {}

    def close(self) -> None:
        """Stop the child (at exit, and in tests that want a fresh one)."""
        with self._lock:
            if self._process is not None and self._owner_pid == os.getpid():
                self._stop(self._process)
            self._process = None

    def _exchange(self, request: dict[str, Any], deadline_ms: int) -> dict[str, Any]:
        process = self._alive()
        body = json.dumps(request, separators=(",", ":")).encode()
        try:
            assert process.stdin is not None
            process.stdin.write(_LENGTH.pack(len(body)) + body)
            header = self._read(process, 4, deadline_ms)
            reply = self._read(process, _LENGTH.unpack(header)[0], deadline_ms)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            returncode = process.poll()
            self._stop(process)
            raise SandboxFailure("crashed", _ended(returncode)) from None
        except TimeoutError:
            self._stop(process)
            raise SandboxFailure("timeout", "the JavaScript engine stopped answering and was restarted") from None
        return json.loads(reply)

    @staticmethod
    def _read(process: subprocess.Popen[bytes], size: int, deadline_ms: int) -> bytes:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        deadline = time.monotonic() + deadline_ms / 1000
        chunks: list[bytes] = []
        missing = size
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while missing:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    raise TimeoutError
                chunk = os.read(fd, min(missing, 1 << 20))
                if not chunk:
                    raise EOFError
                chunks.append(chunk)
                missing -= len(chunk)
        return b"".join(chunks)

    # --- scripts ------------------------------------------------------------------------------------

    def _load(self, key: str, source: str, limits: Limits) -> list[str]:
        request = {
            "op": "load",
            "key": key,
            "source": source,
            "timeoutMs": limits.load_timeout_ms,
            "maxMemory": limits.max_memory,
            "logLines": limits.log_lines,
            "logChars": limits.log_chars,
            "resultChars": limits.result_chars,
        }
        reply = self._exchange(request, limits.load_timeout_ms + GRACE_MS + _START_MS)
        if not reply["ok"]:
            raise SandboxFailure(reply["error"]["kind"], reply["error"]["message"], stage="load")
        self._loaded[key] = reply["functions"]
        return reply["functions"]

    def functions(self, key: str, source: str, limits: Limits) -> list[str]:
        """The plugin functions the script defines (decode, encode, decodeUplink...), loading it if needed."""
        with self._lock:
            self._alive()
            if key in self._loaded:
                return self._loaded[key]
            return self._load(key, source, limits)

    def run(
        self, key: str, source: str, function: str, call: str, inputs: list[Any], limits: Limits, *, budget_ms: int
    ) -> RunResult:
        """Call `function` of the script once per input, in one crossing; `budget_ms` bounds the whole batch.

        Raises SandboxFailure when the batch as a whole failed (out of time or memory, the child
        crashed); a plugin's own exception for one input is that input's result instead.
        """
        request = {
            "op": "run",
            "key": key,
            "function": function,
            "call": call,
            "inputs": inputs,
            "timeoutMs": budget_ms,
            "maxMemory": limits.max_memory,
        }
        with self._lock:
            for _attempt in range(2):
                self._alive()
                if key not in self._loaded:
                    self._load(key, source, limits)
                try:
                    reply = self._exchange(request, budget_ms + GRACE_MS)
                except SandboxFailure as failure:
                    if failure.kind == "timeout":
                        _spend(budget_ms / 1000, timed_out=True)
                    raise
                if reply["ok"]:
                    _spend(reply["elapsedUs"] / 1_000_000)
                    return RunResult(reply["results"], reply["elapsedUs"])
                error = reply["error"]
                if error["kind"] == "timeout":
                    _spend(budget_ms / 1000, timed_out=True)
                if error["kind"] != "not_loaded":
                    if error["kind"] in ("timeout", "memory", "engine"):
                        self._loaded.pop(key, None)  # the child retired that context
                    raise SandboxFailure(error["kind"], error["message"])
                self._loaded.pop(key, None)
            raise SandboxFailure("engine", "the script could not be loaded")

    def forget(self, key: str) -> None:
        with self._lock:
            if key in self._loaded and self._process is not None:
                self._loaded.pop(key)
                self._exchange({"op": "forget", "key": key}, GRACE_MS)


# Starting the child (a Python interpreter importing mini-racer) takes a few hundred milliseconds.
_START_MS = 5000


def _heap_mb() -> int:
    # Four times the per-call limit, at least 128 MB: V8's own ceiling, a backstop behind the limit.
    return max(128, 4 * settings.CODEC_JS_MAX_MEMORY // (1024 * 1024))


def _ended(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"the JavaScript engine ended with signal {name} (V8 aborts on some out-of-memory cases)"
    return f"the JavaScript engine ended (exit status {returncode})"


# A script whose crossing ran out of time or memory runs in a second child for QUARANTINE_SECONDS
# after, so that a looping codec (within its application's budget, ingress.budget) holds only that
# child for its time limit, never the one every well-behaved codec of this process shares. That child
# runs at the lowest CPU priority (nice 19, `_sandbox_child.py`): a looping script takes only the CPU
# no other process wants. The ingress does not run a quarantined script on its uplink path at all
# (`in_quarantine`, ingress.pipeline): it keeps those uplinks for the later decoding.
QUARANTINE_SECONDS = 600
_sandbox = Sandbox()
_quarantine = Sandbox(idle=True)
_suspects: OrderedDict[str, float] = OrderedDict()  # script key -> monotonic time it leaves quarantine
_suspects_lock = threading.Lock()
atexit.register(_sandbox.close)
atexit.register(_quarantine.close)


def get_sandbox(key: str | None = None) -> Sandbox:
    """The child that runs script `key`: the shared one, or the quarantine one for a script that ran out
    of time or memory in the last QUARANTINE_SECONDS. Without a key, the shared one."""
    if key is not None and _suspects:
        with _suspects_lock:
            until = _suspects.get(key)
            if until is not None:
                if until > time.monotonic():
                    return _quarantine
                del _suspects[key]
    return _sandbox


def in_quarantine(key: str) -> bool:
    """Whether script `key` ran out of time or memory in this process in the last QUARANTINE_SECONDS."""
    if not _suspects:
        return False
    with _suspects_lock:
        until = _suspects.get(key)
        return until is not None and until > time.monotonic()


def suspect(key: str) -> None:
    """Put a script in quarantine (its crossing ran out of time or memory)."""
    with _suspects_lock:
        _suspects[key] = time.monotonic() + QUARANTINE_SECONDS
        _suspects.move_to_end(key)
        while len(_suspects) > 10_000:
            _suspects.popitem(last=False)
