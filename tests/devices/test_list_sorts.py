"""The device list's sorts, keyset paging, total and CSV export (issue 20, item 6), tenant-scoped."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices import listing
from devices.actions import do_create_group
from devices.models import Device, Status
from tests.devices.fixtures import register
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def personas(no_wake, monkeypatch):
    monkeypatch.setattr("devices.views.PAGE", 3)
    personas = create_personas()
    names = ["delta", "alpha", "echo", "bravo", "alpha", "charlie", "foxtrot"]
    seen = [None, T0 + dt.timedelta(minutes=5), T0 + dt.timedelta(minutes=1), None, T0 + dt.timedelta(minutes=9),
            T0 + dt.timedelta(minutes=1), None]  # fmt: skip
    statuses = [Status.OFFLINE, Status.ONLINE, Status.ABNORMAL, Status.OFFLINE, Status.ONLINE, Status.ONLINE,
                Status.OFFLINE]  # fmt: skip
    personas.devices = []
    for index, (name, last_seen, status) in enumerate(zip(names, seen, statuses, strict=True)):
        with time_machine.travel(T0 + dt.timedelta(hours=index), tick=False):
            device = register(personas.app, node_id=f"86111111111{index:04d}", info={"name": name})
        Device.objects.filter(pk=device.pk).update(last_seen_at=last_seen, status=status, activated=bool(last_seen))
        personas.devices.append(device)
    register(personas.other_app, node_id="862222222222222", info={"name": "aaa theirs"})
    return personas


def node_ids(page: str) -> list[str]:
    return re.findall(r"<code>(86\d{13})</code>", page)


def every_page(client, **params) -> list[str]:
    """The nodeIds of every page, following "next page" links."""
    seen, after = [], ""
    for _ in range(10):
        page = client.get("/devices/", {**params, **({"after": after} if after else {})}).content.decode()
        seen += node_ids(page)
        found = re.search(r'href="\?[^"]*after=([^"&]+)"', page)
        if not found:
            return seen
        after = found.group(1).replace("%3D", "=")
    raise AssertionError("more than 10 pages")


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("created", [6, 5, 4, 3, 2, 1, 0]),
        ("name", [1, 4, 3, 5, 0, 2, 6]),  # two "alpha": by id
        ("last_seen", [4, 1, 5, 2, 6, 3, 0]),  # never seen last; ties by id, newest first
        ("status", [2, 6, 3, 0, 5, 4, 1]),  # ABNORMAL, OFFLINE, ONLINE; newest first
    ],
)
def test_each_sort_pages_through_every_device_once_in_order(client, personas, sort, expected):
    client.force_login(personas.owner)
    assert every_page(client, sort=sort) == [personas.devices[n].node_id for n in expected]


def test_paging_keeps_the_filters_and_an_unknown_cursor_starts_again(client, personas):
    client.force_login(personas.owner)
    assert every_page(client, status="ONLINE", sort="name") == [personas.devices[n].node_id for n in (1, 4, 5)]
    page = client.get("/devices/", {"sort": "name", "after": "not-a-cursor"})
    assert page.status_code == 200 and node_ids(page.content.decode())[0] == personas.devices[1].node_id


def test_the_total_is_exact_from_the_status_counts_without_a_search(client, personas):
    client.force_login(personas.owner)
    assert 'data-total="7" data-exact="true"' in client.get("/devices/").content.decode()
    assert 'data-total="3" data-exact="true"' in client.get("/devices/", {"status": "ONLINE"}).content.decode()
    assert 'data-total="3" data-exact="true"' in client.get("/devices/", {"status": "NOT_ACTIVATED"}).content.decode()
    # a search is counted (capped)
    assert 'data-total="2" data-exact="true"' in client.get("/devices/", {"q": "alpha"}).content.decode()


def test_the_total_follows_a_registration_at_once_from_the_running_counts(
    client, personas, django_capture_on_commit_callbacks
):
    # The list's total and the dashboard read the same running counts (devices.counts): no grouped
    # count per request, and a new device counts as soon as it is committed.
    client.force_login(personas.owner)
    assert 'data-total="7"' in client.get("/devices/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        register(personas.app, node_id="861111111119999")
    with CaptureQueriesContext(connection) as captured:
        assert 'data-total="8"' in client.get("/devices/").content.decode()
    assert not [q for q in captured.captured_queries if "GROUP BY" in q["sql"]]


def test_past_the_exact_limit_the_total_is_an_estimate_and_says_so(client, personas, monkeypatch):
    monkeypatch.setattr(listing, "EXACT_TOTAL_LIMIT", 2)
    client.force_login(personas.owner)
    page = client.get("/devices/", {"q": "8611"}).content.decode()
    assert 'data-exact="false"' in page and "(an estimate)" in page
    assert int(re.search(r'data-total="(\d+)"', page).group(1)) >= 3


def test_the_csv_export_has_every_filtered_device_of_the_application_only(client, personas):
    group = do_create_group(personas.app.application, "roof", "", 0, [d.device_id for d in personas.devices[:3]])
    client.force_login(personas.owner)
    response = client.get("/devices/export.csv", {"group": group.dev_group_id, "sort": "name"})
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == listing.CSV_HEADER
    assert [row[0] for row in rows[1:]] == [personas.devices[n].node_id for n in (1, 0, 2)]
    assert rows[1][2:5] == ["alpha", "ONLINE", "true"]
    everything = b"".join(client.get("/devices/export.csv").streaming_content).decode("utf-8-sig")
    assert everything.count("\n") == 8 and "862222222222222" not in everything  # header and 7 rows


def test_another_applications_member_lists_exports_and_counts_none_of_them(client, personas):
    client.force_login(personas.outsider)
    page = client.get("/devices/", {"application": personas.app.application.app_id}).content.decode()
    assert node_ids(page) == [] and 'data-total="0"' in page
    everything = b"".join(client.get("/devices/export.csv").streaming_content).decode("utf-8-sig")
    assert "86111111111" not in everything and "862222222222222" in everything


def test_a_csv_cell_a_spreadsheet_would_run_is_text(client, personas):
    Device.objects.filter(pk=personas.devices[0].pk).update(name="=HYPERLINK(1)")
    client.force_login(personas.owner)
    text = b"".join(client.get("/devices/export.csv").streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text


def test_the_search_matches_the_start_of_a_nodeid_deviceid_or_name_in_any_case(client, personas):
    client.force_login(personas.owner)
    alphas = [personas.devices[n].node_id for n in (1, 4)]
    assert node_ids(client.get("/devices/", {"q": "ALPH", "sort": "name"}).content.decode()) == alphas
    assert node_ids(client.get("/devices/", {"q": "lpha"}).content.decode()) == []  # the start, not inside
    device = personas.devices[2]
    assert node_ids(client.get("/devices/", {"q": device.device_id[:8]}).content.decode()) == [device.node_id]
    assert node_ids(client.get("/devices/", {"q": "861111111110003"}).content.decode()) == [personas.devices[3].node_id]
    assert node_ids(client.get("/devices/", {"q": "8622"}).content.decode()) == []  # another application's


def test_a_groups_total_is_its_members_and_another_application_cannot_count_it(client, personas):
    group = do_create_group(personas.app.application, "roof", "", 0, [d.device_id for d in personas.devices[:4]])
    client.force_login(personas.owner)
    assert 'data-total="4" data-exact="true"' in client.get("/devices/", {"group": group.dev_group_id}).content.decode()
    online = client.get("/devices/", {"group": group.dev_group_id, "status": "ONLINE"}).content.decode()
    assert 'data-total="1" data-exact="true"' in online  # with another filter: counted through the devices
    client.force_login(personas.outsider)
    assert 'data-total="0"' in client.get("/devices/", {"group": group.dev_group_id}).content.decode()


@pytest.mark.parametrize("sort", list(listing.SORTS))
def test_the_csv_reads_chunk_after_chunk_in_the_lists_order(client, personas, monkeypatch, sort):
    monkeypatch.setattr(listing, "CSV_CHUNK", 2)
    client.force_login(personas.owner)
    text = b"".join(client.get("/devices/export.csv", {"sort": sort}).streaming_content).decode("utf-8-sig")
    exported = [row[0] for row in csv.reader(io.StringIO(text))][1:]
    assert exported == every_page(client, sort=sort) and len(exported) == 7


def test_the_list_and_the_picker_speak_simplified_chinese(client, personas):
    client.force_login(personas.owner)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    page = client.get("/devices/").content.decode()
    assert "7 个设备" in page and "下载 CSV" in page and 'aria-label="排序"' in page
    assert (
        "没有 nodeId、deviceId 或名称以“zzz”开头的设备。" in client.get("/devices/pick/", {"q": "zzz"}).content.decode()
    )
