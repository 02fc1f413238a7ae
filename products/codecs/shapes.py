"""The OceanConnect codec JSON shapes (shared/reference/northbound-api.md section 7), checked both ways.

What a JavaScript plugin returns is checked and normalised before anything uses it: decode gives a
`deviceReq` (`hasMore`, `data` of `{serviceId, serviceData}`) or a `deviceRsp` (`mid` 1..65535 when
the device echoed it, `errcode`, `hasMore`, `body`), encode an array of byte values. What callers ask
to encode is a `cloudReq` (`serviceId`, `cmd`, `paras`, `mid`, `hasMore`) or a `cloudRsp` (`request`:
the uplink's bytes, `errcode`, `hasMore`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from products.codecs.errors import CodecError, Raw, fail


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _shape(function: str, problem: str, path: str = "$") -> CodecError:
    return fail("CODEC_JS_SHAPE", path=path, function=Raw(function), problem=Raw(problem))


def _flag(value: Any, function: str, path: str) -> int:
    if value is None:
        return 0
    if value in (0, 1) and not isinstance(value, float):
        return int(value)
    raise _shape(function, f"{_kind(value)} {value!r} as hasMore; it is 0 or 1", path)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def uplink(value: Any, function: str = "decode") -> dict[str, Any]:
    """A plugin's decode result as a deviceReq or deviceRsp, or CODEC_JS_SHAPE naming what is wrong."""
    if not isinstance(value, dict):
        raise _shape(function, f"{_kind(value)}, not an object with msgType deviceReq or deviceRsp")
    kind = value.get("msgType")
    result: dict[str, Any] = {}
    if "identifier" in value and value["identifier"] is not None:
        result["identifier"] = str(value["identifier"])
    if kind == "deviceReq":
        result["msgType"] = kind
        result["hasMore"] = _flag(value.get("hasMore"), function, "$.hasMore")
        data = value.get("data")
        if not isinstance(data, list) or not data:
            raise _shape(function, f"{_kind(data)} as data; a deviceReq's data is a non-empty array", "$.data")
        items = []
        for position, item in enumerate(data):
            path = f"$.data[{position}]"
            if not isinstance(item, dict):
                raise _shape(function, f"{_kind(item)} in data; each item is {{serviceId, serviceData}}", path)
            service_id = item.get("serviceId")
            if not isinstance(service_id, str) or not service_id:
                raise _shape(
                    function, f"{_kind(service_id)} as serviceId; it is the service's name", f"{path}.serviceId"
                )
            service_data = item.get("serviceData")
            if not isinstance(service_data, dict):
                problem = f"{_kind(service_data)} as serviceData; it is an object of property values"
                raise _shape(function, problem, f"{path}.serviceData")
            normal = {"serviceId": service_id, "serviceData": service_data}
            event_time = item.get("eventTime")
            if event_time is not None:
                if not isinstance(event_time, str):
                    raise _shape(function, f"{_kind(event_time)} as eventTime; it is text", f"{path}.eventTime")
                normal["eventTime"] = event_time
            items.append(normal)
        result["data"] = items
        return result
    if kind == "deviceRsp":
        result["msgType"] = kind
        mid = value.get("mid")
        if mid is not None and (not _whole(mid) or not 1 <= mid <= 65535):
            raise _shape(function, f"{mid!r} as mid; it is a whole number from 1 to 65535", "$.mid")
        result["mid"] = mid
        errcode = value.get("errcode")
        if not _whole(errcode):
            raise _shape(function, f"{_kind(errcode)} as errcode; a deviceRsp's errcode is a whole number", "$.errcode")
        result["errcode"] = errcode
        result["hasMore"] = _flag(value.get("hasMore"), function, "$.hasMore")
        body = value.get("body", {})
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise _shape(function, f"{_kind(body)} as body; it is an object", "$.body")
        result["body"] = body
        return result
    raise _shape(function, f"msgType {kind!r}; decode returns deviceReq or deviceRsp", "$.msgType")


def payload(value: Any, function: str, *, max_bytes: int, allow_null: bool) -> bytes | None:
    """A plugin's encode result as bytes (None only where no message is a valid answer: no ACK)."""
    if value is None:
        if allow_null:
            return None
        raise fail("CODEC_ENCODE_NOTHING")
    if not isinstance(value, list):
        raise _shape(function, f"{_kind(value)}, not an array of byte values 0 to 255")
    for position, byte in enumerate(value):
        if not _whole(byte) or not 0 <= byte <= 255:
            raise _shape(function, f"{byte!r} at index {position}, not a byte value 0 to 255", f"$[{position}]")
    if len(value) > max_bytes:
        raise _shape(function, f"{len(value)} bytes; a payload may be at most {max_bytes}")
    if not value and not allow_null:
        raise fail("CODEC_ENCODE_NOTHING")
    return bytes(value)


def _input(problem: str, path: str) -> CodecError:
    return fail("CODEC_INPUT_SHAPE", path=path, problem=Raw(problem))


def cloud_message(value: Any) -> dict[str, Any]:
    """A cloudReq or cloudRsp to encode, normalised; CODEC_INPUT_SHAPE names what is wrong.

    A cloudRsp's `request` is the uplink's bytes (`bytes`), or hex text as the API receives it.
    """
    if not isinstance(value, Mapping):
        raise _input(f"The message is {_kind(value)}, not a cloudReq or cloudRsp object", "$")
    kind = value.get("msgType")
    has_more = value.get("hasMore", 0)
    if has_more not in (0, 1) or isinstance(has_more, float):
        raise _input(f"hasMore is {has_more!r}; it is 0 or 1", "$.hasMore")
    if kind == "cloudReq":
        result: dict[str, Any] = {"msgType": kind, "hasMore": int(has_more)}
        for key in ("serviceId", "cmd"):
            text = value.get(key)
            if not isinstance(text, str) or not text:
                raise _input(f"{key} is {_kind(text)}; a cloudReq names the service and the command", f"$.{key}")
            result[key] = text
        paras = value.get("paras", {})
        if paras is None:
            paras = {}
        if not isinstance(paras, Mapping):
            raise _input(f"paras is {_kind(paras)}; it is an object of parameter values", "$.paras")
        result["paras"] = dict(paras)
        mid = value.get("mid")
        if mid is not None and (not _whole(mid) or not 1 <= mid <= 65535):
            raise _input(f"mid is {mid!r}; it is a whole number from 1 to 65535", "$.mid")
        result["mid"] = mid
        if value.get("identifier") is not None:
            result["identifier"] = str(value["identifier"])
        return result
    if kind == "cloudRsp":
        request = value.get("request")
        if isinstance(request, str):
            try:
                request = bytes.fromhex(request)
            except ValueError:
                raise _input("request is not hex bytes", "$.request") from None
        if not isinstance(request, (bytes, bytearray)) or not request:
            raise _input(f"request is {_kind(request)}; a cloudRsp carries the uplink it answers", "$.request")
        errcode = value.get("errcode", 0)
        if not _whole(errcode):
            raise _input(f"errcode is {_kind(errcode)}; it is a whole number", "$.errcode")
        return {
            "identifier": str(value.get("identifier", "0")),
            "msgType": kind,
            "request": bytes(request),
            "errcode": errcode,
            "hasMore": int(has_more),
        }
    raise _input(f"msgType is {kind!r}; encode takes cloudReq or cloudRsp", "$.msgType")


def call_options(value: Any) -> tuple[int | None, dict[str, str] | None]:
    """(fPort, variables) of a decode or encode call (the API's body, the debugger's form), each None
    when not given; CODEC_FPORT or CODEC_VARIABLES names what is wrong."""
    if not isinstance(value, Mapping):
        return None, None
    port = value.get("fPort")
    if port in (None, ""):
        port = None
    elif isinstance(port, str) and port.strip().isdigit():
        port = int(port.strip())
    if port is not None and (not _whole(port) or not 0 <= port <= 255):
        raise fail("CODEC_FPORT", path="$.fPort", value=str(port)[:40])
    variables = value.get("variables")
    if variables is not None and (
        not isinstance(variables, Mapping)
        or not all(isinstance(key, str) and isinstance(text, str) for key, text in variables.items())
    ):
        raise fail("CODEC_VARIABLES", path="$.variables")
    return (None if port is None else int(port)), (None if variables is None else dict(variables))
