"""Firmware (module) upgrades over LwM2M object 5: the driver hands the sub-operation to the ingress.

`start` may run in any process (the schedule sweep runs in a Celery worker, a task's first pass in the
web process), but only the ingress worker that holds the device's session can talk to it (its
datagrams reach that worker: SO_REUSEPORT). So, like a downlink (devices.downlink), the driver sends
`{"type": "firmware_upgrade", "sub_operation": pk}` over the channel layer to that worker after the
caller's transaction commits; the worker runs the exchange (ingress.firmware) and reports through
firmware.actions.on_step / on_result. A message lost with a worker that dies is no hang: the
sub-operation has a due time from its start (firmware.actions.start), which the sweep enforces.
"""

from __future__ import annotations

from django.db import transaction

from devices import downlink
from firmware.models import SubOperation

UPGRADE_MESSAGE = "firmware_upgrade"


class Lwm2mDriver:
    """LwM2M object 5: pull (Package URI, served by the ingress with Block2) or push (Block1 to /5/0/0)."""

    def start(self, sub_operation: SubOperation) -> None:
        from firmware import actions

        channel = downlink.holder(sub_operation.device)
        if channel is None:
            actions.on_result(sub_operation, ok=False, code="DEVICE_NOT_ONLINE")
            return
        message = {"type": UPGRADE_MESSAGE, "sub_operation": sub_operation.pk}
        transaction.on_commit(lambda: downlink.send_to_worker(channel, message))
