"""Online plugins: the builder's document, the deploy checks (F-3.2, F-3.5 to F-3.7) and the byte layout.

An online plugin is a list of messages, each an ordered list of fields, stored as JSON:

    {"messages": [
      {"name": "report", "kind": "dataReport", "serviceId": "Meter", "ack": "reportAck",
       "fields": [{"name": "messageId", "type": "uint8", "default": "0x01"},
                  {"name": "reading", "type": "uint32", "target": "reading"},
                  {"name": "labelLength", "type": "uint8"},
                  {"name": "label", "type": "varstring", "lengthField": "labelLength", "target": "label"}]},
      {"name": "setPeriod", "kind": "command", "serviceId": "Meter", "command": "SET_PERIOD",
       "fields": [{"name": "messageId", "type": "uint8", "default": "0x02"},
                  {"name": "mid", "type": "uint16"},
                  {"name": "period", "type": "uint16", "target": "period"}]},
      ...]}

Kinds: `dataReport` and `commandResponse` go up (device to platform, F-3.5 counts a command response as
a data report), `command` and `reportAck` go down (an ACK counts as a command). Four field names have a
meaning of their own, as in the original: `messageId` tells the messages of one direction apart and
sits at the same position in all of them; `mid` links a command and its response (same position in
both, F-3.6); `errcode` is a response's result or an ACK's; `hasMore` says more messages follow. A
data report's `ack` names the report ACK message the platform answers it with ("add response field",
F-3.7). Other fields map (`target`) to a property of the message's service, a parameter of its
command, or of the command's responses; a field without target is a constant (its default) or padding.
Defaults are the field's bytes in hex (F-3.2). Every multi-byte value is big-endian (F-1.4).

`parse` reads a document leniently (the builder shows a half-made plugin's layout); `check` applies
every deploy rule and returns the issues, each naming the message, the field and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from products.codecs.errors import CodecError, CodecIssue, Raw, issue
from products.codecs.fields import FIELD_TYPES, FieldType, parse_hex
from products.codecs.profile import ProfileIndex

KINDS = ("dataReport", "command", "commandResponse", "reportAck")
UPLINK_KINDS = frozenset({"dataReport", "commandResponse"})
ROLES = ("messageId", "mid", "errcode", "hasMore")
# Where each named field means something; elsewhere it would be misread.
ROLE_KINDS = {
    "messageId": frozenset(KINDS),
    "mid": frozenset({"command", "commandResponse"}),
    "errcode": frozenset({"commandResponse", "reportAck"}),
    "hasMore": frozenset(KINDS),
}
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")

# F-3.2: names the plugin language reserves. Offline plugins were Java, ours are JavaScript: both.
RESERVED_WORDS = frozenset(
    {
        "abstract",
        "arguments",
        "assert",
        "await",
        "boolean",
        "break",
        "byte",
        "case",
        "catch",
        "char",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "double",
        "else",
        "enum",
        "eval",
        "export",
        "extends",
        "false",
        "final",
        "finally",
        "float",
        "for",
        "function",
        "goto",
        "if",
        "implements",
        "import",
        "in",
        "instanceof",
        "int",
        "interface",
        "let",
        "long",
        "native",
        "new",
        "null",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "short",
        "static",
        "strictfp",
        "super",
        "switch",
        "synchronized",
        "this",
        "throw",
        "throws",
        "transient",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "volatile",
        "while",
        "with",
        "yield",
        "undefined",
        "NaN",
        "Infinity",
    }
)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    length: int | None = None
    default: str | None = None  # upper-case hex of the field's bytes, no 0x
    length_field: str | None = None
    target: str | None = None

    @property
    def field_type(self) -> FieldType | None:
        return FIELD_TYPES.get(self.type)

    @property
    def size(self) -> int | None:
        field_type = self.field_type
        return field_type.size(self.length) if field_type is not None else None

    @property
    def default_bytes(self) -> bytes | None:
        return bytes.fromhex(self.default) if self.default is not None else None

    def as_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.length is not None:
            value["length"] = self.length
        if self.default is not None:
            value["default"] = f"0x{self.default}"
        if self.length_field:
            value["lengthField"] = self.length_field
        if self.target:
            value["target"] = self.target
        return value


@dataclass(frozen=True)
class MessageSpec:
    name: str
    kind: str
    service_id: str = ""
    command: str = ""
    ack: str = ""
    fields: tuple[FieldSpec, ...] = ()

    @property
    def uplink(self) -> bool:
        return self.kind in UPLINK_KINDS

    @property
    def direction(self) -> str:
        return "uplink" if self.uplink else "downlink"

    def field(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    @property
    def length_fields(self) -> dict[str, str]:
        """length field name -> the variable field whose length it holds."""
        return {spec.length_field: spec.name for spec in self.fields if spec.length_field}

    def offsets(self) -> list[int | None]:
        """Each field's byte offset while it is fixed; None from the first variable field on."""
        result: list[int | None] = []
        offset: int | None = 0
        for spec in self.fields:
            result.append(offset)
            size = spec.size
            offset = offset + size if offset is not None and size is not None else None
        return result

    def offset_of(self, name: str) -> int | None:
        for spec, offset in zip(self.fields, self.offsets(), strict=True):
            if spec.name == name:
                return offset
        return None

    @property
    def fixed_size(self) -> int | None:
        total = 0
        for spec in self.fields:
            size = spec.size
            if size is None:
                return None
            total += size
        return total

    def as_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind != "reportAck":
            value["serviceId"] = self.service_id
        if self.kind in ("command", "commandResponse"):
            value["command"] = self.command
        if self.kind == "dataReport" and self.ack:
            value["ack"] = self.ack
        value["fields"] = [spec.as_json() for spec in self.fields]
        return value


@dataclass(frozen=True)
class Definition:
    messages: tuple[MessageSpec, ...]

    def message(self, name: str) -> MessageSpec | None:
        for message in self.messages:
            if message.name == name:
                return message
        return None

    @property
    def uplink(self) -> tuple[MessageSpec, ...]:
        return tuple(message for message in self.messages if message.uplink)

    @property
    def downlink(self) -> tuple[MessageSpec, ...]:
        return tuple(message for message in self.messages if not message.uplink)

    def as_json(self) -> dict[str, Any]:
        return {"messages": [message.as_json() for message in self.messages]}


# --- Reading a document -----------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _length(value: Any) -> int | str | None:
    """A length as typed: a whole number, None when empty, the text itself when it is neither."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    return int(text) if text.isdigit() else text


def parse(raw: Any) -> tuple[Definition, list[CodecIssue]]:
    """The document as specs, and the issues of its parts taken one by one (not yet against each other).

    Lenient: what cannot be read becomes empty or None and an issue, so that a half-made plugin still
    has a layout.
    """
    issues: list[CodecIssue] = []
    messages_raw = raw.get("messages") if isinstance(raw, Mapping) else None
    if not isinstance(messages_raw, list) or not messages_raw:
        issues.append(issue("CODEC_NO_MESSAGES", path="$.messages"))
        return Definition(()), issues
    messages = []
    for position, item in enumerate(messages_raw):
        path = f"$.messages[{position}]"
        item = item if isinstance(item, Mapping) else {}
        name = _text(item.get("name"))
        kind = _text(item.get("kind"))
        if not NAME.fullmatch(name):
            issues.append(issue("CODEC_MESSAGE_NAME", path=f"{path}.name", message_name=name, value=name))
        if kind not in KINDS:
            issues.append(issue("CODEC_MESSAGE_KIND", path=f"{path}.kind", message_name=name, value=kind))
        fields_raw = item.get("fields") if isinstance(item.get("fields"), list) else []
        fields = tuple(
            _parse_field(field_raw, f"{path}.fields[{index}]", name, issues)
            for index, field_raw in enumerate(fields_raw)
        )
        messages.append(
            MessageSpec(
                name=name,
                kind=kind,
                service_id=_text(item.get("serviceId")),
                command=_text(item.get("command")),
                ack=_text(item.get("ack")),
                fields=fields,
            )
        )
    return Definition(tuple(messages)), issues


def _parse_field(raw: Any, path: str, message_name: str, issues: list[CodecIssue]) -> FieldSpec:
    raw = raw if isinstance(raw, Mapping) else {}
    name = _text(raw.get("name"))
    type_name = _text(raw.get("type"))
    where = {"message_name": message_name, "field": name}
    if not NAME.fullmatch(name):
        issues.append(issue("CODEC_FIELD_NAME", path=f"{path}.name", value=name, **where))
    elif name in RESERVED_WORDS:
        issues.append(issue("CODEC_RESERVED_NAME", path=f"{path}.name", value=name, **where))
    field_type = FIELD_TYPES.get(type_name)
    if field_type is None:
        issues.append(
            issue("CODEC_FIELD_TYPE", path=f"{path}.type", value=type_name, types=Raw(", ".join(FIELD_TYPES)), **where)
        )
    length = _length(raw.get("length"))
    if field_type is not None and field_type.sized:
        if not isinstance(length, int) or length < 1:
            problem = Raw("is missing: a string or array field needs its length in bytes")
            if length is not None:
                problem = Raw("must be a whole number of bytes from 1")
            issues.append(issue("CODEC_FIELD_LENGTH", path=f"{path}.length", value=length, problem=problem, **where))
            length = None
    elif length is not None:
        if field_type is not None:
            problem = Raw(f"means nothing for a {type_name} field, whose size is its own")
            issues.append(issue("CODEC_FIELD_LENGTH", path=f"{path}.length", value=length, problem=problem, **where))
        length = None
    default: str | None = None
    default_raw = raw.get("default")
    if default_raw not in (None, ""):
        try:
            value = parse_hex(str(default_raw))
        except ValueError:
            issues.append(issue("CODEC_DEFAULT_NOT_HEX", path=f"{path}.default", value=str(default_raw), **where))
        else:
            if field_type is not None:
                try:
                    field_type.default_value(value, length if isinstance(length, int) else None)
                except ValueError as error:
                    issues.append(
                        issue(
                            "CODEC_DEFAULT_RANGE",
                            path=f"{path}.default",
                            value=str(default_raw),
                            limit=Raw(str(error)),
                            **where,
                        )
                    )
                else:
                    default = value.hex().upper()
    length_field = _text(raw.get("lengthField")) or None
    if length_field and field_type is not None and not field_type.variable:
        problem = Raw("is for varstring and varray fields only")
        issues.append(
            issue("CODEC_LENGTH_FIELD", path=f"{path}.lengthField", value=length_field, problem=problem, **where)
        )
        length_field = None
    return FieldSpec(
        name=name,
        type=type_name,
        length=length if isinstance(length, int) else None,
        default=default,
        length_field=length_field,
        target=_text(raw.get("target")) or None,
    )


# --- The deploy rules ---------------------------------------------------------------------------------


def check(definition: Definition, index: ProfileIndex | None, *, max_payload: int) -> list[CodecIssue]:
    """Every rule between messages, fields and the profile; [] when the plugin can be deployed."""
    issues: list[CodecIssue] = []
    names: set[str] = set()
    acks = {message.name for message in definition.messages if message.kind == "reportAck"}
    for position, message in enumerate(definition.messages):
        path = f"$.messages[{position}]"
        if message.name and message.name in names:
            issues.append(
                issue("CODEC_MESSAGE_DUPLICATE", path=f"{path}.name", message_name=message.name, value=message.name)
            )
        names.add(message.name)
        _check_message(message, path, index, acks, issues, max_payload)
    _check_direction(definition.uplink, definition, "uplink", issues)
    _check_direction(definition.downlink, definition, "downlink", issues)
    _check_mid(definition, issues)
    return issues


def _position(definition: Definition, message: MessageSpec) -> int:
    return definition.messages.index(message)


def _check_message(
    message: MessageSpec,
    path: str,
    index: ProfileIndex | None,
    acks: set[str],
    issues: list[CodecIssue],
    max_payload: int,
) -> None:
    if message.kind not in KINDS:
        return
    if not message.fields:
        issues.append(issue("CODEC_MESSAGE_EMPTY", path=f"{path}.fields", message_name=message.name))
    targets = _targets(message, path, index, issues)
    if message.kind == "dataReport" and message.ack and message.ack not in acks:
        issues.append(issue("CODEC_ACK_UNKNOWN", path=f"{path}.ack", message_name=message.name, value=message.ack))
    seen: dict[str, str] = {}
    mapped: dict[str, str] = {}
    length_fields = message.length_fields
    offsets = message.offsets()
    for number, (spec, offset) in enumerate(zip(message.fields, offsets, strict=True)):
        here = f"{path}.fields[{number}]"
        where = {"message_name": message.name, "field": spec.name}
        if spec.name and spec.name in seen:
            issues.append(issue("CODEC_FIELD_DUPLICATE", path=f"{here}.name", value=spec.name, **where))
        seen[spec.name] = here
        field_type = spec.field_type
        if spec.name in ROLES:
            _check_role(message, spec, here, offset, issues)
        if field_type is not None and field_type.variable:
            _check_variable(message, number, spec, here, issues)
        if spec.target:
            reason = None
            if message.kind == "reportAck":
                reason = "a report ACK carries no profile data"
            elif spec.name in ROLES:
                reason = f"{spec.name} has its own meaning"
            elif spec.name in length_fields:
                reason = f"the field holds the length of {length_fields[spec.name]}"
            if reason is not None:
                issues.append(
                    issue(
                        "CODEC_TARGET_NOT_ALLOWED",
                        path=f"{here}.target",
                        value=spec.target,
                        reason=Raw(reason),
                        **where,
                    )
                )
            elif targets is not None:
                _check_target(spec, here, targets, mapped, issues, message)
    size = message.fixed_size
    if size is not None and size > max_payload:
        issues.append(
            issue(
                "CODEC_MESSAGE_TOO_LONG",
                path=f"{path}.fields",
                message_name=message.name,
                size=Raw(size),
                limit=Raw(max_payload),
            )
        )


def _targets(
    message: MessageSpec, path: str, index: ProfileIndex | None, issues: list[CodecIssue]
) -> tuple[dict[str, Any], str] | None:
    """What the message's fields may map to, and how errors name it; None when unknown."""
    if message.kind == "reportAck" or index is None:
        return None
    service = index.services.get(message.service_id)
    if service is None:
        issues.append(
            issue(
                "CODEC_MESSAGE_SERVICE", path=f"{path}.serviceId", message_name=message.name, value=message.service_id
            )
        )
        return None
    if message.kind == "dataReport":
        return service.properties, f"a property of {service.service_id}"
    command = service.commands.get(message.command)
    if command is None:
        issues.append(
            issue(
                "CODEC_MESSAGE_COMMAND",
                path=f"{path}.command",
                message_name=message.name,
                value=message.command,
                service=service.service_id,
            )
        )
        return None
    if message.kind == "command":
        return command.paras, f"a parameter of {command.name}"
    if not command.responses:
        issues.append(
            issue("CODEC_MESSAGE_RESPONSE", path=f"{path}.command", message_name=message.name, value=command.name)
        )
        return None
    return command.response_paras, f"a parameter of {command.name}'s responses"


def _check_target(
    spec: FieldSpec,
    here: str,
    targets: tuple[dict[str, Any], str],
    mapped: dict[str, str],
    issues: list[CodecIssue],
    message: MessageSpec,
) -> None:
    where = {"message_name": message.name, "field": spec.name}
    choices, description = targets
    datum = choices.get(spec.target)
    if datum is None:
        issues.append(
            issue("CODEC_TARGET_UNKNOWN", path=f"{here}.target", value=spec.target, where=Raw(description), **where)
        )
        return
    if spec.target in mapped:
        issues.append(
            issue(
                "CODEC_TARGET_DUPLICATE", path=f"{here}.target", value=spec.target, other=mapped[spec.target], **where
            )
        )
    mapped[spec.target] = spec.name
    field_type = spec.field_type
    if field_type is not None and datum.data_type not in field_type.data_types:
        issues.append(
            issue(
                "CODEC_TARGET_TYPE",
                path=f"{here}.target",
                type=Raw(spec.type),
                value=spec.target,
                data_type=datum.data_type,
                **where,
            )
        )


def _check_role(message: MessageSpec, spec: FieldSpec, here: str, offset: int | None, issues: list[CodecIssue]) -> None:
    where = {"message_name": message.name, "field": spec.name}
    field_type = spec.field_type
    if message.kind not in ROLE_KINDS[spec.name]:
        issues.append(
            issue("CODEC_ROLE_MISPLACED", path=f"{here}.name", value=spec.name, kind=Raw(message.kind), **where)
        )
        return
    if field_type is not None and not field_type.integer:
        code = "CODEC_MESSAGE_ID_TYPE" if spec.name == "messageId" else "CODEC_MID_TYPE" if spec.name == "mid" else None
        if code is not None:
            issues.append(issue(code, path=f"{here}.type", value=spec.type, **where))
        else:
            issues.append(issue("CODEC_ROLE_TYPE", path=f"{here}.type", value=Raw(spec.name), type=spec.type, **where))
        return
    if spec.name == "mid" and spec.type not in ("uint16", "uint32"):
        issues.append(issue("CODEC_MID_TYPE", path=f"{here}.type", value=spec.type, **where))
    if spec.name == "messageId" and spec.default is None:
        issues.append(issue("CODEC_MESSAGE_ID_DEFAULT", path=f"{here}.default", **where))
    if spec.name in ("messageId", "mid") and offset is None:
        issues.append(issue("CODEC_ROLE_VARIABLE_OFFSET", path=f"{here}.name", value=Raw(spec.name), **where))


def _check_variable(message: MessageSpec, number: int, spec: FieldSpec, here: str, issues: list[CodecIssue]) -> None:
    where = {"message_name": message.name, "field": spec.name}
    if not spec.length_field:
        if number != len(message.fields) - 1:
            issues.append(issue("CODEC_VARIABLE_NOT_LAST", path=f"{here}.lengthField", **where))
        return
    problem = None
    position = next((i for i, other in enumerate(message.fields) if other.name == spec.length_field), None)
    if position is None:
        problem = "is not a field of the message"
    elif position >= number:
        problem = "must come before the field whose length it holds"
    else:
        holder = message.fields[position]
        holder_type = holder.field_type
        if holder.name in ROLES:
            problem = f"is {holder.name}, which has its own meaning"
        elif holder_type is None or not holder_type.integer or holder.type.startswith("int"):
            problem = "must be an unsigned integer field (uint8, uint16 or uint32)"
        elif sum(1 for other in message.fields if other.length_field == holder.name) > 1:
            problem = "holds the length of two fields"
    if problem is not None:
        issues.append(
            issue(
                "CODEC_LENGTH_FIELD", path=f"{here}.lengthField", value=spec.length_field, problem=Raw(problem), **where
            )
        )


def _check_direction(
    messages: tuple[MessageSpec, ...], definition: Definition, direction: str, issues: list[CodecIssue]
) -> None:
    messages = tuple(message for message in messages if message.kind in KINDS)
    responses = any(message.kind == "commandResponse" for message in definition.messages)
    reason = None
    if len(messages) > 1:
        reason = f"tells the {len(messages)} {direction} messages apart (F-3.5)"
    elif direction == "uplink" and responses:
        reason = "links a command response to its command (F-3.6)"
    reference: tuple[MessageSpec, int] | None = None
    values: dict[str, MessageSpec] = {}
    for message in messages:
        path = f"$.messages[{_position(definition, message)}]"
        spec = message.field("messageId")
        if spec is None:
            if reason is not None:
                issues.append(
                    issue(
                        "CODEC_MESSAGE_ID_MISSING", path=f"{path}.fields", message_name=message.name, reason=Raw(reason)
                    )
                )
            continue
        number = message.fields.index(spec)
        here = f"{path}.fields[{number}]"
        where = {"message_name": message.name, "field": "messageId"}
        offset = message.offset_of("messageId")
        if offset is not None:
            if reference is None:
                reference = (message, offset)
            elif reference[1] != offset:
                issues.append(
                    issue(
                        "CODEC_MESSAGE_ID_POSITION",
                        path=f"{here}.name",
                        offset=offset,
                        other_offset=Raw(reference[1]),
                        other=reference[0].name,
                        direction=Raw(direction),
                        **where,
                    )
                )
        if spec.default is not None and spec.field_type is not None and spec.field_type.integer:
            value = str(int(spec.default, 16))
            if value in values:
                issues.append(
                    issue(
                        "CODEC_MESSAGE_ID_REPEATED",
                        path=f"{here}.default",
                        value=Raw(f"0x{spec.default}"),
                        other=values[value].name,
                        direction=Raw(direction),
                        **where,
                    )
                )
            else:
                values[value] = message


def _check_mid(definition: Definition, issues: list[CodecIssue]) -> None:
    """F-3.6: a command response carries mid, at the same position as in its command."""
    for response in definition.messages:
        if response.kind != "commandResponse":
            continue
        path = f"$.messages[{_position(definition, response)}]"
        if response.field("mid") is None:
            issues.append(
                issue(
                    "CODEC_MID_MISSING",
                    path=f"{path}.fields",
                    message_name=response.name,
                    reason=Raw("links the response to its command (F-3.6)"),
                )
            )
            continue
        offset = response.offset_of("mid")
        for command in definition.messages:
            if command.kind != "command" or (command.service_id, command.command) != (
                response.service_id,
                response.command,
            ):
                continue
            command_path = f"$.messages[{_position(definition, command)}]"
            if command.field("mid") is None:
                issues.append(
                    issue(
                        "CODEC_MID_MISSING",
                        path=f"{command_path}.fields",
                        message_name=command.name,
                        reason=Raw(f"links the command to its response {response.name} (F-3.6)"),
                    )
                )
                continue
            command_offset = command.offset_of("mid")
            if offset is not None and command_offset is not None and offset != command_offset:
                spec = response.field("mid")
                assert spec is not None
                issues.append(
                    issue(
                        "CODEC_MID_POSITION",
                        path=f"{path}.fields[{response.fields.index(spec)}].name",
                        message_name=response.name,
                        field="mid",
                        offset=offset,
                        other_offset=Raw(command_offset),
                        other=command.name,
                    )
                )


def check_definition(raw: Any, index: ProfileIndex | None, *, max_payload: int) -> Definition:
    """The plugin ready to compile, or CodecError listing every rule it breaks."""
    definition, issues = parse(raw)
    issues += check(definition, index, max_payload=max_payload)
    if issues:
        raise CodecError(issues)
    return definition


# --- The byte layout the builder shows ----------------------------------------------------------------


@dataclass(frozen=True)
class LayoutRow:
    number: int
    name: str
    type: str
    label: str
    offset: int | None
    size: int | None
    size_text: str
    role: str  # messageId, mid, errcode or hasMore, else empty
    length_of: str  # the variable field whose length this field holds, else empty
    target: str
    default: str

    @property
    def end(self) -> int | None:
        return self.offset + self.size - 1 if self.offset is not None and self.size is not None else None


@dataclass(frozen=True)
class MessageLayout:
    message: MessageSpec
    rows: tuple[LayoutRow, ...]
    size: int | None
    example: str  # hex of the message with defaults (and zeros), fixed part only


def layout(definition: Definition) -> list[MessageLayout]:
    """Offsets and sizes of every field of every message, as far as they are known."""
    result = []
    for message in definition.messages:
        rows = []
        example = bytearray()
        fixed = True
        length_fields = message.length_fields
        for number, (spec, offset) in enumerate(zip(message.fields, message.offsets(), strict=True)):
            field_type = spec.field_type
            size = spec.size
            if field_type is None:
                size_text = "?"
            elif size is not None:
                size_text = f"{size}"
            elif spec.length_field:
                size_text = f"{spec.length_field}"
            else:
                size_text = "…"
            role = spec.name if spec.name in ROLES else ""
            rows.append(
                LayoutRow(
                    number=number,
                    name=spec.name,
                    type=spec.type,
                    label=str(field_type.label) if field_type is not None else "",
                    offset=offset,
                    size=size,
                    size_text=size_text,
                    role=role,
                    length_of=length_fields.get(spec.name, ""),
                    target=spec.target or "",
                    default=f"0x{spec.default}" if spec.default is not None else "",
                )
            )
            if fixed and size is not None:
                raw = spec.default_bytes or b""
                if (field_type is not None and field_type.integer) or spec.type in ("float", "double"):
                    raw = raw.rjust(size, b"\0")
                example += raw.ljust(size, b"\0")[:size]
            else:
                fixed = False
        result.append(MessageLayout(message, tuple(rows), message.fixed_size, example.hex(" ").upper()))
    return result
