"""The one place the ingress meets the codec engine (products.codecs, issue 4).

The pipeline decodes with `decode_batch`: one call per product and batch, which with products.codecs
is `decode_with_acks` (a JavaScript plugin decodes the batch and encodes its ACKs in one crossing).

The agreed API of `products.codecs`: `decode_uplink(product, payload) -> dict` (a deviceReq or a
deviceRsp), `encode_command(product, cloud_req) -> bytes`, `encode_ack(product, uplink, errcode=0,
has_more=0) -> bytes | None` (the cloudRsp ACK, None when the codec has none, F-3.7). The module is
named by INGRESS_CODEC_MODULE (default `products.codecs`), so a test or a deployment can put another
implementation of the same four functions in its place. Whatever the codec raises becomes a
CodecError carrying the codec's own message, which the device log shows (F-3.9). So does an output
PostgreSQL cannot store (a NUL character, a number past 64 bits: applications.guard).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from django.conf import settings

from applications.guard import hostile
from products.models import Product


class CodecError(Exception):
    """Decoding or encoding failed; the message is the codec's own (or says there is no codec).
    `code`: the engine's error code when it gave one (CODEC_JS_TIMEOUT...), else ""."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


_modules: dict[str, ModuleType] = {}


def _backend() -> ModuleType:
    name = settings.INGRESS_CODEC_MODULE
    module = _modules.get(name)
    if module is None:
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            raise CodecError(f"no codec engine: {name} cannot be imported ({error})") from None
        _modules[name] = module
    return module


def decode_uplink(product: Product | None, payload: bytes) -> dict[str, Any]:
    if product is None:
        raise CodecError("the device is not tied to a product (manufacturerId, deviceType, model): no codec")
    backend = _backend()
    try:
        decoded = backend.decode_uplink(product, payload)
    except Exception as error:  # a plugin may raise anything; its message is what the developer needs
        raise CodecError(str(error) or type(error).__name__) from error
    if not isinstance(decoded, dict):
        raise CodecError(f"the codec returned {type(decoded).__name__}, not a JSON object")
    if found := hostile(decoded):  # PostgreSQL would refuse it in the shadow, the history and the log
        raise CodecError(f"the codec's output cannot be stored: {found}")
    return decoded


Decoded = tuple[dict[str, Any] | CodecError, bytes | CodecError | None]


def decode_batch(
    product: Product | None, payloads: Sequence[bytes], *, ports: Sequence[int | None] | None = None
) -> list[Decoded]:
    """Each payload's deviceReq/deviceRsp and its report ACK (cloudRsp, errcode 0), or the CodecError of
    either: the pipeline's one call per product and batch. With `products.codecs` a JavaScript plugin
    does the whole batch's decodes and ACKs in one crossing into V8; a module without
    `decode_with_acks` (a hand-written stand-in) is called payload by payload. `ports`: each payload's
    fPort (products.codecs.ports), for TTN and ChirpStack codecs; None: the manifest's."""
    if product is None:
        error = CodecError("the device is not tied to a product (manufacturerId, deviceType, model): no codec")
        return [(error, None)] * len(payloads)
    backend = _backend()
    batch = getattr(backend, "decode_with_acks", None)
    if batch is None:
        return [_one_by_one(product, payload) for payload in payloads]
    try:
        results = batch(product, payloads) if ports is None else batch(product, payloads, ports=ports)
    except Exception as error:  # no codec, or the engine failed as a whole: every payload gets that
        failed = CodecError(str(error) or type(error).__name__)
        return [(failed, None)] * len(payloads)
    return [(_decoded(first), _wrapped(ack)) for first, ack in results]


def quarantined(product: Product | None) -> bool:
    """Whether the product's codec ran out of its time limit in this process lately (a script in the
    sandbox's quarantine): the pipeline then keeps its uplinks for later decoding. False with a module
    that does not say (a hand-written stand-in)."""
    if product is None:
        return False
    check = getattr(_backend(), "quarantined", None)
    if check is None:
        return False
    try:
        return bool(check(product))
    except Exception:  # the codec's state cannot be read: decode as usual, the batch call will say why
        return False


def javascript_seconds() -> tuple[float, float]:
    """(seconds of JavaScript this thread has run in the codec sandbox so far, the part of them in
    crossings stopped by their time limit) (products.codecs.sandbox); zeros while the module is not
    products.codecs."""
    if settings.INGRESS_CODEC_MODULE != "products.codecs":
        return 0.0, 0.0
    from products.codecs.sandbox import spent_seconds

    return spent_seconds()


def _one_by_one(product: Product, payload: bytes) -> Decoded:
    try:
        decoded = decode_uplink(product, payload)
    except CodecError as error:
        return error, None
    try:
        return decoded, encode_ack(product, payload)
    except CodecError as error:
        return decoded, error


def _decoded(value: Any) -> dict[str, Any] | CodecError:
    if isinstance(value, Exception):
        return CodecError(str(value) or type(value).__name__, getattr(value, "code", "") or "")
    if not isinstance(value, dict):
        return CodecError(f"the codec returned {type(value).__name__}, not a JSON object")
    if found := hostile(value):  # as decode_uplink: else the batch's transaction fails on it
        return CodecError(f"the codec's output cannot be stored: {found}")
    return value


def _wrapped(value: Any) -> bytes | CodecError | None:
    if isinstance(value, Exception):
        return CodecError(str(value) or type(value).__name__)
    return value


def encode_ack(product: Product, uplink: bytes, *, errcode: int = 0, has_more: int = 0) -> bytes | None:
    backend = _backend()
    try:
        return backend.encode_ack(product, uplink, errcode=errcode, has_more=has_more)
    except Exception as error:
        raise CodecError(str(error) or type(error).__name__) from error


def encode_command(product: Product, cloud_req: dict[str, Any]) -> bytes:
    backend = _backend()
    try:
        return backend.encode_command(product, cloud_req)
    except Exception as error:
        raise CodecError(str(error) or type(error).__name__) from error


def has_codec(product: Product | None) -> bool:
    """Whether the product's uplinks go through a codec; without one the device speaks JSON (MQTT)."""
    if product is None:
        return False
    try:
        backend = _backend()
    except CodecError:
        return False
    active = getattr(backend, "active_version", None)
    return active is None or active(product) is not None
