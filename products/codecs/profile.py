"""The product's profile as codecs need it, and the check of decoded data and commands against it.

`ProfileIndex` lists, for each serviceId of the device, its properties and its commands with their
paras and their responses' paras. It is built from the stored (normalised) profile once per product
revision and cached. `check_uplink` and `check_command` compare values with the profile's types,
ranges, lengths and enumerations (F-2.8) and return the issues found, each naming the JSON path.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from products.codecs.errors import CodecIssue, Raw, issue

_DATE_TIME = re.compile(r"\d{8}T\d{6}Z")


@dataclass(frozen=True)
class Datum:
    """A property or a para: what values it takes. `accepts` is the quick yes of the hot path; a value
    it does not accept goes through `check_value`, which finds the issue (or none: booleans for int)."""

    name: str
    data_type: str
    required: bool
    minimum: float | None
    maximum: float | None
    max_length: int | None
    choices: tuple[str, ...] | None

    @classmethod
    def from_profile(cls, item: Mapping[str, Any], name_key: str) -> Datum:
        low, high = _number(item.get("min")), _number(item.get("max"))
        if low is not None and high is not None and low > high:
            # The original's own example has a para with min 1 and max 0: no range at all.
            low = high = None
        length = item.get("maxLength")
        return cls(
            name=item[name_key],
            data_type=item.get("dataType") or "",
            required=bool(item.get("required")),
            minimum=low,
            maximum=high,
            max_length=int(length) if isinstance(length, (int, float)) and length > 0 else None,
            choices=tuple(item["enumList"]) if item.get("enumList") else None,
        )

    @cached_property
    def accepts(self) -> Callable[[Any], bool]:
        low = self.minimum if self.minimum is not None else -math.inf
        high = self.maximum if self.maximum is not None else math.inf
        if self.data_type == "int":
            return lambda value: type(value) is int and low <= value <= high
        if self.data_type in ("decimal", "double"):
            return lambda value: (type(value) is int or type(value) is float) and low <= value <= high
        if self.data_type == "string":
            longest = self.max_length if self.max_length is not None else math.inf
            choices = frozenset(self.choices) if self.choices is not None else None
            if choices is None:
                return lambda value: type(value) is str and len(value) <= longest
            return lambda value: type(value) is str and len(value) <= longest and value in choices
        if self.data_type == "jsonObject":
            return lambda value: type(value) is dict
        return lambda value: False  # DateTime and anything else: the full check


@dataclass(frozen=True)
class Command:
    name: str
    paras: dict[str, Datum]
    responses: dict[str, dict[str, Datum]]

    @property
    def response_paras(self) -> dict[str, Datum]:
        """The paras of all the command's responses: a deviceRsp body is one flat object."""
        merged: dict[str, Datum] = {}
        for paras in self.responses.values():
            for name, datum in paras.items():
                merged.setdefault(name, datum)
        return merged


@dataclass(frozen=True)
class Service:
    service_id: str
    service_type: str
    properties: dict[str, Datum]
    commands: dict[str, Command]


@dataclass(frozen=True)
class ProfileIndex:
    services: dict[str, Service]
    # property name -> serviceIds that have it (TTN mapping by name)
    owners: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any]) -> ProfileIndex:
        types = {service["serviceType"]: service for service in profile.get("services", [])}
        services: dict[str, Service] = {}
        owners: dict[str, list[str]] = {}
        for capability in profile.get("device", {}).get("serviceTypeCapabilities", []):
            service = types.get(capability["serviceType"], {})
            properties = {
                item["propertyName"]: Datum.from_profile(item, "propertyName") for item in service.get("properties", [])
            }
            commands = {
                command["commandName"]: Command(
                    command["commandName"],
                    {para["paraName"]: Datum.from_profile(para, "paraName") for para in command.get("paras", [])},
                    {
                        response["responseName"]: {
                            para["paraName"]: Datum.from_profile(para, "paraName") for para in response.get("paras", [])
                        }
                        for response in command.get("responses", [])
                    },
                )
                for command in service.get("commands", [])
            }
            service_id = capability["serviceId"]
            services[service_id] = Service(service_id, capability["serviceType"], properties, commands)
            for name in properties:
                owners.setdefault(name, []).append(service_id)
        return cls(services, {name: tuple(ids) for name, ids in owners.items()})

    def command(self, service_id: str, name: str) -> Command | None:
        service = self.services.get(service_id)
        return service.commands.get(name) if service else None


_cache: OrderedDict[tuple[int, int], ProfileIndex] = OrderedDict()
_cache_lock = threading.Lock()


def index_for(product: Any) -> ProfileIndex:
    """The index of a stored product, cached per product and revision (every profile change bumps it)."""
    key = (product.pk, product.revision)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    index = ProfileIndex.from_profile(product.profile)
    with _cache_lock:
        _cache[key] = index
        while len(_cache) > 512:
            _cache.popitem(last=False)
    return index


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --- Values -----------------------------------------------------------------------------------------


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


_EXPECTED = {
    "int": "an integer",
    "decimal": "a number",
    "double": "a number",
    "string": "text",
    "DateTime": "text like 20151212T121212Z",
    "jsonObject": "an object",
}


def _type_ok(datum: Datum, value: Any) -> bool:
    kind = datum.data_type
    if kind == "int":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind in ("decimal", "double"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "DateTime":
        return isinstance(value, str) and bool(_DATE_TIME.fullmatch(value))
    if kind == "jsonObject":
        return isinstance(value, dict)
    return True


def check_value(datum: Datum, value: Any, path: str) -> CodecIssue | None:
    """The first way `value` breaks what the profile says of `datum`, or None."""
    if not _type_ok(datum, value):
        return issue(
            "CODEC_VALUE_TYPE",
            path=path,
            field=datum.name,
            value=value,
            actual=Raw(_json_type(value)),
            data_type=datum.data_type,
            expected=Raw(_EXPECTED.get(datum.data_type, datum.data_type)),
        )
    if datum.data_type in ("int", "decimal", "double") and not isinstance(value, bool):
        number = float(value)
        if not math.isfinite(number) or (
            (datum.minimum is not None and number < datum.minimum)
            or (datum.maximum is not None and number > datum.maximum)
        ):
            return issue(
                "CODEC_VALUE_RANGE",
                path=path,
                field=datum.name,
                value=Raw(value),
                min=Raw(_shown(datum.minimum)),
                max=Raw(_shown(datum.maximum)),
            )
    if isinstance(value, str):
        if datum.max_length is not None and datum.data_type == "string" and len(value) > datum.max_length:
            return issue(
                "CODEC_VALUE_LENGTH", path=path, field=datum.name, length=Raw(len(value)), limit=Raw(datum.max_length)
            )
        if datum.choices is not None and value not in datum.choices:
            return issue(
                "CODEC_VALUE_ENUM", path=path, field=datum.name, value=value, choices=Raw(", ".join(datum.choices))
            )
    return None


def _shown(number: float | None) -> str:
    if number is None:
        return "any"
    return str(int(number)) if number.is_integer() else str(number)


def check_uplink(index: ProfileIndex, message: Mapping[str, Any]) -> list[CodecIssue]:
    """A decoded deviceReq's services and properties against the profile (a deviceRsp's body is free)."""
    found: list[CodecIssue] = []
    if message.get("msgType") != "deviceReq":
        return found
    for position, item in enumerate(message.get("data", [])):
        service_id = item.get("serviceId")
        service = index.services.get(service_id)
        if service is None:
            found.append(issue("CODEC_VALUE_SERVICE", path=f"$.data[{position}].serviceId", value=service_id))
            continue
        properties = service.properties
        for name, value in item.get("serviceData", {}).items():
            datum = properties.get(name)
            if datum is not None and datum.accepts(value):
                continue
            path = f"$.data[{position}].serviceData.{name}"
            if datum is None:
                where = Raw(f"a property of {service_id}")
                found.append(issue("CODEC_VALUE_PROPERTY", path=path, field=name, value=name, where=where))
                continue
            problem = check_value(datum, value, path)
            if problem is not None:
                found.append(problem)
    return found


def check_command(index: ProfileIndex, cloud_req: Mapping[str, Any]) -> list[CodecIssue]:
    """A cloudReq's command and paras against the profile (F-5.9: "12" is not an int)."""
    service_id, name = cloud_req.get("serviceId"), cloud_req.get("cmd")
    service = index.services.get(service_id)
    if service is None:
        return [issue("CODEC_VALUE_SERVICE", path="$.serviceId", value=service_id)]
    command = service.commands.get(name)
    if command is None:
        return [issue("CODEC_VALUE_PROPERTY", path="$.cmd", value=name, where=Raw(f"a command of {service_id}"))]
    paras = cloud_req.get("paras") or {}
    found: list[CodecIssue] = []
    for para_name, value in paras.items():
        path = f"$.paras.{para_name}"
        datum = command.paras.get(para_name)
        if datum is None:
            where = Raw(f"a parameter of {name}")
            found.append(issue("CODEC_VALUE_PROPERTY", path=path, field=para_name, value=para_name, where=where))
            continue
        problem = check_value(datum, value, path)
        if problem is not None:
            found.append(problem)
    for para_name, datum in command.paras.items():
        if datum.required and para_name not in paras:
            found.append(issue("CODEC_VALUE_MISSING", path=f"$.paras.{para_name}", field=para_name, value=para_name))
    return found
