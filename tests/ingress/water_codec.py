"""A hand-written codec for the WaterMeter profile, with the agreed API of products.codecs.

The ingress names its codec module by INGRESS_CODEC_MODULE. Since issue 19 the ingress tests and the
benches decode through the real path instead (products.codecs, with the same layout as a JavaScript
plugin: tests.ingress.fixtures.WATER_METER_JS, uploaded by `water_product`): the ingress, MQTT,
firmware and chaos suites. What still points here: a pipeline unit test that needs a codec output no
JavaScript codec can give (a float infinity: V8's JSON has none), in tests/ingress/test_pipeline.py.

`report()` builds this layout's data report for every suite, whichever codec decodes it.
Layout, big-endian (F-1.4):

- 0x00 data report: signalStrength u8, currentReading u32, flowRateReading u16 -> WaterMeter service;
  its ACK is the Huawei demo's `AA AA <errcode> <hasMore>` (F-3.7);
- 0x01 alarm report: lowFlowAlarm u8, highFlowAlarm u8 -> WaterMeterAlarm (no ACK);
- 0x02 command response: mid u16, errcode u8, result i32 -> deviceRsp;
- 0x03 command (encode only): mid u16, then the content as ASCII.
"""

from __future__ import annotations

import struct
from typing import Any


class DecodeError(ValueError):
    pass


def decode_uplink(product: Any, payload: bytes) -> dict[str, Any]:
    if not payload:
        raise DecodeError("empty payload")
    message_id = payload[0]
    if message_id == 0x00:
        if len(payload) != 8:
            raise DecodeError(f"data report: 8 bytes expected, got {len(payload)} (byte offset {len(payload)})")
        signal, reading, flow = struct.unpack(">BIH", payload[1:])
        data = {"signalStrength": str(signal), "currentReading": str(reading), "flowRateReading": str(flow)}
        return {"msgType": "deviceReq", "hasMore": 0, "data": [{"serviceId": "WaterMeter", "serviceData": data}]}
    if message_id == 0x01:
        if len(payload) != 3:
            raise DecodeError(f"alarm report: 3 bytes expected, got {len(payload)}")
        low, high = payload[1], payload[2]
        data = {"lowFlowAlarm": low, "highFlowAlarm": high}
        return {"msgType": "deviceReq", "hasMore": 0, "data": [{"serviceId": "WaterMeterAlarm", "serviceData": data}]}
    if message_id == 0x02:
        mid, errcode, result = struct.unpack(">HBi", payload[1:8])
        return {"msgType": "deviceRsp", "mid": mid, "errcode": errcode, "body": {"result": result}}
    raise DecodeError(f"unknown messageId 0x{message_id:02X} at byte offset 0")


def encode_ack(product: Any, uplink: bytes, errcode: int = 0, has_more: int = 0) -> bytes | None:
    if uplink[:1] == b"\x00":
        return bytes([0xAA, 0xAA, errcode, has_more])
    return None


def encode_command(product: Any, cloud_req: dict[str, Any]) -> bytes:
    content = str(cloud_req["paras"]["content"]).encode("ascii")
    return b"\x03" + struct.pack(">H", cloud_req["mid"]) + content


def report(signal: int = 20, reading: int = 1234, flow: int = 7) -> bytes:
    return b"\x00" + struct.pack(">BIH", signal, reading, flow)
