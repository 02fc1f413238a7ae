"""`{% desired_rows device as rows %}`: the device page's desired-against-reported rows (commands.shadow),
so the devices app's template shows them without the devices app importing commands."""

from __future__ import annotations

from typing import Any

from django import template

from commands import shadow
from devices.models import Device

register = template.Library()


@register.simple_tag
def desired_rows(device: Device) -> list[dict[str, Any]]:
    return shadow.desired_against_reported(device)
