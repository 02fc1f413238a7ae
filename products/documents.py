"""The profile as the files of its zip, and the online editor's changes to it.

`to_documents` turns a stored (normalised) profile back into the JSON documents of the zip, which
products.validation checks exactly as it checks an upload; `build_archive` writes them as a zip.
The editor's changes are pure functions from a profile to a new profile: each also says which
document and JSON path it touched (its targets), so the issues validation finds there can be shown
beside the form field they concern. Nothing here touches the database.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from products.validation import (
    CAPABILITY_KEYS,
    COMMAND_KEYS,
    DEVICE_FILE,
    DEVICE_KEYS,
    PARA_KEYS,
    PROPERTY_KEYS,
    RESPONSE_KEYS,
    SERVICE_KEYS,
    ordered,
    service_file,
)

# A fixed timestamp, so that the same profile always gives the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def archive_name(profile: Mapping[str, Any]) -> str:
    device = profile["device"]
    return f"{device['deviceType']}_{device['manufacturerId']}_{device['model']}.zip"


def _datum(item: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return ordered(item, keys)


def _service_document(service: Mapping[str, Any]) -> dict[str, Any]:
    normal = ordered(service, SERVICE_KEYS)
    normal["properties"] = [_datum(prop, PROPERTY_KEYS) for prop in service.get("properties") or []]
    commands = []
    for command in service.get("commands") or []:
        normal_command = ordered(command, COMMAND_KEYS)
        normal_command["paras"] = [_datum(para, PARA_KEYS) for para in command.get("paras") or []]
        normal_command["responses"] = [
            {**ordered(response, RESPONSE_KEYS), "paras": [_datum(p, PARA_KEYS) for p in response.get("paras") or []]}
            for response in command.get("responses") or []
        ]
        commands.append(normal_command)
    normal["commands"] = commands
    return {"services": [normal]}


def to_documents(profile: Mapping[str, Any]) -> dict[str, Any]:
    """The zip's JSON documents, {path: value}, with keys in the original's order (jsonb keeps none)."""
    device = ordered(profile["device"], DEVICE_KEYS)
    device["serviceTypeCapabilities"] = [
        ordered(capability, CAPABILITY_KEYS) for capability in device.get("serviceTypeCapabilities") or []
    ]
    documents: dict[str, Any] = {DEVICE_FILE: {"devices": [device]}}
    for service in profile["services"]:
        documents[service_file(str(service.get("serviceType")))] = _service_document(service)
    return documents


def build_archive(profile: Mapping[str, Any]) -> bytes:
    """The profile as a zip in the original's layout; the same profile always gives the same bytes."""
    buffer = io.BytesIO()
    files = {
        name: json.dumps(value, indent=4, ensure_ascii=False) + "\n" for name, value in to_documents(profile).items()
    }
    files.update(profile.get("extraFiles") or {})
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name].encode())
    return buffer.getvalue()


def empty_profile(device: Mapping[str, Any]) -> dict[str, Any]:
    """A new product from the editor: the device's fields and no services yet."""
    return {"device": {**ordered(device, DEVICE_KEYS), "serviceTypeCapabilities": []}, "services": []}


# --- The editor's changes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A part of a document a change wrote: issues under `path` in `file` belong to its form."""

    file: str
    path: str


@dataclass(frozen=True)
class Edit:
    profile: dict[str, Any]
    targets: tuple[Target, ...]


class NotFound(LookupError):
    """The editor addressed a service, property, command, response or para that does not exist."""


def item(items: list[Any], index: int) -> Any:
    """items[index], or NotFound (no negative indexes from URLs)."""
    if not 0 <= index < len(items):
        raise NotFound(index)
    return items[index]


def capability(profile: Mapping[str, Any], index: int) -> dict[str, Any]:
    return item(profile["device"]["serviceTypeCapabilities"], index)


def service_of(profile: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The service type document the device's index-th service uses."""
    service_type = capability(profile, index)["serviceType"]
    for service in profile["services"]:
        if service.get("serviceType") == service_type:
            return service
    raise NotFound(service_type)


def command_of(profile: Mapping[str, Any], service: int, command: int) -> dict[str, Any]:
    return item(service_of(profile, service)["commands"], command)


def response_of(profile: Mapping[str, Any], service: int, command: int, response: int) -> dict[str, Any]:
    return item(command_of(profile, service, command)["responses"], response)


def _service_path(profile: Mapping[str, Any], index: int) -> tuple[str, str]:
    return service_file(str(capability(profile, index)["serviceType"])), "$.services[0]"


def set_device(profile: Mapping[str, Any], fields: Mapping[str, Any]) -> Edit:
    result = copy.deepcopy(dict(profile))
    result["device"] = {**result["device"], **fields}
    return Edit(result, (Target(DEVICE_FILE, "$.devices[0]"),))


def set_service(profile: Mapping[str, Any], index: int | None, fields: Mapping[str, Any]) -> Edit:
    """Add (index None) or change a service: serviceId, serviceType, option and the type's description.

    Renaming the service type renames its document when no other service uses it, and copies it
    when one does; naming a type that exists already makes the service use that type's content.
    """
    result = copy.deepcopy(dict(profile))
    capabilities = result["device"]["serviceTypeCapabilities"]
    new_type = fields["serviceType"]
    entry = {"serviceId": fields["serviceId"], "serviceType": new_type, "option": fields["option"]}
    if index is None:
        capabilities.append(entry)
        index = len(capabilities) - 1
        old_type = None
    else:
        current = item(capabilities, index)
        old_type = current["serviceType"]
        capabilities[index] = {**current, **entry}
    services = result["services"]
    by_type = {service.get("serviceType"): service for service in services}
    if new_type not in by_type:
        source = by_type.get(old_type)
        used_elsewhere = any(c["serviceType"] == old_type for i, c in enumerate(capabilities) if i != index)
        if source is not None and not used_elsewhere:
            source["serviceType"] = new_type
        else:
            fresh = copy.deepcopy(source) if source is not None else {"commands": [], "properties": []}
            services.append({**fresh, "serviceType": new_type})
    target_service = next(service for service in services if service.get("serviceType") == new_type)
    target_service["description"] = fields.get("description")
    _drop_unused_services(result)
    _order_services(result)
    return Edit(
        result,
        (
            Target(DEVICE_FILE, f"$.devices[0].serviceTypeCapabilities[{index}]"),
            Target(service_file(str(new_type)), "$.services[0]"),
        ),
    )


def delete_service(profile: Mapping[str, Any], index: int) -> Edit:
    result = copy.deepcopy(dict(profile))
    capabilities = result["device"]["serviceTypeCapabilities"]
    item(capabilities, index)
    del capabilities[index]
    _drop_unused_services(result)
    return Edit(result, (Target(DEVICE_FILE, "$.devices[0].serviceTypeCapabilities"),))


def _drop_unused_services(profile: dict[str, Any]) -> None:
    used = {c["serviceType"] for c in profile["device"]["serviceTypeCapabilities"]}
    profile["services"] = [service for service in profile["services"] if service.get("serviceType") in used]


def _order_services(profile: dict[str, Any]) -> None:
    order = {}
    for position, capability in enumerate(profile["device"]["serviceTypeCapabilities"]):
        order.setdefault(capability["serviceType"], position)
    profile["services"].sort(key=lambda service: order.get(service.get("serviceType"), len(order)))


def _set_item(items: list[Any], index: int | None, value: dict[str, Any], keys: tuple[str, ...]) -> int:
    if index is None:
        items.append(ordered(value, keys))
        return len(items) - 1
    current = item(items, index)
    items[index] = {**current, **value}
    return index


def set_property(profile: Mapping[str, Any], service: int, index: int | None, values: Mapping[str, Any]) -> Edit:
    result = copy.deepcopy(dict(profile))
    file, path = _service_path(result, service)
    index = _set_item(service_of(result, service)["properties"], index, dict(values), PROPERTY_KEYS)
    return Edit(result, (Target(file, f"{path}.properties[{index}]"),))


def delete_property(profile: Mapping[str, Any], service: int, index: int) -> Edit:
    result = copy.deepcopy(dict(profile))
    file, path = _service_path(result, service)
    properties = service_of(result, service)["properties"]
    item(properties, index)
    del properties[index]
    return Edit(result, (Target(file, f"{path}.properties"),))


def set_command(profile: Mapping[str, Any], service: int, index: int | None, values: Mapping[str, Any]) -> Edit:
    result = copy.deepcopy(dict(profile))
    file, path = _service_path(result, service)
    commands = service_of(result, service)["commands"]
    index = _set_item(commands, index, {"paras": [], "responses": [], **values}, COMMAND_KEYS)
    return Edit(result, (Target(file, f"{path}.commands[{index}]"),))


def delete_command(profile: Mapping[str, Any], service: int, index: int) -> Edit:
    result = copy.deepcopy(dict(profile))
    file, path = _service_path(result, service)
    commands = service_of(result, service)["commands"]
    item(commands, index)
    del commands[index]
    return Edit(result, (Target(file, f"{path}.commands"),))


def set_response(
    profile: Mapping[str, Any], service: int, command: int, index: int | None, values: Mapping[str, Any]
) -> Edit:
    result = copy.deepcopy(dict(profile))
    file, path = _service_path(result, service)
    responses = command_of(result, service, command)["responses"]
    index = _set_item(responses, index, {"paras": [], **values}, RESPONSE_KEYS)
    return Edit(result, (Target(file, f"{path}.commands[{command}].responses[{index}]"),))


def delete_response(profile: Mapping[str, Any], service: int, command: int, index: int) -> Edit:
    result = copy.deepcopy(dict(profile))
    file, path = _service_path(result, service)
    responses = command_of(result, service, command)["responses"]
    item(responses, index)
    del responses[index]
    return Edit(result, (Target(file, f"{path}.commands[{command}].responses"),))


def _paras(profile: Mapping[str, Any], service: int, command: int, response: int | None) -> tuple[list[Any], str]:
    _, path = _service_path(profile, service)
    if response is None:
        return command_of(profile, service, command)["paras"], f"{path}.commands[{command}].paras"
    owner = response_of(profile, service, command, response)
    return owner["paras"], f"{path}.commands[{command}].responses[{response}].paras"


def set_para(
    profile: Mapping[str, Any],
    service: int,
    command: int,
    response: int | None,
    index: int | None,
    values: Mapping[str, Any],
) -> Edit:
    """Add or change a para of a command (response None) or of one of its responses."""
    result = copy.deepcopy(dict(profile))
    file, _ = _service_path(result, service)
    paras, path = _paras(result, service, command, response)
    index = _set_item(paras, index, dict(values), PARA_KEYS)
    return Edit(result, (Target(file, f"{path}[{index}]"),))


def delete_para(profile: Mapping[str, Any], service: int, command: int, response: int | None, index: int) -> Edit:
    result = copy.deepcopy(dict(profile))
    file, _ = _service_path(result, service)
    paras, path = _paras(result, service, command, response)
    item(paras, index)
    del paras[index]
    return Edit(result, (Target(file, path),))
