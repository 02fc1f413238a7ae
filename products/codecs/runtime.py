"""Decoding and encoding for a stored product: which version, its plugin (cached), the profile check.

The functions here are the public API re-exported by `products.codecs` (see its docstring). Which
version to use (the active one, or the one asked for) is one indexed query, remembered for
`CODEC_VERSION_CACHE_SECONDS` per process: a query per uplink would cost more than the decode itself.
This process forgets it at once when it changes a codec (products.codec_actions); other processes
follow within those seconds. The plugin of a version is built once per process and product revision
and kept (`CODEC_CACHE_SIZE` of them); versions never change once stored, so it is never stale.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from products.codecs import shapes
from products.codecs.base import Outcome, Plugin
from products.codecs.engine import ENGINES, OnlinePlugin
from products.codecs.errors import CodecError, Raw, fail
from products.codecs.profile import check_command, check_uplink, index_for

_plugins: OrderedDict[tuple[int, int], tuple[int, Plugin]] = OrderedDict()
# (product pk, version asked for or 0 for the active one) -> (expiry, (version pk, number) or None)
_versions: dict[tuple[int, int], tuple[float, tuple[int, int] | None]] = {}
_lock = threading.Lock()


def build_plugin(version: Any, product: Any) -> Plugin:
    """The plugin of a CodecVersion of a product, made by the engine of its kind."""
    return ENGINES[version.kind](
        definition=version.definition,
        manifest=version.definition,
        source=version.source,
        index=index_for(product),
        max_payload=settings.CODEC_MAX_PAYLOAD_BYTES,
    )


def plugin_for(product: Any, version: int | None = None) -> tuple[int, Plugin]:
    """(version number, plugin) of the product's active codec version, or of version number `version`."""
    found = _version_row(product.pk, version)
    if found is None:
        if version is not None:
            raise fail("CODEC_VERSION_UNKNOWN", value=Raw(version))
        raise fail("CODEC_NONE")
    key = (found[0], product.revision)
    with _lock:
        cached = _plugins.get(key)
        if cached is not None:
            _plugins.move_to_end(key)
            return cached
    from products.models import CodecVersion

    plugin = build_plugin(CodecVersion.objects.get(pk=found[0]), product)
    with _lock:
        _plugins[key] = (found[1], plugin)
        while len(_plugins) > settings.CODEC_CACHE_SIZE:
            _plugins.popitem(last=False)
    return found[1], plugin


def _version_row(product_pk: int, version: int | None) -> tuple[int, int] | None:
    """(pk, number) of the version to use, from the short-lived cache or one query."""
    from products.models import CodecVersion

    key = (product_pk, version or 0)
    now = time.monotonic()
    cached = _versions.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    rows = CodecVersion.objects.filter(codec__product_id=product_pk)
    rows = rows.filter(number=version) if version is not None else rows.filter(active=True)
    found = rows.values_list("pk", "number").first()
    seconds = settings.CODEC_VERSION_CACHE_SECONDS
    if seconds > 0:
        with _lock:
            if len(_versions) > 4 * settings.CODEC_CACHE_SIZE:
                _versions.clear()
            _versions[key] = (now + seconds, found)
    return found


def forget_product(product_pk: int) -> None:
    """Forget which versions a product uses (its codec changed in this process)."""
    with _lock:
        for key in [key for key in _versions if key[0] == product_pk]:
            del _versions[key]


def active_version(product: Any) -> int | None:
    """The number of the product's active codec version; None when it has no codec (JSON uplinks)."""
    from products.models import CodecVersion

    return (
        CodecVersion.objects.filter(codec__product_id=product.pk, active=True).values_list("number", flat=True).first()
    )


def quarantined(product: Any) -> bool:
    """Whether the product's active codec is a script that ran out of time or memory in this process
    lately (products.codecs.sandbox): the ingress keeps such a product's uplinks for later decoding
    rather than make a batch wait for its time limit. False for online codecs and without a codec."""
    try:
        _number, plugin = plugin_for(product)
    except CodecError:
        return False
    key = getattr(plugin, "key", None)
    if key is None:
        return False
    from products.codecs.sandbox import in_quarantine

    return in_quarantine(key)


def _payload(payload: bytes) -> bytes:
    payload = bytes(payload)
    if not payload:
        raise fail("CODEC_DECODE_EMPTY")
    limit = settings.CODEC_MAX_PAYLOAD_BYTES
    if len(payload) > limit:
        raise fail("CODEC_PAYLOAD_TOO_LARGE", size=Raw(len(payload)), limit=Raw(limit))
    return payload


def _checked(product: Any, outcome: Outcome) -> Outcome:
    if outcome.error is None:
        issues = check_uplink(index_for(product), outcome.value)
        if issues:
            return Outcome(error=CodecError(issues, logs=outcome.logs), logs=outcome.logs)
    return outcome


def decode_outcomes(
    product: Any,
    payloads: Sequence[bytes],
    *,
    version: int | None = None,
    check: bool = True,
    ports: Sequence[int | None] | None = None,
    variables: Mapping[str, str] | None = None,
) -> tuple[int, list[Outcome]]:
    """(version used, an Outcome per payload): the value or the error, and the plugin's logs.

    `ports`: the fPort of each payload (None: the codec's default); `variables`: the codec's variables
    for this call (TTN and ChirpStack codecs take both; the others ignore them).
    """
    number, plugin = plugin_for(product, version)
    return number, _decode(product, plugin, payloads, check, ports=ports, variables=variables)


def _decode(
    product: Any,
    plugin: Plugin,
    payloads: Sequence[bytes],
    check: bool,
    *,
    ports: Sequence[int | None] | None = None,
    variables: Mapping[str, str] | None = None,
) -> list[Outcome]:
    ready: list[bytes | None] = []
    early: dict[int, CodecError] = {}
    for position, payload in enumerate(payloads):
        try:
            ready.append(_payload(payload))
        except CodecError as error:
            early[position] = error
            ready.append(None)
    kept = [position for position, payload in enumerate(ready) if payload is not None]
    kept_ports = None if ports is None else [ports[position] for position in kept]
    decoded = iter(
        plugin.decode_many([ready[position] for position in kept], ports=kept_ports, variables=variables)  # type: ignore[misc]
    )
    outcomes = []
    for position, payload in enumerate(ready):
        outcome = Outcome(error=early[position]) if payload is None else next(decoded)
        if outcome.error is not None and not outcome.error.logs:
            outcome.error.logs = outcome.logs
        outcomes.append(_checked(product, outcome) if check else outcome)
    return outcomes


def decode_uplink(
    product: Any,
    payload: bytes,
    *,
    version: int | None = None,
    check: bool = True,
    logs: list[str] | None = None,
) -> dict[str, Any]:
    """The payload as a deviceReq or deviceRsp; CodecError if it cannot be decoded (or breaks the profile)."""
    _number, plugin = plugin_for(product, version)
    if isinstance(plugin, OnlinePlugin):
        # The hot path of online plugins: no batching needed, no logs to collect.
        value = plugin.decode(_payload(payload))
        if check:
            issues = check_uplink(index_for(product), value)
            if issues:
                raise CodecError(issues)
        return value
    outcome = _decode(product, plugin, [payload], check)[0]
    if logs is not None:
        logs.extend(outcome.logs)
    if outcome.error is not None:
        raise outcome.error
    return outcome.value


def decode_many(
    product: Any,
    payloads: Sequence[bytes],
    *,
    version: int | None = None,
    check: bool = True,
    logs: list[list[str]] | None = None,
) -> list[dict[str, Any] | CodecError]:
    """Each payload's deviceReq/deviceRsp or its CodecError, in order; JavaScript decodes in batches."""
    _number, outcomes = decode_outcomes(product, payloads, version=version, check=check)
    if logs is not None:
        logs.extend(outcome.logs for outcome in outcomes)
    return [outcome.error if outcome.error is not None else outcome.value for outcome in outcomes]


def decode_with_acks(
    product: Any,
    payloads: Sequence[bytes],
    *,
    ports: Sequence[int | None] | None = None,
    check: bool = True,
) -> list[tuple[dict[str, Any] | CodecError, bytes | CodecError | None]]:
    """For each payload, in order: its deviceReq/deviceRsp (or CodecError) and its report ACK (the
    cloudRsp bytes with errcode 0, None when the plugin gives none, or CodecError).

    The ingress's one call per batch: a JavaScript plugin decodes and encodes the ACKs of the whole
    batch in the same crossings into V8 (one per CODEC_JS_BATCH_SIZE payloads), where decode_many and
    then encode_ack per uplink would cross twice per uplink.
    """
    _number, plugin = plugin_for(product)
    ready: list[bytes | None] = []
    early: dict[int, CodecError] = {}
    for position, payload in enumerate(payloads):
        try:
            ready.append(_payload(payload))
        except CodecError as error:
            early[position] = error
            ready.append(None)
    kept = [position for position, payload in enumerate(ready) if payload is not None]
    kept_ports = None if ports is None else [ports[position] for position in kept]
    done = iter(plugin.decode_with_acks([ready[position] for position in kept], ports=kept_ports))  # type: ignore[misc]
    results: list[tuple[dict[str, Any] | CodecError, bytes | CodecError | None]] = []
    for position in range(len(payloads)):
        if position in early:
            results.append((early[position], None))
            continue
        decoded, ack = next(done)
        if decoded.error is None and check:
            decoded = _checked(product, decoded)
        first = decoded.error if decoded.error is not None else decoded.value
        results.append((first, ack.error if ack.error is not None else ack.value))
    return results


def encode_outcome(
    product: Any,
    message: Mapping[str, Any],
    *,
    version: int | None = None,
    check: bool = True,
    fport: int | None = None,
    variables: Mapping[str, str] | None = None,
) -> tuple[int, Outcome]:
    """(version used, Outcome) of encoding a cloudReq or cloudRsp (whose request is bytes or hex)."""
    try:
        normal = shapes.cloud_message(message)
    except CodecError as error:
        return 0, Outcome(error=error)
    number, plugin = plugin_for(product, version)
    if normal["msgType"] == "cloudReq" and check:
        issues = check_command(index_for(product), normal)
        if issues:
            return number, Outcome(error=CodecError(issues))
    return number, plugin.encode(normal, fport=fport, variables=variables)


def encode_command(
    product: Any,
    cloud_req: Mapping[str, Any],
    *,
    version: int | None = None,
    check: bool = True,
    logs: list[str] | None = None,
) -> bytes:
    """The bytes of a command (a cloudReq with serviceId, cmd, paras, mid); CodecError if it cannot be encoded."""
    message = {"msgType": "cloudReq", **cloud_req}
    _number, outcome = encode_outcome(product, message, version=version, check=check)
    if logs is not None:
        logs.extend(outcome.logs)
    if outcome.error is not None:
        raise outcome.error
    return outcome.value


def encode_ack(
    product: Any,
    uplink: bytes,
    errcode: int = 0,
    has_more: int = 0,
    *,
    version: int | None = None,
    logs: list[str] | None = None,
) -> bytes | None:
    """The ACK (cloudRsp) the device gets for an uplink, or None when its codec has none (F-3.7)."""
    message = {"msgType": "cloudRsp", "request": bytes(uplink), "errcode": errcode, "hasMore": has_more}
    _number, outcome = encode_outcome(product, message, version=version)
    if logs is not None:
        logs.extend(outcome.logs)
    if outcome.error is not None:
        raise outcome.error
    return outcome.value


def forget_plugins() -> None:
    """Drop every cached plugin and version (tests)."""
    with _lock:
        _plugins.clear()
        _versions.clear()
