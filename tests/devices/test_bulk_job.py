"""The bulk registration job: the batched registration keeps every rule of a single registration."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.redis import get_redis
from devices import bulk
from devices.models import BulkRegistration, BulkRowStatus, BulkState, Device, DeviceLog
from devices.presenters import device_info
from devices.tasks import run_bulk_registration
from subscriptions.models import PushMessage, Subscription
from tests.devices.bulkfiles import bad_imei, create_job, imei, product_rows
from tests.devices.fixtures import register, water_meter

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(owner_app):
    return water_meter(owner_app)


@pytest.fixture
def added(owner_app, no_wake):
    """The owner subscribes to deviceAdded; returns the bodies pushed."""
    Subscription.objects.create(
        application=owner_app.application, notify_type="deviceAdded", callback_url="http://127.0.0.1:9/added"
    )

    def bodies() -> list[dict]:
        return [json.loads(bytes(m.body)) for m in PushMessage.objects.filter(notify_type="deviceAdded").order_by("id")]

    return bodies


def test_the_job_registers_each_row_as_a_single_registration_would(owner_app, product, added):
    # given
    rows = [
        [imei(1), "kitchen", str(product.product_id), "0123456789abcdef", "0"],
        [imei(2), "garage", str(product.product_id), "", "600"],
    ]
    job = create_job(owner_app.application, rows, mode="all-or-nothing")
    assert job.state == BulkState.QUEUED and job.queued_rows == 2
    # when
    result = run_bulk_registration.apply((job.pk,)).get()
    # then
    assert result == {"registered": 2, "already": 0, "failed": 0}
    job.refresh_from_db()
    assert (job.state, job.processed_rows, job.registered_rows, job.percent()) == (BulkState.DONE, 2, 2, 100)
    kitchen, garage = Device.objects.order_by("node_id")
    assert (kitchen.node_id, kitchen.verify_code, kitchen.name) == (imei(1), imei(1), "kitchen")
    assert (kitchen.product, kitchen.manufacturer_id, kitchen.device_type, kitchen.model, kitchen.protocol_type) == (
        product, "Huawei", "WaterMeter", "v1001", "CoAP")  # fmt: skip
    assert kitchen.psk == "0123456789abcdef" and "0123456789abcdef" not in kitchen.psk_encrypted
    assert (kitchen.timeout, kitchen.bind_deadline) == (0, None)  # 0: never expires (F-4.2)
    assert garage.timeout == 600 and (garage.bind_deadline - garage.created_at).total_seconds() == 600
    assert len(garage.psk) == 32 and garage.psk == job.rows.get(node_id=imei(2)).psk
    assert (garage.status, garage.status_detail, garage.activated) == ("OFFLINE", "NOT_ACTIVE", False)
    # the rows name their devices
    assert dict(job.rows.values_list("node_id", "device_id")) == {imei(1): kitchen.device_id, imei(2): garage.device_id}
    # deviceAdded, with the body a single registration pushes
    assert added() == [
        {
            "notifyType": "deviceAdded",
            "deviceId": device.device_id,
            "gatewayId": device.device_id,
            "nodeType": "ENDPOINT",
            "deviceInfo": device_info(device),
        }
        for device in (kitchen, garage)
    ]
    # and one log line per device
    assert [log.summary for log in DeviceLog.objects.filter(device=kitchen)] == [
        f"registered with nodeId {imei(1)} by bulk registration devices.csv, row 2"
    ]


def test_skip_bad_rows_registers_the_good_ones_and_keeps_the_problems(owner_app, product, added):
    rows = [*product_rows(product, 2), [bad_imei(5), "", str(product.product_id), "", ""]]
    job = create_job(owner_app.application, rows, mode="skip-bad-rows")
    assert (job.state, job.invalid_rows, job.queued_rows) == (BulkState.QUEUED, 1, 2)
    bulk.run_job(job.pk)
    job.refresh_from_db()
    assert (job.state, job.registered_rows, job.percent()) == (BulkState.DONE, 2, 100)
    assert dict(job.rows.values_list("row_number", "status")) == {2: "registered", 3: "registered", 4: "invalid"}
    assert sorted(Device.objects.values_list("node_id", flat=True)) == [imei(0), imei(1)]
    assert len(added()) == 2


def test_all_or_nothing_rolls_everything_back_when_a_row_fails_at_run_time(owner_app, other_app, product, added):
    # given: a checked file, then another application takes one of its nodeIds before the job runs
    job = create_job(owner_app.application, product_rows(product, 5), mode="all-or-nothing")
    register(other_app, node_id=imei(3))
    # when
    bulk.run_job(job.pk)
    # then: nothing of the file was registered, the row is named, the others say why they are not there
    job.refresh_from_db()
    assert (job.state, job.registered_rows, job.failed_rows) == (BulkState.FAILED, 0, 1)
    assert not Device.objects.filter(application=owner_app.application).exists()
    assert not DeviceLog.objects.filter(application=owner_app.application).exists()
    assert added() == []
    statuses = dict(job.rows.values_list("node_id", "status"))
    assert statuses.pop(imei(3)) == BulkRowStatus.FAILED
    assert set(statuses.values()) == {BulkRowStatus.NOT_REGISTERED}
    (problem,) = job.rows.get(node_id=imei(3)).problems
    assert problem == {"column": "nodeId", "code": "BULK_NODE_ID_TAKEN", "params": {"node_id": imei(3)}}


def test_skip_bad_rows_fails_only_the_row_taken_meanwhile(owner_app, other_app, product, added):
    job = create_job(owner_app.application, product_rows(product, 5), mode="skip-bad-rows")
    register(other_app, node_id=imei(3))
    bulk.run_job(job.pk)
    job.refresh_from_db()
    assert (job.state, job.registered_rows, job.failed_rows, job.processed_rows) == (BulkState.DONE, 4, 1, 5)
    assert Device.objects.get(node_id=imei(3)).application == other_app.application
    assert len(added()) == 4


def test_the_quota_is_counted_again_when_the_job_runs(owner_app, product, settings):
    settings.BULK_REGISTRATION_CHUNK = 2
    owner_app.application.device_quota = 4
    owner_app.application.save()
    job = create_job(owner_app.application, product_rows(product, 3), mode="skip-bad-rows")
    register(owner_app, node_id=imei(100))  # one place taken after the check
    register(owner_app, node_id=imei(101))
    bulk.run_job(job.pk)
    job.refresh_from_db()
    assert (job.registered_rows, job.failed_rows) == (2, 1)
    assert Device.objects.filter(application=owner_app.application).count() == 4
    (problem,) = job.rows.get(status=BulkRowStatus.FAILED).problems
    assert problem["code"] == "BULK_QUOTA" and problem["params"] == {"quota": 4, "left": 0}


def test_a_product_deleted_after_the_check_fails_its_rows(owner_app, product):
    job = create_job(owner_app.application, product_rows(product, 2), mode="skip-bad-rows")
    product.delete()
    bulk.run_job(job.pk)
    assert set(job.rows.values_list("status", flat=True)) == {BulkRowStatus.FAILED}
    assert job.rows.first().problems[0]["code"] == "BULK_PRODUCT_GONE"
    assert not Device.objects.exists()


def test_sending_the_same_file_again_does_no_harm(owner_app, product, added, monkeypatch):
    rows = product_rows(product, 3)
    first = create_job(owner_app.application, rows, mode="all-or-nothing")
    bulk.run_job(first.pk)
    pushed, logged = len(added()), DeviceLog.objects.count()
    sent = []
    monkeypatch.setattr("devices.tasks.run_bulk_registration.apply_async", lambda *a, **k: sent.append(a))
    # when: the same file, all-or-nothing again
    second = create_job(owner_app.application, rows, mode="all-or-nothing")
    # then: nothing to do, nothing queued, nothing new
    assert (second.state, second.already_registered_rows, second.invalid_rows) == (BulkState.DONE, 3, 0)
    assert set(second.rows.values_list("status", flat=True)) == {BulkRowStatus.ALREADY_REGISTERED}
    assert dict(second.rows.values_list("node_id", "device_id")) == dict(first.rows.values_list("node_id", "device_id"))
    assert not sent
    assert (Device.objects.count(), len(added()), DeviceLog.objects.count()) == (3, pushed, logged)


def test_running_the_task_twice_does_no_harm(owner_app, product, added):
    job = create_job(owner_app.application, product_rows(product, 3), mode="skip-bad-rows")
    run_bulk_registration.apply((job.pk,))
    assert run_bulk_registration.apply((job.pk,)).get() == {"skipped": 1}
    assert (Device.objects.count(), len(added()), DeviceLog.objects.count()) == (3, 3, 3)


def test_a_job_whose_worker_died_goes_on_where_it_stopped(owner_app, product, added, settings, monkeypatch):
    # given: a worker that dies after its first batch of 2
    settings.BULK_REGISTRATION_CHUNK = 2
    job = create_job(owner_app.application, product_rows(product, 5), mode="skip-bad-rows")
    original = bulk._show_progress

    def die(job):
        original(job)
        raise SystemExit("killed")

    monkeypatch.setattr(bulk, "_show_progress", die)
    with pytest.raises(SystemExit):
        bulk.run_job(job.pk)
    job.refresh_from_db()
    assert (job.state, job.processed_rows, Device.objects.count()) == (BulkState.RUNNING, 2, 2)
    # when: the task is delivered again
    monkeypatch.setattr(bulk, "_show_progress", original)
    bulk.run_job(job.pk)
    # then
    job.refresh_from_db()
    assert (job.state, job.registered_rows, Device.objects.count(), len(added())) == (BulkState.DONE, 5, 5, 5)


def test_a_batch_costs_the_same_queries_for_5_rows_as_for_60(owner_app, product, added, settings):
    settings.BULK_REGISTRATION_CHUNK = 100

    def queries(count: int, start: int) -> int:
        job = create_job(owner_app.application, product_rows(product, count, start=start), mode="skip-bad-rows")
        with CaptureQueriesContext(connection) as captured:
            bulk.run_job(job.pk)
        assert BulkRegistration.objects.get(pk=job.pk).registered_rows == count
        return len(captured.captured_queries)

    queries(1, 500)  # the push target is created once, by the first notification
    few, many = queries(5, 0), queries(60, 100)
    assert few == many <= 26


def test_all_or_nothing_progress_is_visible_before_its_transaction_commits(owner_app, product, settings, monkeypatch):
    settings.BULK_REGISTRATION_CHUNK = 2
    job = create_job(owner_app.application, product_rows(product, 5), mode="all-or-nothing")
    seen = []
    original = bulk._show_progress

    def watch(job):
        original(job)
        # what another process reads: the committed row says 0 rows, Redis has the running count
        committed = BulkRegistration(pk=job.pk, job_id=job.job_id, state=BulkState.RUNNING, processed_rows=0)
        seen.append(bulk.processed_rows(committed))

    monkeypatch.setattr(bulk, "_show_progress", watch)
    bulk.run_job(job.pk)
    assert seen == [2, 4, 5]
    assert get_redis().get(bulk._progress_key(job)) == b"5"


def test_the_job_is_queued_on_commit_to_its_queue(
    owner_app, product, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.BULK_REGISTRATION_QUEUE = "bulk-jobs"
    sent = []
    monkeypatch.setattr("devices.tasks.run_bulk_registration.apply_async", lambda args, **kw: sent.append((args, kw)))
    with django_capture_on_commit_callbacks(execute=True):
        job = create_job(owner_app.application, product_rows(product, 1))
        assert not sent  # not before the job and its rows are committed
    assert sent == [((job.pk,), {"queue": "bulk-jobs"})]


def test_starting_a_dry_run(owner_app, product, monkeypatch):
    sent = []
    monkeypatch.setattr("devices.tasks.run_bulk_registration.apply_async", lambda *a, **k: sent.append(a))
    job = create_job(owner_app.application, product_rows(product, 2), dry_run=True, mode="all-or-nothing")
    job = bulk.do_start_bulk_registration(job)
    assert (job.state, job.queued_rows) == (BulkState.QUEUED, 2)
    with pytest.raises(bulk.BulkNotStartable):
        bulk.do_start_bulk_registration(job)  # not twice
    bad = create_job(owner_app.application, [[bad_imei(1), "", str(product.product_id), "", ""]], dry_run=True)
    with pytest.raises(bulk.BulkNotStartable):  # nothing to register
        bulk.do_start_bulk_registration(bad)


def test_the_report_lists_every_row_with_generated_psks_only_for_those_who_may_see_them(owner_app, product):
    rows = [
        [imei(1), "=cmd|calc", str(product.product_id), "0123456789abcdef", ""],
        [imei(2), "garage", str(product.product_id), "", ""],
        [bad_imei(3), "broken", str(product.product_id), "", "x"],
    ]
    job = create_job(owner_app.application, rows, mode="skip-bad-rows")
    bulk.run_job(job.pk)
    lines = list(bulk.report_lines(job, with_psk=True))
    garage = Device.objects.get(node_id=imei(2))
    assert lines == [
        ["row", "nodeId", "name", "status", "deviceId", "psk", "problems"],
        ["2", imei(1), "'=cmd|calc", "registered", Device.objects.get(node_id=imei(1)).device_id, "", ""],
        ["3", imei(2), "garage", "registered", garage.device_id, garage.psk, ""],
        ["4", bad_imei(3), "broken", "invalid", "", "", (
            f"nodeId: IMEI {bad_imei(3)} fails its check digit: the last digit should be {imei(3)[14]}.; "
            "timeout: timeout must be a whole number of seconds from 0 to 2147483647.")],
    ]  # fmt: skip
    assert [line[5] for line in bulk.report_lines(job, with_psk=False)] == ["psk", "", "", ""]
    text = "".join(bulk.report_csv(job, with_psk=False))
    assert text.startswith("\ufeffrow,nodeId,name,status,deviceId,psk,problems\r\n")


def test_each_batch_tells_the_open_pages_once_it_commits(
    owner_app, product, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.BULK_REGISTRATION_CHUNK = 2
    job = create_job(owner_app.application, product_rows(product, 3), mode="skip-bad-rows")
    sent = []
    monkeypatch.setattr("applications.events._send", lambda application, message: sent.append(message))
    with django_capture_on_commit_callbacks(execute=True):
        bulk.run_job(job.pk)
    progress = [message["data"] for message in sent if message["kind"] == "bulk.progress"]
    assert [(data["state"], data["processed"]) for data in progress] == [("running", 2), ("running", 3), ("done", 3)]
    assert {data["jobId"] for data in progress} == {str(job.job_id)}
    assert all(message["application"] == owner_app.application.pk for message in sent)
