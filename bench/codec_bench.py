"""Codecs: decode and encode of a 6-field, 20-byte message, next to a hand-written decoder, in one run.

The message (big-endian, F-1.4): messageId uint8 (0x01), reading uint16, temperature int16, volume
uint32, flow int32, label string of 7 ASCII bytes: 20 bytes, 6 fields. Its command twin: messageId
uint8 (0x02), mid uint16, reading, temperature, volume and a 9-byte label: also 20 bytes, 6 fields.

What it measures, each as messages per second, the median of several interleaved rounds, and its
ratio to the baseline measured in the same round (the median of those ratios):

1. the baseline: a hand-written decoder, `struct.Struct.unpack` plus building the very same deviceReq
   dict the codec returns (with the messageId check and the ASCII label the online plugin does too),
   and a hand-written encoder, `struct.Struct.pack` of the cloudReq's paras;
2. the compiled engine (`products.codecs.engine`): the online plugin of that layout, compiled once,
   decoding and encoding; and decoding followed by the check against the profile's types and ranges
   that `decode_uplink` adds;
3. a JavaScript plugin of the same layout (OceanConnect style, `decode(bytes)`/`encode(obj)`) in the
   sandbox process: decoding in batches of CODEC_JS_BATCH_SIZE (`decode_many`, the ingress's path), one
   payload per call for contrast, and encoding one command per call.

Every result is checked equal to the hand-written one before it is timed. Targets (issue 4): the
compiled engine at least 80% of the hand-written decoder; JavaScript at least 20,000 decodes/s.

Run it (no database is touched; the settings need the two URLs all the same):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/codec_bench.py [--seconds 0.25] [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))  # `python bench/codec_bench.py` puts bench/ first, not the project

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from products.codecs.engine import compile_definition  # noqa: E402
from products.codecs.online import check_definition  # noqa: E402
from products.codecs.package import script_key  # noqa: E402
from products.codecs.profile import ProfileIndex, check_uplink  # noqa: E402
from products.codecs.sandbox import get_sandbox  # noqa: E402
from products.codecs.script import ScriptPlugin  # noqa: E402

PAYLOAD = struct.pack(">BHhIi7s", 1, 1234, -105, 987654, -4321, b"METER01")
CLOUD_REQ = {
    "msgType": "cloudReq",
    "serviceId": "Meter",
    "cmd": "SET_CONFIG",
    "paras": {"reading": 1234, "temperature": -105, "volume": 987654, "label": "METER01"},
    "mid": 4242,
    "hasMore": 0,
}


def _datum(key: str, name: str, data_type: str, **limits: Any) -> dict[str, Any]:
    item = {key: name, "dataType": data_type, "required": True, "min": None, "max": None, "step": None}
    item.update({"maxLength": None, "unit": None, "enumList": None, **limits})
    if key == "propertyName":
        item["method"] = "RE"
    return item


PROFILE = {
    "device": {"serviceTypeCapabilities": [{"serviceId": "Meter", "serviceType": "Meter", "option": "Master"}]},
    "services": [
        {
            "serviceType": "Meter",
            "description": None,
            "properties": [
                _datum("propertyName", "reading", "int", min=0, max=65535),
                _datum("propertyName", "temperature", "int", min=-400, max=1250),
                _datum("propertyName", "volume", "int", min=0, max=4294967295),
                _datum("propertyName", "flow", "int", min=-100000, max=100000),
                _datum("propertyName", "label", "string", maxLength=16),
            ],
            "commands": [
                {
                    "commandName": "SET_CONFIG",
                    "paras": [
                        _datum("paraName", "reading", "int"),
                        _datum("paraName", "temperature", "int"),
                        _datum("paraName", "volume", "int"),
                        _datum("paraName", "label", "string"),
                    ],
                    "responses": [],
                }
            ],
        }
    ],
}


def _field(name: str, type_: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


DEFINITION = {
    "messages": [
        {
            "name": "report",
            "kind": "dataReport",
            "serviceId": "Meter",
            "fields": [
                _field("messageId", "uint8", default="0x01"),
                _field("reading", "uint16", target="reading"),
                _field("temperature", "int16", target="temperature"),
                _field("volume", "uint32", target="volume"),
                _field("flow", "int32", target="flow"),
                _field("label", "string", length=7, target="label"),
            ],
        },
        {
            "name": "setConfig",
            "kind": "command",
            "serviceId": "Meter",
            "command": "SET_CONFIG",
            "fields": [
                _field("messageId", "uint8", default="0x02"),
                _field("mid", "uint16"),
                _field("reading", "uint16", target="reading"),
                _field("temperature", "int16", target="temperature"),
                _field("volume", "uint32", target="volume"),
                _field("label", "string", length=9, target="label"),
            ],
        },
    ]
}

JAVASCRIPT = """
function decode(b) {
  if (b.length !== 20) throw new Error('a report is 20 bytes, not ' + b.length);
  if (b[0] !== 1) throw new Error('unknown message ' + b[0]);
  var temperature = (b[3] << 8) | b[4];
  if (temperature > 32767) temperature -= 65536;
  var label = '';
  for (var i = 13; i < 20 && b[i] !== 0; i++) label += String.fromCharCode(b[i]);
  return {msgType: 'deviceReq', hasMore: 0, data: [{serviceId: 'Meter', serviceData: {
    reading: (b[1] << 8) | b[2],
    temperature: temperature,
    volume: ((b[5] << 24) >>> 0) + (b[6] << 16) + (b[7] << 8) + b[8],
    flow: (b[9] << 24) | (b[10] << 16) | (b[11] << 8) | b[12],
    label: label}}]};
}
function encode(obj) {
  var p = obj.paras, out = [2, obj.mid >> 8, obj.mid & 255, p.reading >> 8, p.reading & 255,
    (p.temperature >> 8) & 255, p.temperature & 255,
    (p.volume >>> 24) & 255, (p.volume >> 16) & 255, (p.volume >> 8) & 255, p.volume & 255];
  for (var i = 0; i < 9; i++) out.push(i < p.label.length ? p.label.charCodeAt(i) : 0);
  return out;
}
"""

# --- The hand-written baseline ------------------------------------------------------------------------

_REPORT = struct.Struct(">BHhIi7s")
_COMMAND = struct.Struct(">BHHhI9s")


def hand_decode(data: bytes) -> dict[str, Any]:
    message_id, reading, temperature, volume, flow, label = _REPORT.unpack(data)
    if message_id != 1:
        raise ValueError(f"unknown message {message_id}")
    label = label.rstrip(b"\0")
    if not label.isascii():
        raise ValueError("label is not ASCII")
    return {
        "msgType": "deviceReq",
        "hasMore": 0,
        "data": [
            {
                "serviceId": "Meter",
                "serviceData": {
                    "reading": reading,
                    "temperature": temperature,
                    "volume": volume,
                    "flow": flow,
                    "label": label.decode("ascii"),
                },
            }
        ],
    }


def hand_encode(cloud_req: dict[str, Any]) -> bytes:
    paras = cloud_req["paras"]
    label = paras["label"].encode("ascii")
    if len(label) > 9:
        raise ValueError("label is longer than 9 bytes")
    return _COMMAND.pack(2, cloud_req["mid"], paras["reading"], paras["temperature"], paras["volume"], label)


# --- Timing ---------------------------------------------------------------------------------------------


def rate(function: Callable[[], int], seconds: float) -> float:
    """Messages per second of `function`, which handles some messages and returns how many."""
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        done += function()
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - started)


def loop(function: Callable[[], Any], count: int) -> Callable[[], int]:
    def run() -> int:
        for _ in range(count):
            function()
        return count

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=0.25, help="time per measurement")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds; the median is reported")
    args = parser.parse_args()

    index = ProfileIndex.from_profile(PROFILE)
    plugin = compile_definition(check_definition(DEFINITION, index, max_payload=1024), max_payload=1024)
    script = ScriptPlugin(script_key(JAVASCRIPT), JAVASCRIPT)
    batch = settings.CODEC_JS_BATCH_SIZE
    batch_payloads = [PAYLOAD] * batch
    command = {key: value for key, value in CLOUD_REQ.items() if key != "msgType"}

    # Every path gives exactly what the hand-written code gives.
    expected = hand_decode(PAYLOAD)
    assert plugin.decode(PAYLOAD) == expected
    assert check_uplink(index, expected) == []
    assert all(outcome.value == expected for outcome in script.decode_many(batch_payloads))
    assert plugin.encode_command(command) == hand_encode(CLOUD_REQ)
    assert script.encode(CLOUD_REQ).value == hand_encode(CLOUD_REQ)
    assert len(PAYLOAD) == 20 and len(hand_encode(CLOUD_REQ)) == 20

    def engine_checked() -> None:
        value = plugin.decode(PAYLOAD)
        if check_uplink(index, value):
            raise AssertionError

    cases: list[tuple[str, str, Callable[[], int]]] = [
        (
            "decode",
            "hand-written: struct.unpack + the deviceReq dict (baseline)",
            loop(lambda: hand_decode(PAYLOAD), 2000),
        ),
        ("decode", "compiled engine (online plugin)", loop(lambda: plugin.decode(PAYLOAD), 2000)),
        ("decode", "compiled engine + profile check (decode_uplink's work)", loop(engine_checked, 2000)),
        ("decode", f"JavaScript, batches of {batch} (decode_many)", lambda: len(script.decode_many(batch_payloads))),
        ("decode", "JavaScript, one payload per call", loop(lambda: script.decode_many([PAYLOAD]), 50)),
        ("encode", "hand-written: struct.pack of the paras (baseline)", loop(lambda: hand_encode(CLOUD_REQ), 2000)),
        ("encode", "compiled engine (online plugin)", loop(lambda: plugin.encode_command(command), 2000)),
        ("encode", "JavaScript, one command per call", loop(lambda: script.encode(CLOUD_REQ), 50)),
    ]
    for _name, _label, function in cases:  # warm up: caches, the sandbox's V8 context, JIT
        rate(function, 0.1)
    figures: dict[tuple[str, str], list[float]] = {(op, label): [] for op, label, _fn in cases}
    for _round in range(args.rounds):
        for op, label, function in cases:
            figures[op, label].append(rate(function, args.seconds))

    medians = {key: statistics.median(values) for key, values in figures.items()}
    # Each round measures every path back to back: the ratio to the baseline of the same round moves
    # less with other load on the machine than the rates do, so the ratio is the median of those.
    baseline_keys = {"decode": ("decode", cases[0][1]), "encode": ("encode", cases[5][1])}
    ratios = {
        (op, label): statistics.median(
            value / base for value, base in zip(figures[op, label], figures[baseline_keys[op]], strict=True)
        )
        for op, label, _fn in cases
    }
    print(
        f"codec bench: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {sys.version.split()[0]}, "
        f"{args.rounds} rounds of {args.seconds} s, 20-byte message of 6 fields"
    )
    print()
    print(f"{'operation':<8}  {'path':<58}  {'messages/s':>12}  {'x hand-written':>14}  {'spread':>8}")
    print(f"{'-' * 8}  {'-' * 58}  {'-' * 12}  {'-' * 14}  {'-' * 8}")
    for op, label, _fn in cases:
        median = medians[op, label]
        spread = (max(figures[op, label]) - min(figures[op, label])) / median
        print(f"{op:<8}  {label:<58}  {median:>12,.0f}  {ratios[op, label]:>14.2f}  {spread:>7.0%}")
    print()
    engine_ratio = ratios["decode", cases[1][1]]
    encode_ratio = ratios["encode", cases[6][1]]
    javascript = medians["decode", cases[3][1]]
    print(
        f"target: compiled engine decode >= 80% of hand-written: {engine_ratio:.0%} "
        f"{'PASS' if engine_ratio >= 0.8 else 'FAIL'} (encode: {encode_ratio:.0%})"
    )
    print(f"target: JavaScript >= 20,000 decodes/s: {javascript:,.0f} {'PASS' if javascript >= 20000 else 'FAIL'}")
    get_sandbox().close()


if __name__ == "__main__":
    main()
