"""Codec plugins: the product's bytes to JSON and back (issue 4, F-3.1 to F-3.10).

The public API, for the ingress, the devices app (replay, logs) and commands, who need not know what
kind of plugin a product has:

    decode_uplink(product, payload: bytes, *, version=None, check=True, logs=None) -> dict
        The payload as a deviceReq (`{"msgType": "deviceReq", "hasMore": 0, "data": [{"serviceId",
        "serviceData"}]}`) or a deviceRsp (`{"msgType": "deviceRsp", "mid", "errcode", "hasMore",
        "body"}`), shapes of shared/reference/northbound-api.md section 7. With `check` (the default)
        the values are checked against the profile's services, types and ranges too. Pass a list as
        `logs` to receive what a JavaScript plugin printed with console.log (F-3.9).

    decode_many(product, payloads, *, version=None, check=True, logs=None) -> list[dict | CodecError]
        The same for many payloads at once, in order, each its result or its error; JavaScript
        plugins decode them in batches (one crossing into V8 per CODEC_JS_BATCH_SIZE payloads).
        `logs`, if given, receives one list of lines per payload.

    decode_with_acks(product, payloads, *, ports=None, check=True) -> list[(dict | CodecError, bytes | None)]
        The ingress's call: each payload's decode (checked against the profile) and its report ACK
        (cloudRsp, errcode 0; a CodecError in its place when that fails), a JavaScript plugin doing
        both for the whole batch in one crossing.

    encode_command(product, cloud_req: dict, *, version=None, check=True, logs=None) -> bytes
        A command's bytes from a cloudReq (`serviceId`, `cmd`, `paras`, `mid` 1..65535, `hasMore`);
        with `check`, the paras are checked against the profile first (F-5.9).

    encode_ack(product, uplink: bytes, errcode=0, has_more=0, *, version=None, logs=None) -> bytes | None
        The report ACK (cloudRsp) for an uplink, or None when the plugin gives none (F-3.7).

    active_version(product) -> int | None
        The active version's number; None when the product has no codec (its uplinks are JSON).

    quarantined(product) -> bool
        Whether the active codec is a script that ran out of its time or memory limit in this process
        in the last few minutes (sandbox.QUARANTINE_SECONDS): the ingress then keeps its uplinks
        undecoded for the later decoding instead of waiting for the limit again.

`version=N` uses that version of the product's codec instead of the active one: replaying stored
uplinks through a new version before activating it. Every refusal is one exception type, `CodecError`:
`code` (documented in docs/errors.md), `message_name`, `field` and `offset` (the byte) for payloads an
online plugin cannot decode, `detail` for a JavaScript plugin's own error message, `issues` for all
of them, `logs` for what the plugin printed before it failed. A product without an active codec
raises CodecError with code CODEC_NONE.

Inside: `online` (the builder's document and its deploy rules), `fields` (the field types), `engine`
(online plugins compiled to Python, and the registry of plugin kinds), `sandbox` (the V8 child
process), `script` and `ttn` (JavaScript plugins), `shapes` (the JSON shapes), `profile` (checks
against the profile), `package`, `vectors` and `checker` (offline plugins, F-3.8), `runtime`.
"""

from __future__ import annotations

from typing import Any

from products.codecs.errors import CodecError, CodecIssue

__all__ = [
    "CodecError",
    "CodecIssue",
    "active_version",
    "decode_many",
    "decode_uplink",
    "decode_with_acks",
    "encode_ack",
    "encode_command",
    "quarantined",
]

_RUNTIME = (
    "active_version",
    "decode_many",
    "decode_uplink",
    "decode_with_acks",
    "encode_ack",
    "encode_command",
    "quarantined",
)


def __getattr__(name: str) -> Any:
    # The runtime needs Django's models; importing it lazily keeps `products.codecs.<module>` usable
    # (the bench, the sandbox's tests) before the app registry is ready.
    if name in _RUNTIME:
        from products.codecs import runtime

        value = getattr(runtime, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
