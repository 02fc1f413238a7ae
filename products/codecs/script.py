"""JavaScript plugins in the OceanConnect style: `decode(bytes)` and `encode(obj)`, run in the sandbox.

`decode` takes the payload as an array of integers 0-255 and returns a deviceReq or deviceRsp;
`encode` takes a cloudReq (or a cloudRsp, whose `request` is the uplink as an array of integers) and
returns an array of integers, or null for a cloudRsp the device gets no ACK for (F-3.7).

`call_many` is the batching both this and the TTN adapter use: the payloads go into V8 in batches of
`CODEC_JS_BATCH_SIZE`, each batch given the per-call timeout plus `BATCH_ITEM_MS` per payload. A batch
that fails as a whole (out of time or memory, the engine crashed) is split in halves and each half run
again, down to single payloads, which get the per-call limit: one looping payload costs its own
timeout and a few retries of its neighbours, and every other payload of the batch still decodes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from products.codecs import shapes
from products.codecs.base import Outcome
from products.codecs.errors import CodecError, Raw, fail
from products.codecs.sandbox import Limits, SandboxFailure, get_sandbox, suspect

BATCH_ITEM_MS = 2


def call_many(
    key: str, source: str, function: str, call: str, inputs: Sequence[Any], limits: Limits | None = None
) -> list[dict[str, Any]]:
    """One raw result per input: {"ok": True, "value", "logs"}, {"ok": False, "error", "logs"} (the plugin
    threw), or {"ok": False, "failure": kind, "error"} (the sandbox stopped it)."""
    limits = limits or Limits.from_settings()
    size = settings.CODEC_JS_BATCH_SIZE
    results: list[dict[str, Any]] = []
    for start in range(0, len(inputs), size):
        results += _run(key, source, function, call, list(inputs[start : start + size]), limits, retried=False)
    return results


def _run(
    key: str, source: str, function: str, call: str, chunk: list[Any], limits: Limits, *, retried: bool
) -> list[dict[str, Any]]:
    budget = limits.timeout_ms if len(chunk) == 1 else limits.timeout_ms + BATCH_ITEM_MS * len(chunk)
    try:
        return get_sandbox(key).run(key, source, function, call, chunk, limits, budget_ms=budget).results
    except SandboxFailure as failure:
        if failure.kind in ("timeout", "memory"):
            suspect(key)  # its next crossings run in the quarantine child, not the shared one
        if failure.stage == "load" and failure.kind != "crashed":
            # The script itself does not load: every payload gets that.
            return [{"ok": False, "failure": f"load-{failure.kind}", "error": failure.message}] * len(chunk)
        if len(chunk) == 1:
            if failure.kind in ("crashed", "engine") and not retried:
                # A context retired earlier may have taken the engine down: try this payload once more.
                return _run(key, source, function, call, chunk, limits, retried=True)
            return [{"ok": False, "failure": failure.kind, "error": failure.message}]
        half = len(chunk) // 2
        return _run(key, source, function, call, chunk[:half], limits, retried=retried) + _run(
            key, source, function, call, chunk[half:], limits, retried=retried
        )


def load(key: str, source: str, limits: Limits | None = None) -> list[str]:
    """Load the script and return the plugin functions it defines; CodecError if it does not load."""
    limits = limits or Limits.from_settings()
    try:
        return get_sandbox(key).functions(key, source, limits)
    except SandboxFailure as failure:
        raise load_error(failure.kind, failure.message, limits) from None


def load_error(kind: str, message: str, limits: Limits) -> CodecError:
    kind = kind.removeprefix("load-")
    if kind == "syntax":
        return fail("CODEC_JS_SYNTAX", detail=Raw(message))
    if kind == "timeout":
        return fail("CODEC_JS_LOAD", detail=Raw(f"its top-level code ran longer than {limits.load_timeout_ms} ms"))
    if kind == "memory":
        return fail("CODEC_JS_LOAD", detail=Raw(f"its top-level code used more than {limits.max_memory} bytes"))
    return fail("CODEC_JS_LOAD", detail=Raw(message))


def failure_error(raw: Mapping[str, Any], function: str, limits: Limits | None = None) -> CodecError:
    """The CodecError of one raw result that is not ok."""
    limits = limits or Limits.from_settings()
    logs = raw.get("logs") or []
    kind = raw.get("failure")
    if kind is None:
        return CodecError(
            fail("CODEC_JS_EXCEPTION", function=Raw(function), detail=Raw(raw["error"])).issues, logs=logs
        )
    if kind.startswith("load-"):
        return load_error(kind, raw["error"], limits)
    if kind == "timeout":
        return fail("CODEC_JS_TIMEOUT", function=Raw(function), limit=Raw(limits.timeout_ms))
    if kind == "memory":
        return fail("CODEC_JS_MEMORY", function=Raw(function), limit=Raw(limits.max_memory))
    return fail("CODEC_JS_CRASHED", function=Raw(function), detail=Raw(raw["error"]))


def hex_inputs(payloads: Sequence[bytes]) -> list[str]:
    return [bytes(payload).hex() for payload in payloads]


class ScriptPlugin:
    """A JavaScript plugin with decode(bytes) and encode(obj)."""

    kind = "script"

    def __init__(self, key: str, source: str, limits: Limits | None = None) -> None:
        self.key = key
        self.source = source
        self.limits = limits

    def functions(self) -> list[str]:
        return load(self.key, self.source, self.limits)

    def decode_many(
        self,
        payloads: Sequence[bytes],
        *,
        ports: Sequence[int | None] | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> list[Outcome]:
        # decode(bytes) takes neither a port nor variables.
        outcomes = []
        for raw in call_many(self.key, self.source, "decode", "bytes", hex_inputs(payloads), self.limits):
            logs = raw.get("logs") or []
            if not raw["ok"]:
                outcomes.append(Outcome(error=failure_error(raw, "decode", self.limits), logs=logs))
                continue
            try:
                outcomes.append(Outcome(shapes.uplink(raw["value"], "decode"), logs=logs))
            except CodecError as error:
                error.logs = logs
                outcomes.append(Outcome(error=error, logs=logs))
        return outcomes

    def decode_with_acks(
        self, payloads: Sequence[bytes], *, ports: Sequence[int | None] | None = None
    ) -> list[tuple[Outcome, Outcome]]:
        """decode(bytes) and encode(cloudRsp) of each payload in the same crossing (the ingress's path)."""
        results = []
        for raw in call_many(self.key, self.source, "decode", "bytes+ack", hex_inputs(payloads), self.limits):
            logs = raw.get("logs") or []
            if not raw["ok"]:
                error = failure_error(raw, "decode", self.limits)
                results.append((Outcome(error=error, logs=logs), Outcome(None)))
                continue
            value = raw["value"]
            try:
                decoded = Outcome(shapes.uplink(value["value"], "decode"), logs=logs)
            except CodecError as error:
                error.logs = logs
                decoded = Outcome(error=error, logs=logs)
            if value["ackError"] is not None:
                error = fail("CODEC_JS_EXCEPTION", function=Raw("encode"), detail=Raw(value["ackError"]))
                results.append((decoded, Outcome(error=error, logs=logs)))
                continue
            try:
                ack = shapes.payload(
                    value["ack"], "encode", max_bytes=settings.CODEC_MAX_PAYLOAD_BYTES, allow_null=True
                )
            except CodecError as error:
                results.append((decoded, Outcome(error=error, logs=logs)))
                continue
            results.append((decoded, Outcome(ack, logs=logs)))
        return results

    def encode(
        self, message: Mapping[str, Any], *, fport: int | None = None, variables: Mapping[str, str] | None = None
    ) -> Outcome:
        message = dict(message)
        if message.get("msgType") == "cloudRsp":
            message["request"] = bytes(message["request"]).hex()
        # Round-trip through JSON text, so that what the plugin sees is exactly what JSON can carry.
        raw = call_many(self.key, self.source, "encode", "cloud", [json.loads(json.dumps(message))], self.limits)[0]
        logs = raw.get("logs") or []
        if not raw["ok"]:
            return Outcome(error=failure_error(raw, "encode", self.limits), logs=logs)
        try:
            value = shapes.payload(
                raw["value"],
                "encode",
                max_bytes=settings.CODEC_MAX_PAYLOAD_BYTES,
                allow_null=message.get("msgType") == "cloudRsp",
            )
        except CodecError as error:
            error.logs = logs
            return Outcome(error=error, logs=logs)
        return Outcome(value, logs=logs)
