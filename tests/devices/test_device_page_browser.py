"""The device page in Chromium (issue 20, items 3 and 4): it updates live while a device reports through
the real ingress; its chart draws two series of different ranges on their own axes, switches ranges,
shows a table and downloads the same data as CSV; at 390 px nothing overflows sideways."""

from __future__ import annotations

import asyncio
import copy
import csv
import datetime as dt
import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from applications.redis import get_redis
from commands.actions import do_create_command
from devices import history, last_seen
from devices.models import Device
from ingress.simulator import connect
from tests.ingress.fixtures import water_device
from tests.ingress.water_codec import report
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.browser

ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def _channels_beside_the_ingress(settings):
    """The run_ingress process takes this test's REDIS_KEY_PREFIX, and with it its channel-layer prefix:
    the live server's consumers use the same one (channels resets its layers when the setting changes)."""
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"{settings.REDIS_KEY_PREFIX}asgi"
    settings.CHANNEL_LAYERS = layers


def _sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login/")
    page.get_by_label("Account name").fill(username)
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def _report(port: int, node_id: str, readings: list[int]) -> None:
    """A simulated device (real CoAP over UDP) connects and reports each reading, acknowledged in turn."""

    async def device() -> None:
        simulated = await connect(node_id, port)
        try:
            for reading in readings:
                await simulated.notify(report(signal=17, reading=reading, flow=3))
        finally:
            simulated.close()

    with ThreadPoolExecutor(1) as thread:  # Playwright's event loop runs in this one
        thread.submit(asyncio.run, device()).result(timeout=60)


@pytest.mark.usefixtures("_channels_beside_the_ingress")
def test_the_page_updates_live_while_the_device_reports_through_the_real_ingress(live_server, page: Page, ingress):
    personas = create_personas()
    device = water_device(personas.app, "868000000000001", timeout=0)
    _, port = ingress()
    _sign_in(page, live_server.url, "victor")  # a viewer of the application
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.goto(f"{live_server.url}/devices/{device.device_id}/")
    expect(page.locator("body")).to_have_attribute("data-device-live", "open")
    page.evaluate("window.notReloaded = true")
    expect(page.locator('[data-live-part="latest"]')).to_contain_text("No data reported yet")

    _report(port, device.node_id, [98765])  # the first connection binds it: ONLINE, bound, data
    latest = page.locator('[data-live-part="latest"]')
    expect(latest).to_contain_text("98765")
    expect(page.locator('[data-live-part="status"]')).to_have_text("online")
    expect(page.locator('[data-live-part="activated"] time')).to_have_count(1)  # bound at, no deadline
    expect(page.locator("[data-device-log]")).to_contain_text("bound")
    # The column as the last flush left it, minutes ago: an ONLINE device's next report waits in Redis.
    flushed = timezone.now() - dt.timedelta(minutes=5)
    Device.objects.filter(pk=device.pk).update(last_seen_at=flushed)

    _report(port, device.node_id, [98766])
    expect(latest).to_contain_text("98766")
    stored = Device.objects.get(pk=device.pk)
    assert stored.shadow["WaterMeter"]["data"]["currentReading"] == "98766"
    assert stored.last_seen_at == flushed  # the report's UPDATE left last seen alone (HOT)
    pending = get_redis().hget(last_seen.pending_key(), device.pk)
    assert pending is not None, "the ingress's report time waits in this test's Redis hash"
    reported = dt.datetime.fromtimestamp(float(pending), dt.UTC)
    event = dt.datetime.strptime(stored.shadow["WaterMeter"]["eventTime"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert reported >= event  # never older than the data
    # Last seen on the page is the report's, to the second (read through), not the flushed column's.
    expect(page.locator('[data-live-part="seen"] time')).to_have_attribute(
        "datetime", reported.replace(microsecond=0).isoformat()
    )
    # A command created meanwhile (its log line comes over the socket) shows in the command list.
    expect(page.locator("[data-device-commands]")).to_contain_text("No commands match")
    do_create_command(device.application, stored, ALARM)
    expect(page.locator("[data-device-commands]")).to_contain_text("WaterMeterAlarm · SET_HIGHFLOW_ALARM")
    assert page.evaluate("window.notReloaded") is True
    # One socket, to this device's group: not the application-wide /ws/events/ filtered in the browser.
    assert [url.split("/", 3)[3] for url in sockets] == [f"ws/devices/{device.device_id}/"]


def _history(device, start, count, step, value_of):
    rows = []
    for n in range(count):
        when = start + dt.timedelta(seconds=step * n)
        rows.append((device.pk, device.application_id, "Electricity", {"voltage": value_of(n)}, when, when))
        rows.append((device.pk, device.application_id, "WaterMeter", {"currentReading": f"{n / 100:.2f}"}, when, when))
    history.insert(rows)


def test_two_series_of_different_ranges_each_on_its_axis_with_ranges_table_and_csv(live_server, page: Page):
    personas = create_personas()
    device = water_device(personas.app, "868000000000002", timeout=0)
    now = timezone.now()
    _history(device, now - dt.timedelta(minutes=50), 40, 60, lambda n: 220 + n % 5)  # the last hour
    _history(device, now - dt.timedelta(days=3), 30, 600, lambda n: 230)  # only in the 7 days
    _sign_in(page, live_server.url, "olivia")
    page.goto(f"{live_server.url}/devices/{device.device_id}/")
    card = page.locator("[data-chart]")
    expect(card).to_have_attribute("data-chart-range", "24h")
    page.get_by_label("1 hour").check()
    expect(card).to_have_attribute("data-chart-range", "1h")
    scales = page.evaluate(
        """() => {
          const u = window.deviceChart;
          return {axes: u.axes.length, labels: u.series.slice(1).map((s) => s.label),
                  voltage: [u.scales["Electricity.voltage"].min, u.scales["Electricity.voltage"].max],
                  reading: [u.scales["WaterMeter.currentReading"].min, u.scales["WaterMeter.currentReading"].max]};
        }"""
    )
    assert scales["axes"] == 3  # time, and one axis per series
    assert scales["labels"] == ["Electricity.voltage (V)", "WaterMeter.currentReading"]
    assert 215 <= scales["voltage"][0] < 220 and 224 < scales["voltage"][1] <= 230
    assert -1 <= scales["reading"][0] <= 0 and 0.39 <= scales["reading"][1] <= 1  # not squashed onto the volts
    expect(page.locator("[data-chart-description]")).to_contain_text(
        "Electricity.voltage: 40 readings, from 220 to 224 V"
    )
    page.locator("[data-chart-plot] .u-over").hover(position={"x": 200, "y": 100})
    expect(page.locator(".chart-tooltip")).to_be_visible()
    expect(page.locator(".chart-tooltip")).to_contain_text("Electricity.voltage (V)")

    page.get_by_label("7 days").check()
    expect(card).to_have_attribute("data-chart-range", "7d")
    week = page.evaluate(
        "(() => { const u = window.deviceChart; return [u.scales.x.min, u.data[1].filter((v) => v != null)]; })()"
    )
    assert week[0] <= (now - dt.timedelta(days=6, hours=23)).timestamp()  # the time axis spans the week
    assert 230 in week[1] and len(week[1]) < 70  # the older readings are in, averaged into buckets

    page.get_by_role("button", name="Show as a table").click()
    table = page.locator("[data-chart-table] table")
    expect(table).to_be_visible()
    expect(page.locator("[data-chart-plot]")).to_be_hidden()
    assert table.locator("thead th").all_inner_texts() == [
        "Time",
        "Electricity.voltage (V)",
        "WaterMeter.currentReading",
    ]

    page.get_by_label("Custom").check()
    page.get_by_label("From").fill((now - dt.timedelta(minutes=30)).astimezone().strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_label("To", exact=True).fill(now.astimezone().strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Show", exact=True).click()
    expect(card).to_have_attribute("data-chart-range", "custom")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    with open(download.value.path(), encoding="utf-8") as downloaded:
        rows = list(csv.DictReader(io.StringIO(downloaded.read())))
    shown = page.evaluate("window.deviceChart.series.length - 1")
    table_rows = table.locator("tbody tr").count()
    assert shown == 2 and rows
    assert {row["property"] for row in rows} == {"voltage", "currentReading"}
    assert len(rows) == 2 * table_rows  # the table and the CSV hold the same points (both series at each time)
    assert all(220 <= float(row["value"]) <= 224 for row in rows if row["property"] == "voltage")


def test_at_390_px_the_device_page_does_not_overflow_sideways(live_server, page: Page):
    personas = create_personas()
    device = water_device(personas.app, "868000000000003", timeout=0)
    _history(device, timezone.now() - dt.timedelta(minutes=50), 40, 60, lambda n: 220 + n % 5)
    page.set_viewport_size({"width": 390, "height": 844})
    _sign_in(page, live_server.url, "olivia")
    page.goto(f"{live_server.url}/devices/{device.device_id}/")
    expect(page.locator("[data-chart]")).to_have_attribute("data-chart-loaded", "1")
    assert page.evaluate(OVERFLOW) <= 0
    page.get_by_role("button", name="Show as a table").click()
    expect(page.locator("[data-chart-table] table")).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0
