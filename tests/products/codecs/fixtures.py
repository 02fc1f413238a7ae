"""Plain helpers for codec tests: a meter's profile, online plugins, offline plugin zips.

The Meter profile has two services. Meter: reading (int), temperature (int, -40..125), voltage
(decimal, 0..100), label (string, at most 16), status (string enum OK, LOW), blob (string, for
arrays), when (DateTime), flow (double); commands SET_PERIOD (period int 1..86400, required; response
result), SET_LABEL (label string) and SET_GAIN (gain decimal 0..10). Battery: level (int 0..100)
and voltage (decimal), so that `voltage` belongs to two services (TTN mapping by name is ambiguous).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

from products import codec_actions
from products.models import CodecVersion, Product
from tests.applications.fixtures import AppCredentials
from tests.products.fixtures import DEVICE_FILE, build_zip, import_files, service_path


def _datum(name_key: str, name: str, data_type: str, **extra: Any) -> dict[str, Any]:
    item = {
        name_key: name,
        "dataType": data_type,
        "required": extra.pop("required", True),
        "min": extra.pop("min", None),
        "max": extra.pop("max", None),
        "step": None,
        "maxLength": extra.pop("maxLength", None),
        "unit": None,
        "enumList": extra.pop("enumList", None),
    }
    if name_key == "propertyName":
        item["method"] = "RE"
    return item


def meter_files(model: str = "m1") -> dict[str, Any]:
    device = {
        "devices": [
            {
                "manufacturerId": "Acme",
                "manufacturerName": "Acme Ltd",
                "model": model,
                "protocolType": "CoAP",
                "deviceType": "WaterMeter",
                "serviceTypeCapabilities": [
                    {"serviceId": "Meter", "serviceType": "Meter", "option": "Master"},
                    {"serviceId": "Battery", "serviceType": "Battery", "option": "Mandatory"},
                ],
            }
        ]
    }
    prop = lambda name, data_type, **extra: _datum("propertyName", name, data_type, **extra)  # noqa: E731
    para = lambda name, data_type, **extra: _datum("paraName", name, data_type, **extra)  # noqa: E731
    meter = {
        "services": [
            {
                "serviceType": "Meter",
                "description": "Meter",
                "properties": [
                    prop("reading", "int", min=0, max=4294967295),
                    prop("temperature", "int", min=-40, max=125),
                    prop("voltage", "decimal", min=0, max=100),
                    prop("label", "string", maxLength=16),
                    prop("status", "string", enumList=["OK", "LOW"]),
                    prop("blob", "string"),
                    prop("when", "DateTime"),
                    prop("flow", "double"),
                ],
                "commands": [
                    {
                        "commandName": "SET_PERIOD",
                        "paras": [para("period", "int", min=1, max=86400)],
                        "responses": [{"responseName": "SET_PERIOD_RSP", "paras": [para("result", "int")]}],
                    },
                    {"commandName": "SET_LABEL", "paras": [para("label", "string", maxLength=16)], "responses": []},
                    {"commandName": "SET_GAIN", "paras": [para("gain", "decimal", min=0, max=10)], "responses": []},
                ],
            }
        ]
    }
    battery = {
        "services": [
            {
                "serviceType": "Battery",
                "description": "Battery",
                "properties": [prop("level", "int", min=0, max=100), prop("voltage", "decimal", min=0, max=10)],
                "commands": [],
            }
        ]
    }
    return {DEVICE_FILE: device, service_path("Meter"): meter, service_path("Battery"): battery}


def meter(credentials: AppCredentials, model: str = "m1") -> Product:
    return import_files(credentials, meter_files(model))


def field(name: str, type_: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def report_message(**extra: Any) -> dict[str, Any]:
    """A data report: messageId 1, reading (uint32), temperature (int16)."""
    return {
        "name": "report",
        "kind": "dataReport",
        "serviceId": "Meter",
        "fields": [
            field("messageId", "uint8", default="0x01"),
            field("reading", "uint32", target="reading"),
            field("temperature", "int16", target="temperature"),
        ],
        **extra,
    }


def set_period_message(**extra: Any) -> dict[str, Any]:
    """The SET_PERIOD command: messageId 2, mid (uint16), period (uint32)."""
    return {
        "name": "setPeriod",
        "kind": "command",
        "serviceId": "Meter",
        "command": "SET_PERIOD",
        "fields": [
            field("messageId", "uint8", default="0x02"),
            field("mid", "uint16"),
            field("period", "uint32", target="period"),
        ],
        **extra,
    }


def set_period_response(**extra: Any) -> dict[str, Any]:
    """SET_PERIOD's response: messageId 3, mid, errcode, result (int8)."""
    return {
        "name": "setPeriodRsp",
        "kind": "commandResponse",
        "serviceId": "Meter",
        "command": "SET_PERIOD",
        "fields": [
            field("messageId", "uint8", default="0x03"),
            field("mid", "uint16"),
            field("errcode", "uint8"),
            field("result", "int8", target="result"),
        ],
        **extra,
    }


def ack_message(**extra: Any) -> dict[str, Any]:
    """The canonical ACK of the original's modules, AA AA <errcode> <hasMore>; an ACK counts as a command
    (F-3.5), so its first AA is its messageId."""
    return {
        "name": "reportAck",
        "kind": "reportAck",
        "fields": [
            field("messageId", "uint8", default="0xAA"),
            field("magic", "uint8", default="AA"),
            field("errcode", "uint8"),
            field("hasMore", "uint8"),
        ],
        **extra,
    }


def full_definition() -> dict[str, Any]:
    """A report with an ACK, a command and its response: the four kinds."""
    return {
        "messages": [
            report_message(ack="reportAck"),
            set_period_message(),
            set_period_response(),
            ack_message(),
        ]
    }


def deploy(product: Product, definition: Mapping[str, Any] | None = None) -> CodecVersion:
    return codec_actions.do_deploy_online(product, definition or full_definition())


# --- Offline plugins ------------------------------------------------------------------------------

OCEANCONNECT_JS = """
// An OceanConnect-style plugin: messageId 1 = report (reading uint32, temperature int16), 3 = response.
function decode(bytes) {
  console.log('decoding ' + bytes.length + ' bytes');
  if (bytes[0] === 1) {
    var reading = ((bytes[1] << 24) >>> 0) + (bytes[2] << 16) + (bytes[3] << 8) + bytes[4];
    var temperature = (bytes[5] << 8) | bytes[6];
    if (temperature > 32767) temperature -= 65536;
    return {identifier: '1', msgType: 'deviceReq', hasMore: 0,
            data: [{serviceId: 'Meter', serviceData: {reading: reading, temperature: temperature}}]};
  }
  if (bytes[0] === 3) {
    return {msgType: 'deviceRsp', mid: (bytes[1] << 8) | bytes[2], errcode: bytes[3], body: {result: bytes[4]}};
  }
  throw new Error('unknown message ' + bytes[0]);
}
function encode(obj) {
  if (obj.msgType === 'cloudRsp') {
    return obj.request[0] === 1 ? [0xAA, 0xAA, obj.errcode, obj.hasMore] : null;
  }
  var period = obj.paras.period;
  return [2, obj.mid >> 8, obj.mid & 255,
          (period >> 24) & 255, (period >> 16) & 255, (period >> 8) & 255, period & 255];
}
"""

OCEANCONNECT_VECTORS = {
    "decode": [
        {
            "name": "report",
            "payload": "01 000004D2 FFF6",
            "expected": {
                "identifier": "1",
                "msgType": "deviceReq",
                "hasMore": 0,
                "data": [{"serviceId": "Meter", "serviceData": {"reading": 1234, "temperature": -10}}],
            },
        },
        {"name": "unknown", "payload": "09", "error": "unknown message 9"},
    ],
    "encode": [
        {
            "name": "set period",
            "input": {
                "msgType": "cloudReq",
                "serviceId": "Meter",
                "cmd": "SET_PERIOD",
                "paras": {"period": 60},
                "mid": 7,
            },
            "expected": "02 0007 0000003C",
        },
        {
            "name": "ack",
            "input": {"msgType": "cloudRsp", "request": "01000004D2FFF6", "errcode": 0},
            "expected": "AAAA0000",
        },
    ],
}


def manifest(**extra: Any) -> dict[str, Any]:
    return {"manufacturerId": "Acme", "model": "m1", "entry": "codec.js", "version": "1.0.0", **extra}


def plugin_zip(files: Mapping[str, Any]) -> bytes:
    """A zip of the files: dicts and lists are dumped as JSON, str written as UTF-8, bytes as they are."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in files.items():
            if isinstance(value, bytes):
                data = value
            elif isinstance(value, str):
                data = value.encode()
            else:
                data = json.dumps(value, indent=2).encode()
            archive.writestr(name, data)
    return buffer.getvalue()


def oceanconnect_files(**overrides: Any) -> dict[str, Any]:
    files: dict[str, Any] = {
        "manifest.json": manifest(),
        "codec.js": OCEANCONNECT_JS,
        "vectors.json": OCEANCONNECT_VECTORS,
    }
    files.update(overrides)
    return {name: value for name, value in files.items() if value is not None}


def oceanconnect_zip(**overrides: Any) -> bytes:
    return plugin_zip(oceanconnect_files(**overrides))


def upload(credentials: AppCredentials, data: bytes | None = None, name: str = "codec.zip") -> CodecVersion:
    return codec_actions.do_upload_codec(credentials.application, name, data or oceanconnect_zip())


def profile_zip(model: str = "m1") -> tuple[str, bytes]:
    files = meter_files(model)
    return f"WaterMeter_Acme_{model}.zip", build_zip(files)
