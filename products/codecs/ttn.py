"""Codecs written for The Things Network and ChirpStack, reused as they are.

Three shapes, found from the functions the script defines (the first that is there):

- TTN v3 and ChirpStack v4: `decodeUplink({bytes, fPort, variables})` returning `{data, warnings,
  errors}`, and optionally `encodeDownlink({data, fPort, variables})` returning `{bytes, fPort,
  warnings, errors}`;
- ChirpStack v3: `Decode(fPort, bytes, variables)` returning the data object, `Encode(fPort, obj,
  variables)` returning the bytes;
- TTN v2: `Decoder(bytes, port)` returning the data object, then the optional `Converter(decoded,
  port)` and `Validator(converted, port)` (false refuses the payload, CODEC_TTN_INVALID), and
  `Encoder(object, port)` returning the bytes.

`fPort` is the payload's (the decode API's and the debugger's input, or the ingress's port mapping),
else the manifest's; `variables` (text values, ChirpStack's device variables) are the call's, else
the manifest's `variables`. The manifest says how their flat `data` becomes the profile's services:

    {"format": "ttn", "fPort": 1,
     "mapping": {"temperature": "Climate.temperature", "battery_voltage": "Power.voltage", "raw": null},
     "commands": {"SET_INTERVAL": {"fPort": 2, "data": {"type": "interval"}}}}

A key of `data` maps to `ServiceId.property`; `null` leaves it out; a key not in the mapping maps to
the property of that name if exactly one service has one. Any other key fails the decode
(CODEC_TTN_UNMAPPED), so that no value is dropped silently. Non-empty `errors` fail it too
(CODEC_TTN_ERRORS); `warnings` join the plugin's logs. A command is encoded with `data` = the
command's constant `data` from the manifest, then the cloudReq's paras. LoRaWAN codecs have no
report ACK: a cloudRsp encodes to nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from products.codecs import shapes
from products.codecs.base import Outcome
from products.codecs.errors import CodecError, CodecIssue, Raw, fail, issue
from products.codecs.profile import ProfileIndex
from products.codecs.sandbox import Limits
from products.codecs.script import call_many, failure_error, hex_inputs, load

# The shapes, in the order they are looked for: (function, the sandbox's call mode).
DECODE_CALLS = (("decodeUplink", "uplink"), ("Decode", "v3decode"), ("Decoder", "v2decode"))
ENCODE_CALLS = (("encodeDownlink", "downlink"), ("Encode", "v3encode"), ("Encoder", "v2encode"))


def check_mapping(mapping: Any, index: ProfileIndex, *, file: str = "manifest.json") -> list[CodecIssue]:
    """The manifest's mapping against the profile: every target is `ServiceId.property` of the product."""
    found: list[CodecIssue] = []
    if mapping is None:
        return found
    for key, target in mapping.items():
        if target is None:
            continue
        if _target(target, index) is None:
            found.append(issue("CODEC_TTN_MAPPING", file=file, path=f"$.mapping.{key}", key=key, target=target))
    return found


def _target(target: Any, index: ProfileIndex) -> tuple[str, str] | None:
    if not isinstance(target, str) or "." not in target:
        return None
    service_id, _, name = target.partition(".")
    service = index.services.get(service_id)
    if service is None or name not in service.properties:
        return None
    return service_id, name


class TtnPlugin:
    """A TTN or ChirpStack codec, with its manifest's mapping onto one product's profile."""

    kind = "ttn"

    def __init__(
        self, key: str, source: str, manifest: Mapping[str, Any], index: ProfileIndex, limits: Limits | None = None
    ) -> None:
        self.key = key
        self.source = source
        self.index = index
        self.limits = limits
        self.fport = manifest.get("fPort", 1)
        self.variables: Mapping[str, str] = manifest.get("variables") or {}
        self.commands: Mapping[str, Any] = manifest.get("commands") or {}
        # key -> (serviceId, property), None to leave the key out, or the issue of a target the profile
        # lacks (it may have lost the property since the upload): that key then fails the decode.
        self.mapping: dict[str, tuple[str, str] | CodecIssue | None] = {}
        for data_key, target in (manifest.get("mapping") or {}).items():
            resolved = None if target is None else _target(target, index)
            if target is not None and resolved is None:
                resolved = issue("CODEC_TTN_MAPPING", path=f"$.data.{data_key}", key=data_key, target=target)
            self.mapping[data_key] = resolved
        self._resolved: dict[str, tuple[str, str] | CodecIssue | None] = {}

    def functions(self) -> list[str]:
        return load(self.key, self.source, self.limits)

    def decoder(self) -> tuple[str, str]:
        """(function, call mode) of the script's decoder: decodeUplink, Decode (v3) or Decoder (v2)."""
        functions = self.functions()
        for function, mode in DECODE_CALLS:
            if function in functions:
                return function, mode
        return DECODE_CALLS[0]

    def encoder(self) -> tuple[str, str] | None:
        """(function, call mode) of the script's encoder, None when it has none."""
        functions = self.functions()
        for function, mode in ENCODE_CALLS:
            if function in functions:
                return function, mode
        return None

    # --- decoding --------------------------------------------------------------------------------

    def _resolve(self, data_key: str) -> tuple[str, str] | CodecIssue | None:
        if data_key in self.mapping:
            return self.mapping[data_key]
        found = self._resolved.get(data_key)
        if found is None and data_key not in self._resolved:
            owners = self.index.owners.get(data_key, ())
            if len(owners) == 1:
                found = (owners[0], data_key)
            else:
                reason = "matches no property of the profile"
                if owners:
                    reason = f"matches a property of several services ({', '.join(owners)})"
                found = issue("CODEC_TTN_UNMAPPED", path=f"$.data.{data_key}", key=data_key, reason=Raw(reason))
            self._resolved[data_key] = found
        return found

    def device_req(self, data: Any) -> dict[str, Any]:
        """The codec's `data` as a deviceReq of the profile's services."""
        if not isinstance(data, dict):
            raise fail(
                "CODEC_JS_SHAPE",
                path="$.data",
                function=Raw(self.decoder()[0]),
                problem=Raw(f"{json.dumps(data)[:80]}, data that is not an object of values"),
            )
        services: dict[str, dict[str, Any]] = {}
        for data_key, value in data.items():
            target = self._resolve(data_key)
            if isinstance(target, CodecIssue):
                raise CodecError(target)
            if target is None:
                continue
            services.setdefault(target[0], {})[target[1]] = value
        if not services:
            raise fail(
                "CODEC_JS_SHAPE",
                path="$.data",
                function=Raw(self.decoder()[0]),
                problem=Raw(f"{json.dumps(data)[:80]}, with no value the mapping keeps"),
            )
        return {
            "msgType": "deviceReq",
            "hasMore": 0,
            "data": [{"serviceId": service_id, "serviceData": values} for service_id, values in services.items()],
        }

    def raw_data(
        self,
        payloads: Sequence[bytes],
        fport: int | Sequence[int | None] | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> list[Outcome]:
        """What the codec itself returns as `data` for each payload (the checker's vectors compare this).

        `fport`: one port for all, or one per payload (None: the manifest's).
        """
        function, mode = self.decoder()
        ports = fport if isinstance(fport, Sequence) else [fport] * len(payloads)
        chosen = {**self.variables, **(variables or {})}
        inputs = [
            {"hex": text, "fPort": self.fport if port is None else port, "variables": chosen}
            for text, port in zip(hex_inputs(payloads), ports, strict=True)
        ]
        outcomes = []
        for raw in call_many(self.key, self.source, function, mode, inputs, self.limits):
            logs = list(raw.get("logs") or [])
            if not raw["ok"]:
                outcomes.append(Outcome(error=failure_error(raw, function, self.limits), logs=logs))
                continue
            value = raw["value"]
            if mode == "v3decode":
                outcomes.append(Outcome(value, logs=logs))
                continue
            if mode == "v2decode":
                if not value["valid"]:
                    outcomes.append(Outcome(error=CodecError(fail("CODEC_TTN_INVALID").issues, logs=logs), logs=logs))
                else:
                    outcomes.append(Outcome(value["data"], logs=logs))
                continue
            if not isinstance(value, dict):
                error = fail(
                    "CODEC_JS_SHAPE",
                    function=Raw(function),
                    problem=Raw(f"{json.dumps(value)[:60]}, not an object {{data, warnings, errors}}"),
                )
                error.logs = logs
                outcomes.append(Outcome(error=error, logs=logs))
                continue
            logs += [f"warning: {warning}" for warning in value.get("warnings") or []]
            errors = value.get("errors") or []
            if errors:
                detail = "; ".join(str(error) for error in errors) if isinstance(errors, list) else str(errors)
                outcomes.append(
                    Outcome(error=CodecError(fail("CODEC_TTN_ERRORS", detail=Raw(detail)).issues, logs=logs), logs=logs)
                )
                continue
            outcomes.append(Outcome(value.get("data"), logs=logs))
        return outcomes

    def decode_many(
        self,
        payloads: Sequence[bytes],
        *,
        ports: Sequence[int | None] | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> list[Outcome]:
        outcomes = []
        for outcome in self.raw_data(payloads, ports, variables):
            if outcome.error is None:
                try:
                    outcome = Outcome(self.device_req(outcome.value), logs=outcome.logs)
                except CodecError as error:
                    error.logs = outcome.logs
                    outcome = Outcome(error=error, logs=outcome.logs)
            outcomes.append(outcome)
        return outcomes

    def decode_with_acks(
        self, payloads: Sequence[bytes], *, ports: Sequence[int | None] | None = None
    ) -> list[tuple[Outcome, Outcome]]:
        # LoRaWAN codecs have no report ACK: the decode is the whole crossing.
        return [(outcome, Outcome(None)) for outcome in self.decode_many(payloads, ports=ports)]

    # --- encoding ---------------------------------------------------------------------------------

    def encode(
        self, message: Mapping[str, Any], *, fport: int | None = None, variables: Mapping[str, str] | None = None
    ) -> Outcome:
        if message.get("msgType") == "cloudRsp":
            return Outcome(None)  # LoRaWAN codecs have no report ACK
        command = self.commands.get(message["cmd"]) or {}
        data = {**(command.get("data") or {}), **message.get("paras", {})}
        port = fport if fport is not None else command.get("fPort", self.fport)
        return self.encode_data(data, port, variables)

    def encode_data(
        self, data: Mapping[str, Any], fport: int | None = None, variables: Mapping[str, str] | None = None
    ) -> Outcome:
        """The bytes the codec's encoder gives for its own input `data` (TTN's downlink examples)."""
        found = self.encoder()
        if found is None:
            return Outcome(error=fail("CODEC_UNSUPPORTED", what=Raw("encode commands: it defines no encodeDownlink")))
        function, mode = found
        port = self.fport if fport is None else fport
        argument = {"data": dict(data), "fPort": port, "variables": {**self.variables, **(variables or {})}}
        raw = call_many(self.key, self.source, function, mode, [argument], self.limits)[0]
        logs = list(raw.get("logs") or [])
        if not raw["ok"]:
            return Outcome(error=failure_error(raw, function, self.limits), logs=logs)
        value = raw["value"]
        if mode == "downlink":
            if not isinstance(value, dict):
                problem = Raw("something else than an object {bytes, fPort, warnings, errors}")
                return Outcome(error=fail("CODEC_JS_SHAPE", function=Raw(function), problem=problem), logs=logs)
            logs += [f"warning: {warning}" for warning in value.get("warnings") or []]
            if value.get("errors"):
                detail = "; ".join(str(error) for error in value["errors"])
                return Outcome(
                    error=CodecError(fail("CODEC_TTN_ERRORS", detail=Raw(detail)).issues, logs=logs), logs=logs
                )
            value = value.get("bytes")
        try:
            payload = shapes.payload(value, function, max_bytes=settings.CODEC_MAX_PAYLOAD_BYTES, allow_null=False)
        except CodecError as error:
            error.logs = logs
            return Outcome(error=error, logs=logs)
        return Outcome(payload, logs=logs)
