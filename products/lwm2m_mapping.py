"""A product's LwM2M mapping: its profile's properties read from object/instance/resource paths, its
commands written to or executed on resources, and the Write-Attributes the platform sets (docs/lwm2m-objects.md).

The document, as `GET/PUT /api/v1/profiles/{id}/lwm2m` carry it (export and import of the product's
LwM2M side; the profile zip stays as uploaded, byte for byte):

    {"objects": ["<LWM2M>...</LWM2M>"],                      # the product's own DDF XML, optional
     "attributes": {"pmin": 300, "pmax": 86400},             # product defaults, optional
     "properties": [{"serviceId": "Temperature", "property": "temperature", "path": "/3303/0/5700",
                     "attributes": {"st": 0.5}}],            # per path, over the defaults
     "commands": [{"serviceId": "Device", "command": "REBOOT", "path": "/3/0/4", "operation": "execute"},
                  {"serviceId": "Light", "command": "SWITCH", "path": "/3311/0/5850", "operation": "write",
                   "para": "on"}]}

`check_document` validates all of it against the profile and the object definitions (the registry's,
or the product's own), and raises MappingInvalid naming the field and the rule (a stable code).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from products import lwm2m_objects
from products.lwm2m_objects import DefinitionError

# Written on every mapped path unless the product or the path says otherwise: an NB-IoT device then
# reports at most every 5 minutes and at least once a day (its traffic budget), changes in between.
DEFAULT_ATTRIBUTES: dict[str, int | float] = {"pmin": 300, "pmax": 86400}
ATTRIBUTES = ("pmin", "pmax", "gt", "lt", "st", "epmin", "epmax")
NUMERIC_ATTRIBUTES = frozenset({"gt", "lt", "st"})
MAX_OBJECTS = 16
MAX_ENTRIES = 256

# Which LwM2M resource types can carry a profile property of each dataType.
FITS: dict[str, frozenset[str]] = {
    "int": frozenset({"Integer", "Unsigned Integer", "Boolean", "Time"}),
    "decimal": frozenset({"Float", "Integer", "Unsigned Integer"}),
    "double": frozenset({"Float", "Integer", "Unsigned Integer"}),
    "string": frozenset({"String", "Opaque", "Objlnk", "Corelnk", "Integer", "Unsigned Integer", "Float", "Boolean"}),
    "DateTime": frozenset({"Time"}),
    "jsonObject": frozenset(lwm2m_objects.TYPES) - {""},
}
NUMERIC_TYPES = frozenset({"Integer", "Unsigned Integer", "Float"})

_PATH = re.compile(r"^/(\d{1,5})/(\d{1,5})/(\d{1,5})$")


class MappingInvalid(ValueError):
    """`field` is where (`properties[0].path`), `code` the rule (docs/lwm2m-objects.md)."""

    def __init__(self, field: str, code: str, message: str) -> None:
        self.field = field
        self.code = code
        self.reason = message
        super().__init__(f"lwm2m.{field}: {message} ({code})")


def parse_path(path: Any) -> tuple[int, int, int] | None:
    match = _PATH.match(path) if isinstance(path, str) else None
    if not match:
        return None
    parts = tuple(int(part) for part in match.groups())
    if any(part > lwm2m_objects.MAX_ID for part in parts):
        return None
    return parts  # type: ignore[return-value]


def _services(profile: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """serviceId -> the service's type definition (properties, commands)."""
    by_type = {service["serviceType"]: service for service in profile["services"]}
    return {
        capability["serviceId"]: by_type.get(capability["serviceType"], {})
        for capability in profile["device"]["serviceTypeCapabilities"]
    }


def _object(value: Any, field: str, keys: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MappingInvalid(field, "LWM2M_SHAPE", "must be an object")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise MappingInvalid(f"{field}.{unknown[0]}", "LWM2M_SHAPE", f"is not a key here ({', '.join(keys)})")
    for key in required:
        if key not in value:
            raise MappingInvalid(f"{field}.{key}", "LWM2M_SHAPE", "is required")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MappingInvalid(field, "LWM2M_SHAPE", "must be an array")
    if len(value) > MAX_ENTRIES:
        raise MappingInvalid(field, "LWM2M_SHAPE", f"has more than {MAX_ENTRIES} entries")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def fits(resource: Mapping[str, Any], data_type: str) -> bool:
    """Whether a resource's values can be a property of `data_type` (FITS; a multiple-instance resource
    only as a jsonObject). The mapping's LWM2M_TYPE rule, and the editor's picker says so per option."""
    if resource["multiple"] and data_type != "jsonObject":
        return False
    return resource["type"] in FITS.get(data_type, frozenset())


def check_attributes(value: Any, field: str, resource: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write-Attributes: pmin/pmax/epmin/epmax whole seconds, gt/lt/st numbers (numeric resources only)."""
    if value is None:
        return {}
    attributes = _object(value, field, ATTRIBUTES)
    for name, number in attributes.items():
        if name in NUMERIC_ATTRIBUTES:
            if not _number(number):
                raise MappingInvalid(f"{field}.{name}", "LWM2M_ATTRIBUTE", "must be a number")
            if resource is not None and resource["type"] not in NUMERIC_TYPES:
                raise MappingInvalid(
                    f"{field}.{name}", "LWM2M_ATTRIBUTE", f"applies to numeric resources only, not {resource['type']}"
                )
        elif not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 2**31 - 1:
            raise MappingInvalid(f"{field}.{name}", "LWM2M_ATTRIBUTE", "must be whole seconds from 0")
    if attributes.get("st", 1) <= 0:
        raise MappingInvalid(f"{field}.st", "LWM2M_ATTRIBUTE", "must be greater than 0")
    for low, high in (("pmin", "pmax"), ("epmin", "epmax")):
        if low in attributes and high in attributes and attributes[low] > attributes[high]:
            raise MappingInvalid(f"{field}.{low}", "LWM2M_ATTRIBUTE", f"must not be greater than {high}")
    # The specification's rule: lt + 2 * st < gt, so the bands do not overlap.
    if (
        "lt" in attributes
        and "gt" in attributes
        and not attributes["lt"] + 2 * attributes.get("st", 0) < attributes["gt"]
    ):
        raise MappingInvalid(f"{field}.lt", "LWM2M_ATTRIBUTE", "lt + 2 * st must be less than gt")
    return attributes


def _resource(path: Any, field: str, own: Mapping[str, Any]) -> tuple[tuple[int, int, int], dict[str, Any]]:
    parts = parse_path(path)
    if parts is None:
        raise MappingInvalid(
            field, "LWM2M_PATH_SYNTAX", f"{path!r} must be /object/instance/resource, each 0 to {lwm2m_objects.MAX_ID}"
        )
    definition = lwm2m_objects.definition(parts[0], dict(own))
    if definition is None:
        raise MappingInvalid(
            field, "LWM2M_PATH_OBJECT", f"object {parts[0]} is neither in the registry nor among the product's own"
        )
    if not definition["multiple"] and parts[1] != 0:
        raise MappingInvalid(
            field, "LWM2M_PATH_INSTANCE", f"object {parts[0]} ({definition['name']}) has one instance only: 0"
        )
    resource = definition["resources"].get(str(parts[2]))
    if resource is None:
        raise MappingInvalid(
            field, "LWM2M_PATH_RESOURCE", f"object {parts[0]} ({definition['name']}) has no resource {parts[2]}"
        )
    return parts, resource


def parse_objects(value: Any) -> tuple[list[str], dict[str, Any]]:
    """The product's own DDF XML documents and the definitions they give, by object id."""
    documents = _list(value, "objects")
    if len(documents) > MAX_OBJECTS:
        raise MappingInvalid("objects", "LWM2M_SHAPE", f"has more than {MAX_OBJECTS} documents")
    own: dict[str, Any] = {}
    for index, text in enumerate(documents):
        field = f"objects[{index}]"
        if not isinstance(text, str):
            raise MappingInvalid(field, "LWM2M_SHAPE", "must be a DDF XML document as a string")
        try:
            definitions = lwm2m_objects.parse_ddf(text.encode())
        except DefinitionError as problem:
            raise MappingInvalid(field, problem.code, str(problem).removesuffix(f" ({problem.code})")) from None
        for definition in definitions:
            if lwm2m_objects.registry_object(definition["id"]) is not None:
                raise MappingInvalid(
                    field,
                    "DDF_REGISTERED",
                    f"object {definition['id']} is the registry's; a product defines unregistered ids only",
                )
            if str(definition["id"]) in own:
                raise MappingInvalid(field, "DDF_DUPLICATE", f"object {definition['id']} is defined twice")
            own[str(definition["id"])] = definition
    return documents, own


def check_document(value: Any, profile: Mapping[str, Any]) -> dict[str, Any]:
    """The validated mapping, normalised: `{"objects": [...xml], "definitions": {id: definition},
    "attributes": {...}, "properties": [...], "commands": [...]}`; MappingInvalid otherwise."""
    document = _object(value, "", ("objects", "attributes", "properties", "commands"))
    documents, own = parse_objects(document.get("objects"))
    services = _services(profile)
    defaults = check_attributes(document.get("attributes"), "attributes")
    properties: list[dict[str, Any]] = []
    seen_properties: set[tuple[str, str]] = set()
    seen_paths: set[str] = set()
    for index, entry in enumerate(_list(document.get("properties"), "properties")):
        field = f"properties[{index}]"
        entry = _object(
            entry, field, ("serviceId", "property", "path", "attributes"), ("serviceId", "property", "path")
        )
        service = services.get(entry["serviceId"])
        if service is None:
            raise MappingInvalid(
                f"{field}.serviceId", "LWM2M_SERVICE", f"the profile has no service {entry['serviceId']!r}"
            )
        declared = {item["propertyName"]: item for item in service.get("properties", [])}
        declared_property = declared.get(entry["property"])
        if declared_property is None:
            raise MappingInvalid(
                f"{field}.property",
                "LWM2M_PROPERTY",
                f"service {entry['serviceId']} has no property {entry['property']!r}",
            )
        parts, resource = _resource(entry["path"], f"{field}.path", own)
        if "R" not in resource["operations"]:
            raise MappingInvalid(
                f"{field}.path", "LWM2M_OPERATION", f"resource {entry['path']} ({resource['name']}) is not readable"
            )
        data_type = declared_property["dataType"]
        if not fits(resource, data_type):
            kind = f"multiple-instance {resource['type']}" if resource["multiple"] else resource["type"]
            raise MappingInvalid(
                f"{field}.path",
                "LWM2M_TYPE",
                f"resource {entry['path']} ({resource['name']}) is {kind}, which does not fit dataType {data_type}",
            )
        key = (entry["serviceId"], entry["property"])
        if key in seen_properties:
            raise MappingInvalid(field, "LWM2M_DUPLICATE", f"{key[0]}.{key[1]} is mapped twice")
        path = "/{}/{}/{}".format(*parts)
        if path in seen_paths:
            raise MappingInvalid(f"{field}.path", "LWM2M_DUPLICATE", f"{path} is mapped twice")
        seen_properties.add(key)
        seen_paths.add(path)
        attributes = check_attributes(entry.get("attributes"), f"{field}.attributes", resource)
        properties.append(
            {"serviceId": entry["serviceId"], "property": entry["property"], "path": path, "attributes": attributes}
        )
    commands: list[dict[str, Any]] = []
    seen_commands: set[tuple[str, str]] = set()
    for index, entry in enumerate(_list(document.get("commands"), "commands")):
        field = f"commands[{index}]"
        entry = _object(
            entry,
            field,
            ("serviceId", "command", "path", "operation", "para"),
            ("serviceId", "command", "path", "operation"),
        )
        service = services.get(entry["serviceId"])
        if service is None:
            raise MappingInvalid(
                f"{field}.serviceId", "LWM2M_SERVICE", f"the profile has no service {entry['serviceId']!r}"
            )
        declared = {item["commandName"]: item for item in service.get("commands", [])}
        command = declared.get(entry["command"])
        if command is None:
            raise MappingInvalid(
                f"{field}.command", "LWM2M_COMMAND", f"service {entry['serviceId']} has no command {entry['command']!r}"
            )
        if (entry["serviceId"], entry["command"]) in seen_commands:
            raise MappingInvalid(field, "LWM2M_DUPLICATE", f"{entry['serviceId']}.{entry['command']} is mapped twice")
        seen_commands.add((entry["serviceId"], entry["command"]))
        parts, resource = _resource(entry["path"], f"{field}.path", own)
        operation = entry["operation"]
        if operation not in ("write", "execute"):
            raise MappingInvalid(f"{field}.operation", "LWM2M_OPERATION", "must be write or execute")
        needed = "E" if operation == "execute" else "W"
        if needed not in resource["operations"]:
            raise MappingInvalid(
                f"{field}.operation",
                "LWM2M_OPERATION",
                f"resource {entry['path']} ({resource['name']}) does not allow {operation} "
                f"(its operations: {resource['operations'] or 'none'})",
            )
        paras = {item["paraName"]: item for item in command.get("paras") or []}
        para = entry.get("para")
        if operation == "write" and para is None:
            raise MappingInvalid(
                f"{field}.para", "LWM2M_PARA", "a write names the command's para whose value it writes"
            )
        if para is not None:
            if para not in paras:
                raise MappingInvalid(f"{field}.para", "LWM2M_PARA", f"command {entry['command']} has no para {para!r}")
            data_type = paras[para]["dataType"]
            if operation == "write" and resource["type"] not in FITS.get(data_type, frozenset()):
                raise MappingInvalid(
                    f"{field}.para",
                    "LWM2M_TYPE",
                    f"resource {entry['path']} ({resource['name']}) is {resource['type']}, "
                    f"which does not fit para {para} of dataType {data_type}",
                )
        mapped = {
            "serviceId": entry["serviceId"],
            "command": entry["command"],
            "path": "/{}/{}/{}".format(*parts),
            "operation": operation,
        }
        if para is not None:
            mapped["para"] = para
        commands.append(mapped)
    return {
        "objects": documents,
        "definitions": own,
        "attributes": defaults,
        "properties": properties,
        "commands": commands,
    }


def export_document(stored: Mapping[str, Any]) -> dict[str, Any]:
    """What GET returns and PUT takes back: the stored mapping without the parsed definitions."""
    return {
        "objects": list(stored.get("objects", [])),
        "attributes": dict(stored.get("attributes", {})),
        "properties": list(stored.get("properties", [])),
        "commands": list(stored.get("commands", [])),
    }


def effective_attributes(stored: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """The Write-Attributes for one mapped path: the platform's defaults, the product's, the path's."""
    return {**DEFAULT_ATTRIBUTES, **stored.get("attributes", {}), **entry.get("attributes", {})}


TEXT, OPAQUE = 0, 42  # CoAP content formats of a Write's payload


def encode_value(resource: Mapping[str, Any], value: Any) -> tuple[int, bytes]:
    """A Write's payload for a single resource: plain text (0), which clients take for one resource; an
    Opaque value, given as base64, as its bytes (42). MappingInvalid("value"/"path", "LWM2M_VALUE") when
    the value does not fit the resource's type or range."""
    kind = resource["type"]
    where = f"value for {resource['name']} ({kind})"

    def refuse(message: str, field: str = "value") -> MappingInvalid:
        return MappingInvalid(field, "LWM2M_VALUE", message)

    if resource["multiple"]:
        raise refuse(f"{resource['name']} is a multiple-instance resource: write one instance", "path")
    if kind == "Opaque":
        if not isinstance(value, str):
            raise refuse(f"{where} must be base64 text")
        try:
            return OPAQUE, base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise refuse(f"{where} is not base64") from None
    if kind in ("Integer", "Unsigned Integer", "Time"):
        if not isinstance(value, int) or isinstance(value, bool) or (kind != "Integer" and value < 0):
            raise refuse(f"{where} must be a whole number")
        text = str(value)
    elif kind == "Float":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise refuse(f"{where} must be a number")
        text = repr(float(value))
    elif kind == "Boolean":
        if not isinstance(value, bool):
            raise refuse(f"{where} must be true or false")
        text = "1" if value else "0"
    elif not isinstance(value, str):
        raise refuse(f"{where} must be a string")
    else:
        text = value
    low, high = resource.get("min"), resource.get("max")
    if kind in ("Integer", "Unsigned Integer", "Float") and low is not None and not low <= value <= high:
        raise refuse(f"{where} must be from {low} to {high}")
    return TEXT, text.encode()


def command_route(product: Any, service_id: str, command: str) -> dict[str, Any] | None:
    """The mapped command (`{"path", "operation", "para"?}`) of a product, or None: then the codec encodes it."""
    mapping = getattr(product, "lwm2m_mapping", None) or {}
    for entry in mapping.get("commands", []):
        if entry["serviceId"] == service_id and entry["command"] == command:
            return entry
    return None


def command_request(
    product: Any, service_id: str, command: str, paras: Mapping[str, Any] | None
) -> tuple[str, str, int, bytes] | None:
    """(path, "write"|"execute", content format, payload) of a mapped command, None when it is not mapped;
    MappingInvalid when its para's value does not fit the resource."""
    route = command_route(product, service_id, command)
    if route is None:
        return None
    parts = parse_path(route["path"])
    definition = lwm2m_objects.definition(parts[0], (product.lwm2m_mapping or {}).get("definitions")) if parts else None
    if definition is None:
        raise MappingInvalid("commands", "LWM2M_PATH_OBJECT", f"{route['path']} has no definition any more")
    para = (paras or {}).get(route["para"]) if route.get("para") else None
    if route["operation"] == "execute":
        return route["path"], "execute", TEXT, ("" if para is None else str(para)).encode()
    resource = definition["resources"][str(parts[2])]
    content_format, payload = encode_value(resource, para)
    return route["path"], "write", content_format, payload
