"""Uplinks kept undecoded over the codec budget are decoded later by the beat's sweep
(ingress.undecoded), once the application is within its budget again: stored in received order,
idempotent, the shadow never set back, one application's debt never holding another's."""

from __future__ import annotations

import datetime as dt
import struct

import pytest
import time_machine

from devices.models import DataHistory, Device, DeviceLog, LogKind
from ingress import undecoded
from ingress.budget import budget
from ingress.pipeline import NOT_DECODED, STORED, Uplink, handle_uplinks
from ingress.tasks import decode_kept as decode_kept_task
from tests.applications.fixtures import create_app
from tests.devices.fixtures import register
from tests.products.codecs.fixtures import manifest, meter, oceanconnect_zip, upload

pytestmark = pytest.mark.django_db(transaction=True)
ACME = {"manufacturerId": "Acme", "deviceType": "WaterMeter", "protocolType": "LWM2M"}
START = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _real_codecs(settings, monkeypatch):
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.CODEC_VERSION_CACHE_SECONDS = 0
    settings.CODEC_APP_CPU_SHARE = 0.25
    settings.CODEC_APP_CPU_BURST_SECONDS = 2
    settings.CODEC_UNDECODED_QUIET_SECONDS = 60
    monkeypatch.setattr(budget, "clock", Clock())
    monkeypatch.setattr(budget, "_buckets", {})
    monkeypatch.setattr(undecoded.sweep_budget, "clock", Clock())
    monkeypatch.setattr(undecoded.sweep_budget, "_buckets", {})


def _report(reading: int) -> bytes:
    return b"\x01" + struct.pack(">Ih", reading, 20)


def _readings(device) -> list[tuple[int, dt.datetime]]:
    rows = DataHistory.objects.filter(device_id=device.pk).order_by("event_time", "id")
    return [(row.data["reading"], row.event_time) for row in rows]


def _kept(app, model="m1", node="867724030000001"):
    if model == "m1":
        meter(app)
        upload(app)
    else:
        meter(app, model=model)
        upload(app, oceanconnect_zip(**{"manifest.json": manifest(model=model)}))
    return register(app, node, info={**ACME, "model": model})


def test_kept_uplinks_are_decoded_once_the_application_is_quiet_again(owner_app):
    device = _kept(owner_app)
    with time_machine.travel(START, tick=False) as traveller:
        budget.charge(owner_app.application.pk, 100)  # over budget: the next uplinks are kept
        outcomes = handle_uplinks([Uplink(device.pk, _report(1), message_id=1)])
        traveller.shift(5)
        outcomes += handle_uplinks([Uplink(device.pk, _report(2), message_id=2)])
        assert [outcome.result for outcome in outcomes] == [NOT_DECODED, NOT_DECODED]
        assert all(outcome.acknowledge for outcome in outcomes)
        assert DataHistory.objects.filter(device_id=device.pk).count() == 0

        # within the quiet time the ingress may still be over budget: the sweep waits
        traveller.shift(30)
        assert undecoded.decode_kept() == {"stored": 0, "failed": 0, "waiting": 2}
        assert undecoded.kept().count() == 2

        # past it, the beat's task decodes them, in received order, with the received time
        traveller.shift(60)
        assert decode_kept_task() == {"stored": 2, "failed": 0, "waiting": 0}
    assert _readings(device) == [(1, START), (2, START + dt.timedelta(seconds=5))]
    assert undecoded.kept().count() == 0
    summaries = list(DeviceLog.objects.filter(device=device, kind=LogKind.DECODED).values_list("summary", flat=True))
    assert sorted(summaries) == ["decoded later: Meter", "decoded later: Meter"]
    device.refresh_from_db()
    assert device.shadow["Meter"]["data"]["reading"] == 2
    # and again: nothing is decoded twice
    assert undecoded.decode_kept() == {"stored": 0, "failed": 0, "waiting": 0}
    assert DataHistory.objects.filter(device_id=device.pk).count() == 2


def test_a_late_uplink_never_sets_the_shadow_back(owner_app):
    device = _kept(owner_app)
    with time_machine.travel(START, tick=False) as traveller:
        budget.charge(owner_app.application.pk, 100)
        assert handle_uplinks([Uplink(device.pk, _report(1), message_id=1)])[0].result == NOT_DECODED
        traveller.shift(100)
        budget.clock.now += 1000  # paid back: the next uplink is decoded at once
        assert handle_uplinks([Uplink(device.pk, _report(7), message_id=2)])[0].result == STORED
        traveller.shift(100)
        assert undecoded.decode_kept()["stored"] == 1
    assert _readings(device) == [(1, START), (7, START + dt.timedelta(seconds=100))]
    device.refresh_from_db()
    assert device.shadow["Meter"]["data"]["reading"] == 7


def test_one_applications_debt_never_holds_anothers_kept_uplinks(owner_app):
    other_app = create_app("Another utility")
    noisy = _kept(owner_app)
    quiet = _kept(other_app, model="m2", node="867724030000002")
    with time_machine.travel(START, tick=False) as traveller:
        for app in (owner_app, other_app):
            budget.charge(app.application.pk, 100)
        handle_uplinks([Uplink(noisy.pk, _report(1), message_id=1), Uplink(quiet.pk, _report(2), message_id=1)])
        traveller.shift(100)
        undecoded.sweep_budget.charge(owner_app.application.pk, 100)  # the noisy one spent the sweep's share
        assert undecoded.decode_kept() == {"stored": 1, "failed": 0, "waiting": 1}
        assert _readings(quiet) == [(2, START)] and _readings(noisy) == []
        undecoded.sweep_budget.clock.now += 1000
        assert undecoded.decode_kept() == {"stored": 1, "failed": 0, "waiting": 0}
    assert _readings(noisy) == [(1, START)]


def test_an_uplink_the_codec_still_refuses_becomes_a_plain_decode_error(owner_app):
    device = _kept(owner_app)
    with time_machine.travel(START, tick=False) as traveller:
        budget.charge(owner_app.application.pk, 100)
        assert handle_uplinks([Uplink(device.pk, b"\x09", message_id=1)])[0].result == NOT_DECODED
        traveller.shift(100)
        assert undecoded.decode_kept() == {"stored": 0, "failed": 1, "waiting": 0}
    entry = DeviceLog.objects.get(device=device, kind=LogKind.DECODE_ERROR)
    assert entry.summary.startswith("decode failed (decoded later):") and "unknown message 9" in entry.summary
    assert entry.detail is None and entry.raw == "09"
    assert undecoded.decode_kept() == {"stored": 0, "failed": 0, "waiting": 0}
    assert Device.objects.get(pk=device.pk).shadow == {}


def test_an_uplink_the_codec_still_runs_out_of_time_on_stays_kept(owner_app, settings):
    from tests.ingress.test_codec_budget import LOOPING

    settings.CODEC_JS_TIMEOUT_MS = 100
    meter(owner_app)
    upload(owner_app, oceanconnect_zip(**{"codec.js": LOOPING, "vectors.json": None}))
    device = register(owner_app, "867724030000001", info={**ACME, "model": "m1"})
    with time_machine.travel(START, tick=False) as traveller:
        budget.charge(owner_app.application.pk, 100)
        assert handle_uplinks([Uplink(device.pk, _report(1), message_id=1)])[0].result == NOT_DECODED
        traveller.shift(100)
        assert undecoded.decode_kept() == {"stored": 0, "failed": 0, "waiting": 1}
    (entry,) = undecoded.kept()
    assert entry.detail["notDecoded"] == "budget" and entry.raw == _report(1).hex()
    assert DataHistory.objects.filter(device_id=device.pk).count() == 0
