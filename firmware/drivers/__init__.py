"""Protocol drivers that carry an upgrade to a device, one module each behind one registry.

A driver has `start(sub_operation)`; it reports back through firmware.actions.on_step / on_result.
`firmware_upgrade` goes over LwM2M object 5, `software_upgrade` over Huawei's PCP on the data channel.
Both are registered in every process (firmware.apps): they only hand the work to the ingress (the
channel layer, devices.downlink), so the process that runs the schedule needs no device session.
Without a driver, sub-operations fail with NO_PROTOCOL_SERVICE instead of hanging.
"""

from __future__ import annotations

from typing import Protocol

from firmware.models import Operation, SubOperation


class Driver(Protocol):
    def start(self, sub_operation: SubOperation) -> None: ...


DRIVERS: dict[str, Driver] = {}


def register(operate_type: str, driver: Driver) -> None:
    DRIVERS[operate_type] = driver


def for_operation(operation: Operation) -> Driver | None:
    return DRIVERS.get(operation.operate_type)
