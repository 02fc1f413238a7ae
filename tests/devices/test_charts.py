"""The device page's chart data (devices.charts, issue 20 item 4): per-property series with their unit,
ranges, server-side downsampling, gaps, the same data as CSV, errors that name the parameter, tenants,
and a query that reads the history index."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.db import connection

from devices import actions, charts, history
from devices.models import Device
from tests.devices.fixtures import WATER_METER, register, water_meter
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 8, 12, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def personas():
    return create_personas()


@pytest.fixture
def meter(personas):
    water_meter(personas.app)
    device = register(personas.app, info=WATER_METER)
    return Device.objects.select_related("application", "product").get(pk=device.pk)


def store(device, rows):
    """History rows (serviceId, data, event time), received when they happened."""
    history.insert((device.pk, device.application_id, service, data, when, when) for service, data, when in rows)


def minutes(start, count, service, name, value):
    return [(service, {name: value(n)}, start + dt.timedelta(minutes=n)) for n in range(count)]


def get(client, device, **params):
    with time_machine.travel(NOW, tick=False):
        return client.get(f"/devices/{device.device_id}/history.json", params)


def test_two_properties_of_different_ranges_are_two_series_with_their_units(client, personas, meter):
    start = NOW - dt.timedelta(minutes=30)
    store(meter, minutes(start, 30, "Electricity", "voltage", lambda n: 220 + n % 3))
    store(meter, minutes(start, 30, "WaterMeter", "currentReading", lambda n: f"{0.5 + n / 100:.2f}"))
    store(meter, [("WaterMeter", {"note": "not a number", "flag": True}, start)])
    client.force_login(personas.viewer)
    body = get(client, meter, range="1h").json()
    by_key = {one["key"]: one for one in body["series"]}
    assert set(by_key) == {"Electricity.voltage", "WaterMeter.currentReading"}  # text and booleans are not series
    voltage, reading = by_key["Electricity.voltage"], by_key["WaterMeter.currentReading"]
    assert voltage["unit"] == "V" and reading["unit"] == ""
    assert voltage["values"][:4] == [220, 221, 222, 220] and reading["values"][:2] == [0.5, 0.51]
    assert voltage["times"][0] == start.timestamp()
    assert (voltage["summary"]["min"], voltage["summary"]["max"], voltage["summary"]["readings"]) == (220, 222, 30)
    assert body["bucketSeconds"] == 6 and body["range"] == "1h"


def test_a_long_range_is_downsampled_in_the_database(client, personas, meter):
    start = NOW - dt.timedelta(days=7)
    store(meter, minutes(start, 7 * 24 * 60, "Electricity", "voltage", lambda n: n % 10))  # 10,080 readings
    client.force_login(personas.viewer)
    body = get(client, meter, range="7d").json()
    [voltage] = body["series"]
    assert len(voltage["values"]) <= charts.MAX_POINTS and body["bucketSeconds"] == 1008
    assert voltage["summary"]["readings"] == 7 * 24 * 60
    assert (voltage["summary"]["min"], voltage["summary"]["max"]) == (0, 9)  # the buckets keep the extremes
    assert all(3 <= value <= 6 for value in voltage["values"][1:-1])  # means of about 17 readings of 0..9


def test_a_silence_is_a_gap_not_a_line(client, personas, meter):
    start = NOW - dt.timedelta(minutes=55)
    store(meter, minutes(start, 10, "Electricity", "voltage", lambda n: 220))
    store(meter, minutes(start + dt.timedelta(minutes=40), 10, "Electricity", "voltage", lambda n: 230))
    client.force_login(personas.viewer)
    [voltage] = get(client, meter, range="1h").json()["series"]
    assert voltage["values"].count(None) == 1
    gap = voltage["values"].index(None)
    assert voltage["values"][gap - 1] == 220 and voltage["values"][gap + 1] == 230
    assert voltage["summary"]["gaps"] == 1


def test_the_csv_holds_the_charts_points(client, personas, meter):
    start = NOW - dt.timedelta(minutes=20)
    store(meter, minutes(start, 20, "Electricity", "voltage", lambda n: 220 + n))
    store(meter, minutes(start, 20, "WaterMeter", "currentReading", lambda n: str(n)))
    client.force_login(personas.viewer)
    params = {"range": "custom", "from": "2026-05-08T19:30:00+08:00", "to": "2026-05-08T20:00:00+08:00"}
    body = get(client, meter, **params).json()
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"/devices/{meter.device_id}/history.csv", params)
    assert response["Content-Disposition"].endswith('-20260508T113000Z-20260508T120000Z.csv"')
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == sum(len(one["values"]) for one in body["series"]) == 40
    voltage = [row for row in rows if row["property"] == "voltage"]
    assert [float(row["value"]) for row in voltage] == body["series"][0]["values"]
    assert voltage[0]["time"] == "2026-05-08T11:40:00.000+00:00" and voltage[0]["unit"] == "V"


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"range": "2d"}, "range", "range must be 1h, 24h, 7d or custom"),
        ({"range": "custom", "to": "2026-05-08T12:00:00Z"}, "from", "from is required with range=custom"),
        ({"range": "custom", "from": "yesterday", "to": "2026-05-08T12:00:00Z"}, "from", "must be an ISO 8601"),
        ({"range": "custom", "from": "2026-05-08T10:00:00", "to": "2026-05-08T12:00:00Z"}, "from", "its offset"),
        ({"range": "custom", "from": "2026-05-08T12:00:00Z", "to": "2026-05-08T10:00:00Z"}, "to", "after from"),
        ({"range": "custom", "from": "2024-01-01T00:00:00Z", "to": "2026-05-08T10:00:00Z"}, "from", "400 days"),
    ],
)
def test_a_bad_range_names_its_parameter_and_rule(client, personas, meter, params, field, rule):
    client.force_login(personas.viewer)
    for path in ("history.json", "history.csv"):
        with time_machine.travel(NOW, tick=False):
            response = client.get(f"/devices/{meter.device_id}/{path}", params)
        assert response.status_code == 400
        assert response.json()["field"] == field and rule in response.json()["error"]


def test_another_application_sees_neither_the_data_nor_the_live_parts(client, personas, meter):
    store(meter, minutes(NOW - dt.timedelta(minutes=5), 5, "Electricity", "voltage", lambda n: 220))
    client.force_login(personas.outsider)
    for path in ("history.json?range=1h", "history.csv?range=1h", "live/", ""):
        assert client.get(f"/devices/{meter.device_id}/{path}").status_code == 404
    client.logout()
    assert client.get(f"/devices/{meter.device_id}/history.json").status_code == 302  # to the login page


def test_the_live_parts_show_the_latest_report_and_last_seen_to_the_second(client, personas, meter):
    device = actions.do_bind_device(meter)
    device = Device.objects.select_related("application").get(pk=device.pk)
    when = dt.datetime(2026, 5, 8, 11, 59, 58, tzinfo=dt.UTC)
    with time_machine.travel(when, tick=False):
        actions.do_store_report(device, [actions.ServiceReport("Electricity", "Electricity", {"voltage": 231}, when)])
    client.force_login(personas.viewer)
    page = client.get(f"/devices/{device.device_id}/live/").content.decode()
    for part in ("status", "activated", "seen", "latest", "desired", "location"):
        assert f'data-live-part="{part}"' in page
    assert '<time datetime="2026-05-08T11:59:58+00:00" data-local>' in page.split('data-live-part="seen"')[1]
    assert "231" in page.split('data-live-part="latest"')[1]


def test_the_series_query_reads_the_device_index(personas, meter):
    other = register(personas.app, node_id="863703030099999")
    start = NOW - dt.timedelta(days=2)
    # Many devices' rows in the same partitions: the planner must go to this device's index range.
    rows = []
    for n in range(40_000):
        device_pk = meter.pk if n % 200 == 0 else other.pk
        when = start + dt.timedelta(seconds=4 * n)
        rows.append((device_pk, meter.application_id, "Electricity", {"voltage": n}, when))
    for chunk in range(0, len(rows), 5000):
        history.insert((pk, app, s, d, t, t) for pk, app, s, d, t in rows[chunk : chunk + 5000])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {history.TABLE}")
        params = charts.series_params(meter.pk, NOW - dt.timedelta(days=1), NOW)
        cursor.execute("EXPLAIN " + charts._SERIES_SQL, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan" not in plan, plan
    assert "device_id_event_time" in plan or "device_time" in plan, plan


def test_the_charts_words_are_in_chinese_too(client, personas, meter):
    client.force_login(personas.viewer)
    page = client.get(f"/devices/{meter.device_id}/", headers={"accept-language": "zh-hans"}).content.decode()
    for words in (
        "时间范围",
        "自定义",
        "以表格显示",
        "下载 CSV",
        "实时更新",
        "每个点是 {seconds} 秒内读数的平均值",
        "{readings} 个读数",
    ):
        assert words in page, words


def test_the_live_parts_and_the_series_cost_a_few_queries(client, personas, meter, django_assert_max_num_queries):
    store(meter, minutes(NOW - dt.timedelta(minutes=30), 30, "Electricity", "voltage", lambda n: 220))
    client.force_login(personas.viewer)
    client.get(f"/devices/{meter.device_id}/live/")  # the session's first use
    with django_assert_max_num_queries(5):  # session, user, device (with product and gateway), desired: two
        client.get(f"/devices/{meter.device_id}/live/")
    with django_assert_max_num_queries(4), time_machine.travel(NOW, tick=False):  # session, user, device, series
        client.get(f"/devices/{meter.device_id}/history.json", {"range": "1h"})
