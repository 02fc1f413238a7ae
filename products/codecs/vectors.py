"""Test vectors: bytes in and the JSON expected out, a command in and the bytes expected out (F-3.8).

    {"decode": [
       {"name": "a report", "payload": "01 00FA 0000", "expected": {"msgType": "deviceReq", ...}},
       {"name": "bad message id", "payload": "FF", "error": "unknown message"}],
     "encode": [
       {"name": "set period", "input": {"msgType": "cloudReq", "serviceId": "Meter", "cmd": "SET_PERIOD",
                                        "paras": {"period": 60}, "mid": 7},
        "expected": "02 0007 003C"},
       {"name": "ack", "input": {"msgType": "cloudRsp", "request": "01 00FA 0000", "errcode": 0},
        "expected": "AAAA0000"}]}

`expected` of a decode vector is what decode returns (for a TTN codec: its `data`); a vector with
`error` instead expects the plugin to refuse the payload with an error containing that text. Hex may
hold spaces; `expected: null` for an encode vector means no bytes (a cloudRsp without ACK). A TTN
codec's vector may give `fPort`, and its encode vectors may give the codec's own input instead of a
cloudReq: `{"data": {...}, "fPort": 2, "expected": "<hex>"}` (what encodeDownlink takes).

The Things Network's example files (`<name>-codec.yaml` in its device repository) become vectors
unchanged (`from_ttn_examples`): each uplinkDecoder example is a decode vector (its `output.data`
expected, or its first `output.errors` entry as the error), each downlinkEncoder example an encode
vector of the codec's own input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from products.codecs.errors import CodecIssue, Raw, issue


@dataclass(frozen=True)
class DecodeVector:
    name: str
    path: str
    payload: bytes
    expected: Any = None
    error: str | None = None
    fport: int | None = None


@dataclass(frozen=True)
class EncodeVector:
    name: str
    path: str
    input: dict[str, Any] | None  # a cloudReq or cloudRsp; None for a TTN codec's own `data`
    expected: bytes | None = None
    error: str | None = None
    data: dict[str, Any] | None = None
    fport: int | None = None


def from_ttn_examples(raw: Any) -> Any:
    """A TTN `*-codec.yaml` (uplinkDecoder, downlinkEncoder examples) as vectors; other shapes as they are,
    so that parse_vectors names what is wrong."""
    if not isinstance(raw, dict) or not ({"uplinkDecoder", "downlinkEncoder"} & raw.keys()):
        return raw
    decode: list[Any] = []
    encode: list[Any] = []
    for section, out in (("uplinkDecoder", decode), ("downlinkEncoder", encode)):
        part = raw.get(section)
        examples = part.get("examples") if isinstance(part, dict) else None
        for position, example in enumerate(examples if isinstance(examples, list) else []):
            if not isinstance(example, dict):
                out.append(example)
                continue
            given = example.get("input") if isinstance(example.get("input"), dict) else {}
            output = example.get("output") if isinstance(example.get("output"), dict) else {}
            vector: dict[str, Any] = {"name": str(example.get("description") or f"{section} #{position + 1}")}
            if "fPort" in given:
                vector["fPort"] = given["fPort"]
            errors = output.get("errors") or []
            if section == "uplinkDecoder":
                vector["payload"] = _bytes_hex(given.get("bytes"))
            else:
                vector["data"] = given.get("data")
                if "fPort" in output and "fPort" not in vector:
                    vector["fPort"] = output["fPort"]
            if errors:
                vector["error"] = str(errors[0] if isinstance(errors, list) else errors)
            elif section == "uplinkDecoder":
                vector["expected"] = output.get("data")
            else:
                vector["expected"] = _bytes_hex(output.get("bytes"))
            out.append(vector)
    return {"decode": decode, "encode": encode}


def _bytes_hex(value: Any) -> Any:
    """TTN's example bytes (a list of 0-255) in hex; anything else as it is, for parse_vectors to name."""
    if isinstance(value, list) and all(isinstance(item, int) and 0 <= item <= 255 for item in value):
        return bytes(value).hex()
    return value


def _hex(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return bytes.fromhex("".join(value.split()))
    except ValueError:
        return None


def _bad(file: str, path: str, problem: str) -> CodecIssue:
    return issue("CODEC_VECTOR_SHAPE", file=file, path=path, problem=Raw(problem))


def parse_vectors(raw: Any, file: str) -> tuple[list[DecodeVector], list[EncodeVector], list[CodecIssue]]:
    decode: list[DecodeVector] = []
    encode: list[EncodeVector] = []
    issues: list[CodecIssue] = []
    if raw is None:
        return decode, encode, issues
    if not isinstance(raw, dict):
        issues.append(_bad(file, "$", 'is not an object {"decode": [...], "encode": [...]}'))
        return decode, encode, issues
    for key in ("decode", "encode"):
        if not isinstance(raw.get(key, []), list):
            issues.append(_bad(file, f"$.{key}", f"{key} is not an array of vectors"))
    for position, item in enumerate(raw.get("decode") or [] if isinstance(raw.get("decode"), list) else []):
        path = f"$.decode[{position}]"
        if not isinstance(item, dict):
            issues.append(_bad(file, path, "is not an object"))
            continue
        name = str(item.get("name") or f"decode #{position + 1}")
        payload = _hex(item.get("payload"))
        if not payload:
            issues.append(_bad(file, f"{path}.payload", "has no payload in hex"))
            continue
        if ("expected" in item) == ("error" in item):
            issues.append(_bad(file, path, 'needs either "expected" or "error"'))
            continue
        error = item.get("error")
        if "error" in item and (not isinstance(error, str) or not error):
            issues.append(_bad(file, f"{path}.error", "has an error that is not text"))
            continue
        port = item.get("fPort")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
            issues.append(_bad(file, f"{path}.fPort", "has an fPort that is not a whole number"))
            continue
        decode.append(DecodeVector(name, path, payload, item.get("expected"), error, port))
    for position, item in enumerate(raw.get("encode") or [] if isinstance(raw.get("encode"), list) else []):
        path = f"$.encode[{position}]"
        if not isinstance(item, dict):
            issues.append(_bad(file, path, "is not an object"))
            continue
        name = str(item.get("name") or f"encode #{position + 1}")
        own = isinstance(item.get("data"), dict) and "input" not in item  # a TTN codec's own input
        if not own and not isinstance(item.get("input"), dict):
            issues.append(_bad(file, f"{path}.input", "has no input object (a cloudReq or cloudRsp)"))
            continue
        port = item.get("fPort")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
            issues.append(_bad(file, f"{path}.fPort", "has an fPort that is not a whole number"))
            continue
        if ("expected" in item) == ("error" in item):
            issues.append(_bad(file, path, 'needs either "expected" or "error"'))
            continue
        expected = None
        if item.get("expected") is not None:
            expected = _hex(item["expected"])
            if expected is None:
                issues.append(_bad(file, f"{path}.expected", "expects something else than hex bytes or null"))
                continue
        error = item.get("error")
        if "error" in item and (not isinstance(error, str) or not error):
            issues.append(_bad(file, f"{path}.error", "has an error that is not text"))
            continue
        if own:
            encode.append(EncodeVector(name, path, None, expected, error, data=item["data"], fport=port))
        else:
            encode.append(EncodeVector(name, path, item["input"], expected, error))
    return decode, encode, issues


def same(expected: Any, actual: Any) -> bool:
    """JSON equality, numbers compared as numbers (1 == 1.0, and 1e-9 relative for fractions)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return expected == actual or math.isclose(expected, actual, rel_tol=1e-9)
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(same(expected[key], actual[key]) for key in expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(same(a, b) for a, b in zip(expected, actual, strict=True))
    return expected == actual
