"""Huawei PCP frames: the software (MCU) upgrade protocol carried on a device's data channel.

A frame (big-endian, "network order"):

    start 0xFFFE (2) | version (1, low nibble = 1) | message code (1) | check code (2) | data length (2) | data

The check code is a CRC16 over the whole frame with the check code field set to 0. Huawei's
description calls it "CRC16/CCITT x16+x12+x5+1"; what devices and the platform compute is the
CCITT table (polynomial 0x1021, MSB-first) applied with the reflected update
`crc = (crc >> 8) ^ TABLE[(crc ^ byte) & 0xFF]`, initial value 0 — the function public device-side
implementations use, and the one that gives Huawei's worked example its check code (FFFE0118 C7D2
0011 00 "V1.0" padded to 16 bytes: tests/firmware/test_pcp_frames.py). The package's own check code
in the new-version notice is the same CRC over the package bytes.

Message codes (the response carries the request's code):

| code | name | sent by | request data | response data |
|---|---|---|---|---|
| 0x13 | version query | platform | - | result (1), current version (16) |
| 0x14 | new-version notice | platform | version (16), block size (2), block count (2), check code (2) | result (1) |
| 0x15 | block request | device | target version (16), block number (2) | result (1), block number (2), block bytes |
| 0x16 | download result | device | status (1) | result (1) |
| 0x17 | execute upgrade | platform | - | result (1) |
| 0x18 | upgrade result | device | result (1), current version (16) | result (1) |

Versions are 16 bytes, ASCII, padded with zero bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

START = b"\xff\xfe"
VERSION = 1
HEADER = struct.Struct(">2sBBHH")

QUERY_VERSION = 0x13
NEW_VERSION = 0x14
REQUEST_BLOCK = 0x15
DOWNLOAD_RESULT = 0x16
EXECUTE = 0x17
UPGRADE_RESULT = 0x18
NAMES = {
    QUERY_VERSION: "version query",
    NEW_VERSION: "new-version notice",
    REQUEST_BLOCK: "block request",
    DOWNLOAD_RESULT: "download result",
    EXECUTE: "execute upgrade",
    UPGRADE_RESULT: "upgrade result",
}

# Result codes of the device's answers and reports, and our failure code for each (firmware.errors).
OK = 0x00
TASK_MISSING = 0x80  # the platform's answer to a block request with no upgrade in progress
BLOCK_MISSING = 0x81  # the platform's answer to a block number past the package
RESULTS = {
    0x01: "DEVICE_BUSY",  # device in use
    0x02: "DEVICE_BUSY",  # poor signal
    0x03: "SAME_VERSION",  # already the latest version
    0x04: "DEVICE_BUSY",  # low battery
    0x05: "NOT_ENOUGH_STORAGE",
    0x06: "DOWNLOAD_TIMEOUT",
    0x07: "INTEGRITY_FAILURE",
    0x08: "UNSUPPORTED_PACKAGE",
    0x09: "OUT_OF_MEMORY",
    0x0A: "UPDATE_FAILED",  # installing the package failed
    0x7F: "UPDATE_FAILED",  # internal error
}


class FrameError(ValueError):
    """Not a PCP frame we can read: what is wrong with it."""


def _table() -> list[int]:
    table = []
    for index in range(256):
        value = index << 8
        for _ in range(8):
            value = ((value << 1) ^ 0x1021) & 0xFFFF if value & 0x8000 else (value << 1) & 0xFFFF
        table.append(value)
    return table


TABLE = _table()


def crc16(data: bytes, crc: int = 0) -> int:
    for byte in data:
        crc = (crc >> 8) ^ TABLE[(crc ^ byte) & 0xFF]
    return crc


@dataclass(frozen=True)
class Frame:
    code: int
    data: bytes = b""

    def encode(self) -> bytes:
        head = HEADER.pack(START, VERSION, self.code, 0, len(self.data))
        check = crc16(head + self.data)
        return HEADER.pack(START, VERSION, self.code, check, len(self.data)) + self.data


def decode(raw: bytes) -> Frame:
    if len(raw) < HEADER.size or not raw.startswith(START):
        raise FrameError("shorter than a PCP header or not starting with 0xFFFE")
    _, version, code, check, length = HEADER.unpack_from(raw)
    if version & 0x0F != VERSION:
        raise FrameError(f"protocol version {version & 0x0F}, 1 expected")
    data = raw[HEADER.size :]
    if len(data) != length:
        raise FrameError(f"data length field says {length} bytes, {len(data)} came")
    expected = crc16(raw[:4] + b"\x00\x00" + raw[6:])
    if check != expected:
        raise FrameError(f"check code {check:04X}, computed {expected:04X}")
    return Frame(code, data)


def version_bytes(version: str) -> bytes:
    return version.encode("ascii", errors="replace")[:16].ljust(16, b"\x00")


def version_text(data: bytes) -> str:
    return data[:16].rstrip(b"\x00").decode("ascii", errors="replace")


# --- the messages --------------------------------------------------------------------------------


def query_version() -> bytes:
    return Frame(QUERY_VERSION).encode()


def new_version(version: str, block_size: int, block_count: int, package_crc: int) -> bytes:
    data = version_bytes(version) + struct.pack(">HHH", block_size, block_count, package_crc)
    return Frame(NEW_VERSION, data).encode()


def block(result: int, number: int, data: bytes = b"") -> bytes:
    return Frame(REQUEST_BLOCK, struct.pack(">BH", result, number) + data).encode()


def answer(code: int, result: int = OK) -> bytes:
    """The platform's one-byte answer to a device's report (download result, upgrade result)."""
    return Frame(code, bytes([result])).encode()


def execute() -> bytes:
    return Frame(EXECUTE).encode()
