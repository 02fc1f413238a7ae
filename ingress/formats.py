"""LwM2M content formats: the bytes of the uplink resource (/19/0/0) out of whatever format carried them.

A device answers a read or sends a notification in the format it prefers (the Content-Format option):
opaque (42), text (0), OMA-TLV (11542), LwM2M JSON (11543), SenML JSON (110), SenML CBOR (112), CBOR (60),
LwM2M CBOR (11544), and the draft numbers pre-1.0 clients still send (1541 text, 1542 TLV, 1543 JSON,
1544 opaque). The codec wants the resource's bytes, so each format is reduced to them here. Opaque
values travel as base64 in the text and JSON formats (LwM2M TS 1.0, appendix C), as raw bytes in TLV, opaque and CBOR.

A multiple-instance resource (/19/0/0 is one) may carry several instances: their values are joined in
instance order, which is what the device would have sent as one opaque value.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import cbor2

OPAQUE = 42
TEXT = 0
TLV = 11542
LWM2M_JSON = 11543
SENML_JSON = 110
SENML_CBOR = 112
CBOR = 60  # LwM2M 1.1: a single resource (instance) value as a CBOR data item
LWM2M_CBOR = 11544  # LwM2M 1.2: nested maps keyed by path components
OLD_TEXT, OLD_TLV, OLD_JSON, OLD_OPAQUE = 1541, 1542, 1543, 1544
LINK_FORMAT = 40

NAMES = {
    OPAQUE: "opaque",
    TEXT: "text",
    TLV: "TLV",
    LWM2M_JSON: "LwM2M JSON",
    SENML_JSON: "SenML JSON",
    SENML_CBOR: "SenML CBOR",
    CBOR: "CBOR",
    LWM2M_CBOR: "LwM2M CBOR",
    OLD_TEXT: "text (1541)",
    OLD_TLV: "TLV (1542)",
    OLD_JSON: "LwM2M JSON (1543)",
    OLD_OPAQUE: "opaque (1544)",
}


class FormatError(ValueError):
    """The payload is not valid in the content format it claims."""


def resource_bytes(content_format: int | None, payload: bytes) -> bytes:
    """The opaque value of the resource a notification or read carried, whatever its format."""
    if content_format in (None, OPAQUE, OLD_OPAQUE):
        return payload
    if content_format in (TEXT, OLD_TEXT):
        return _text(payload)
    if content_format in (TLV, OLD_TLV):
        return b"".join(value for _, value in _tlv_values(payload))
    if content_format in (LWM2M_JSON, OLD_JSON):
        return _lwm2m_json(payload)
    if content_format == SENML_JSON:
        return _senml_json(payload)
    if content_format == SENML_CBOR:
        return _senml_cbor(payload)
    if content_format == CBOR:
        return _cbor(payload)
    if content_format == LWM2M_CBOR:
        return _lwm2m_cbor(payload)
    raise FormatError(f"content format {content_format} is not supported")


def carries_no_instances(content_format: int | None, payload: bytes) -> bool:
    """Whether a read of a multiple-instance resource says it has no instances (yet): an empty TLV, an
    empty SenML array, LwM2M JSON without entries, an empty LwM2M CBOR map. Anjay answers the observe of
    an object 19 resource nobody has written so (SenML CBOR `0x80`): no value, not a broken one."""
    if not payload:
        return True
    try:
        if content_format in (SENML_JSON, LWM2M_JSON, OLD_JSON):
            document = json.loads(payload)
        elif content_format in (SENML_CBOR, LWM2M_CBOR):
            document = cbor2.loads(payload)
        else:
            return False
    except Exception:  # a broken payload is the pipeline's to report
        return False
    if isinstance(document, dict) and content_format in (LWM2M_JSON, OLD_JSON):
        document = document.get("e", document)
    return document in ([], {})


def _b64(text: str, what: str) -> bytes:
    """Standard or URL-safe base64, padded or not (SenML uses base64url without padding)."""
    cleaned = text.strip()
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} is not base64: {cleaned[:40]!r}") from None


def _text(payload: bytes) -> bytes:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("text payload is not UTF-8") from None
    return _b64(text, "text value")


# --- OMA-TLV (LwM2M TS 1.0, 6.4.3) -----------------------------------------------------------
OBJECT_INSTANCE, RESOURCE_INSTANCE, MULTIPLE_RESOURCE, RESOURCE_VALUE = 0, 1, 2, 3


def parse_tlv(data: bytes) -> list[tuple[int, int, Any]]:
    """[(kind, identifier, value)]: value is bytes for a resource (instance), a nested list otherwise."""
    entries = []
    offset = 0
    while offset < len(data):
        start = offset
        header = data[offset]
        offset += 1
        kind = header >> 6
        id_length = 2 if header & 0x20 else 1
        length_type = (header >> 3) & 0x03
        if offset + id_length > len(data):
            raise FormatError(f"TLV truncated in the identifier at byte {start}")
        identifier = int.from_bytes(data[offset : offset + id_length], "big")
        offset += id_length
        if length_type == 0:
            length = header & 0x07
        else:
            if offset + length_type > len(data):
                raise FormatError(f"TLV truncated in the length at byte {start}")
            length = int.from_bytes(data[offset : offset + length_type], "big")
            offset += length_type
        if offset + length > len(data):
            raise FormatError(f"TLV value at byte {start} needs {length} bytes, {len(data) - offset} left")
        value = data[offset : offset + length]
        offset += length
        if kind in (OBJECT_INSTANCE, MULTIPLE_RESOURCE):
            entries.append((kind, identifier, parse_tlv(value)))
        else:
            entries.append((kind, identifier, value))
    return entries


def _tlv_values(payload: bytes) -> list[tuple[int, bytes]]:
    """Every resource (instance) value, depth first, in order."""
    values: list[tuple[int, bytes]] = []

    def walk(entries: list[tuple[int, int, Any]]) -> None:
        for _, identifier, value in entries:
            if isinstance(value, list):
                walk(value)
            else:
                values.append((identifier, value))

    walk(parse_tlv(payload))
    if not values:
        raise FormatError("TLV payload has no resource value")
    return values


def encode_tlv_resource(identifier: int, value: bytes) -> bytes:
    """One resource with a value (used by the simulator and tests)."""
    return _tlv_entry(RESOURCE_VALUE, identifier, value)


def encode_tlv_instance(identifier: int, resources: bytes) -> bytes:
    """An object instance around its resources' TLVs (an object read: /25 of a simulated gateway)."""
    return _tlv_entry(OBJECT_INSTANCE, identifier, resources)


def encode_tlv_multiple(identifier: int, instances: list[bytes]) -> bytes:
    inner = b"".join(_tlv_entry(RESOURCE_INSTANCE, index, value) for index, value in enumerate(instances))
    return _tlv_entry(MULTIPLE_RESOURCE, identifier, inner)


def _tlv_entry(kind: int, identifier: int, value: bytes) -> bytes:
    header = kind << 6
    id_bytes = identifier.to_bytes(2 if identifier > 0xFF else 1, "big")
    if identifier > 0xFF:
        header |= 0x20
    length = len(value)
    if length < 8:
        header |= length
        length_bytes = b""
    else:
        size = 1 if length <= 0xFF else 2 if length <= 0xFFFF else 3
        header |= size << 3
        length_bytes = length.to_bytes(size, "big")
    return bytes([header]) + id_bytes + length_bytes + value


# --- JSON formats ------------------------------------------------------------------------------
def _json(payload: bytes, what: str) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FormatError(f"{what} payload is not JSON: {error}") from None


def _lwm2m_json(payload: bytes) -> bytes:
    document = _json(payload, "LwM2M JSON")
    entries = document.get("e") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise FormatError('LwM2M JSON payload has no "e" entries')
    parts = []
    for entry in entries:
        if not isinstance(entry, dict) or "sv" not in entry:
            raise FormatError('LwM2M JSON entry has no string value "sv" (opaque travels as base64 there)')
        parts.append(_b64(str(entry["sv"]), "LwM2M JSON value"))
    return b"".join(parts)


def _senml_records(records: Any, what: str, value_key: Any) -> bytes:
    if not isinstance(records, list) or not records:
        raise FormatError(f"{what} payload is not a non-empty array of records")
    parts = []
    for record in records:
        if not isinstance(record, dict) or value_key not in record:
            raise FormatError(f"{what} record has no data value")
        parts.append(record[value_key])
    return b"".join(parts)


def _senml_json(payload: bytes) -> bytes:
    records = _json(payload, "SenML JSON")
    if isinstance(records, list):
        records = [
            {**record, "vd": _b64(str(record["vd"]), "SenML vd")}
            if isinstance(record, dict) and "vd" in record
            else record
            for record in records
        ]
    return _senml_records(records, "SenML JSON", "vd")


def _senml_cbor(payload: bytes) -> bytes:
    records = _cbor_loads(payload, "SenML CBOR")
    if isinstance(records, list) and not all(
        isinstance(record, dict) and isinstance(record.get(8), bytes) for record in records
    ):
        raise FormatError("SenML CBOR record has no byte-string data value (label 8, vd)")
    return _senml_records(records, "SenML CBOR", 8)


def _cbor_loads(payload: bytes, what: str) -> Any:
    try:
        return cbor2.loads(payload)
    except Exception as error:  # cbor2 raises several types for broken input
        raise FormatError(f"{what} payload is not CBOR: {error}") from None


def _cbor(payload: bytes) -> bytes:
    """CBOR (60): one value, a byte string for an opaque resource instance (an array of them accepted)."""
    value = _cbor_loads(payload, "CBOR")
    if isinstance(value, bytes):
        return value
    if isinstance(value, list) and value and all(isinstance(item, bytes) for item in value):
        return b"".join(value)
    raise FormatError("CBOR payload is not a byte string (an opaque value)")


def _lwm2m_cbor(payload: bytes) -> bytes:
    """LwM2M CBOR (11544, TS 1.2 7.4.6): maps nested by path component ({19: {0: {0: {0: h'..'}}}}, or a
    key that is an array of components); the byte-string leaves, in path order."""
    document = _cbor_loads(payload, "LwM2M CBOR")
    values: list[tuple[tuple[int, ...], bytes]] = []

    def walk(node: Any, path: tuple[int, ...]) -> None:
        if isinstance(node, bytes):
            values.append((path, node))
            return
        if not isinstance(node, dict):
            raise FormatError("LwM2M CBOR value is not a byte string (an opaque value)")
        for name, child in node.items():
            parts = tuple(name) if isinstance(name, list) else (name,)
            if not all(isinstance(part, int) and part >= 0 for part in parts):
                raise FormatError(f"LwM2M CBOR key {name!r} is not a path component")
            walk(child, path + parts)

    if not isinstance(document, dict):
        raise FormatError("LwM2M CBOR payload is not a map")
    walk(document, ())
    if not values:
        raise FormatError("LwM2M CBOR payload has no resource value")
    return b"".join(value for _, value in sorted(values, key=lambda item: item[0]))


# --- link format (registration payloads) --------------------------------------------------------
def parse_link_format(payload: bytes, *, skip_non_links: bool = False) -> list[dict[str, str]]:
    """`</>;rt="oma.lwm2m";ct=110,</1/0>,</3>;ver=1.1` -> [{"path": "/", "rt": "oma.lwm2m", "ct": "110"}, ...].
    `skip_non_links`: an entry that is not `<path>` is left out, not refused (the `lwm2m="1.0"` a 1.0
    client's Bootstrap-Discover answer starts with)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("registration payload is not UTF-8 link format") from None
    links = []
    for item in _split_outside_quotes(text, ","):
        item = item.strip()
        if not item:
            continue
        parts = _split_outside_quotes(item, ";")
        target = parts[0].strip()
        if not (target.startswith("<") and target.endswith(">")):
            if skip_non_links:
                continue
            raise FormatError(f"link {target[:40]!r} is not <path>")
        link = {"path": target[1:-1]}
        for attribute in parts[1:]:
            name, _, value = attribute.partition("=")
            link[name.strip()] = value.strip().strip('"')
        links.append(link)
    return links


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
