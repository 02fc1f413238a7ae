"""Standard LwM2M objects without a codec: the values a device reports on mapped paths, read by the
object's definition from every content format, and turned into the profile's service data.

The product's mapping (products.lwm2m_mapping) says which /object/instance/resource carries which
property. A notification, a read's answer or a Send (`/dp`) is reduced here to `{path: value}` typed by
the resource's definition (the registry's, or the product's own DDF), then to a deviceReq, which the
pipeline stores exactly as it stores a codec's output (ingress.pipeline, devices.reports.service_reports).

Formats: text (0), opaque (42, for Opaque resources), TLV (11542; 1542), LwM2M JSON (11543; 1543),
SenML JSON (110), SenML CBOR (112), CBOR (60), LwM2M CBOR (11544).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import math
import struct
from collections.abc import Mapping
from typing import Any

from applications.formats import format_time
from ingress import formats
from ingress.formats import FormatError
from products import lwm2m_objects

Path = tuple[int, ...]

# SenML labels (RFC 8428, 6) as CBOR integers, and the LwM2M object link (TS 1.1, 7.4.4).
SENML_CBOR_LABELS = {-2: "bn", -3: "bt", 0: "n", 2: "v", 3: "vs", 4: "vb", 8: "vd", 6: "t"}


def parse_path(text: str) -> Path:
    parts = [part for part in text.strip().split("/") if part]
    try:
        path = tuple(int(part) for part in parts)
    except ValueError:
        raise FormatError(f"{text!r} is not an LwM2M path") from None
    if not 1 <= len(path) <= 4 or any(not 0 <= part <= 65535 for part in path):
        raise FormatError(f"{text!r} is not an LwM2M path")
    return path


def path_text(path: Path) -> str:
    return "/" + "/".join(str(part) for part in path)


def _resource(path: Path, own: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if len(path) < 3:
        return None
    definition = lwm2m_objects.definition(path[0], dict(own or {}))
    resource = None if definition is None else definition["resources"].get(str(path[2]))
    return resource if resource is not None and resource["type"] else None  # an executable has no value


def _from_bytes(kind: str, raw: bytes, where: str) -> Any:
    """A TLV (or opaque) value by its resource type (TS 1.1, appendix C)."""
    if kind in ("Integer", "Time"):
        if len(raw) not in (1, 2, 4, 8):
            raise FormatError(f"{where}: an Integer is 1, 2, 4 or 8 bytes in TLV, not {len(raw)}")
        return int.from_bytes(raw, "big", signed=True)
    if kind == "Unsigned Integer":
        if len(raw) not in (1, 2, 4, 8):
            raise FormatError(f"{where}: an Unsigned Integer is 1, 2, 4 or 8 bytes in TLV, not {len(raw)}")
        return int.from_bytes(raw, "big")
    if kind == "Float":
        if len(raw) == 4:
            return struct.unpack(">f", raw)[0]
        if len(raw) == 8:
            return struct.unpack(">d", raw)[0]
        raise FormatError(f"{where}: a Float is 4 or 8 bytes in TLV, not {len(raw)}")
    if kind == "Boolean":
        if raw not in (b"\x00", b"\x01"):
            raise FormatError(f"{where}: a Boolean is one byte 0 or 1 in TLV")
        return raw == b"\x01"
    if kind == "Objlnk":
        if len(raw) != 4:
            raise FormatError(f"{where}: an Objlnk is 4 bytes in TLV")
        return f"{int.from_bytes(raw[:2], 'big')}:{int.from_bytes(raw[2:], 'big')}"
    if kind == "Opaque":
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{where}: a {kind} value is not UTF-8") from None


def _from_text(kind: str, text: str, where: str) -> Any:
    try:
        if kind in ("Integer", "Unsigned Integer", "Time"):
            return int(text.strip())
        if kind == "Float":
            return float(text.strip())
    except ValueError:
        raise FormatError(f"{where}: {text[:40]!r} is not a {kind}") from None
    if kind == "Boolean":
        if text.strip() not in ("0", "1"):
            raise FormatError(f"{where}: a Boolean is 0 or 1 in text")
        return text.strip() == "1"
    if kind == "Opaque":
        return formats._b64(text, where)
    return text


def _typed(kind: str, value: Any, where: str) -> Any:
    """A JSON or CBOR value checked against the resource type."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("Integer", "Unsigned Integer", "Time"):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if kind == "Time" and isinstance(value, dt.datetime):
            return int(value.timestamp())
        if not isinstance(value, int) or isinstance(value, bool):
            raise FormatError(f"{where}: {value!r} is not a whole number ({kind})")
        return value
    if kind == "Float":
        if not numeric or not math.isfinite(value):
            raise FormatError(f"{where}: {value!r} is not a number (Float)")
        return float(value)
    if kind == "Boolean":
        if not isinstance(value, bool):
            raise FormatError(f"{where}: {value!r} is not a Boolean")
        return value
    if kind == "Opaque":
        if isinstance(value, str):
            return formats._b64(value, where)
        if not isinstance(value, bytes):
            raise FormatError(f"{where}: an Opaque value is a byte string")
        return value
    if not isinstance(value, str):
        raise FormatError(f"{where}: {value!r} is not a string ({kind})")
    return value


def _tlv(entries: list, base: Path, out: dict[Path, Any], own: Mapping[str, Any] | None, object_id: int) -> None:
    for kind, identifier, value in entries:
        if kind == formats.OBJECT_INSTANCE:
            _tlv(value, (object_id, identifier), out, own, object_id)
        elif kind == formats.MULTIPLE_RESOURCE:
            _tlv(value, (*base, identifier), out, own, object_id)
        else:
            path = (*base, identifier)
            resource = _resource(path, own)
            if resource is not None:
                out[path] = _from_bytes(resource["type"], value, path_text(path))


def _senml(records: Any, what: str, own: Mapping[str, Any] | None) -> dict[Path, Any]:
    if not isinstance(records, list):
        raise FormatError(f"{what} payload is not an array of records")
    out: dict[Path, Any] = {}
    base_name = ""
    for record in records:
        if not isinstance(record, dict):
            raise FormatError(f"{what} record is not a map")
        base_name = record.get("bn", base_name)
        name = record.get("n", "")
        if not isinstance(base_name, str) or not isinstance(name, str):
            raise FormatError(f"{what} record's name is not a string")
        path = parse_path(base_name + name)
        resource = _resource(path, own)
        present = [key for key in ("v", "vs", "vb", "vd", "vlo") if key in record]
        if resource is None or not present:
            continue  # an unknown resource, or a record without a value (a read of an empty instance)
        out[path] = _typed(resource["type"], record[present[0]], path_text(path))
    return out


def read_values(
    content_format: int | None, payload: bytes, path: str, own: Mapping[str, Any] | None = None
) -> dict[Path, Any]:
    """`{(object, instance, resource[, instance]): value}` of what the device sent for `path` (what was
    observed or read; "/" for a composite answer or a Send). Values of resources that have no definition
    are left out; a value that does not fit its resource's type is a FormatError naming the path."""
    base = parse_path(path) if path.strip("/") else ()
    if content_format in (formats.TLV, formats.OLD_TLV):
        out: dict[Path, Any] = {}
        if not base:
            raise FormatError("TLV needs the path it answers")
        entries = formats.parse_tlv(payload)
        if len(base) >= 3 and len(entries) == 1 and entries[0][0] == formats.RESOURCE_VALUE:
            resource = _resource(base, own)
            if resource is not None:
                out[base[:3]] = _from_bytes(resource["type"], entries[0][2], path)
            return out
        _tlv(entries, base[:2] if len(base) >= 2 else (base[0],), out, own, base[0])
        return out
    if content_format in (formats.SENML_JSON, formats.LWM2M_JSON, formats.OLD_JSON):
        document = formats._json(payload, formats.NAMES.get(content_format, "JSON"))
        if content_format != formats.SENML_JSON:
            # LwM2M JSON (1.0): {"bn": "/3303/0/", "e": [{"n": "5700", "v": 21.5}, {"n": "5701", "sv": "Cel"}]}
            if not isinstance(document, dict) or not isinstance(document.get("e"), list):
                raise FormatError('LwM2M JSON payload has no "e" entries')
            renamed = {"sv": "vs", "bv": "vb", "ov": "vlo"}
            records = [
                {renamed.get(key, key): value for key, value in entry.items()}
                for entry in document["e"]
                if isinstance(entry, dict)
            ]
            if records:
                records[0]["bn"] = str(document.get("bn", path if path.endswith("/") else path + "/"))
            document = records
        return _senml(document, "SenML JSON", own)
    if content_format == formats.SENML_CBOR:
        document = formats._cbor_loads(payload, "SenML CBOR")
        if not isinstance(document, list):
            raise FormatError("SenML CBOR payload is not an array of records")
        records = [
            {SENML_CBOR_LABELS.get(key, key): value for key, value in record.items()}
            if isinstance(record, dict)
            else record
            for record in document
        ]
        return _senml(records, "SenML CBOR", own)
    if content_format == formats.LWM2M_CBOR:
        return _lwm2m_cbor(payload, own)
    if len(base) < 3:
        raise FormatError(
            f"{formats.NAMES.get(content_format, content_format)} carries one resource; {path} is not one"
        )
    resource = _resource(base, own)
    if resource is None:
        return {}
    kind = resource["type"]
    if content_format in (None, formats.TEXT, formats.OLD_TEXT):
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"{path}: the text value is not UTF-8") from None
        return {base[:3]: _from_text(kind, text, path)}
    if content_format in (formats.OPAQUE, formats.OLD_OPAQUE):
        if kind != "Opaque":
            raise FormatError(f"{path}: opaque content for a {kind} resource")
        return {base[:3]: payload}
    if content_format == formats.CBOR:
        return {base[:3]: _typed(kind, formats._cbor_loads(payload, "CBOR"), path)}
    raise FormatError(f"content format {content_format} is not supported")


def _lwm2m_cbor(payload: bytes, own: Mapping[str, Any] | None) -> dict[Path, Any]:
    document = formats._cbor_loads(payload, "LwM2M CBOR")
    if not isinstance(document, dict):
        raise FormatError("LwM2M CBOR payload is not a map")
    out: dict[Path, Any] = {}

    def walk(node: Any, path: Path) -> None:
        if isinstance(node, dict):
            for name, child in node.items():
                parts = tuple(name) if isinstance(name, list) else (name,)
                if not all(isinstance(part, int) and part >= 0 for part in parts):
                    raise FormatError(f"LwM2M CBOR key {name!r} is not a path component")
                walk(child, path + parts)
            return
        resource = _resource(path, own)
        if resource is not None and len(path) >= 3:
            out[path] = _typed(resource["type"], node, path_text(path))

    walk(document, ())
    return out


def _property_value(data_type: str, value: Any) -> Any:
    """A resource's value as the profile's property holds it."""
    if isinstance(value, bytes):
        value = base64.b64encode(value).decode()
    if data_type == "int":
        return int(value)
    if data_type in ("decimal", "double"):
        return float(value)
    if data_type == "DateTime":
        return format_time(dt.datetime.fromtimestamp(int(value), tz=dt.UTC))
    if data_type == "string":
        if isinstance(value, bool):
            return "1" if value else "0"
        return str(value)
    return value


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a product's mapping and profile say about its values, worked out once per product and batch (the
    pipeline loads each product once per batch; the plan rides on that instance): the mapped paths in the
    mapping's order with their service, property and dataType, and each service's mapped properties."""

    mapping: Any
    profile: Any
    own: Mapping[str, Any] | None
    entries: tuple[tuple[Path, str, str, str], ...]  # (path, serviceId, property, dataType), declared ones only
    mapped: Mapping[str, frozenset[str]]  # serviceId -> its mapped properties (declared or not)


def plan(product: Any) -> Plan | None:
    """The product's Plan (None without a mapping), built on first use and kept on the product instance."""
    mapping = product.lwm2m_mapping if product is not None else None
    if not mapping:
        return None
    known = product.__dict__.get("_lwm2m_plan")
    if known is not None and known.mapping is mapping and known.profile is product.profile:
        return known
    by_type = {service["serviceType"]: service for service in product.profile["services"]}
    types = {item["serviceId"]: item["serviceType"] for item in product.profile["device"]["serviceTypeCapabilities"]}
    entries = []
    mapped: dict[str, set[str]] = {}
    for entry in mapping.get("properties", []):
        mapped.setdefault(entry["serviceId"], set()).add(entry["property"])
        declared = {
            item["propertyName"]: item
            for item in by_type.get(types.get(entry["serviceId"], ""), {}).get("properties", [])
        }
        if entry["property"] not in declared:
            continue  # the profile changed under the mapping: the profile wins
        path = tuple(int(part) for part in entry["path"].strip("/").split("/"))
        entries.append((path, entry["serviceId"], entry["property"], declared[entry["property"]]["dataType"]))
    built = Plan(
        mapping=mapping,
        profile=product.profile,
        own=mapping.get("definitions"),
        entries=tuple(entries),
        mapped={service: frozenset(names) for service, names in mapped.items()},
    )
    product.__dict__["_lwm2m_plan"] = built
    return built


def device_req(product: Any, values: Mapping[Path, Any]) -> dict[str, Any] | None:
    """The deviceReq the mapped values make (None when no value is mapped): one data item per service,
    in the mapping's order, each with the properties the values carry."""
    planned = plan(product)
    if planned is None or not values:
        return None
    services: dict[str, dict[str, Any]] = {}
    for path, service_id, name, data_type in planned.entries:
        if path in values:
            services.setdefault(service_id, {})[name] = _property_value(data_type, values[path])
    if not services:
        return None
    return {
        "msgType": "deviceReq",
        "data": [{"serviceId": service_id, "serviceData": data} for service_id, data in services.items()],
    }


def decode(device: Any, content_format: int | None, payload: bytes, path: str) -> dict[str, Any]:
    """The deviceReq of a mapped uplink of `device` (its product loaded), or FormatError saying why there is none.

    A notification of one path carries one property, and a service's data in the shadow is replaced as a
    whole (devices.actions.do_store_reports): each service's other mapped properties keep the values the
    shadow holds, so the service data stays complete. The device's in-memory shadow follows, so the next
    uplink of the same batch builds on this one. The product's mapping is read once per batch (plan)."""
    planned = plan(device.product)
    values = read_values(content_format, payload, path, planned.own if planned is not None else None)
    request = device_req(device.product, values)
    if request is None:
        shown = ", ".join(path_text(one) for one in values) or "no resource value"
        raise FormatError(f"{path}: nothing mapped to the profile ({shown})")
    shadow = device.shadow if isinstance(device.shadow, dict) else {}
    for item in request["data"]:
        service = shadow.get(item["serviceId"])
        known = service.get("data") if isinstance(service, dict) else None
        names = planned.mapped.get(item["serviceId"], frozenset())
        kept = {name: value for name, value in (known or {}).items() if name in names}
        item["serviceData"] = {**kept, **item["serviceData"]}
        shadow.setdefault(item["serviceId"], {})
        if isinstance(shadow[item["serviceId"]], dict):
            shadow[item["serviceId"]]["data"] = dict(item["serviceData"])
    return request
