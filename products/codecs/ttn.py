"""Codecs written for The Things Network and ChirpStack, reused as they are.

A TTN (and ChirpStack v4) codec defines `decodeUplink({bytes, fPort})` returning `{data, warnings,
errors}` and optionally `encodeDownlink({data, fPort})` returning `{bytes, fPort, warnings, errors}`;
a ChirpStack v3 codec defines `Decode(fPort, bytes, variables)` returning the data object and
`Encode(fPort, obj, variables)` returning the bytes. The manifest says how their flat `data` becomes
the profile's services:

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

    def _uses_v3(self) -> bool:
        functions = self.functions()
        return "decodeUplink" not in functions and "Decode" in functions

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
                function=Raw("decodeUplink"),
                problem=Raw("data that is not an object of values"),
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
                function=Raw("decodeUplink"),
                problem=Raw("no value the mapping keeps"),
            )
        return {
            "msgType": "deviceReq",
            "hasMore": 0,
            "data": [{"serviceId": service_id, "serviceData": values} for service_id, values in services.items()],
        }

    def raw_data(self, payloads: Sequence[bytes], fport: int | None = None) -> list[Outcome]:
        """What the codec itself returns as `data` for each payload (the checker's vectors compare this)."""
        v3 = self._uses_v3()
        port = self.fport if fport is None else fport
        inputs = [{"hex": text, "fPort": port} for text in hex_inputs(payloads)]
        function = "Decode" if v3 else "decodeUplink"
        outcomes = []
        for raw in call_many(self.key, self.source, function, "v3decode" if v3 else "uplink", inputs, self.limits):
            logs = list(raw.get("logs") or [])
            if not raw["ok"]:
                outcomes.append(Outcome(error=failure_error(raw, function, self.limits), logs=logs))
                continue
            value = raw["value"]
            if v3:
                outcomes.append(Outcome(value, logs=logs))
                continue
            if not isinstance(value, dict):
                error = fail(
                    "CODEC_JS_SHAPE",
                    function=Raw(function),
                    problem=Raw(f"{json.dumps(value)[:60]}, not an object {{data, warnings, errors}}"),
                )
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

    def decode_many(self, payloads: Sequence[bytes]) -> list[Outcome]:
        outcomes = []
        for outcome in self.raw_data(payloads):
            if outcome.error is None:
                try:
                    outcome = Outcome(self.device_req(outcome.value), logs=outcome.logs)
                except CodecError as error:
                    error.logs = outcome.logs
                    outcome = Outcome(error=error, logs=outcome.logs)
            outcomes.append(outcome)
        return outcomes

    # --- encoding ---------------------------------------------------------------------------------

    def encode(self, message: Mapping[str, Any]) -> Outcome:
        if message.get("msgType") == "cloudRsp":
            return Outcome(None)  # LoRaWAN codecs have no report ACK
        functions = self.functions()
        v3 = "encodeDownlink" not in functions and "Encode" in functions
        if not v3 and "encodeDownlink" not in functions:
            return Outcome(error=fail("CODEC_UNSUPPORTED", what=Raw("encode commands: it defines no encodeDownlink")))
        command = self.commands.get(message["cmd"]) or {}
        data = {**(command.get("data") or {}), **message.get("paras", {})}
        argument = {"data": data, "fPort": command.get("fPort", self.fport)}
        function = "Encode" if v3 else "encodeDownlink"
        raw = call_many(self.key, self.source, function, "v3encode" if v3 else "downlink", [argument], self.limits)[0]
        logs = list(raw.get("logs") or [])
        if not raw["ok"]:
            return Outcome(error=failure_error(raw, function, self.limits), logs=logs)
        value = raw["value"]
        if not v3:
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
