"""Plain helpers: a product (the WaterMeter example), registered devices, reports."""

from __future__ import annotations

import datetime as dt

from devices import actions
from devices.models import Device
from products.models import Product
from tests.applications.fixtures import AppCredentials
from tests.products.fixtures import import_files, water_meter_files

WATER_METER = {"manufacturerId": "Huawei", "deviceType": "WaterMeter", "model": "v1001", "protocolType": "CoAP"}


def water_meter(credentials: AppCredentials) -> Product:
    return import_files(credentials, water_meter_files())


def register(credentials: AppCredentials, node_id: str = "863703030000001", **kwargs) -> Device:
    return actions.do_register_device(credentials.application, node_id=node_id, **kwargs).device


def report(device: Device, service_id: str = "WaterMeter", when: dt.datetime | None = None, **data) -> None:
    when = when or dt.datetime.now(dt.UTC)
    actions.do_store_report(device, [actions.ServiceReport(service_id, service_id, data, when)])
