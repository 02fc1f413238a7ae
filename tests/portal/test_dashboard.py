"""The fleet dashboard (issue 20, item 2): one application's devices by status, traffic, pushes,
commands and upgrades, each a link to the filtered list, from counters rather than per-request scans."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine

from applications import metrics
from applications.models import Application
from applications.redis import get_redis, key
from commands.models import Command
from devices.actions import ServiceReport, do_store_reports
from devices.models import Device, Status
from devices.tasks import reconcile_counts
from portal import dashboard
from tests.devices.fixtures import report
from tests.portal.fixtures import create_fleet

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 1, 8, 0, 20, tzinfo=dt.UTC)


def tiles(page: str) -> dict[str, int]:
    """The dashboard's figures by tile (`data-count`)."""
    found = re.findall(r'data-count="(\w+)"><div class="tile-value">(\d+)</div>', page)
    return {name: int(value) for name, value in found}


@pytest.fixture
def fleet():
    return create_fleet()


def test_the_owner_sees_their_fleet_counted_as_the_database_has_it(client, fleet):
    client.force_login(fleet.owner)
    page = client.get("/").content.decode()
    application = fleet.app.application
    devices = Device.objects.filter(application=application)
    assert tiles(page) == {
        "online": devices.filter(status=Status.ONLINE).count(),
        "abnormal": devices.filter(status=Status.ABNORMAL).count(),
        "offline": devices.filter(status=Status.OFFLINE).count(),
        "not_activated": devices.filter(activated=False).count(),
        "uplinks": 0,
        "pushes": 0,
        "failed_pushes": 0,
        "blacklisted_hosts": 1,
        "pending_commands": 2,
        "failed_commands": 1,
        "running_upgrades": 0,
    }
    assert tiles(page)["offline"] == 6 and tiles(page)["not_activated"] == 4


def test_each_tile_links_to_its_filtered_list_and_the_list_agrees(client, fleet):
    client.force_login(fleet.owner)
    page = client.get("/").content.decode()
    app_id = fleet.app.app_id
    for status, expected in [("ONLINE", 3), ("ABNORMAL", 1), ("OFFLINE", 6), ("NOT_ACTIVATED", 4)]:
        link = f"/devices/?application={app_id}&amp;status={status}"
        assert link in page
        listed = client.get(link.replace("&amp;", "&")).content.decode()
        assert len(re.findall(r'href="/devices/[0-9a-f-]{36}/"', listed)) == expected, status
    assert f"/commands/?application={app_id}&amp;status=FAILED" in page
    listed = client.get(f"/commands/?application={app_id}&status=FAILED").content.decode()
    commands = Command.objects.filter(application=fleet.app.application)
    assert all(one.command_id in listed for one in commands.filter(status="FAILED"))
    assert not any(one.command_id in listed for one in commands.exclude(status="FAILED"))
    theirs = Command.objects.exclude(application=fleet.app.application).get()
    assert theirs.command_id not in listed  # the other application's failed command is not on this list


def test_another_application_is_neither_counted_nor_reachable(client, fleet):
    client.force_login(fleet.outsider)
    page = client.get(f"/?application={fleet.app.app_id}").content.decode()  # asks for the other's
    assert fleet.app.application.name not in page  # "Water utility": not offered, not shown
    assert tiles(page)["online"] == 5 and tiles(page)["abnormal"] == 5 and tiles(page)["not_activated"] == 1
    assert tiles(page)["failed_commands"] == 1 and tiles(page)["pending_commands"] == 0


def test_an_operator_chooses_the_application(client, fleet):
    client.force_login(fleet.operator)
    page = client.get(f"/?application={fleet.other_app.app_id}").content.decode()
    assert tiles(page)["online"] == 5
    assert '<label for="dashboard-application">' in page


def without_history(fleet) -> None:
    """No history rows: the on-commit callbacks these tests run would otherwise make devices.history
    remember a partition that the test's rolled-back transaction takes away (and fail later tests)."""
    Application.objects.filter(pk__in=[fleet.app.application.pk, fleet.other_app.application.pk]).update(
        storage_mode=False
    )


def test_uplinks_are_counted_per_minute_by_the_store_path(client, fleet, django_capture_on_commit_callbacks):
    without_history(fleet)
    at = T0
    device = Device.objects.select_related("application").filter(application=fleet.app.application).first()
    with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
        report(device, reading=1)
        report(device, reading=2)
    client.force_login(fleet.owner)
    with time_machine.travel(at + dt.timedelta(minutes=1), tick=False):
        page = client.get("/").content.decode()
    assert tiles(page)["uplinks"] == 2
    assert "(2 in the last hour)" in page
    with time_machine.travel(at + dt.timedelta(minutes=2), tick=False):
        page = client.get("/").content.decode()
    assert tiles(page)["uplinks"] == 0  # the last whole minute had none
    assert "(2 in the last hour)" in page


def test_device_counts_are_kept_not_counted_and_current_at_once(
    client, fleet, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    client.force_login(fleet.owner)
    with time_machine.travel(T0, tick=False):
        first = tiles(client.get("/").content.decode())
        abnormal = Device.objects.select_related("application").get(
            application=fleet.app.application, status=Status.ABNORMAL
        )
        with django_capture_on_commit_callbacks(execute=True):
            report(abnormal, reading=1)  # ABNORMAL -> ONLINE through the store path
        with django_assert_max_num_queries(4):  # session, user, applications: no counting
            now = tiles(client.get("/").content.decode())
    assert (first["online"], first["abnormal"]) == (3, 1)
    assert (now["online"], now["abnormal"]) == (4, 0)  # within the snapshot period: kept, not recounted
    # A change made behind the actions' back shows once beat reconciles.
    Device.objects.filter(application=fleet.app.application, status=Status.ONLINE).update(status=Status.OFFLINE)
    reconcile_counts()
    with time_machine.travel(T0, tick=False):
        reconciled = tiles(client.get("/").content.decode())
    assert (reconciled["online"], reconciled["offline"]) == (0, 10)


def test_traffic_reads_the_counters(fleet):
    application = fleet.app.application
    metrics.add_many(
        {metrics.UPLINKS: {application.pk: 40}, metrics.PUSHES_DELIVERED: {application.pk: 7}},
        now=T0,
    )
    metrics.add(metrics.PUSHES_FAILED, {application.pk: 3}, now=T0 - dt.timedelta(minutes=30))
    traffic = dashboard.traffic(application, now=T0 + dt.timedelta(minutes=1))
    assert (traffic.uplinks_last_minute, traffic.pushes_last_minute, traffic.failed_pushes_last_hour) == (40, 7, 3)


def test_the_heartbeat_is_an_iso_time_the_browser_puts_in_its_zone(client, fleet):
    get_redis().set(key("heartbeat"), "2026-11-26T07:18:34+00:00")
    client.force_login(fleet.owner)
    page = client.get("/").content.decode()
    assert '<time datetime="2026-11-26T07:18:34+00:00" data-local>2026-11-26T07:18:34+00:00</time>' in page


def test_the_ingress_batch_path_counts_each_report_for_its_application(fleet, django_capture_on_commit_callbacks):
    without_history(fleet)
    at = T0
    devices = Device.objects.select_related("application")
    mine = list(devices.filter(application=fleet.app.application)[:3])
    theirs = list(devices.filter(application=fleet.other_app.application)[:1])
    with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
        do_store_reports(
            [(device, [ServiceReport("WaterMeter", "WaterMeter", {"reading": 1}, at)]) for device in mine + theirs]
        )
    after = at + dt.timedelta(minutes=1)
    assert dashboard.traffic(fleet.app.application, now=after).uplinks_last_minute == 3
    assert dashboard.traffic(fleet.other_app.application, now=after).uplinks_last_minute == 1
