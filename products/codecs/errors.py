"""Every way a codec says no: one catalogue of rules with stable codes, and one exception type.

A `CodecIssue` names the rule (`code`, documented with its fix in docs/errors.md), where it happened
(the file inside a plugin zip and a JSON path, or the codec message, field and byte offset of a
payload) and the values that make the message specific (`params`; `detail` holds a plugin's own
error text). `CodecError` carries one or more issues: a payload that cannot be decoded has one, an
online plugin that cannot be deployed or an offline plugin the checker refuses has all of theirs,
so one upload reports as much as it can. It also carries what the plugin logged before it failed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext, gettext_noop


@dataclass(frozen=True)
class CodecRule:
    """A rule: its code, the FAQ rule it comes from, the message (English, for gettext) and the fix."""

    code: str
    area: str
    faq: str | None
    message: str
    fix: str


AREAS = {
    "package": gettext_noop("The plugin zip"),
    "script": gettext_noop("JavaScript plugins"),
    "ttn": gettext_noop("The Things Network and ChirpStack codecs"),
    "check": gettext_noop("The checker"),
    "online": gettext_noop("Online plugins"),
    "decode": gettext_noop("Decoding a payload"),
    "encode": gettext_noop("Encoding a command or an ACK"),
    "profile": gettext_noop("Values against the profile"),
    "platform": gettext_noop("The platform's state"),
}


def _rules(*rules: CodecRule) -> dict[str, CodecRule]:
    return {rule.code: rule for rule in rules}


def R(code: str, area: str, faq: str | None, message: str, fix: str) -> CodecRule:  # one row of the table
    return CodecRule(code, area, faq, message, fix)


RULES: dict[str, CodecRule] = _rules(
    # --- The plugin zip ---------------------------------------------------------------------------
    R(
        "CODEC_FILE_MISSING",
        "package",
        None,
        gettext_noop("No file was uploaded: send the plugin zip as the file field."),
        gettext_noop("Send the zip as the multipart field `file` (API), or choose a file (portal)."),
    ),
    R(
        "CODEC_UPLOAD_TOO_LARGE",
        "package",
        None,
        gettext_noop("The file is %(size)s bytes; a plugin zip may be at most %(limit)s bytes."),
        gettext_noop("Leave out what the plugin does not run: a codec is a script of a few kilobytes."),
    ),
    R(
        "CODEC_NOT_ZIP",
        "package",
        "F-3.8",
        gettext_noop("The file is not a zip archive."),
        gettext_noop("Put manifest.json, the script and vectors.json in a zip (not rar, 7z or tar) and upload it."),
    ),
    R(
        "CODEC_ZIP_ENTRY",
        "package",
        "F-3.10",
        gettext_noop("The entry %(name)s is refused: %(reason)s."),
        gettext_noop(
            "Make the zip again from the plugin's folder: plain files with relative paths, no links, "
            "no password, deflate or no compression. Any characters in names are fine when the zip stores "
            "them as UTF-8."
        ),
    ),
    R(
        "CODEC_MANIFEST_MISSING",
        "package",
        "F-3.8",
        gettext_noop("The zip has no manifest.json."),
        gettext_noop(
            'Add manifest.json at the zip\'s root (or inside its one folder): {"manufacturerId": ..., '
            '"model": ..., "entry": "codec.js", "version": "1.0.0"}.'
        ),
    ),
    R(
        "CODEC_MANIFEST_JSON",
        "package",
        "F-3.8",
        gettext_noop("manifest.json is not valid JSON: %(detail)s."),
        gettext_noop("Fix the JSON at the line and column given."),
    ),
    R(
        "CODEC_MANIFEST_FIELD",
        "package",
        "F-3.8",
        gettext_noop("manifest.json: %(field)s %(problem)s."),
        gettext_noop(
            "manufacturerId, model, entry and version are non-empty strings; format is oceanconnect or ttn; "
            "mapping and commands are objects."
        ),
    ),
    R(
        "CODEC_MANIFEST_PRODUCT",
        "package",
        None,
        gettext_noop(
            "The plugin is for manufacturerId %(manufacturer_id)s and model %(model)s, not for this product "
            "(%(expected_manufacturer_id)s, %(expected_model)s)."
        ),
        gettext_noop("Upload it to its own product, or correct manufacturerId and model in manifest.json."),
    ),
    R(
        "CODEC_PRODUCT_UNKNOWN",
        "package",
        None,
        gettext_noop("This application has no product with manufacturerId %(manufacturer_id)s and model %(model)s."),
        gettext_noop(
            "Create the product's profile first; a codec belongs to a product of the application that uploads it."
        ),
    ),
    R(
        "CODEC_ENTRY_MISSING",
        "package",
        "F-3.8",
        gettext_noop("The script %(entry)s that manifest.json names as entry is not in the zip."),
        gettext_noop("Put the script in the zip beside manifest.json, or correct entry."),
    ),
    R(
        "CODEC_ENTRY_ENCODING",
        "package",
        None,
        gettext_noop("The script %(entry)s is not UTF-8 text."),
        gettext_noop("Save the script as UTF-8."),
    ),
    R(
        "CODEC_VECTORS_MISSING",
        "package",
        "F-3.8",
        gettext_noop("The plugin carries no %(what)s test vectors."),
        gettext_noop(
            'Add vectors.json with "decode": [{"payload": "<hex>", "expected": {...}}] and, when the plugin '
            'encodes, "encode": [{"input": {...}, "expected": "<hex>"}].'
        ),
    ),
    R(
        "CODEC_VECTORS_JSON",
        "package",
        "F-3.8",
        gettext_noop("The vectors file is not valid JSON: %(detail)s."),
        gettext_noop("Fix the JSON at the line and column given."),
    ),
    R(
        "CODEC_VECTORS_YAML",
        "package",
        "F-3.8",
        gettext_noop("The examples file is not valid YAML: %(detail)s."),
        gettext_noop(
            "Fix the YAML at the line and column given; the file is The Things Network's *-codec.yaml, with "
            "uplinkDecoder and downlinkEncoder examples."
        ),
    ),
    R(
        "CODEC_VECTOR_SHAPE",
        "package",
        "F-3.8",
        gettext_noop("This vector %(problem)s."),
        gettext_noop(
            'A decode vector is {"name": ..., "payload": "<hex>", "expected": {...}} or with "error": "<text '
            'the plugin\'s error contains>"; an encode vector is {"name": ..., "input": {...}, "expected": '
            '"<hex>" or null}.'
        ),
    ),
    # --- JavaScript plugins ------------------------------------------------------------------------
    R(
        "CODEC_JS_SYNTAX",
        "script",
        "F-3.8",
        gettext_noop("The script does not compile: %(detail)s"),
        gettext_noop("Fix the syntax error at the line given; the checker (manage.py check_codec) shows the same."),
    ),
    R(
        "CODEC_JS_LOAD",
        "script",
        "F-3.8",
        gettext_noop("The script failed while loading: %(detail)s"),
        gettext_noop("Top-level code runs once when the plugin loads: it must not throw, loop or use much memory."),
    ),
    R(
        "CODEC_JS_EXPORTS",
        "script",
        "F-3.8",
        gettext_noop("The script defines no %(missing)s function."),
        gettext_noop(
            "An OceanConnect-style plugin defines decode(bytes) and encode(obj); a TTN v3 or ChirpStack v4 "
            "codec defines decodeUplink(input) and optionally encodeDownlink(input); ChirpStack v3: "
            "Decode(fPort, bytes, variables) and Encode; TTN v2: Decoder(bytes, port) and Encoder."
        ),
    ),
    R(
        "CODEC_JS_EXCEPTION",
        "script",
        "F-3.9",
        gettext_noop("The plugin's %(function)s threw: %(detail)s"),
        gettext_noop(
            "The message is the plugin's own. Reproduce it in the debugging page with the same payload and "
            "log with console.log at the entry and exit of the function."
        ),
    ),
    R(
        "CODEC_JS_TIMEOUT",
        "script",
        "F-3.9",
        gettext_noop("The plugin's %(function)s ran longer than %(limit)s ms and was stopped."),
        gettext_noop("Look for a loop that does not end for this payload; a decode takes microseconds."),
    ),
    R(
        "CODEC_JS_MEMORY",
        "script",
        "F-3.9",
        gettext_noop("The plugin's %(function)s used more than %(limit)s bytes of memory and was stopped."),
        gettext_noop("Look for an allocation that grows with a value read from the payload."),
    ),
    R(
        "CODEC_JS_CRASHED",
        "script",
        "F-3.9",
        gettext_noop("The JavaScript engine stopped while running the plugin's %(function)s: %(detail)s."),
        gettext_noop(
            "V8 aborts on some huge allocations (an array of hundreds of millions of elements). The engine "
            "was restarted; bound what the plugin allocates."
        ),
    ),
    R(
        "CODEC_JS_SHAPE",
        "script",
        "F-3.9",
        gettext_noop("The plugin's %(function)s returned %(problem)s."),
        gettext_noop(
            "decode returns {msgType: 'deviceReq', data: [{serviceId, serviceData}]} or {msgType: "
            "'deviceRsp', mid, errcode, body}; encode returns an array of integers 0 to 255 (or null for a "
            "cloudRsp without ACK). See shared/reference/northbound-api.md section 7."
        ),
    ),
    R(
        "CODEC_UNSUPPORTED",
        "script",
        None,
        gettext_noop("The plugin cannot %(what)s."),
        gettext_noop(
            "Define encode(obj) (OceanConnect style) or encodeDownlink(input) (TTN style), or add the command "
            "message to the online plugin."
        ),
    ),
    # --- TTN and ChirpStack codecs --------------------------------------------------------------------
    R(
        "CODEC_TTN_ERRORS",
        "ttn",
        None,
        gettext_noop("The codec reported errors: %(detail)s"),
        gettext_noop("The codec's own errors: check the payload against the device's documentation."),
    ),
    R(
        "CODEC_TTN_INVALID",
        "ttn",
        None,
        gettext_noop("The codec's Validator refused the decoded values."),
        gettext_noop(
            "A TTN v2 codec's Validator(converted, port) returned false: the payload decoded to values the "
            "codec itself holds invalid; check the payload against the device's documentation."
        ),
    ),
    R(
        "CODEC_TTN_UNMAPPED",
        "ttn",
        None,
        gettext_noop("The key %(key)s of the codec's data %(reason)s."),
        gettext_noop(
            'Map it in manifest.json: "mapping": {"%(key)s": "ServiceId.property"}, or "%(key)s": null to '
            "leave it out. Without a mapping a key must equal a property name of exactly one service."
        ),
    ),
    R(
        "CODEC_TTN_MAPPING",
        "ttn",
        None,
        gettext_noop("mapping %(key)s names %(target)s, which is not a property of the profile."),
        gettext_noop('Write "ServiceId.propertyName" with a serviceId and a property of the product\'s profile.'),
    ),
    # --- The checker ---------------------------------------------------------------------------------
    R(
        "CODEC_VECTOR_FAILED",
        "check",
        "F-3.8",
        gettext_noop("The vector %(vector)s expected %(expected)s but the plugin gave %(actual)s."),
        gettext_noop("Fix the plugin, or the vector if the plugin is right."),
    ),
    R(
        "CODEC_VECTOR_NO_ERROR",
        "check",
        "F-3.8",
        gettext_noop("The vector %(vector)s expected an error containing %(expected)s, but %(actual)s."),
        gettext_noop("The plugin must refuse this payload with an error whose message contains the text given."),
    ),
    R(
        "CODEC_CHECK_SLOW",
        "check",
        "F-3.8",
        gettext_noop("%(function)s takes %(time)s ms per call; at most %(limit)s ms is allowed."),
        gettext_noop("A decode takes microseconds: remove the work that does not depend on the payload."),
    ),
    # --- Online plugins ------------------------------------------------------------------------------
    R(
        "CODEC_NO_MESSAGES",
        "online",
        "F-3.1",
        gettext_noop("The plugin has no messages."),
        gettext_noop("Add a data report message at least."),
    ),
    R(
        "CODEC_MESSAGE_NAME",
        "online",
        None,
        gettext_noop("The message name %(value)s must start with a letter and hold letters, digits and _."),
        gettext_noop("Name it like report or setPeriodRsp."),
    ),
    R(
        "CODEC_MESSAGE_DUPLICATE",
        "online",
        None,
        gettext_noop("Two messages are named %(value)s."),
        gettext_noop("Rename one of them."),
    ),
    R(
        "CODEC_MESSAGE_KIND",
        "online",
        "F-3.4",
        gettext_noop("The message kind %(value)s must be dataReport, command, commandResponse or reportAck."),
        gettext_noop("Choose one of the four; there is no pass-through kind (F-3.4)."),
    ),
    R(
        "CODEC_MESSAGE_EMPTY",
        "online",
        None,
        gettext_noop("The message has no fields."),
        gettext_noop("Add its fields, or delete the message."),
    ),
    R(
        "CODEC_MESSAGE_SERVICE",
        "online",
        None,
        gettext_noop("serviceId %(value)s is not a service of the product."),
        gettext_noop("Choose one of the profile's serviceIds."),
    ),
    R(
        "CODEC_MESSAGE_COMMAND",
        "online",
        None,
        gettext_noop("The service %(service)s has no command %(value)s."),
        gettext_noop("Choose one of the service's commands (profile commandName)."),
    ),
    R(
        "CODEC_MESSAGE_RESPONSE",
        "online",
        "F-3.6",
        gettext_noop("The command %(value)s has no response in the profile."),
        gettext_noop("Add a response to the command in the profile, or make this message a data report."),
    ),
    R(
        "CODEC_MESSAGE_TOO_LONG",
        "online",
        None,
        gettext_noop("The message is %(size)s bytes long; a payload may be at most %(limit)s bytes."),
        gettext_noop("Shorten strings and arrays, or split the message."),
    ),
    R(
        "CODEC_ACK_UNKNOWN",
        "online",
        "F-3.7",
        gettext_noop("The response field names %(value)s, which is not a report ACK message of the plugin."),
        gettext_noop("Name a message of kind reportAck, or clear the option."),
    ),
    R(
        "CODEC_FIELD_NAME",
        "online",
        None,
        gettext_noop("The field name %(value)s must start with a letter and hold letters, digits and _."),
        gettext_noop("Name it like temperature or batteryLevel."),
    ),
    R(
        "CODEC_FIELD_DUPLICATE",
        "online",
        None,
        gettext_noop("Two fields of the message are named %(value)s."),
        gettext_noop("Rename one of them."),
    ),
    R(
        "CODEC_RESERVED_NAME",
        "online",
        "F-3.2",
        gettext_noop("The field name %(value)s is a reserved word of the plugin language."),
        gettext_noop("Choose another name (Java and JavaScript keywords such as class, int, new are reserved)."),
    ),
    R(
        "CODEC_FIELD_TYPE",
        "online",
        None,
        gettext_noop("The field type %(value)s is not one of %(types)s."),
        gettext_noop("Choose one of the listed types; every multi-byte type is big-endian (F-1.4)."),
    ),
    R(
        "CODEC_FIELD_LENGTH",
        "online",
        None,
        gettext_noop("The length %(value)s %(problem)s."),
        gettext_noop(
            "string and array fields need a length in bytes from 1; other types have their own size and no length."
        ),
    ),
    R(
        "CODEC_DEFAULT_NOT_HEX",
        "online",
        "F-3.2",
        gettext_noop("The default value %(value)s is not hexadecimal."),
        gettext_noop("Write it in hex, like 0x1F or 1F; for strings and arrays the bytes, like 414243."),
    ),
    R(
        "CODEC_DEFAULT_RANGE",
        "online",
        None,
        gettext_noop("The default value %(value)s does not fit the field (%(limit)s)."),
        gettext_noop("Use a value the field's type and length can hold."),
    ),
    R(
        "CODEC_LENGTH_FIELD",
        "online",
        None,
        gettext_noop("The length field %(value)s %(problem)s."),
        gettext_noop(
            "A varstring or varray field may name an earlier unsigned integer field of the same message that "
            "holds its length in bytes."
        ),
    ),
    R(
        "CODEC_VARIABLE_NOT_LAST",
        "online",
        None,
        gettext_noop("The variable-length field has no length field, so it must be the last field of the message."),
        gettext_noop("Move it to the end, or give it a length field."),
    ),
    R(
        "CODEC_MESSAGE_ID_TYPE",
        "online",
        "F-3.2",
        gettext_noop("messageId is of type %(value)s; it must be an integer type."),
        gettext_noop("Make messageId an integer field, usually uint8."),
    ),
    R(
        "CODEC_MESSAGE_ID_REPEATED",
        "online",
        "F-3.2",
        gettext_noop("messageId %(value)s is already used by the %(direction)s message %(other)s."),
        gettext_noop("Give each message of one direction its own messageId value (its default)."),
    ),
    R(
        "CODEC_MESSAGE_ID_POSITION",
        "online",
        "F-3.2",
        gettext_noop(
            "messageId is at byte %(offset)s here but at byte %(other_offset)s in the %(direction)s message %(other)s."
        ),
        gettext_noop("Put messageId at the same position in every message of one direction (F-3.5)."),
    ),
    R(
        "CODEC_MESSAGE_ID_MISSING",
        "online",
        "F-3.5",
        gettext_noop("The message has no messageId field, which %(reason)s."),
        gettext_noop(
            "Add an integer field named messageId, at the same position in every message of the direction, "
            "with its own default value."
        ),
    ),
    R(
        "CODEC_MESSAGE_ID_DEFAULT",
        "online",
        "F-3.5",
        gettext_noop("messageId has no default value, which identifies the message."),
        gettext_noop("Give messageId a default, like 0x01."),
    ),
    R(
        "CODEC_MID_MISSING",
        "online",
        "F-3.6",
        gettext_noop("The message has no mid field, which %(reason)s."),
        gettext_noop(
            "Add an unsigned integer field named mid (2 or 4 bytes) at the same position in the command and "
            "its response."
        ),
    ),
    R(
        "CODEC_MID_POSITION",
        "online",
        "F-3.6",
        gettext_noop("mid is at byte %(offset)s here but at byte %(other_offset)s in the command message %(other)s."),
        gettext_noop("Put mid at the same position in the command and in its response."),
    ),
    R(
        "CODEC_MID_TYPE",
        "online",
        "F-3.6",
        gettext_noop("mid is of type %(value)s; it must be uint16 or uint32 to hold 1 to 65535."),
        gettext_noop("Make mid a uint16 field."),
    ),
    R(
        "CODEC_ROLE_MISPLACED",
        "online",
        None,
        gettext_noop("A field named %(value)s means nothing in a %(kind)s message."),
        gettext_noop(
            "mid belongs to commands and command responses; errcode to command responses and report ACKs; "
            "hasMore to any message but a report ACK's data. Rename the field if it is ordinary data."
        ),
    ),
    R(
        "CODEC_ROLE_TYPE",
        "online",
        None,
        gettext_noop("%(value)s must be an integer field, not %(type)s."),
        gettext_noop("Make it an integer field, usually uint8."),
    ),
    R(
        "CODEC_ROLE_VARIABLE_OFFSET",
        "online",
        None,
        gettext_noop("%(value)s comes after a variable-length field, so its position is not fixed."),
        gettext_noop("Move it before the variable-length fields."),
    ),
    R(
        "CODEC_TARGET_UNKNOWN",
        "online",
        None,
        gettext_noop("The field maps to %(value)s, which is not %(where)s."),
        gettext_noop("Choose a property of the message's service, or a parameter of its command or response."),
    ),
    R(
        "CODEC_TARGET_TYPE",
        "online",
        "F-2.8",
        gettext_noop("A %(type)s field cannot hold %(value)s, whose dataType is %(data_type)s."),
        gettext_noop(
            "Integers map to int, decimal or double; float and double to decimal or double; string and "
            "varstring to string or DateTime; array and varray to string (base64, F-3.3)."
        ),
    ),
    R(
        "CODEC_TARGET_DUPLICATE",
        "online",
        None,
        gettext_noop("%(value)s is already mapped by the field %(other)s."),
        gettext_noop("Map each property or parameter from one field only."),
    ),
    R(
        "CODEC_TARGET_NOT_ALLOWED",
        "online",
        "F-3.7",
        gettext_noop("The field cannot map to %(value)s: %(reason)s."),
        gettext_noop(
            "Clear the mapping: messageId, mid, errcode, hasMore and length fields have their own meaning, and "
            "a report ACK's fields are those and constants (defaults)."
        ),
    ),
    # --- Decoding ------------------------------------------------------------------------------------
    R(
        "CODEC_PAYLOAD_HEX",
        "decode",
        None,
        gettext_noop("The payload %(value)s is not hexadecimal bytes."),
        gettext_noop("Send the bytes as hex digits, two per byte, like 0100FA (spaces are ignored)."),
    ),
    R(
        "CODEC_FPORT",
        "decode",
        None,
        gettext_noop("The fPort %(value)s is not a whole number from 0 to 255."),
        gettext_noop("Give fPort as a number, like 1 (LoRaWAN application ports are 1 to 223), or leave it out."),
    ),
    R(
        "CODEC_PORT_CHANNEL",
        "decode",
        None,
        gettext_noop("%(value)s is not a channel the ingress maps to an fPort."),
        gettext_noop(
            'Use "*" (every uplink), "data/binary" (MQTT) or a CoAP resource path like /19/0/0 or /t/d, '
            "at most 16 entries, each with a port from 0 to 255."
        ),
    ),
    R(
        "CODEC_VARIABLES",
        "decode",
        None,
        gettext_noop("The variables are not an object of names and text values."),
        gettext_noop(
            'Give variables as {"name": "value"}, as ChirpStack gives a device\'s variables, or leave them out.'
        ),
    ),
    R(
        "CODEC_PAYLOAD_TOO_LARGE",
        "decode",
        None,
        gettext_noop("The payload is %(size)s bytes; at most %(limit)s are accepted."),
        gettext_noop("NB-IoT payloads are small; CODEC_MAX_PAYLOAD_BYTES sets the limit."),
    ),
    R(
        "CODEC_DECODE_EMPTY",
        "decode",
        None,
        gettext_noop("The payload is empty."),
        gettext_noop("A device report carries at least one byte."),
    ),
    R(
        "CODEC_DECODE_UNKNOWN_MESSAGE",
        "decode",
        "F-3.5",
        gettext_noop("No uplink message has messageId %(value)s."),
        gettext_noop("The device sent a message the plugin does not describe: add it, or check the device."),
    ),
    R(
        "CODEC_DECODE_TOO_SHORT",
        "decode",
        None,
        gettext_noop("The field needs bytes %(start)s to %(end)s but the payload is %(length)s bytes long."),
        gettext_noop("The payload is shorter than the message: check the device's firmware against the plugin."),
    ),
    R(
        "CODEC_DECODE_TOO_LONG",
        "decode",
        None,
        gettext_noop("The message is %(size)s bytes long but the payload is %(length)s bytes long."),
        gettext_noop("The payload is longer than the message: check the device's firmware against the plugin."),
    ),
    R(
        "CODEC_DECODE_NOT_ASCII",
        "decode",
        "F-3.3",
        gettext_noop("The text is not ASCII: byte %(value)s."),
        gettext_noop("Online string and varstring fields are ASCII (F-3.3); binary data belongs in an array field."),
    ),
    R(
        "CODEC_DECODE_NOT_FINITE",
        "decode",
        None,
        gettext_noop("The number is %(value)s, which JSON cannot carry."),
        gettext_noop("The device sent a NaN or an infinity: check its firmware."),
    ),
    # --- Encoding ------------------------------------------------------------------------------------
    R(
        "CODEC_INPUT_SHAPE",
        "encode",
        None,
        gettext_noop("%(problem)s."),
        gettext_noop(
            "Send a cloudReq {msgType: 'cloudReq', serviceId, cmd, paras, mid (1 to 65535)} or a cloudRsp "
            "{msgType: 'cloudRsp', request: '<hex of the uplink>', errcode, hasMore}."
        ),
    ),
    R(
        "CODEC_ENCODE_NO_MESSAGE",
        "encode",
        None,
        gettext_noop("No command message encodes %(service)s.%(command)s."),
        gettext_noop("Add a command message for it to the online plugin."),
    ),
    R(
        "CODEC_ENCODE_MISSING",
        "encode",
        None,
        gettext_noop("The field needs %(source)s, which is missing, and has no default."),
        gettext_noop("Send the parameter, or give the field a default value."),
    ),
    R(
        "CODEC_ENCODE_TYPE",
        "encode",
        "F-5.9",
        gettext_noop("The value %(value)s must be %(expected)s, not %(actual)s."),
        gettext_noop('Send the JSON type the field takes: 12, not "12", for an integer (F-5.9).'),
    ),
    R(
        "CODEC_ENCODE_RANGE",
        "encode",
        None,
        gettext_noop("The value %(value)s does not fit %(type)s (%(limit)s)."),
        gettext_noop("Send a value the field's type can hold."),
    ),
    R(
        "CODEC_ENCODE_TOO_LONG",
        "encode",
        None,
        gettext_noop("The value is %(size)s bytes long; the field holds %(limit)s."),
        gettext_noop("Send a shorter value, or make the field longer."),
    ),
    R(
        "CODEC_ENCODE_NOT_ASCII",
        "encode",
        "F-3.3",
        gettext_noop("The text %(value)s is not ASCII."),
        gettext_noop("Online string fields are ASCII (F-3.3)."),
    ),
    R(
        "CODEC_ENCODE_BASE64",
        "encode",
        "F-3.3",
        gettext_noop("The value %(value)s is not base64 of %(size)s bytes."),
        gettext_noop("array and varray fields take base64 in JSON (F-3.3); an array takes exactly its length."),
    ),
    R(
        "CODEC_ENCODE_NOTHING",
        "encode",
        "F-5.5",
        gettext_noop("The plugin produced no bytes for the command."),
        gettext_noop("encode must return the command's bytes for a cloudReq; the command fails otherwise (F-5.5)."),
    ),
    # --- Values against the profile -------------------------------------------------------------------
    R(
        "CODEC_VALUE_SERVICE",
        "profile",
        None,
        gettext_noop("serviceId %(value)s is not a service of the product."),
        gettext_noop("The codec must use the profile's serviceIds."),
    ),
    R(
        "CODEC_VALUE_PROPERTY",
        "profile",
        None,
        gettext_noop("%(value)s is not %(where)s."),
        gettext_noop("The codec must use the profile's property and parameter names."),
    ),
    R(
        "CODEC_VALUE_MISSING",
        "profile",
        None,
        gettext_noop("The required parameter %(value)s is missing."),
        gettext_noop("Send every parameter the profile marks required."),
    ),
    R(
        "CODEC_VALUE_TYPE",
        "profile",
        "F-2.8",
        gettext_noop("The value %(value)s is %(actual)s; the profile's dataType %(data_type)s needs %(expected)s."),
        gettext_noop(
            "int holds integers (or booleans), decimal and double numbers, string text, DateTime text like "
            "20151212T121212Z, jsonObject an object (F-2.8)."
        ),
    ),
    R(
        "CODEC_VALUE_RANGE",
        "profile",
        None,
        gettext_noop("The value %(value)s is outside %(min)s to %(max)s."),
        gettext_noop("Check the device's scaling against the profile's min and max."),
    ),
    R(
        "CODEC_VALUE_LENGTH",
        "profile",
        None,
        gettext_noop("The text is %(length)s characters long; the profile allows %(limit)s."),
        gettext_noop("Shorten the text, or raise maxLength in the profile."),
    ),
    R(
        "CODEC_VALUE_ENUM",
        "profile",
        "F-2.8",
        gettext_noop("The value %(value)s is not one of %(choices)s."),
        gettext_noop("Use one of the profile's enumList values."),
    ),
    # --- The platform's state --------------------------------------------------------------------------
    R(
        "CODEC_NONE",
        "platform",
        None,
        gettext_noop("The product has no active codec."),
        gettext_noop("Deploy an online plugin or upload one; a product without codec takes JSON uplinks (MQTT) only."),
    ),
    R(
        "CODEC_VERSION_UNKNOWN",
        "platform",
        None,
        gettext_noop("The codec has no version %(value)s."),
        gettext_noop("Use a version number listed for the codec."),
    ),
    R(
        "CODEC_LOCKED",
        "platform",
        "F-2.9",
        gettext_noop(
            "The product is locked: devices registered with it: %(count)s. Its codec and the active version "
            "cannot be deleted."
        ),
        gettext_noop(
            "Delete the devices first. To change the codec of a locked product, add a new version, try it, "
            "and activate it."
        ),
    ),
    R(
        "CODEC_ACTIVATE",
        "platform",
        None,
        gettext_noop("activate is %(value)s; it is true or false."),
        gettext_noop(
            "Send activate=true to make the new version active now, or activate=false to keep the current one "
            "and try the new one on stored uplinks first; leave it out to activate only while no device uses "
            "the product."
        ),
    ),
)


@dataclass(frozen=True)
class CodecIssue:
    """One broken rule, and where: a file and JSON path, or a codec message, field and byte offset."""

    code: str
    file: str = ""
    path: str = ""
    message_name: str = ""
    field: str = ""
    offset: int | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def rule(self) -> CodecRule:
        return RULES[self.code]

    def _text(self, template: str) -> str:
        values: dict[str, Any] = {"field": Raw(self.field), "message_name": Raw(self.message_name)}
        if self.offset is not None:
            values["offset"] = Raw(self.offset)
        values.update(self.params)
        return template % {name: _display(value) for name, value in values.items()}

    @property
    def message_en(self) -> str:
        return self._text(self.rule.message)

    @property
    def message(self) -> str:
        """The message in the active language (the portal's)."""
        return self._text(gettext(self.rule.message))

    @property
    def fix(self) -> str:
        return self._text(gettext(self.rule.fix))

    @property
    def fix_en(self) -> str:
        return self._text(self.rule.fix)

    @property
    def detail(self) -> str | None:
        """The plugin's own error message, when the issue comes from one."""
        value = self.params.get("detail")
        return str(value) if value is not None else None

    @property
    def location(self) -> str:
        """`file path`, then `message.field @ byte N`, leaving out what is unknown."""
        parts = [part for part in (self.file, self.path) if part]
        where = ".".join(part for part in (self.message_name, self.field) if part)
        if where:
            parts.append(where)
        if self.offset is not None:
            parts.append(f"@ byte {self.offset}")
        return " ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """The issue as the API, `check_codec --json` and the portal show it."""
        return {
            "code": self.code,
            "file": self.file,
            "path": self.path,
            "messageName": self.message_name,
            "field": self.field,
            "offset": self.offset,
            "detail": self.detail,
            "message": self.message_en,
            "fix": self.fix_en,
        }

    def __str__(self) -> str:
        location = self.location
        return f"{location}: {self.code}: {self.message_en}" if location else f"{self.code}: {self.message_en}"


class CodecError(Exception):
    """A codec refused something: a payload, a command, a plugin. One type for every caller.

    `issues` holds one issue for a payload or a command and every issue found for a plugin; `code`,
    `message_name`, `field`, `offset` and `detail` are the first issue's. `logs` is what the plugin
    printed with console.log before it failed (F-3.9).
    """

    def __init__(self, issues: CodecIssue | Iterable[CodecIssue], *, logs: Iterable[str] = ()) -> None:
        self.issues = [issues] if isinstance(issues, CodecIssue) else list(issues)
        assert self.issues, "CodecError needs at least one issue"
        self.logs = list(logs)
        super().__init__("; ".join(str(issue) for issue in self.issues))

    @property
    def issue(self) -> CodecIssue:
        return self.issues[0]

    @property
    def code(self) -> str:
        return self.issue.code

    @property
    def message_name(self) -> str:
        return self.issue.message_name

    @property
    def field(self) -> str:
        return self.issue.field

    @property
    def offset(self) -> int | None:
        return self.issue.offset

    @property
    def detail(self) -> str | None:
        return self.issue.detail


def issue(code: str, **kwargs: Any) -> CodecIssue:
    """A CodecIssue whose keyword arguments other than the location ones are its params."""
    location = {key: kwargs.pop(key) for key in ("file", "path", "message_name", "field", "offset") if key in kwargs}
    return CodecIssue(code, params=kwargs, **location)


def fail(code: str, **kwargs: Any) -> CodecError:
    """A CodecError of one issue, to raise."""
    return CodecError(issue(code, **kwargs))


class Raw(str):
    """A parameter shown as it is (a number, a type, our own words), without quotes."""


def _display(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return f"“{value}”"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return text if len(text) <= 120 else text[:117] + "..."
    return str(value)
