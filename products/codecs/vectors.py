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
codec's vector may give `fPort`.
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
    input: dict[str, Any]
    expected: bytes | None = None
    error: str | None = None


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
        if not isinstance(item.get("input"), dict):
            issues.append(_bad(file, f"{path}.input", "has no input object (a cloudReq or cloudRsp)"))
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
