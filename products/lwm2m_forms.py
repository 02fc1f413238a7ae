"""The profile editor's LwM2M mapping form (products.lwm2m_views, docs/lwm2m-objects.md "The editor").

One row per property of each service (a path and its Write-Attributes) and per command (a path, Write or
Execute, the para written), and the product's default pmin/pmax. The form only gathers text: `document`
turns the POST into the same document `PUT /api/v1/profiles/{id}/lwm2m` takes, and
products.actions.do_set_lwm2m_mapping validates it (one implementation of the rules); `place` puts the
refusal's field (`properties[2].path`) back on the row it came from, so the rule shows beside its field.
What the form does not show (the product's own DDF objects, epmin/epmax) is carried over as stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from products import lwm2m_objects
from products.lwm2m_mapping import DEFAULT_ATTRIBUTES, parse_path

PATH_ATTRIBUTES = ("pmin", "pmax", "gt", "lt", "st")
PRODUCT_ATTRIBUTES = ("pmin", "pmax")  # gt/lt/st only make sense per numeric resource
OPERATIONS = ("write", "execute")
_FIELD = re.compile(r"^(properties|commands)\[(\d+)\](?:\.(\w+))?(?:\.(\w+))?$")


@dataclass
class Row:
    """One property or command of the profile and what the form holds for it."""

    kind: str  # "property" or "command"
    prefix: str  # the row's field names start with it: p-0-1, c-2-0
    service_id: str
    name: str  # propertyName or commandName
    data_type: str = ""  # a property's
    paras: list[str] = field(default_factory=list)  # a command's para names
    values: dict[str, str] = field(default_factory=dict)  # path, pmin..st, operation, para
    kept: dict[str, Any] = field(default_factory=dict)  # stored attributes the form does not show
    errors: dict[str, str] = field(default_factory=dict)  # field name -> "reason (RULE)"

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str) -> str:
        return self.errors.get(name, "")

    @property
    def attribute_fields(self) -> list[tuple[str, str, str]]:
        """(name, value, error) of each Write-Attribute the form shows for a property's path."""
        return [(name, self.value(name), self.error(name)) for name in PATH_ATTRIBUTES]

    @property
    def has_attributes(self) -> bool:
        return any(self.value(name) or self.error(name) for name in PATH_ATTRIBUTES)

    def resource(self, own: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The (object, resource) definitions of the row's path, to show its name, type, units, range."""
        parts = parse_path(self.value("path"))
        definition = lwm2m_objects.definition(parts[0], own) if parts else None
        resource = definition["resources"].get(str(parts[2])) if definition and parts else None
        return (definition, resource) if resource else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def rows(profile: dict[str, Any], stored: dict[str, Any]) -> list[Row]:
    """The profile's properties and commands with the stored mapping's values, in the profile's order."""
    by_type = {service["serviceType"]: service for service in profile["services"]}
    properties = {(entry["serviceId"], entry["property"]): entry for entry in stored.get("properties", [])}
    commands = {(entry["serviceId"], entry["command"]): entry for entry in stored.get("commands", [])}
    found: list[Row] = []
    for s, capability in enumerate(profile["device"]["serviceTypeCapabilities"]):
        service = by_type.get(capability["serviceType"], {})
        service_id = capability["serviceId"]
        for i, item in enumerate(service.get("properties") or []):
            entry = properties.get((service_id, item["propertyName"]), {})
            attributes = entry.get("attributes", {})
            values = {"path": entry.get("path", "")} | {name: _text(attributes.get(name)) for name in PATH_ATTRIBUTES}
            kept = {name: value for name, value in attributes.items() if name not in PATH_ATTRIBUTES}
            found.append(
                Row(
                    "property",
                    f"p-{s}-{i}",
                    service_id,
                    item["propertyName"],
                    item["dataType"],
                    values=values,
                    kept=kept,
                )
            )
        for i, item in enumerate(service.get("commands") or []):
            entry = commands.get((service_id, item["commandName"]), {})
            values = {name: _text(entry.get(name)) for name in ("path", "operation", "para")}
            paras = [para["paraName"] for para in item.get("paras") or []]
            found.append(Row("command", f"c-{s}-{i}", service_id, item["commandName"], paras=paras, values=values))
    return found


def product_values(stored: dict[str, Any]) -> dict[str, str]:
    attributes = stored.get("attributes", {})
    return {name: _text(attributes.get(name)) for name in PRODUCT_ATTRIBUTES}


def _number(text: str) -> Any:
    """A number typed in an attribute field; anything else stays text, for the mapping's rule to refuse."""
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _attributes(data: QueryDict, prefix: str, names: tuple[str, ...], kept: dict[str, Any]) -> dict[str, Any]:
    attributes = dict(kept)
    for name in names:
        text = data.get(f"{prefix}{name}", "").strip()
        if text:
            attributes[name] = _number(text)
    return attributes


@dataclass
class Submitted:
    """The document built from a POST, and where each of its entries came from."""

    document: dict[str, Any]
    property_rows: list[Row]
    command_rows: list[Row]


def document(data: QueryDict, all_rows: list[Row], stored: dict[str, Any], objects: list[str]) -> Submitted:
    """The mapping document the POST describes (rows without a path are not mapped); the rows take the
    posted values, so a refused form shows what was typed."""
    product_kept = {k: v for k, v in stored.get("attributes", {}).items() if k not in PRODUCT_ATTRIBUTES}
    body: dict[str, Any] = {
        "objects": objects,
        "attributes": _attributes(data, "", PRODUCT_ATTRIBUTES, product_kept),
        "properties": [],
        "commands": [],
    }
    property_rows: list[Row] = []
    command_rows: list[Row] = []
    for row in all_rows:
        names = ("path", *PATH_ATTRIBUTES) if row.kind == "property" else ("path", "operation", "para")
        row.values = {name: data.get(f"{row.prefix}-{name}", "").strip() for name in names}
        if not row.value("path"):
            continue
        if row.kind == "property":
            entry = {"serviceId": row.service_id, "property": row.name, "path": row.value("path")}
            attributes = _attributes(data, f"{row.prefix}-", PATH_ATTRIBUTES, row.kept)
            if attributes:
                entry["attributes"] = attributes
            body["properties"].append(entry)
            property_rows.append(row)
        else:
            entry = {
                "serviceId": row.service_id,
                "command": row.name,
                "path": row.value("path"),
                "operation": row.value("operation"),
            }
            if row.value("para"):
                entry["para"] = row.value("para")
            body["commands"].append(entry)
            command_rows.append(row)
    return Submitted(body, property_rows, command_rows)


def place(submitted: Submitted, field_name: str, message: str) -> tuple[Row | None, str]:
    """The row and its field name (`path`, `st`, `operation`, `para`) of a refusal's field, or (None, the
    product-level field: `pmin`, `pmax`, `objects`, or "" for the form as a whole); the row keeps the
    message to show beside the field."""
    match = _FIELD.match(field_name)
    if match is None:
        name = field_name.split(".")[-1] if field_name.startswith("attributes.") else field_name.split("[")[0]
        return None, name
    kind, index, first, second = match.groups()
    listed = submitted.property_rows if kind == "properties" else submitted.command_rows
    row = listed[int(index)] if int(index) < len(listed) else None
    if row is None:
        return None, ""
    name = second if first == "attributes" and second else first
    if name not in row.values:
        name = "path"  # the entry as a whole (mapped twice) or a key the form does not show
    row.errors[name] = message
    return row, name


def default_attributes() -> dict[str, Any]:
    return dict(DEFAULT_ATTRIBUTES)
