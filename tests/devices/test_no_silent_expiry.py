"""No silent expiry (issue 20, item 1): devices registered in the portal or from a file without a
timeout never expire; where a device can expire the form says so, the device shows its deadline, and
a bulk job counts its devices deleted later. The northbound API keeps the original's 180 s default
(tests/devices/test_register_api.py)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from devices.models import BulkRegistration, BulkRowStatus, Device
from devices.tasks import run_bulk_registration, sweep_devices
from tests.devices.bulkfiles import create_job, csv_bytes, imei, other_product
from tests.devices.fixtures import water_meter
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def product(owner_app):
    return water_meter(owner_app)


def _run(job: BulkRegistration) -> BulkRegistration:
    run_bulk_registration.apply((job.pk,)).get()
    job.refresh_from_db()
    return job


def test_a_file_without_a_timeout_column_registers_devices_that_never_expire(owner_app, product, no_wake):
    # given: the file of the report that lost 4,999 devices: no timeout column at all
    data = csv_bytes([[imei(n), str(product.product_id)] for n in range(30)], header=("nodeId", "product"))
    with time_machine.travel(T0, tick=False):
        from devices import bulk

        job = _run(bulk.do_create_bulk_registration(owner_app.application, "meters.csv", data, mode="all-or-nothing"))
    assert job.registered_rows == 30
    assert set(Device.objects.values_list("timeout", "bind_deadline")) == {(0, None)}
    # when: the sweep runs a year later
    with time_machine.travel(T0 + dt.timedelta(days=365), tick=False):
        result = sweep_devices.apply().get()
    # then: nothing deleted, the job still has all its devices
    assert result["expired"] == 0
    assert Device.objects.count() == 30
    job.refresh_from_db()
    assert job.expired_rows == 0


def test_an_empty_timeout_cell_never_expires_and_a_given_one_does(owner_app, product, no_wake):
    rows = [[imei(1), "kept", str(product.product_id), "", ""], [imei(2), "short", str(product.product_id), "", "60"]]
    with time_machine.travel(T0, tick=False):
        job = _run(create_job(owner_app.application, rows))
    kept, short = Device.objects.order_by("node_id")
    assert (kept.timeout, kept.bind_deadline) == (0, None)
    assert (short.timeout, short.bind_deadline) == (60, T0 + dt.timedelta(seconds=60))
    with time_machine.travel(T0 + dt.timedelta(seconds=61), tick=False):
        assert sweep_devices.apply().get()["expired"] == 1
    assert list(Device.objects.values_list("node_id", flat=True)) == [imei(1)]
    job.refresh_from_db()
    assert (job.registered_rows, job.expired_rows) == (2, 1)
    statuses = dict(job.rows.values_list("node_id", "status"))
    assert statuses == {imei(1): BulkRowStatus.REGISTERED, imei(2): BulkRowStatus.EXPIRED}


def test_each_job_counts_only_its_own_expired_devices(owner_app, other_app, product, no_wake):
    foreign = other_product(other_app)
    with time_machine.travel(T0, tick=False):
        mine = _run(
            create_job(owner_app.application, [[imei(n), "", str(product.product_id), "", "30"] for n in range(3)])
        )
        theirs = _run(create_job(other_app.application, [[imei(10), "", str(foreign.product_id), "", "3600"]]))
    with time_machine.travel(T0 + dt.timedelta(seconds=31), tick=False):
        sweep_devices.apply().get()
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.expired_rows, theirs.expired_rows) == (3, 0)
    assert Device.objects.filter(application=other_app.application).count() == 1


def test_the_expired_count_shows_on_the_job_page_and_in_the_api(client, owner_app, product, no_wake):
    with time_machine.travel(T0, tick=False):
        job = _run(create_job(owner_app.application, [[imei(1), "", str(product.product_id), "", "5"]]))
    with time_machine.travel(T0 + dt.timedelta(seconds=6), tick=False):
        sweep_devices.apply().get()
    # the API
    response = client.get(f"/api/v1/bulk-registrations/{job.job_id}", headers=owner_app.headers())
    assert response.status_code == 200, response.content
    assert response.json()["expiredRows"] == 1
    # the page
    personas_user = _owner_of(owner_app)
    client.force_login(personas_user)
    page = client.get(f"/devices/bulk/{job.job_id}/").content.decode()
    assert 'data-count="expired">1<' in page
    assert "1 device of this file was deleted later" in page


def _owner_of(credentials):
    from applications.actions import do_add_member
    from applications.models import Role
    from tests.portal.fixtures import create_user

    user = create_user("olga")
    do_add_member(credentials.application, user, Role.OWNER)
    return user


# --- The portal's registration form ----------------------------------------------------------------


def test_the_register_form_leaves_the_timeout_empty_and_says_what_a_number_does(client):
    personas = create_personas()
    client.force_login(personas.owner)
    page = client.get("/devices/register/").content.decode()
    assert 'name="timeout"' in page and 'name="timeout" value=' not in page
    assert "Empty or 0: the device never expires." in page
    assert "the device is deleted if it has not connected within that many seconds" in page


def test_a_device_registered_in_the_portal_without_a_timeout_never_expires(client):
    personas = create_personas()
    client.force_login(personas.owner)
    with time_machine.travel(T0, tick=False):
        response = client.post("/devices/register/", {"application": personas.app.app_id, "node_id": imei(7)})
    assert response.status_code == 200, response.content
    device = Device.objects.get(node_id=imei(7))
    assert (device.timeout, device.bind_deadline) == (0, None)
    with time_machine.travel(T0 + dt.timedelta(days=30), tick=False):
        sweep_devices.apply().get()
    assert Device.objects.filter(node_id=imei(7)).exists()
    assert "never expires" in client.get(f"/devices/{device.device_id}/").content.decode()


def test_a_device_that_can_expire_shows_its_deadline_in_the_list_and_on_its_page(client):
    personas = create_personas()
    client.force_login(personas.owner)
    with time_machine.travel(T0, tick=False):
        client.post("/devices/register/", {"application": personas.app.app_id, "node_id": imei(8), "timeout": "600"})
    device = Device.objects.get(node_id=imei(8))
    assert device.bind_deadline == T0 + dt.timedelta(seconds=600)
    deadline = '<time datetime="2026-12-07T12:10:00+00:00" data-local>2026-12-07T12:10:00+00:00</time>'
    assert f"expires {deadline}" in client.get("/devices/").content.decode()
    assert f"expires {deadline}" in client.get(f"/devices/{device.device_id}/").content.decode()
    # once bound, no deadline is shown
    Device.objects.filter(pk=device.pk).update(activated=True, bind_deadline=None, bound_at=timezone.now())
    assert "expires" not in client.get("/devices/").content.decode().split("<tbody>")[1]
