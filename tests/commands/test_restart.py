"""A command in flight when its ingress worker dies: never left SENT (the ticket's restart case).

The real `run_ingress` process holds the device; the device sleeps through the command's CoAP
retransmissions; its worker is SIGKILLed after a retransmission and the supervisor replaces it. The
command keeps its ACK due time in the database, so the timer sweep ends it in TIMEOUT (controlled
clock), and the device, awake again, reports through the new worker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import time

import pytest

from commands import actions, explain
from commands.models import Command
from devices.models import DataHistory, DeviceLog
from ingress.models import DeviceSession
from ingress.simulator import connect
from tests.commands.test_end_to_end import (  # noqa: F401
    _command_transmissions,
    _create,
    _real_codecs,
    _report,
    _threaded,
    _wait_status,
    device,
)
from tests.ingress.process import ingress, live_workers  # noqa: F401  (ingress is the process fixture)

pytestmark = pytest.mark.django_db(transaction=True)

TUNING = {"INGRESS_ACK_TIMEOUT": "1", "INGRESS_CODEC_MODULE": "products.codecs", "CODEC_VERSION_CACHE_SECONDS": "0"}


def _device_log() -> str:
    return " | ".join(DeviceLog.objects.order_by("id").values_list("summary", flat=True))


def _pid(channel: str) -> int:
    return int(live_workers()[channel].split("-")[1])


@pytest.fixture
def shared_channel_layer(settings):
    """This process's channel layer under the test's Redis key prefix, as the run_ingress process has it."""
    layer = settings.CHANNEL_LAYERS["default"]
    config = {**layer["CONFIG"], "prefix": f"{settings.REDIS_KEY_PREFIX}asgi"}
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": config}}


@pytest.mark.slow  # SIGKILL mid-retransmission
def test_a_worker_killed_mid_retransmission_leaves_no_command_sent(
    client,
    device,  # noqa: F811
    ingress,  # noqa: F811
    shared_channel_layer,
):
    credentials, device_id, node_id = device
    _, port = ingress(workers=1, **TUNING)

    async def scenario():
        simulated = await connect(node_id, port, timeout=0.5, retransmits=8)
        await simulated.notify(_report(100))
        await simulated.wait_downlink(1)  # the codec's report ACK, acknowledged while awake
        simulated.asleep = True
        body = {"expireTime": 0, "maxRetransmit": 3}
        command_id = await asyncio.to_thread(_threaded, _create, client, credentials, device_id, **body)
        command = await asyncio.to_thread(_threaded, _wait_status, command_id, "SENT")
        assert command.status == "SENT", command.status
        deadline = time.monotonic() + 20
        while _command_transmissions(simulated) < 2:  # the first transmission and a retransmission arrived
            assert time.monotonic() < deadline, await asyncio.to_thread(_threaded, _device_log)
            await asyncio.sleep(0.05)
        session = await asyncio.to_thread(_threaded, DeviceSession.objects.get, device__device_id=device_id)
        holder = session.worker
        victim = _pid(holder)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while not any(name and int(name.split("-")[1]) != victim for name in live_workers().values()):
            assert time.monotonic() < deadline, "the supervisor did not replace the killed worker"
            await asyncio.sleep(0.1)
        simulated.asleep = False
        await simulated.notify(_report(200))  # on its old observation, to the new worker
        simulated.close()
        return command

    sent = asyncio.run(scenario())

    # The dead worker never reported an outcome: the command still waits for its ACK, and says so.
    command = Command.objects.select_related("device").get(pk=sent.pk)
    assert command.status == "SENT"
    assert "acknowledg" in explain.explain(command).lower()
    # Its due time is in the database: the sweep ends it, whichever process runs it.
    assert actions.sweep_timers(now=command.ack_due_at - dt.timedelta(seconds=1))["ack_timeout"] == 0
    assert actions.sweep_timers(now=command.ack_due_at + dt.timedelta(seconds=1))["ack_timeout"] == 1
    command.refresh_from_db()
    assert command.status == "TIMEOUT"
    assert command.events.last().reason == "no acknowledgement after all retransmissions"
    # The device reports through the new worker.
    readings = {str(row.data["reading"]) for row in DataHistory.objects.filter(device_id=command.device_id)}
    assert {"100", "200"} <= readings
