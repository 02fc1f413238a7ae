"""One tenant never slows another: each application's codec time has a budget (ingress.budget)."""

from __future__ import annotations

import asyncio
import struct
import time
from collections import OrderedDict

import pytest

from devices.models import DataHistory, DeviceLog, LogKind
from ingress.budget import CodecBudget, budget
from ingress.codec import javascript_seconds
from ingress.pipeline import NOT_DECODED, QUARANTINED, STORED, TIMED_OUT, Uplink, handle_uplinks
from ingress.simulator import connect
from ingress.undecoded import KEPT
from products import codecs
from products.codecs import sandbox
from products.undecoded import recent_undecoded
from tests.applications.fixtures import create_app
from tests.devices.fixtures import register
from tests.ingress.fixtures import WorkerThread
from tests.platform.running import wait_for
from tests.products.codecs.fixtures import OCEANCONNECT_JS, manifest, meter, oceanconnect_zip, upload


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_fills_at_the_share_and_empties_by_the_time_spent(settings):
    settings.CODEC_APP_CPU_SHARE = 0.25
    settings.CODEC_APP_CPU_BURST_SECONDS = 2
    clock = Clock()
    buckets = CodecBudget(clock)
    assert buckets.allows(1)
    buckets.charge(1, 0.6)  # the burst is 0.5 s: now 0.1 s in debt
    assert not buckets.allows(1)
    assert buckets.allows(2)  # another application is untouched
    clock.now += 0.3  # 0.075 s paid back: still in debt
    assert not buckets.allows(1)
    clock.now += 0.2  # 0.125 s in all: free again
    assert buckets.allows(1)
    clock.now += 3600  # a quiet hour fills it to the burst, never more
    buckets.charge(1, 0.49)
    assert buckets.allows(1)
    buckets.charge(1, 0.02)
    assert not buckets.allows(1)


def test_a_share_of_zero_turns_the_budget_off(settings):
    settings.CODEC_APP_CPU_SHARE = 0
    buckets = CodecBudget(Clock())
    buckets.charge(1, 100)
    assert buckets.allows(1)


ACME = {"manufacturerId": "Acme", "deviceType": "WaterMeter", "protocolType": "LWM2M"}
LOOPING = OCEANCONNECT_JS.replace("function decode(bytes) {", "function decode(bytes) {\n  while (true) {}", 1)


@pytest.fixture
def looping_and_quiet(settings, owner_app, monkeypatch):
    """The owner's codec loops until its limit; another application's codec is well behaved."""
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.CODEC_VERSION_CACHE_SECONDS = 0
    # Room for the well-behaved codec on a loaded machine: a crossing's limit is wall time.
    settings.CODEC_JS_TIMEOUT_MS = 300
    settings.CODEC_APP_CPU_SHARE = 0.25
    settings.CODEC_APP_CPU_BURST_SECONDS = 0.2  # 0.05 s: the first timeout empties it
    monkeypatch.setattr(sandbox, "_suspects", OrderedDict())  # no quarantine left by another test
    other_app = create_app("Another utility")
    clock = Clock()
    monkeypatch.setattr(budget, "clock", clock)
    monkeypatch.setattr(budget, "_buckets", {})
    meter(owner_app)
    upload(owner_app, oceanconnect_zip(**{"codec.js": LOOPING, "vectors.json": None}))
    meter(other_app, model="m2")
    upload(other_app, oceanconnect_zip(**{"manifest.json": manifest(model="m2")}))
    noisy = register(owner_app, "867724030000001", info={**ACME, "model": "m1"})
    quiet = register(other_app, "867724030000002", info={**ACME, "model": "m2"})
    return noisy, quiet, clock


REPORT = b"\x01" + struct.pack(">Ih", 5, 20)


@pytest.mark.django_db(transaction=True)
def test_an_application_whose_codec_loops_is_stored_raw_and_the_other_decodes(looping_and_quiet):
    noisy, quiet, clock = looping_and_quiet

    # when: both send; the owner's first uplink runs into the time limit
    first = handle_uplinks([Uplink(noisy.pk, REPORT, message_id=1), Uplink(quiet.pk, REPORT, message_id=1)])
    then = handle_uplinks([Uplink(noisy.pk, REPORT, message_id=2), Uplink(quiet.pk, REPORT, message_id=2)])

    # then: the first is kept with the codec's own reason; the next is not even tried, but kept and
    # acknowledged; the other application's are decoded and stored
    assert [outcome.result for outcome in first] == [NOT_DECODED, STORED]
    assert "ran longer than 300 ms" in first[0].detail
    assert [outcome.result for outcome in then] == [NOT_DECODED, STORED]
    assert then[0].acknowledge is True
    entries = DeviceLog.objects.filter(device_id=noisy.pk, kind=LogKind.DECODE_ERROR).order_by("id")
    assert [entry.raw for entry in entries] == [REPORT.hex()] * 2
    assert all(entry.detail["notDecoded"] == KEPT for entry in entries)  # ingress.undecoded decodes them later
    assert DataHistory.objects.filter(device_id=quiet.pk).count() == 2
    assert recent_undecoded(noisy.product_id) == 2  # the codec page's banner
    assert recent_undecoded(quiet.product_id) == 0
    # and once the owner has paid its time back and its script left quarantine, its uplinks are tried again
    clock.now += 60  # the limit's time, CODEC_APP_TIMEOUT_PENALTY times over, paid back
    sandbox._suspects.clear()
    _seconds, timed_out = javascript_seconds()
    (again,) = handle_uplinks([Uplink(noisy.pk, REPORT, message_id=3)])
    assert again.result == NOT_DECODED and "ran longer than" in again.detail
    assert javascript_seconds()[1] > timed_out  # it did run, into the limit again


@pytest.mark.django_db(transaction=True)
def test_a_quarantined_codec_is_not_run_on_the_uplink_path_so_no_batch_waits_for_it(looping_and_quiet, settings):
    # given: the owner's script ran out of time once (now in the sandbox's quarantine)
    noisy, quiet, _clock = looping_and_quiet
    handle_uplinks([Uplink(noisy.pk, REPORT, message_id=1)])
    assert codecs.quarantined(noisy.product) and not codecs.quarantined(quiet.product)
    settings.CODEC_APP_CPU_SHARE = 0  # no budget: only the quarantine keeps it out

    # when: a batch mixes its uplinks with the other application's
    _seconds, timed_out = javascript_seconds()
    started = time.perf_counter()
    outcomes = handle_uplinks(
        [Uplink(noisy.pk, REPORT, message_id=2), Uplink(quiet.pk, REPORT, message_id=2)]
        + [Uplink(noisy.pk, REPORT, message_id=number) for number in range(3, 8)]
    )
    elapsed = time.perf_counter() - started

    # then: the looping script never ran (nothing reached its time limit), the batch took less than one
    # limit, and the other application's uplink is stored
    assert javascript_seconds()[1] == timed_out
    assert elapsed < settings.CODEC_JS_TIMEOUT_MS / 1000
    assert [outcome.result for outcome in outcomes] == [NOT_DECODED, STORED] + [NOT_DECODED] * 5
    assert all(outcome.detail == QUARANTINED for outcome in outcomes if outcome.result == NOT_DECODED)
    assert all(outcome.acknowledge for outcome in outcomes)


@pytest.mark.django_db(transaction=True)
def test_through_a_real_worker_the_looping_codec_runs_once_and_the_other_application_is_stored(
    looping_and_quiet, settings
):
    # given: a real ingress worker on UDP; no budget, so only the quarantine keeps the looping codec out
    noisy, quiet, _clock = looping_and_quiet
    settings.CODEC_APP_CPU_SHARE = 0
    worker = WorkerThread().start()

    # when: both devices report three times, one after the other
    async def scenario():
        looping, polite = await connect(noisy.node_id, worker.port), await connect(quiet.node_id, worker.port)
        for _ in range(3):
            await looping.notify(REPORT)
            await polite.notify(REPORT)
        looping.close()
        polite.close()

    try:
        asyncio.run(scenario())
        kept = DeviceLog.objects.filter(device_id=noisy.pk, kind=LogKind.DECODE_ERROR)
        wait_for(lambda: kept.count() == 3, what="the looping application's three kept uplinks")
        wait_for(lambda: DataHistory.objects.filter(device_id=quiet.pk).count() == 3, what="the other's history")
    finally:
        worker.stop()

    # then: the looping script ran once (its time limit), its other uplinks were kept without running it;
    # every uplink of both was acknowledged (notify waits for the ACK) and the other's are stored
    summaries = list(kept.order_by("id").values_list("summary", flat=True))
    assert summaries[0].startswith(TIMED_OUT) and "ran longer than 300 ms" in summaries[0]
    assert summaries[1:] == [QUARANTINED, QUARANTINED]
