"""LwM2M object definitions: the OMA/IPSO registry as data, and products' own DDF XML.

The registry's objects were converted once from the public registry's DDF XML
(github.com/OpenMobileAlliance/lwm2m-registry, the commit and each object's licence are in the data
file) by tools/lwm2m_registry.py into `lwm2m_registry.json`, which is committed: nothing is downloaded
at run or test time. A product may add definitions of its own (an uploaded DDF XML, parsed here with
defusedxml and refused with the rule named when malformed).

A definition is a plain dict, the same shape for both:

    {"id": 3303, "name": "Temperature", "urn": "urn:oma:lwm2m:ext:3303:1.1", "version": "1.1",
     "multiple": true, "mandatory": false,
     "resources": {"5700": {"id": 5700, "name": "Sensor Value", "operations": "R", "multiple": false,
                            "mandatory": true, "type": "Float", "range": "", "units": "", "min": null,
                            "max": null}, ...}}
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

REGISTRY_FILE = Path(__file__).resolve().parent / "lwm2m_registry.json"

# The DDF's resource types (LWM2M.xsd, LWM2M-v1_1.xsd); "" for executable resources.
TYPES = ("String", "Integer", "Unsigned Integer", "Float", "Boolean", "Opaque", "Time", "Objlnk", "Corelnk", "")
OPERATIONS = ("", "R", "W", "RW", "E")
MAX_ID = 65534
# An uploaded DDF larger than this is refused before parsing (the registry's largest file is ~120 KiB).
MAX_DDF_BYTES = 512 * 1024

_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*\.\.\s*(-?\d+(?:\.\d+)?)\s*$")


class DefinitionError(ValueError):
    """A DDF XML that breaks a rule: `code` is the rule (docs/lwm2m-objects.md), the message says where."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{message} ({code})")


def _text(element: Any, tag: str) -> str | None:
    child = element.find(tag)
    if child is None:
        return None
    return (child.text or "").strip()


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def _identifier(text: str | None, what: str) -> int:
    if text is None or not text.isdigit() or int(text) > MAX_ID:
        raise DefinitionError("DDF_ID", f"{what} must be a whole number from 0 to {MAX_ID}, not {text!r}")
    return int(text)


def _choice(text: str | None, choices: dict[str, bool], what: str) -> bool:
    if text not in choices:
        raise DefinitionError("DDF_FIELD_VALUE", f"{what} must be one of {', '.join(choices)}, not {text!r}")
    return choices[text]


MULTIPLE = {"Single": False, "Multiple": True}
MANDATORY = {"Optional": False, "Mandatory": True}


def _resource(item: Any, where: str) -> dict[str, Any]:
    rid = _identifier(item.get("ID"), f"{where} Item ID")
    where = f"{where} resource {rid}"
    name = _text(item, "Name")
    if not name:
        raise DefinitionError("DDF_FIELD_MISSING", f"{where} needs a Name")
    operations = _text(item, "Operations") or ""
    if operations not in OPERATIONS:
        raise DefinitionError("DDF_OPERATIONS", f"{where}: Operations must be one of R, W, RW, E or empty")
    kind = _text(item, "Type") or ""
    if kind not in TYPES:
        raise DefinitionError("DDF_TYPE", f"{where}: Type must be one of {', '.join(TYPES[:-1])}, not {kind!r}")
    if operations == "E" and kind:
        raise DefinitionError("DDF_TYPE", f"{where}: an executable resource (E) has no Type")
    if operations != "E" and not kind:
        raise DefinitionError("DDF_TYPE", f"{where}: a resource that is not executable needs a Type")
    value_range = _text(item, "RangeEnumeration") or ""
    bounds = _RANGE.match(value_range)
    low, high = (_number(bounds.group(1)), _number(bounds.group(2))) if bounds else (None, None)
    return {
        "id": rid,
        "name": name,
        "operations": operations,
        "multiple": _choice(_text(item, "MultipleInstances"), MULTIPLE, f"{where} MultipleInstances"),
        "mandatory": _choice(_text(item, "Mandatory"), MANDATORY, f"{where} Mandatory"),
        "type": kind,
        "range": value_range,
        "units": _text(item, "Units") or "",
        "min": low,
        "max": high,
    }


def parse_ddf(data: bytes) -> list[dict[str, Any]]:
    """The object definitions of a DDF XML document (an `LWM2M` root with one or more `Object`s), or
    DefinitionError naming the rule: DDF_TOO_LARGE, DDF_XML (not well-formed, or entities/DTDs, which
    defusedxml refuses), DDF_ROOT, DDF_NO_OBJECT, DDF_ID, DDF_FIELD_MISSING, DDF_FIELD_VALUE,
    DDF_OPERATIONS, DDF_TYPE, DDF_DUPLICATE."""
    if len(data) > MAX_DDF_BYTES:
        raise DefinitionError("DDF_TOO_LARGE", f"the DDF XML is {len(data)} bytes; at most {MAX_DDF_BYTES}")
    try:
        root = ElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as problem:
        raise DefinitionError(
            "DDF_XML", f"the DDF XML declares what is not allowed: {type(problem).__name__}"
        ) from None
    except ElementTree.ParseError as problem:
        raise DefinitionError("DDF_XML", f"the DDF XML is not well-formed: {problem}") from None
    if root.tag != "LWM2M":
        raise DefinitionError("DDF_ROOT", f"the root element must be LWM2M, not {root.tag}")
    definitions = []
    for element in root.findall("Object"):
        oid = _identifier(_text(element, "ObjectID"), "ObjectID")
        where = f"object {oid}"
        name = _text(element, "Name")
        if not name:
            raise DefinitionError("DDF_FIELD_MISSING", f"{where} needs a Name")
        resources: dict[str, dict[str, Any]] = {}
        items = element.find("Resources")
        for item in items.findall("Item") if items is not None else []:
            resource = _resource(item, where)
            if str(resource["id"]) in resources:
                raise DefinitionError("DDF_DUPLICATE", f"{where} defines resource {resource['id']} twice")
            resources[str(resource["id"])] = resource
        definitions.append(
            {
                "id": oid,
                "name": name,
                "urn": _text(element, "ObjectURN") or f"urn:oma:lwm2m:x:{oid}",
                "version": _text(element, "ObjectVersion") or "1.0",
                "multiple": _choice(_text(element, "MultipleInstances"), MULTIPLE, f"{where} MultipleInstances"),
                "mandatory": _choice(_text(element, "Mandatory"), MANDATORY, f"{where} Mandatory"),
                "resources": resources,
            }
        )
    if not definitions:
        raise DefinitionError("DDF_NO_OBJECT", "the DDF XML defines no Object")
    if len({definition["id"] for definition in definitions}) != len(definitions):
        raise DefinitionError("DDF_DUPLICATE", "the DDF XML defines one ObjectID twice")
    return definitions


@cache
def registry() -> dict[str, Any]:
    """The committed registry: `{"source", "commit", "objects": {"3303": definition, ...}}`."""
    return json.loads(REGISTRY_FILE.read_text(encoding="utf-8"))


def registry_object(object_id: int) -> dict[str, Any] | None:
    return registry()["objects"].get(str(object_id))


def definition(object_id: int, own: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A product's own definition of the object (`own`: its uploaded ones by id), else the registry's."""
    if own and str(object_id) in own:
        return own[str(object_id)]
    return registry_object(object_id)


_SEARCH_PATH = re.compile(r"^/?(\d{1,5})(?:(/)(\d{0,5})(?:/(\d{0,5}))?)?$")


@cache
def _search_index() -> tuple[tuple[dict[str, Any], dict[str, Any], str], ...]:
    """(definition, resource, lower-case "object name resource name") of every registry resource, by id."""
    objects = sorted(registry()["objects"].values(), key=lambda item: item["id"])
    return tuple(
        (definition, resource, f"{definition['name']} {resource['name']}".lower())
        for definition in objects
        for resource in sorted(definition["resources"].values(), key=lambda item: item["id"])
    )


def search_resources(
    text: str, own: dict[str, Any] | None = None, operations: str = "RWE", *, limit: int = 20
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The first `limit` resources (`(path, definition, resource)`) whose path starts like `text`
    (`3303`, `/3303/0/57`: an object id prefix, then an instance, then a resource id prefix) or whose
    object and resource names hold every word of `text` (`temp value`); the product's own objects
    first, then the registry's by id. Only resources allowing one of `operations` (R, W, E) are listed.
    The profile editor's mapping picker (products.lwm2m_views) asks this as the user types."""
    text = text.strip()
    if not text:
        return []
    own_entries = [
        (definition, resource, f"{definition['name']} {resource['name']}".lower())
        for definition in sorted((own or {}).values(), key=lambda item: item["id"])
        for resource in sorted(definition["resources"].values(), key=lambda item: item["id"])
    ]
    own_ids = {definition["id"] for definition, _, _ in own_entries}
    entries = own_entries + [entry for entry in _search_index() if entry[0]["id"] not in own_ids]
    path = _SEARCH_PATH.match(text)
    words = text.lower().split()
    found: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for definition, resource, names in entries:
        if not any(letter in resource["operations"] for letter in operations):
            continue
        instance = 0
        if path:
            object_id, slash, instance_text, resource_text = path.groups()
            exact = bool(slash)  # "3303/" names the object; "33" is the start of an id
            if (str(definition["id"]) != object_id) if exact else not str(definition["id"]).startswith(object_id):
                continue
            if instance_text:
                instance = int(instance_text)
            if resource_text and not str(resource["id"]).startswith(resource_text):
                continue
        elif not all(word in names for word in words):
            continue
        found.append((f"/{definition['id']}/{instance}/{resource['id']}", definition, resource))
        if len(found) >= limit:
            break
    return found
