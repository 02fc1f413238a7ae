"""A device's last known location, for `queryDeviceRealtimeLocation` and the device page.

The original asked the network for the device's position (10 to 60 s per call). We answer at once
with the last position the device reported itself: a service of its profile that carries latitude
and longitude (a `Location` service, or LwM2M object 6 once its resources are mapped to one:
Latitude, Longitude, Altitude, Radius), else its gateway's. The answer's shape is the original's
(the SDKs' QueryDeviceRealtimeLocationOutDTO, OMA MLP terms): `pd` the position, `poserr` why there is
none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from devices.models import Device

LATITUDE = ("latitude", "lat")
LONGITUDE = ("longitude", "lon", "lng")
ALTITUDE = ("altitude", "alt")
ACCURACY = ("radius", "accuracy", "horacc")


@dataclass(frozen=True)
class Location:
    """A reported position: WGS 84 degrees, metres; `source` says whose shadow it came from."""

    latitude: float
    longitude: float
    altitude: float | None
    accuracy: float | None
    event_time: str | None
    service_id: str
    source: Device


def _number(data: dict[str, Any], names: tuple[str, ...]) -> float | None:
    lowered = {str(key).lower(): value for key, value in data.items()}
    for name in names:
        value = lowered.get(name)
        if isinstance(value, bool) or value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            return number
    return None


def reported_location(device: Device) -> Location | None:
    """The position in this device's own shadow: a Location service first, then any service with
    latitude and longitude in range."""
    entries = sorted(
        device.shadow.items(),
        key=lambda item: str((item[1] or {}).get("serviceType") or item[0]).lower() != "location",
    )
    for service_id, entry in entries:
        data = (entry or {}).get("data") or {}
        if not isinstance(data, dict):
            continue
        latitude, longitude = _number(data, LATITUDE), _number(data, LONGITUDE)
        if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            continue
        return Location(
            latitude,
            longitude,
            _number(data, ALTITUDE),
            _number(data, ACCURACY),
            entry.get("eventTime"),
            service_id,
            device,
        )
    return None


def last_location(device: Device) -> Location | None:
    """The device's own last position, else its gateway's (a sub-device is where its gateway is)."""
    found = reported_location(device)
    if found is None and device.gateway_id:
        found = reported_location(device.gateway)
    return found


def location_body(device: Device, location: Location | None, now: str) -> dict[str, Any]:
    """The original's answer: `pd` (position data) or `poserr` (position error), the other null.

    `X` is the latitude and `Y` the longitude, as in OMA MLP's WGS 84 points; numbers are strings,
    as the SDKs' DTOs declare them."""
    if location is None:
        error = {"time": now, "resid": "6", "add_info": "POSITION METHOD FAILURE: no location reported yet"}
        return {"deviceId": device.device_id, "pd": None, "poserr": error}
    position = {
        "time": location.event_time or now,
        "utcOff": "+0000",
        "srsName": "www.epsg.org/#4326",
        "X": _text(location.latitude),
        "Y": _text(location.longitude),
        "radius": _text(location.accuracy) if location.accuracy is not None else None,
    }
    return {"deviceId": device.device_id, "pd": position, "poserr": None}


def _text(value: float) -> str:
    text = repr(value)  # the shortest form that reads back as the same number
    return text[:-2] if text.endswith(".0") else text
