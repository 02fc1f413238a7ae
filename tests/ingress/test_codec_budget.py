"""One tenant never slows another: each application's codec time has a budget (ingress.budget)."""

from __future__ import annotations

import struct

import pytest

from devices.models import DataHistory, DeviceLog, LogKind
from ingress.budget import CodecBudget, budget
from ingress.pipeline import NOT_DECODED, STORED, Uplink, handle_uplinks
from products.undecoded import recent_undecoded
from tests.applications.fixtures import create_app
from tests.devices.fixtures import register
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


@pytest.mark.django_db(transaction=True)
def test_an_application_whose_codec_loops_is_stored_raw_and_the_other_decodes(settings, owner_app, monkeypatch):
    # given: the owner's codec loops until its limit; the other application's codec is well behaved
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.CODEC_VERSION_CACHE_SECONDS = 0
    settings.CODEC_JS_TIMEOUT_MS = 100
    settings.CODEC_APP_CPU_SHARE = 0.25
    settings.CODEC_APP_CPU_BURST_SECONDS = 0.2  # 0.05 s: the first timeout empties it
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
    report = b"\x01" + struct.pack(">Ih", 5, 20)

    # when: both send; the owner's first uplink runs into the time limit
    first = handle_uplinks([Uplink(noisy.pk, report, message_id=1), Uplink(quiet.pk, report, message_id=1)])
    then = handle_uplinks([Uplink(noisy.pk, report, message_id=2), Uplink(quiet.pk, report, message_id=2)])

    # then: the first fails as a decode error; the next is not even tried, but kept and acknowledged
    assert [outcome.result for outcome in first] == ["decode_error", STORED]
    assert [outcome.result for outcome in then] == [NOT_DECODED, STORED]
    assert then[0].acknowledge is True
    entry = DeviceLog.objects.filter(device_id=noisy.pk, kind=LogKind.DECODE_ERROR).order_by("-id").first()
    assert entry.raw == report.hex() and "CODEC_APP_CPU_SHARE" in entry.summary
    assert DataHistory.objects.filter(device_id=quiet.pk).count() == 2
    assert recent_undecoded(noisy.product_id) == 1  # the codec page's banner
    assert recent_undecoded(quiet.product_id) == 0
    # and once the owner has paid its time back, its uplinks are tried again
    clock.now += 10
    (again,) = handle_uplinks([Uplink(noisy.pk, report, message_id=3)])
    assert again.result == "decode_error" and "ran longer than" in again.detail
