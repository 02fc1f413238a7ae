"""The codec engine: online plugins compiled into Python functions, and the registry of plugin kinds.

`compile_definition` turns a checked online plugin into one decode function per uplink message and
one encode function per downlink message, generated as Python source once (per codec version, per
process) and reused for every payload. A message's consecutive fixed-size fields become one
`struct.Struct` (big-endian, F-1.4), so a fixed 20-byte message decodes with one `unpack` and one
dict display, like a hand-written decoder; variable fields (varstring, varray) slice the payload at
a position carried in a local. Only the slow paths (a payload of the wrong length, a value that
does not fit) walk the field table, to name the message, the field and the byte offset.

The generated source names nothing from the plugin directly: message, field and property names
appear only as `repr()` literals, and every variable is `v<number>`.

`ENGINES` maps each `CodecVersion.kind` to the function that makes its plugin (online: compiled
here; script and ttn: JavaScript in the sandbox, see products.codecs.script and products.codecs.ttn).
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from products.codecs import fields
from products.codecs.base import Outcome, Plugin
from products.codecs.errors import CodecError, Raw, fail
from products.codecs.online import Definition, FieldSpec, MessageSpec, parse
from products.codecs.profile import ProfileIndex


class _Names:
    """The (message, field) pairs errors refer to by index from the generated code."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []

    def add(self, message: str, field: str) -> int:
        self.pairs.append((message, field))
        return len(self.pairs) - 1


def _helpers(names: _Names) -> dict[str, Any]:
    """The functions generated code calls: conversions, and the slow paths that raise."""

    def where(ref: int) -> dict[str, str]:
        message, field = names.pairs[ref]
        return {"message_name": message, "field": field}

    def empty_or(error: CodecError, length: int) -> CodecError:
        return fail("CODEC_DECODE_EMPTY") if length == 0 else error

    def short(ref: int, start: int, end: int, length: int) -> None:
        error = fail(
            "CODEC_DECODE_TOO_SHORT", offset=start, start=Raw(start), end=Raw(end - 1), length=Raw(length), **where(ref)
        )
        raise empty_or(error, length)

    def cut(layout: tuple[tuple[int, int], ...], start: int, length: int) -> None:
        """The first field of a fixed run that the payload does not hold entirely."""
        offset = start
        for ref, size in layout:
            if offset + size > length:
                short(ref, offset, offset + size, length)
            offset += size
        raise AssertionError("cut() called on a payload that holds the run")

    def size_error(message_ref: int, layout: tuple[tuple[int, int], ...], data: bytes, identity: Any) -> None:
        # A lone uplink message with a messageId: a payload with another id is another message, whatever its length.
        if identity is not None:
            offset, unpack, size, expected = identity
            if len(data) >= offset + size and unpack(data, offset)[0] != expected:
                unknown(unpack(data, offset)[0], offset)
        total = sum(size for _, size in layout)
        if len(data) < total:
            cut(layout, 0, len(data))
        long(message_ref, total, len(data))

    def long(message_ref: int, end: int, length: int) -> None:
        message, _ = names.pairs[message_ref]
        raise fail("CODEC_DECODE_TOO_LONG", message_name=message, offset=end, size=Raw(end), length=Raw(length))

    def unknown(value: int, offset: int) -> None:
        raise fail(
            "CODEC_DECODE_UNKNOWN_MESSAGE", field="messageId", offset=offset, value=Raw(f"{value} (0x{value:02X})")
        )

    def text_in(raw: bytes, ref: int, offset: int, strip: bool) -> str:
        if strip:
            raw = raw.rstrip(b"\0")
        if not raw.isascii():
            position = next(index for index, byte in enumerate(raw) if byte > 0x7F)
            raise fail(
                "CODEC_DECODE_NOT_ASCII", offset=offset + position, value=Raw(f"0x{raw[position]:02X}"), **where(ref)
            )
        return raw.decode("ascii")

    def float32(value: float, ref: int, offset: int) -> float:
        if not fields.finite(value):
            raise fail("CODEC_DECODE_NOT_FINITE", offset=offset, value=Raw(str(value)), **where(ref))
        return fields.shortest_float32(value)

    def float64(value: float, ref: int, offset: int) -> float:
        if not fields.finite(value):
            raise fail("CODEC_DECODE_NOT_FINITE", offset=offset, value=Raw(str(value)), **where(ref))
        return value

    def missing(ref: int, source: str) -> Any:
        raise fail("CODEC_ENCODE_MISSING", source=Raw(source), **where(ref))

    def text_out(value: Any, ref: int, limit: int) -> bytes:
        if not isinstance(value, str):
            raise fail(
                "CODEC_ENCODE_TYPE", value=value, expected=Raw("text"), actual=Raw(_json_type(value)), **where(ref)
            )
        if not value.isascii():
            raise fail("CODEC_ENCODE_NOT_ASCII", value=value, **where(ref))
        raw = value.encode("ascii")
        if len(raw) > limit:
            raise fail("CODEC_ENCODE_TOO_LONG", size=Raw(len(raw)), limit=Raw(limit), **where(ref))
        return raw

    def bytes_out(value: Any, ref: int, limit: int, exact: bool) -> bytes:
        if not isinstance(value, str):
            raise fail(
                "CODEC_ENCODE_TYPE",
                value=value,
                expected=Raw("base64 text"),
                actual=Raw(_json_type(value)),
                **where(ref),
            )
        try:
            raw = binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError):
            raw = None
        if raw is None or (exact and len(raw) != limit) or len(raw) > limit:
            size = Raw(limit if exact else f"at most {limit}")
            raise fail("CODEC_ENCODE_BASE64", value=value, size=size, **where(ref))
        return raw

    def pack_error(layout: tuple[tuple[int, str, str, str, int | None], ...], values: tuple[Any, ...]) -> None:
        for (ref, code, type_name, limit, offset), value in zip(layout, values, strict=True):
            try:
                struct.pack(">" + code, value)
            except (struct.error, OverflowError):
                if (
                    isinstance(value, bool)
                    or not isinstance(value, (int, float))
                    or (code in "bBhHiI" and isinstance(value, float))
                ):
                    expected = Raw("an integer" if code in "bBhHiI" else "a number")
                    raise fail(
                        "CODEC_ENCODE_TYPE",
                        offset=offset,
                        value=value,
                        expected=expected,
                        actual=Raw(_json_type(value)),
                        **where(ref),
                    ) from None
                raise fail(
                    "CODEC_ENCODE_RANGE",
                    offset=offset,
                    value=Raw(value),
                    type=Raw(type_name),
                    limit=Raw(limit),
                    **where(ref),
                ) from None
        raise AssertionError("pack_error() found nothing wrong")

    return {
        "_EMPTY": {},
        "_short": short,
        "_cut": cut,
        "_size_error": size_error,
        "_long": long,
        "_unknown": unknown,
        "_text_in": text_in,
        "_float32": float32,
        "_float64": float64,
        "_b64": fields.b64,
        "_missing": missing,
        "_text_out": text_out,
        "_bytes_out": bytes_out,
        "_pack_error": pack_error,
        "_struct_error": (struct.error, OverflowError),
    }


HELPERS = tuple(_helpers(_Names()))


def _json_type(value: Any) -> str:
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


# --- Code generation ------------------------------------------------------------------------------


class _Module:
    """Source lines and the constants they refer to, for one plugin."""

    def __init__(self, names: _Names) -> None:
        self.names = names
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}

    def constant(self, prefix: str, value: Any) -> str:
        name = f"_{prefix}{len(self.constants)}"
        self.constants[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def _runs(message: MessageSpec) -> list[list[int] | int]:
    """The message's fields as runs of fixed-size field indexes (lists) and variable fields (ints)."""
    runs: list[list[int] | int] = []
    for index, spec in enumerate(message.fields):
        if spec.size is None:
            runs.append(index)
        elif runs and isinstance(runs[-1], list):
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _struct_code(spec: FieldSpec) -> str:
    field_type = spec.field_type
    assert field_type is not None
    return field_type.struct_code(spec.length)


def _decode_function(module: _Module, message: MessageSpec, function: str, check_id: int | None) -> None:
    """def <function>(data) -> the message's JSON (deviceReq or deviceRsp)."""
    refs = [module.names.add(message.name, spec.name) for spec in message.fields]
    message_ref = module.names.add(message.name, "")
    offsets = message.offsets()
    lengths = message.length_fields  # length field -> variable field
    out: dict[int, str] = {}  # field index -> offset expression
    emit = module.emit
    emit(0, f"def {function}(data):")
    fixed_size = message.fixed_size
    runs = _runs(message)
    if fixed_size is not None:
        layout = module.constant("L", tuple((refs[i], message.fields[i].size) for i in range(len(message.fields))))
        unpack = module.constant(
            "U", struct.Struct(">" + "".join(_struct_code(spec) for spec in message.fields)).unpack
        )
        identity = None
        if check_id is not None:
            spec = message.field("messageId")
            assert spec is not None
            identity = module.constant(
                "I",
                (
                    message.offset_of("messageId"),
                    struct.Struct(">" + _struct_code(spec)).unpack_from,
                    spec.size,
                    check_id,
                ),
            )
        emit(1, f"if len(data) != {fixed_size}:")
        emit(2, f"_size_error({message_ref}, {layout}, data, {identity})")
        targets = ", ".join(f"v{i}" for i in range(len(message.fields)))
        emit(1, f"{targets}{',' if len(message.fields) == 1 else ''} = {unpack}(data)")
        for index, offset in enumerate(offsets):
            out[index] = str(offset)
    else:
        emit(1, "n = len(data)")
        emit(1, "p = 0")
        for run in runs:
            if isinstance(run, list):
                size = sum(message.fields[i].size or 0 for i in run)
                layout = module.constant("L", tuple((refs[i], message.fields[i].size) for i in run))
                unpack = module.constant(
                    "U", struct.Struct(">" + "".join(_struct_code(message.fields[i]) for i in run)).unpack_from
                )
                emit(1, f"if p + {size} > n:")
                emit(2, f"_cut({layout}, p, n)")
                targets = ", ".join(f"v{i}" for i in run)
                emit(1, f"{targets}{',' if len(run) == 1 else ''} = {unpack}(data, p)")
                # Offsets for errors in the conversions below, which run after p has moved on.
                emit(1, f"s{run[0]} = p")
                relative = 0
                for i in run:
                    out[i] = f"s{run[0]} + {relative}" if relative else f"s{run[0]}"
                    relative += message.fields[i].size or 0
                    if check_id is not None and message.fields[i].name == "messageId":
                        emit(1, f"if v{i} != {check_id}:")
                        emit(2, f"_unknown(v{i}, {out[i]})")
                emit(1, f"p += {size}")
            else:
                spec = message.fields[run]
                emit(1, f"s{run} = p")
                out[run] = f"s{run}"
                if spec.length_field:
                    holder = next(i for i, other in enumerate(message.fields) if other.name == spec.length_field)
                    emit(1, f"e = p + v{holder}")
                    emit(1, "if e > n:")
                    emit(2, f"_short({refs[run]}, p, e, n)")
                    emit(1, f"v{run} = data[p:e]")
                    emit(1, "p = e")
                else:
                    emit(1, f"v{run} = data[p:]")
                    emit(1, "p = n")
        emit(1, "if p != n:")
        emit(2, f"_long({message_ref}, p, n)")
    if check_id is not None and fixed_size is not None:
        index = next(i for i, spec in enumerate(message.fields) if spec.name == "messageId")
        emit(1, f"if v{index} != {check_id}:")
        emit(2, f"_unknown(v{index}, {offsets[index]})")
    for index, spec in enumerate(message.fields):
        field_type = spec.field_type
        assert field_type is not None
        if spec.target or spec.name in ("hasMore", "mid", "errcode"):
            for line in field_type.decode_lines(f"v{index}", refs[index], out[index]):
                emit(1, line)
    data = ", ".join(
        f"{spec.target!r}: v{index}"
        for index, spec in enumerate(message.fields)
        if spec.target and spec.name not in lengths
    )
    role = {spec.name: f"v{index}" for index, spec in enumerate(message.fields)}
    has_more = role.get("hasMore", "0")
    if message.kind == "dataReport":
        emit(
            1,
            f'return {{"msgType": "deviceReq", "hasMore": {has_more}, '
            f'"data": [{{"serviceId": {message.service_id!r}, "serviceData": {{{data}}}}}]}}',
        )
    else:
        emit(
            1,
            f'return {{"msgType": "deviceRsp", "mid": {role["mid"]}, "errcode": {role.get("errcode", "0")}, '
            f'"hasMore": {has_more}, "body": {{{data}}}}}',
        )


def _pack_ready(spec: FieldSpec) -> Any:
    """The field's default (or zero) in the form struct packs or the encoder joins."""
    field_type = spec.field_type
    assert field_type is not None
    raw = spec.default_bytes
    if raw is None:
        return field_type.zero(spec.length)
    return field_type.default_value(raw, spec.length)


def _encode_function(module: _Module, message: MessageSpec, function: str, max_payload: int) -> None:
    """def <function>(request) -> bytes of the downlink message, from its cloudReq (a command: paras,
    mid, hasMore) or its cloudRsp (an ACK: errcode, hasMore)."""
    refs = [module.names.add(message.name, spec.name) for spec in message.fields]
    offsets = message.offsets()
    lengths = message.length_fields
    emit = module.emit
    emit(0, f"def {function}(request):")
    if any(spec.target for spec in message.fields):
        emit(1, "values = request.get('paras') or _EMPTY")
    # 1. every value, converted to what struct packs (variable fields to bytes)
    for index, spec in enumerate(message.fields):
        field_type = spec.field_type
        assert field_type is not None
        var = f"v{index}"
        if spec.name in lengths:
            continue  # computed from its variable field below
        if spec.name == "mid":
            emit(1, f"{var} = request.get('mid')")
            emit(1, f"if {var} is None:")
            emit(2, f"_missing({refs[index]}, 'the mid of the cloudReq')")
        elif spec.name in ("hasMore", "errcode"):
            emit(1, f"{var} = request.get({spec.name!r}, 0)")
        elif spec.target and spec.name != "messageId":
            default = _pack_ready(spec) if spec.default is not None else None
            limit = spec.length if spec.length is not None else _variable_limit(message, spec, max_payload)
            # try/except costs nothing when the key is there (Python 3.11), unlike get() and a test.
            emit(1, "try:")
            emit(2, f"{var} = values[{spec.target!r}]")
            for line in field_type.encode_lines(var, refs[index], limit):
                emit(2, line)
            emit(1, "except KeyError:")
            if default is None:
                emit(2, f"{var} = _missing({refs[index]}, {'paras.' + spec.target!r})")
            else:
                emit(2, f"{var} = {module.constant('D', default)}")
        else:
            emit(1, f"{var} = {module.constant('D', _pack_ready(spec))}")
    for holder, variable in lengths.items():
        holder_index = next(i for i, spec in enumerate(message.fields) if spec.name == holder)
        variable_index = next(i for i, spec in enumerate(message.fields) if spec.name == variable)
        emit(1, f"v{holder_index} = len(v{variable_index})")
    # 2. packed run by run
    parts = []
    for run in _runs(message):
        if isinstance(run, list):
            codes = "".join(_struct_code(message.fields[i]) for i in run)
            pack = module.constant("P", struct.Struct(">" + codes).pack)
            layout = module.constant(
                "E",
                tuple(
                    (
                        refs[i],
                        _struct_code(message.fields[i]),
                        message.fields[i].type,
                        message.fields[i].field_type.limit(message.fields[i].length),  # type: ignore[union-attr]
                        offsets[i],
                    )
                    for i in run
                ),
            )
            values = ", ".join(f"v{i}" for i in run)
            name = f"b{run[0]}"
            emit(1, "try:")
            emit(2, f"{name} = {pack}({values})")
            emit(1, "except _struct_error:")
            emit(2, f"_pack_error({layout}, ({values}{',' if len(run) == 1 else ''}))")
            parts.append(name)
        else:
            parts.append(f"v{run}")
    emit(1, f"return {parts[0]}" if len(parts) == 1 else f"return b''.join(({', '.join(parts)}))")


def _variable_limit(message: MessageSpec, spec: FieldSpec, max_payload: int) -> int:
    """The longest value a variable field can carry: what its length field holds, or the payload limit."""
    if spec.length_field:
        holder = message.field(spec.length_field)
        if holder is not None and isinstance(holder.field_type, fields.IntegerType):
            return min(holder.field_type.maximum, max_payload)
    return max_payload


class OnlinePlugin:
    """An online plugin compiled for this process: decode uplinks, encode commands and ACKs."""

    kind = "online"

    def __init__(self, definition: Definition, *, max_payload: int) -> None:
        self.definition = definition
        names = _Names()
        module = _Module(names)
        uplink = definition.uplink
        self._decoders: dict[int, tuple[Callable[[bytes], dict[str, Any]], MessageSpec]] = {}
        self._id_offset: int | None = None
        self._id_unpack: Callable[..., tuple[int]] | None = None
        self._single: Callable[[bytes], dict[str, Any]] | None = None
        functions: dict[str, MessageSpec] = {}
        for number, message in enumerate(definition.messages):
            function = f"f{number}"
            functions[function] = message
            if message.uplink:
                check_id = None
                spec = message.field("messageId")
                if len(uplink) == 1 and spec is not None and spec.default is not None:
                    check_id = int(spec.default, 16)
                _decode_function(module, message, function, check_id)
            else:
                _encode_function(module, message, function, max_payload)
        namespace: dict[str, Any] = {**_helpers(names), **module.constants}
        source = "\n".join(module.lines)
        exec(compile(source, f"<codec {len(definition.messages)} messages>", "exec"), namespace)  # noqa: S102
        self.source = source
        # Uplink: one message decodes directly; several are told apart by messageId (F-3.5).
        if len(uplink) == 1:
            self._single = namespace[f"f{definition.messages.index(uplink[0])}"]
        elif uplink:
            first = uplink[0].field("messageId")
            assert first is not None and first.field_type is not None
            self._id_offset = uplink[0].offset_of("messageId")
            self._id_size = first.size or 1
            self._id_unpack = struct.Struct(">" + first.field_type.struct_code(None)).unpack_from
            for message in uplink:
                spec = message.field("messageId")
                assert spec is not None and spec.default is not None
                self._decoders[int(spec.default, 16)] = (namespace[f"f{definition.messages.index(message)}"], message)
        self._downlink = {
            (message.service_id, message.command): namespace[f"f{definition.messages.index(message)}"]
            for message in definition.downlink
            if message.kind == "command"
        }
        self._acks = {
            message.name: namespace[f"f{definition.messages.index(message)}"]
            for message in definition.downlink
            if message.kind == "reportAck"
        }
        self._fail_unknown = namespace["_unknown"]
        self._fail_short = namespace["_short"]
        self._id_ref = names.add("", "messageId")
        if self._single is not None:
            self.decode = self._single  # type: ignore[method-assign]
        elif self._decoders:
            self.decode = self._dispatcher()  # type: ignore[method-assign]

    def _dispatcher(self) -> Callable[[bytes], dict[str, Any]]:
        """decode(data) for several uplink messages: the message by messageId (F-3.5), then its function."""
        table = {value: function for value, (function, _message) in self._decoders.items()}
        offset, end, unpack = self._id_offset, (self._id_offset or 0) + self._id_size, self._id_unpack
        assert offset is not None and unpack is not None
        slow = self._message_of

        if self._id_size == 1:

            def decode(data: bytes) -> dict[str, Any]:
                function = table.get(data[offset]) if len(data) >= end else None
                return function(data) if function is not None else slow(data)[0](data)

        else:

            def decode(data: bytes) -> dict[str, Any]:
                function = table.get(unpack(data, offset)[0]) if len(data) >= end else None
                return function(data) if function is not None else slow(data)[0](data)

        return decode

    # --- decoding --------------------------------------------------------------------------------

    def _message_of(self, data: bytes) -> tuple[Callable[[bytes], dict[str, Any]], MessageSpec]:
        if self._single is not None:
            return self._single, self.definition.uplink[0]
        if not self._decoders:
            raise fail("CODEC_UNSUPPORTED", what=Raw("decode uplinks: it has no uplink message"))
        offset = self._id_offset
        assert offset is not None and self._id_unpack is not None
        if len(data) < offset + self._id_size:
            self._fail_short(self._id_ref, offset, offset + self._id_size, len(data))
        value = self._id_unpack(data, offset)[0]
        found = self._decoders.get(value)
        if found is None:
            self._fail_unknown(value, offset)
        return found  # type: ignore[return-value]

    def decode(self, data: bytes) -> dict[str, Any]:
        """The payload's deviceReq or deviceRsp; CodecError names the message, field and byte offset.

        __init__ replaces this method on the instance by the generated function itself (the lone
        uplink message's, or a dispatcher on messageId), so a decode is one Python call.
        """
        return self._message_of(data)[0](data)

    def decode_many(
        self,
        payloads: Sequence[bytes],
        *,
        ports: Sequence[int | None] | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> list[Outcome]:
        # The builder's messages are told apart by their bytes, never by a port.
        outcomes = []
        for payload in payloads:
            try:
                outcomes.append(Outcome(self.decode(payload)))
            except CodecError as error:
                outcomes.append(Outcome(error=error))
        return outcomes

    def decode_with_acks(
        self, payloads: Sequence[bytes], *, ports: Sequence[int | None] | None = None
    ) -> list[tuple[Outcome, Outcome]]:
        results = []
        for payload in payloads:
            try:
                decoded = Outcome(self.decode(payload))
            except CodecError as error:
                results.append((Outcome(error=error), Outcome(None)))
                continue
            try:
                results.append((decoded, Outcome(self.encode_ack(payload))))
            except CodecError as error:
                results.append((decoded, Outcome(error=error)))
        return results

    # --- encoding ---------------------------------------------------------------------------------

    def encode_command(self, cloud_req: Mapping[str, Any]) -> bytes:
        try:
            encoder = self._downlink[cloud_req["serviceId"], cloud_req["cmd"]]
        except (KeyError, TypeError):
            service_id, command = cloud_req.get("serviceId"), cloud_req.get("cmd")
            raise fail("CODEC_ENCODE_NO_MESSAGE", service=Raw(service_id), command=Raw(command)) from None
        return encoder(cloud_req)

    def encode_ack(self, request: bytes, errcode: int = 0, has_more: int = 0) -> bytes | None:
        """The report ACK for an uplink, or None when its message has no response field (F-3.7)."""
        if not request:
            raise fail("CODEC_DECODE_EMPTY")
        message = self._message_of(request)[1]
        if message.kind != "dataReport" or not message.ack:
            return None
        return self._acks[message.ack]({"errcode": errcode, "hasMore": has_more})

    def encode(
        self, message: Mapping[str, Any], *, fport: int | None = None, variables: Mapping[str, str] | None = None
    ) -> Outcome:
        try:
            if message.get("msgType") == "cloudRsp":
                return Outcome(
                    self.encode_ack(message["request"], message.get("errcode", 0), message.get("hasMore", 0))
                )
            return Outcome(self.encode_command(message))
        except CodecError as error:
            return Outcome(error=error)


def compile_definition(definition: Definition, *, max_payload: int) -> OnlinePlugin:
    return OnlinePlugin(definition, max_payload=max_payload)


# --- The registry of plugin kinds ----------------------------------------------------------------------

Loader = Callable[..., Plugin]


def _online(*, definition: Mapping[str, Any], max_payload: int, **_: Any) -> Plugin:
    # A stored version passed every deploy rule; parsing it again only rebuilds the specs.
    parsed, _issues = parse(definition)
    return compile_definition(parsed, max_payload=max_payload)


def _script(*, source: str, **_: Any) -> Plugin:
    from products.codecs.package import script_key
    from products.codecs.script import ScriptPlugin

    return ScriptPlugin(script_key(source), source)


def _ttn(*, source: str, manifest: Mapping[str, Any], index: ProfileIndex, **_: Any) -> Plugin:
    from products.codecs.package import script_key
    from products.codecs.ttn import TtnPlugin

    return TtnPlugin(script_key(source), source, manifest, index)


ENGINES: dict[str, Loader] = {"online": _online, "script": _script, "ttn": _ttn}
