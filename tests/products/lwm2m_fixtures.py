"""A standard LwM2M product: a profile whose services map onto OMA and IPSO objects (3, 3303, 3304, 3316)."""

from __future__ import annotations

from typing import Any

from tests.products.fixtures import DEVICE_FILE, service_path


def _property(name: str, data_type: str, unit: str | None = None) -> dict[str, Any]:
    numeric = data_type in ("int", "decimal")
    return {
        "propertyName": name,
        "dataType": data_type,
        "required": False,
        "min": -1000 if numeric else 0,
        "max": 100000 if numeric else 0,
        "step": 0,
        "maxLength": None if numeric else 256,
        "method": "RE",
        "unit": unit,
        "enumList": None,
    }


def _command(name: str, paras: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"commandName": name, "paras": paras or [], "responses": [{"responseName": f"{name}_RSP", "paras": None}]}


def standard_files(model: str = "std1") -> dict[str, Any]:
    services = {
        "Temperature": [_property("temperature", "decimal", "Cel"), _property("units", "string")],
        "Humidity": [_property("humidity", "decimal", "%RH")],
        "Voltage": [_property("voltage", "decimal", "V")],
        "Device": [_property("battery", "int", "%"), _property("manufacturer", "string")],
    }
    commands = {
        "Device": [
            _command("REBOOT"),
            _command("FACTORY_RESET"),
            _command(
                "SET_TIMEZONE", [{"paraName": "timezone", "dataType": "string", "required": True, "maxLength": 64}]
            ),
        ]
    }
    device = {
        "devices": [
            {
                "manufacturerId": "Std",
                "manufacturerName": "Standard Sensors",
                "model": model,
                "protocolType": "LWM2M",
                "deviceType": "Sensor",
                "serviceTypeCapabilities": [
                    {"serviceId": name, "serviceType": name, "option": "Optional"} for name in services
                ],
            }
        ]
    }
    files: dict[str, Any] = {DEVICE_FILE: device}
    for name, properties in services.items():
        files[service_path(name)] = {
            "services": [
                {"serviceType": name, "description": name, "commands": commands.get(name, []), "properties": properties}
            ]
        }
    return files


def standard_mapping() -> dict[str, Any]:
    return {
        "attributes": {"pmin": 60, "pmax": 3600},
        "properties": [
            {"serviceId": "Temperature", "property": "temperature", "path": "/3303/0/5700", "attributes": {"st": 0.5}},
            {"serviceId": "Temperature", "property": "units", "path": "/3303/0/5701"},
            {"serviceId": "Humidity", "property": "humidity", "path": "/3304/0/5700"},
            {
                "serviceId": "Voltage",
                "property": "voltage",
                "path": "/3316/0/5700",
                "attributes": {"gt": 3.6, "lt": 3.0},
            },
            {"serviceId": "Device", "property": "battery", "path": "/3/0/9"},
            {"serviceId": "Device", "property": "manufacturer", "path": "/3/0/0"},
        ],
        "commands": [
            {"serviceId": "Device", "command": "REBOOT", "path": "/3/0/4", "operation": "execute"},
            {"serviceId": "Device", "command": "FACTORY_RESET", "path": "/3/0/5", "operation": "execute"},
            {
                "serviceId": "Device",
                "command": "SET_TIMEZONE",
                "path": "/3/0/15",
                "operation": "write",
                "para": "timezone",
            },
        ],
    }


STANDARD_INFO = {"manufacturerId": "Std", "deviceType": "Sensor", "model": "std1", "protocolType": "LWM2M"}


def standard_device(credentials, node_id: str = "867724030023999", **kwargs):
    """A registered device of the standard product (imported and mapped once per application)."""
    from products import actions
    from products.models import Product
    from tests.devices.fixtures import register
    from tests.products.fixtures import import_files

    product = Product.objects.filter(application=credentials.application, model="std1").first()
    if product is None:
        product = import_files(credentials, standard_files())
        actions.do_set_lwm2m_mapping(product, standard_mapping())
    return register(credentials, node_id, info=STANDARD_INFO, **kwargs)
