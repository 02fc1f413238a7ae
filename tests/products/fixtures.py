"""Real profile zips built in memory, good and bad, and the accounts that use them.

`water_meter_files()` is the WaterMeter_Huawei_v1001 example of shared/reference/northbound-api.md
section 8, rebuilt from the reference text: Electricity and WaterMeterAlarm as printed there, and the
WaterMeter service filled in as described (command SET_METER_REPORT with the string para `content`,
maxLength 1024; string properties deviceAddress, signalStrength, currentReading, flowRateReading).
"""

from __future__ import annotations

import copy
import io
import json
import struct
import zipfile
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from applications.actions import do_add_member
from applications.models import Role
from products import actions
from products.models import Product
from products.validation import ProfileInvalid, ProfileIssue, validate_archive
from tests.applications.fixtures import AppCredentials, create_app

DEVICE_FILE = "profile/devicetype-capability.json"
WATER_METER_ZIP = "WaterMeter_Huawei_v1001.zip"


def service_path(service_type: str) -> str:
    return f"service/{service_type}/profile/servicetype-capability.json"


def _string_property(name: str, max_length: int, maximum: int = 0) -> dict[str, Any]:
    return {
        "propertyName": name,
        "dataType": "string",
        "required": True,
        "min": 0,
        "max": maximum,
        "step": 0,
        "maxLength": max_length,
        "method": "RE",
        "unit": None,
        "enumList": None,
    }


def water_meter_files() -> dict[str, Any]:
    """{path in the zip: JSON document} of the reference's WaterMeter profile."""
    device = {
        "devices": [
            {
                "manufacturerId": "Huawei",
                "manufacturerName": "Huawei",
                "model": "v1001",
                "protocolType": "CoAP",
                "deviceType": "WaterMeter",
                "serviceTypeCapabilities": [
                    {"serviceId": "Electricity", "serviceType": "Electricity", "option": "Optional"},
                    {"serviceId": "WaterMeter", "serviceType": "WaterMeter", "option": "Master"},
                    {"serviceId": "WaterMeterAlarm", "serviceType": "WaterMeterAlarm", "option": "Mandatory"},
                ],
            }
        ]
    }
    electricity = {
        "services": [
            {
                "serviceType": "Electricity",
                "description": "Electricity",
                "commands": None,
                "properties": [
                    {
                        "propertyName": "voltage",
                        "dataType": "double",
                        "required": True,
                        "min": 0,
                        "max": 3000,
                        "step": 0.1,
                        "maxLength": None,
                        "method": "RE",
                        "unit": "V",
                        "enumList": None,
                    }
                ],
            }
        ]
    }
    content = {
        "paraName": "content",
        "dataType": "string",
        "required": True,
        "min": 0,
        "max": 0,
        "step": 0,
        "maxLength": 1024,
        "unit": None,
        "enumList": None,
    }
    water_meter = {
        "services": [
            {
                "serviceType": "WaterMeter",
                "description": "WaterMeter",
                "commands": [{"commandName": "SET_METER_REPORT", "paras": [content], "responses": None}],
                "properties": [
                    _string_property("deviceAddress", 255),
                    _string_property("signalStrength", 10, maximum=100),
                    _string_property("currentReading", 255),
                    _string_property("flowRateReading", 255),
                ],
            }
        ]
    }
    alarm_property = {
        "dataType": "int",
        "required": True,
        "min": 0,
        "max": 1,
        "step": 1,
        "maxLength": 0,
        "method": "RE",
        "unit": None,
        "enumList": None,
    }
    alarm = {
        "services": [
            {
                "serviceType": "WaterMeterAlarm",
                "description": "WaterMeterAlarm",
                "commands": [
                    {
                        "commandName": "SET_HIGHFLOW_ALARM",
                        "paras": [
                            {
                                "paraName": "highFlow",
                                "dataType": "int",
                                "required": True,
                                "min": 1,
                                "max": 0,
                                "step": 1,
                                "maxLength": 10,
                                "unit": "L",
                                "enumList": None,
                            }
                        ],
                        "responses": [
                            {
                                "responseName": "SET_HIGHFLOW_ALARM_RSP",
                                "paras": [
                                    {
                                        "paraName": "result",
                                        "dataType": "int",
                                        "required": True,
                                        "min": -1000000,
                                        "max": 1000000,
                                        "step": 1,
                                        "maxLength": 10,
                                        "unit": None,
                                        "enumList": None,
                                    }
                                ],
                            }
                        ],
                    }
                ],
                "properties": [
                    {"propertyName": "lowFlowAlarm", **alarm_property},
                    {"propertyName": "highFlowAlarm", **alarm_property},
                ],
            }
        ]
    }
    return {
        DEVICE_FILE: device,
        service_path("Electricity"): electricity,
        service_path("WaterMeter"): water_meter,
        service_path("WaterMeterAlarm"): alarm,
    }


def simple_files(
    device_type: str = "Sensor", manufacturer_id: str = "Acme", model: str = "s1", *, properties: int = 1
) -> dict[str, Any]:
    """A small valid profile: one service Reading with `properties` int properties and one command."""
    device = {
        "devices": [
            {
                "manufacturerId": manufacturer_id,
                "manufacturerName": f"{manufacturer_id} Ltd",
                "model": model,
                "protocolType": "LWM2M",
                "deviceType": device_type,
                "serviceTypeCapabilities": [{"serviceId": "Reading", "serviceType": "Reading", "option": "Master"}],
            }
        ]
    }
    props = [
        {
            "propertyName": f"value{number}",
            "dataType": "int",
            "required": True,
            "min": 0,
            "max": 100,
            "step": 1,
            "maxLength": None,
            "method": "RE",
            "unit": "%",
            "enumList": None,
        }
        for number in range(properties)
    ]
    service = {
        "services": [
            {
                "serviceType": "Reading",
                "description": "Readings",
                "commands": [
                    {
                        "commandName": "SET_PERIOD",
                        "paras": [{"paraName": "period", "dataType": "int", "required": True, "min": 1, "max": 3600}],
                        "responses": [{"responseName": "SET_PERIOD_RSP", "paras": None}],
                    }
                ],
                "properties": props,
            }
        ]
    }
    return {DEVICE_FILE: device, service_path("Reading"): service}


def zip_name(files: Mapping[str, Any]) -> str:
    device = files[DEVICE_FILE]["devices"][0]
    return f"{device['deviceType']}_{device['manufacturerId']}_{device['model']}.zip"


def build_zip(files: Mapping[str, Any], *, compression: int = zipfile.ZIP_DEFLATED, indent: Any = "\t") -> bytes:
    """A zip of the files; JSON values are dumped, bytes and str written as they are."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, value in files.items():
            if isinstance(value, bytes):
                data = value
            elif isinstance(value, str):
                data = value.encode()
            else:
                data = json.dumps(value, indent=indent).encode()
            archive.writestr(name, data)
    return buffer.getvalue()


def water_meter_zip() -> bytes:
    return build_zip(water_meter_files())


def changed(files: Mapping[str, Any], path: str, pointer: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of the files with files[path][pointer...] set to value (a KeyError-free edit)."""
    result = copy.deepcopy(dict(files))
    target = result[path]
    for step in pointer[:-1]:
        target = target[step]
    target[pointer[-1]] = value
    return result


def removed(files: Mapping[str, Any], path: str, pointer: tuple[Any, ...]) -> dict[str, Any]:
    result = copy.deepcopy(dict(files))
    target = result[path]
    for step in pointer[:-1]:
        target = target[step]
    del target[pointer[-1]]
    return result


# --- Archives no tool would make, written byte by byte ----------------------------------------


def _central_entries(data: bytes) -> list[int]:
    """Offsets of the central directory entries."""
    offsets, start = [], 0
    while (found := data.find(b"PK\x01\x02", start)) != -1:
        offsets.append(found)
        start = found + 4
    return offsets


def with_flag_bits(data: bytes, flag: int) -> bytes:
    """Set general-purpose flag bits in every entry (local header and central directory)."""
    patched = bytearray(data)
    for central in _central_entries(data):
        (old,) = struct.unpack_from("<H", patched, central + 8)
        struct.pack_into("<H", patched, central + 8, old | flag)
        (local,) = struct.unpack_from("<I", patched, central + 42)
        (old_local,) = struct.unpack_from("<H", patched, local + 6)
        struct.pack_into("<H", patched, local + 6, old_local | flag)
    return bytes(patched)


def with_raw_name(data: bytes, placeholder: str, raw: bytes) -> bytes:
    """Replace an ASCII entry name by raw bytes of the same length (a legacy code page, say)."""
    assert len(placeholder.encode()) == len(raw)
    return data.replace(placeholder.encode(), raw)


# --- Products and accounts -------------------------------------------------------------------


def import_files(credentials: AppCredentials, files: Mapping[str, Any] | None = None) -> Product:
    files = files or water_meter_files()
    return actions.do_import_profile(credentials.application, zip_name(files), build_zip(files))


def create_user(username: str, *, operator: bool = False):
    return get_user_model().objects.create_user(username=username, password="correct horse 9", is_staff=operator)


class Personas:
    """Portal accounts around one application: its owner, developer and viewer, an outsider, an operator."""

    def __init__(self) -> None:
        self.app = create_app("Water utility", login=False)
        self.other_app = create_app("Gas utility", login=False)
        self.owner = create_user("olivia")
        self.developer = create_user("devon")
        self.viewer = create_user("victor")
        self.outsider = create_user("oscar")
        self.operator = create_user("root", operator=True)
        do_add_member(self.app.application, self.owner, Role.OWNER)
        do_add_member(self.app.application, self.developer, Role.DEVELOPER)
        do_add_member(self.app.application, self.viewer, Role.VIEWER)
        do_add_member(self.other_app.application, self.outsider, Role.OWNER)


def refused(files_or_data: Mapping[str, Any] | bytes, name: str | None = None) -> list[ProfileIssue]:
    """The issues validation finds in a zip (given as bytes or as files to zip); fails if it passes."""
    data = files_or_data if isinstance(files_or_data, bytes) else build_zip(files_or_data)
    if name is None:
        name = zip_name(files_or_data) if not isinstance(files_or_data, bytes) else WATER_METER_ZIP
    try:
        validate_archive(name, data)
    except ProfileInvalid as error:
        return error.issues
    raise AssertionError("the profile passed validation")


def codes(issues: list[ProfileIssue]) -> list[str]:
    return [issue.code for issue in issues]


def accepted(files: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """The normalised profile of files that must pass; the issues are in the failure if they do not."""
    try:
        return validate_archive(name or zip_name(files), build_zip(files)).profile
    except ProfileInvalid as error:
        raise AssertionError(f"refused: {[str(issue) for issue in error.issues]}") from None


def upload(data: bytes, name: str = WATER_METER_ZIP) -> SimpleUploadedFile:
    """A file for a multipart POST, as a browser or an HTTP client sends it."""
    return SimpleUploadedFile(name, data, content_type="application/zip")


def put_file(client, url: str, data: bytes, name: str = WATER_METER_ZIP, **kwargs):
    """PUT a multipart body with the zip as `file` (the test client only encodes multipart for POST)."""
    body = encode_multipart(BOUNDARY, {"file": upload(data, name)})
    return client.put(url, body, content_type=MULTIPART_CONTENT, **kwargs)


def copies_of(product, count: int, *, application=None, device_type: str = "Type", model: str = "model"):
    """`count` products made from `product` (its profile and archive; bulk_create: the pickers' reads are
    tested, not the import): device type `<device_type>NNN`, manufacturer "Maker NNN" (id `MNNN`), model
    `<model>NNN`, in `application` (default: the product's)."""
    from products.models import Product

    skip = {"id", "product_id", "created_at", "updated_at"}
    fields = {f.attname: getattr(product, f.attname) for f in Product._meta.concrete_fields if f.attname not in skip}
    if application is not None:
        fields["application_id"] = application.pk
    return Product.objects.bulk_create(
        [
            Product(
                **{
                    **fields,
                    "device_type": f"{device_type}{n:03d}",
                    "manufacturer_id": f"M{model}{n:03d}",
                    "manufacturer_name": f"Maker {n:03d}",
                    "model": f"{model}{n:03d}",
                }
            )
            for n in range(count)
        ]
    )
