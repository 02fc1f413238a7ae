"""The field types of online plugins: one entry each in `FIELD_TYPES`.

A type knows its size (fixed, from a length, or variable), its `struct` code (big-endian only, F-1.4),
the profile data types it may map to (F-2.8), how to read its default value (hex, F-3.2), and the
lines the engine generates to turn what `struct` unpacked into JSON and JSON back into what `struct`
packs (products.codecs.engine compiles each message into one function from these lines). The
generated lines may call the engine's helpers (products.codecs.engine.HELPERS) by name; `var` is the
field's variable and `ref` the field's index in the plugin's table of (message, field) names, for errors.

To add a type: a subclass (or an instance of one below) here, registered in FIELD_TYPES; its
decode and encode lines; tests with real bytes in tests/products/codecs/test_field_types.py. The
builder, the checker and the layout view pick it up from the registry.
"""

from __future__ import annotations

import binascii
import math
import struct
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

INTEGER_DATA_TYPES = frozenset({"int", "decimal", "double"})
NUMBER_DATA_TYPES = frozenset({"decimal", "double"})
TEXT_DATA_TYPES = frozenset({"string", "DateTime"})
BYTES_DATA_TYPES = frozenset({"string"})


@dataclass(frozen=True)
class FieldType:
    """Base of every field type: fixed size, no length, no conversions."""

    name: str
    label: Any
    data_types: frozenset[str]
    size_bytes: int | None = None
    code: str = ""
    integer: bool = False
    sized: bool = False  # takes a `length` in bytes (string, array)
    variable: bool = False  # length from a length field, or the rest of the message

    def size(self, length: int | None) -> int | None:
        """Bytes the field takes, or None when it varies from message to message."""
        if self.variable:
            return None
        if self.sized:
            return length
        return self.size_bytes

    def struct_code(self, length: int | None) -> str:
        return self.code

    def limit(self, length: int | None) -> str:
        """What the field holds, as errors say it."""
        return ""

    def default_value(self, raw: bytes, length: int | None) -> Any:
        """The value of a default given as the field's bytes; ValueError names why it does not fit."""
        raise NotImplementedError

    def zero(self, length: int | None) -> Any:
        """What encode writes for a field without value or default, in the form struct packs."""
        return 0

    def decode_lines(self, var: str, ref: int, offset: str) -> list[str]:
        return []

    def encode_lines(self, var: str, ref: int, limit: int) -> list[str]:
        return []


@dataclass(frozen=True)
class IntegerType(FieldType):
    signed: bool = False

    @property
    def minimum(self) -> int:
        assert self.size_bytes is not None
        return -(1 << (8 * self.size_bytes - 1)) if self.signed else 0

    @property
    def maximum(self) -> int:
        assert self.size_bytes is not None
        return (1 << (8 * self.size_bytes - (1 if self.signed else 0))) - 1

    def limit(self, length: int | None) -> str:
        return f"{self.minimum} to {self.maximum}"

    def default_value(self, raw: bytes, length: int | None) -> int:
        assert self.size_bytes is not None
        if len(raw) > self.size_bytes:
            raise ValueError(f"{self.size_bytes} byte{'s' if self.size_bytes > 1 else ''}")
        return int.from_bytes(raw.rjust(self.size_bytes, b"\0"), "big", signed=self.signed)


@dataclass(frozen=True)
class FloatType(FieldType):
    def limit(self, length: int | None) -> str:
        return "IEEE 754, 4 bytes" if self.size_bytes == 4 else "IEEE 754, 8 bytes"

    def default_value(self, raw: bytes, length: int | None) -> float:
        assert self.size_bytes is not None
        if len(raw) > self.size_bytes:
            raise ValueError(f"{self.size_bytes} bytes")
        return struct.unpack(">" + self.code, raw.rjust(self.size_bytes, b"\0"))[0]

    def decode_lines(self, var: str, ref: int, offset: str) -> list[str]:
        helper = "_float32" if self.size_bytes == 4 else "_float64"
        return [f"{var} = {helper}({var}, {ref}, {offset})"]


@dataclass(frozen=True)
class TextType(FieldType):
    """ASCII text (F-3.3): a fixed `length` padded with NUL bytes, or variable."""

    def struct_code(self, length: int | None) -> str:
        return f"{length}s"

    def limit(self, length: int | None) -> str:
        return f"{length} bytes" if length else "variable length"

    def default_value(self, raw: bytes, length: int | None) -> bytes:
        if length is not None and len(raw) > length:
            raise ValueError(f"{length} bytes")
        if not raw.isascii():
            raise ValueError("ASCII text")
        return raw

    def zero(self, length: int | None) -> bytes:
        return b""

    def decode_lines(self, var: str, ref: int, offset: str) -> list[str]:
        # The common case inline; the helper only when the text is not ASCII, to say where.
        lines = [f"{var} = {var}.rstrip(b'\\x00')"] if not self.variable else []
        return [
            *lines,
            f"{var} = {var}.decode('ascii') if {var}.isascii() else _text_in({var}, {ref}, {offset}, False)",
        ]

    def encode_lines(self, var: str, ref: int, limit: int) -> list[str]:
        ok = f"type({var}) is str and {var}.isascii() and len({var}) <= {limit}"
        return [f"{var} = {var}.encode('ascii') if {ok} else _text_out({var}, {ref}, {limit})"]


@dataclass(frozen=True)
class BytesType(FieldType):
    """Binary data, base64 in JSON (F-3.3): exactly `length` bytes, or variable."""

    def struct_code(self, length: int | None) -> str:
        return f"{length}s"

    def limit(self, length: int | None) -> str:
        return f"{length} bytes" if length else "variable length"

    def default_value(self, raw: bytes, length: int | None) -> bytes:
        if length is not None and len(raw) > length:
            raise ValueError(f"{length} bytes")
        return raw.ljust(length, b"\0") if length is not None else raw

    def zero(self, length: int | None) -> bytes:
        return b"\0" * (length or 0)

    def decode_lines(self, var: str, ref: int, offset: str) -> list[str]:
        return [f"{var} = _b64({var})"]

    def encode_lines(self, var: str, ref: int, limit: int) -> list[str]:
        exact = "False" if self.variable else "True"
        return [f"{var} = _bytes_out({var}, {ref}, {limit}, {exact})"]


def _integer(name: str, label: Any, size: int, code: str, *, signed: bool) -> IntegerType:
    return IntegerType(name, label, INTEGER_DATA_TYPES, size, code, integer=True, signed=signed)


FIELD_TYPES: dict[str, FieldType] = {
    field_type.name: field_type
    for field_type in (
        _integer("uint8", _("unsigned integer, 1 byte"), 1, "B", signed=False),
        _integer("uint16", _("unsigned integer, 2 bytes"), 2, "H", signed=False),
        _integer("uint32", _("unsigned integer, 4 bytes"), 4, "I", signed=False),
        _integer("int8", _("signed integer, 1 byte"), 1, "b", signed=True),
        _integer("int16", _("signed integer, 2 bytes"), 2, "h", signed=True),
        _integer("int32", _("signed integer, 4 bytes"), 4, "i", signed=True),
        FloatType("float", _("floating point, 4 bytes"), NUMBER_DATA_TYPES, 4, "f"),
        FloatType("double", _("floating point, 8 bytes"), NUMBER_DATA_TYPES, 8, "d"),
        TextType("string", _("ASCII text of a fixed length"), TEXT_DATA_TYPES, sized=True),
        TextType("varstring", _("ASCII text of variable length"), TEXT_DATA_TYPES, variable=True),
        BytesType("array", _("bytes of a fixed length, base64 in JSON"), BYTES_DATA_TYPES, sized=True),
        BytesType("varray", _("bytes of variable length, base64 in JSON"), BYTES_DATA_TYPES, variable=True),
    )
}


def parse_hex(text: str) -> bytes:
    """A default value as typed: `0x1F`, `1F`, `0001`, `41 42`; ValueError if it is not hex."""
    cleaned = "".join(text.split())
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    if not cleaned or any(char not in "0123456789abcdefABCDEF" for char in cleaned):
        raise ValueError(text)
    if len(cleaned) % 2:
        cleaned = "0" + cleaned
    return bytes.fromhex(cleaned)


# --- Helpers the generated code calls (slow paths and conversions) -----------------------------------

_F32 = struct.Struct(">f")


def shortest_float32(value: float) -> float:
    """The shortest decimal that is the same float32: 21.3 rather than 21.299999237060547."""
    packed = _F32.pack(value)
    for digits in (6, 7, 8):
        candidate = float(f"{value:.{digits}g}")
        if _F32.pack(candidate) == packed:
            return candidate
    return value


def b64(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).decode("ascii")


def finite(value: float) -> bool:
    return math.isfinite(value)
