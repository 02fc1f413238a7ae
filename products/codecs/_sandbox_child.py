"""The JavaScript sandbox process: V8 isolates (mini-racer) running codec plugins, one per script.

Started by products.codecs.sandbox as `python -I <this file> HEAP_MB [idle]`, never imported by the platform: it
needs only the standard library and py_mini_racer, so a crash of V8 (some allocations abort the whole
process instead of raising, see docs/architecture.md) ends this process and never the caller's.

Protocol, on stdin and stdout: frames of a 4-byte big-endian length and UTF-8 JSON.

    {"op": "load", "key": K, "source": JS, "timeoutMs": T, "maxMemory": M, "logLines": N, "logChars": C}
        -> {"ok": true, "functions": ["decode", ...]}
         | {"ok": false, "error": {"kind": "syntax" | "exception" | "timeout" | "memory", "message": ...}}
    {"op": "run", "key": K, "function": F, "call": MODE, "inputs": [...], "timeoutMs": T, "maxMemory": M}
        -> {"ok": true, "elapsedUs": U, "results": [{"ok": true, "value": V, "logs": [...]}
                                                    | {"ok": false, "error": "...", "logs": [...]}, ...]}
         | {"ok": false, "error": {"kind": "timeout" | "memory" | "not_loaded" | "engine", "message": ...}}
    {"op": "forget", "key": K} -> {"ok": true}

One context (isolate) per script, created here after the process started (a V8 context made before a
fork hangs in the child) and reused; a context that timed out or ran out of memory is retired (closed
in a background thread, because V8 finishes a running builtin before it honours a termination) and made
again on the next load. The results of a run are JSON text built inside V8 and passed through without
being parsed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import sys
import threading
import time
from collections import OrderedDict
from typing import Any

from py_mini_racer import (
    DEFAULT_V8_FLAGS,
    JSEvalException,
    JSOOMException,
    JSParseException,
    JSTimeoutException,
    init_mini_racer,
    mini_racer,
)

MAX_CONTEXTS = 64
_LENGTH = struct.Struct(">I")

# Helpers every context gets before the plugin's own code: console (kept per call), the globals that
# bundled libraries look for (`global`, `self`), and __run, which calls a plugin function over a batch
# of inputs and returns the results as one JSON text, each with what the plugin logged while it ran.
# There is no `module` at first, as in TTN's and ChirpStack's engines: a library bundled in the
# universal module style (`if (typeof module === 'object') module.exports = X; else global.X = X`)
# then becomes the global the codec uses. A script that itself assigns `module.exports` fails with a
# ReferenceError on `module` or `exports`; it is then loaded again, in a new context, with COMMONJS.
PRELUDE = r"""
var __logs = [];
var __LOG_LINES = %(log_lines)d, __LOG_CHARS = %(log_chars)d, __RESULT_CHARS = %(result_chars)d;
var __stringify = JSON.stringify;
function __text(value) {
  if (typeof value === 'string') return value;
  if (value === undefined) return 'undefined';
  try { var text = __stringify(value); return text === undefined ? String(value) : text; }
  catch (e) { return String(value); }
}
function __log() {
  if (__logs.length >= __LOG_LINES) return;
  var parts = [];
  for (var i = 0; i < arguments.length; i++) parts.push(__text(arguments[i]));
  __logs.push(parts.join(' ').slice(0, __LOG_CHARS));
}
var console = {log: __log, info: __log, warn: __log, error: __log, debug: __log, trace: __log};
var global = globalThis, self = globalThis;
function __error(e) {
  if (e instanceof Error) {
    var where = '';
    var match = /<anonymous>:(\d+):(\d+)/.exec(String(e.stack || ''));
    if (match) where = ' (line ' + match[1] + ', column ' + match[2] + ')';
    return String(e.name) + ': ' + String(e.message) + where;
  }
  return 'thrown: ' + __text(e);
}
function __function(name) {
  if (typeof globalThis[name] === 'function') return globalThis[name];
  if (typeof module !== 'object' || module === null || !module.exports) return undefined;
  var fn = module.exports[name];
  if (typeof fn !== 'function' && typeof module.exports === 'function' && name === 'decode') fn = module.exports;
  return fn;
}
function __functions() {
  var names = ['decode', 'encode', 'decodeUplink', 'encodeDownlink', 'Decode', 'Encode', 'Decoder', 'Encoder'];
  return __stringify(names.filter(function (name) { return typeof __function(name) === 'function'; }));
}
function __bytes(hex) {
  var out = new Array(hex.length >> 1);
  for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}
function __call(fn, mode, input) {
  switch (mode) {
    case 'bytes': return fn(__bytes(input));
    case 'cloud':
      if (input && typeof input.request === 'string') input.request = __bytes(input.request);
      return fn(input);
    case 'uplink': return fn({bytes: __bytes(input.hex), fPort: input.fPort, variables: input.variables || {}});
    case 'downlink': return fn({data: input.data, fPort: input.fPort, variables: input.variables || {}});
    case 'v3decode': return fn(input.fPort, __bytes(input.hex), input.variables || {});
    case 'v3encode': return fn(input.fPort, input.data, input.variables || {});
    case 'v2decode':
      // TTN v2: Decoder(bytes, port), then the optional Converter(decoded, port) and Validator(converted, port).
      var decoded = fn(__bytes(input.hex), input.fPort);
      var converter = __function('Converter');
      if (typeof converter === 'function') decoded = converter(decoded, input.fPort);
      var validator = __function('Validator');
      var valid = typeof validator !== 'function' || !!validator(decoded, input.fPort);
      return {data: decoded, valid: valid};
    case 'v2encode': return fn(input.data, input.fPort);
    case 'bytes+ack':
      // The ingress's crossing: decode the uplink, then encode its report ACK (cloudRsp) at once.
      var bytes = __bytes(input);
      var value = fn(bytes);
      var encoder = __function('encode');
      var ack = null, ackError = null;
      if (typeof encoder === 'function') {
        try { ack = encoder({identifier: '0', msgType: 'cloudRsp', request: bytes.slice(), errcode: 0, hasMore: 0}); }
        catch (e) { ackError = __error(e); }
      }
      return {value: value, ack: ack === undefined ? null : ack, ackError: ackError};
  }
  throw new Error('unknown call mode ' + mode);
}
function __run(name, mode, inputs) {
  var fn = __function(name);
  var parts = new Array(inputs.length);
  for (var i = 0; i < inputs.length; i++) {
    __logs = [];
    try {
      if (typeof fn !== 'function') throw new TypeError(name + ' is not a function');
      var value = __call(fn, mode, inputs[i]);
      var text = __stringify(value === undefined ? null : value);
      if (text === undefined) text = 'null';
      if (text.length > __RESULT_CHARS) {
        throw new RangeError('the result is ' + text.length + ' characters of JSON; at most ' +
                             __RESULT_CHARS + ' are accepted');
      }
      parts[i] = '{"ok":true,"value":' + text + ',"logs":' + __stringify(__logs) + '}';
    } catch (e) {
      parts[i] = '{"ok":false,"error":' + __stringify(__error(e)) + ',"logs":' + __stringify(__logs) + '}';
    }
  }
  __logs = [];
  return '[' + parts.join(',') + ']';
}
"""

# Loaded before a script that assigns module.exports itself (CommonJS), in place of the first attempt.
COMMONJS = "var module = {exports: {}}; var exports = module.exports;"
_COMMONJS_NEEDED = ("module is not defined", "exports is not defined")


class Engine:
    """The isolates of this process, one per script key, least recently used first."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="v8-loop", daemon=True).start()
        self.contexts: OrderedDict[str, tuple[Any, Any]] = OrderedDict()

    def _new(self) -> tuple[Any, Any]:
        maker = mini_racer(self.loop)
        return maker, maker.__enter__()

    def retire(self, key: str) -> None:
        entry = self.contexts.pop(key, None)
        if entry is not None:
            # Closing waits for V8 to stop, which it does only after a running builtin returns.
            threading.Thread(target=_close, args=(entry[0],), daemon=True).start()

    def load(self, request: dict[str, Any]) -> dict[str, Any]:
        key = request["key"]
        self.retire(key)
        prelude = PRELUDE % {
            "log_lines": request["logLines"],
            "log_chars": request["logChars"],
            "result_chars": request["resultChars"],
        }
        loaded = self._load(prelude, request)
        if isinstance(loaded, dict) and any(text in loaded["message"] for text in _COMMONJS_NEEDED):
            loaded = self._load(prelude + COMMONJS, request)
        if isinstance(loaded, dict):
            return {"ok": False, "error": loaded}
        maker, context, functions = loaded
        self.contexts[key] = (maker, context)
        while len(self.contexts) > MAX_CONTEXTS:
            self.retire(next(iter(self.contexts)))
        return {"ok": True, "functions": functions}

    def _load(self, prelude: str, request: dict[str, Any]) -> tuple[Any, Any, list[str]] | dict[str, str]:
        """(maker, context, functions) of the script loaded in a new context, or the failure."""
        maker, context = self._new()
        limits = {"timeout_sec": request["timeoutMs"] / 1000, "max_memory": request["maxMemory"]}
        try:
            context.eval(prelude, **limits)
            context.eval(request["source"], **limits)
            functions = json.loads(context.eval("__functions()", **limits))
        except Exception as error:  # everything the script does wrong is an answer, never a crash here
            threading.Thread(target=_close, args=(maker,), daemon=True).start()
            return _failure(error)
        return maker, context, functions

    def run(self, request: dict[str, Any]) -> bytes:
        key = request["key"]
        entry = self.contexts.get(key)
        if entry is None:
            return _dump({"ok": False, "error": {"kind": "not_loaded", "message": "the script is not loaded"}})
        self.contexts.move_to_end(key)
        # JSON with ensure_ascii is a valid JavaScript literal (no raw U+2028 or U+2029 inside strings).
        arguments = json.dumps([request["function"], request["call"], request["inputs"]], separators=(",", ":"))
        code = f"__run.apply(null, {arguments})"
        started = time.perf_counter()
        try:
            results = entry[1].eval(code, timeout_sec=request["timeoutMs"] / 1000, max_memory=request["maxMemory"])
        except Exception as error:
            failure = _failure(error)
            if failure["kind"] in ("timeout", "memory", "engine"):
                self.retire(key)
            return _dump({"ok": False, "error": failure})
        elapsed = int((time.perf_counter() - started) * 1_000_000)
        if not isinstance(results, str):
            self.retire(key)
            return _dump({"ok": False, "error": {"kind": "engine", "message": "no result from the batch"}})
        return f'{{"ok":true,"elapsedUs":{elapsed},"results":{results}}}'.encode()


def _close(maker: Any) -> None:
    with contextlib.suppress(Exception):
        maker.__exit__(None, None, None)


def _failure(error: Exception) -> dict[str, str]:
    if isinstance(error, JSTimeoutException):
        return {"kind": "timeout", "message": "the script ran out of time"}
    if isinstance(error, JSOOMException):
        return {"kind": "memory", "message": "the script ran out of memory"}
    if isinstance(error, JSParseException):
        return {"kind": "syntax", "message": _first_lines(str(error))}
    if isinstance(error, JSEvalException):
        return {"kind": "exception", "message": _first_lines(str(error))}
    return {"kind": "engine", "message": f"{type(error).__name__}: {error}"}


def _first_lines(text: str) -> str:
    """mini-racer's message: `<anonymous>:LINE: Error: text`, the source line, a caret; keep those three."""
    return "\n".join(text.strip("\n").split("\n")[:3])


def _dump(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _read_exactly(stream: Any, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main() -> None:
    # argv[1]: V8's own heap ceiling per isolate in MB, above the per-call limit: a script that
    # slips past the call's limit (inside a builtin) ends this process early instead of growing.
    heap_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    if "idle" in sys.argv[2:]:
        # The quarantine child (products.codecs.sandbox): the lowest CPU priority, before V8 starts its
        # threads (Linux keeps a nice value per thread; new threads inherit it). Not SCHED_IDLE: on a
        # saturated machine that starves the child past its answer deadline, and a killed child costs a
        # restart; nice 19 still yields to every normal process (a weight of 15 against their 1024).
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, 0, 19)
    init_mini_racer(flags=(*DEFAULT_V8_FLAGS, f"--max-old-space-size={heap_mb}"))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Anything printed by accident goes to stderr, never into the protocol.
    sys.stdout = sys.stderr
    engine = Engine()
    while True:
        header = _read_exactly(stdin, 4)
        if header is None:
            return  # the platform's process closed the pipe: it ended, so do we
        body = _read_exactly(stdin, _LENGTH.unpack(header)[0])
        if body is None:
            return
        request = json.loads(body)
        op = request.get("op")
        if op == "load":
            reply = _dump(engine.load(request))
        elif op == "run":
            reply = engine.run(request)
        elif op == "forget":
            engine.retire(request["key"])
            reply = _dump({"ok": True})
        else:
            reply = _dump({"ok": False, "error": {"kind": "engine", "message": f"unknown op {op!r}"}})
        stdout.write(_LENGTH.pack(len(reply)) + reply)
        stdout.flush()


if __name__ == "__main__":
    main()
