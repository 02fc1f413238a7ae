"""Times in the browser's zone with the offset shown, data as key-value rows (issue 20, item 5), in Chromium."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import Page, expect

from devices.actions import do_bind_device
from tests.devices.fixtures import WATER_METER, register, report, water_meter
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "timezone_id": "Asia/Shanghai"}


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setattr("subscriptions.actions.wake", lambda *args: None)


def test_the_device_page_shows_times_in_the_browsers_zone_and_data_as_rows(live_server, page: Page):
    personas = create_personas()
    water_meter(personas.app)
    with time_machine.travel(dt.datetime(2026, 12, 7, 17, 54, 51, tzinfo=dt.UTC), tick=False):
        device = do_bind_device(register(personas.app, node_id="861111111111116", info=WATER_METER))
        report(device, when=dt.datetime(2026, 12, 7, 17, 54, 50, tzinfo=dt.UTC), currentReading=87)
    page.goto(live_server.url + "/login/")
    page.get_by_label("Account name").fill(personas.owner.username)
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/devices/{device.device_id}/")
    # Shanghai is UTC+8: the browser's zone, its offset shown, to the second
    expect(page.locator("dd time").nth(1)).to_have_text("2026-12-08T01:54:51+08:00")
    shadow = page.locator("dl.data").first
    expect(shadow.locator("dt")).to_have_text("currentReading")
    expect(shadow.locator("dd")).to_have_text("87")
    expect(page.locator("time", has_text="2026-12-08T01:54:50+08:00")).to_be_visible()  # the report's eventTime
    expect(page.get_by_text("{'currentReading'")).to_have_count(0)


def test_the_chart_and_the_device_page_follow_the_zone_picked_in_the_header(live_server, page: Page):
    personas = create_personas()
    water_meter(personas.app)
    device = do_bind_device(register(personas.app, node_id="861111111111124", info=WATER_METER))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    report(device, when=now - dt.timedelta(minutes=20), currentReading=86)
    report(device, when=now - dt.timedelta(minutes=10), currentReading=87)
    page.goto(live_server.url + "/login/")
    page.get_by_label("Account name").fill(personas.owner.username)
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/devices/{device.device_id}/")
    expect(page.locator("[data-chart]")).to_have_attribute("data-chart-loaded", "1")
    page.get_by_role("button", name="Show as a table").click()
    first = page.locator("[data-chart-table] tbody th").first
    expect(first).to_have_text(re.compile(r"\+08:00$"))  # the browser's zone (Shanghai)
    shanghai = dt.datetime.fromisoformat(first.inner_text())

    page.get_by_label("Time zone").select_option("America/New_York")
    expect(first).to_have_text(re.compile(r"-05:00$"))  # the table is drawn again in the picked zone
    assert dt.datetime.fromisoformat(first.inner_text()) == shanghai  # the same instant
    texts = page.locator("main time[data-local]").all_inner_texts()
    assert texts and all(text.endswith("-05:00") for text in texts), texts
    page.get_by_role("button", name="Show as a chart").click()
    page.locator("[data-chart-plot] .u-over").hover(position={"x": 200, "y": 100})
    expect(page.locator(".chart-tooltip strong")).to_have_text(re.compile(r"-05:00$"))  # the chart drawn again
    labels = page.evaluate(
        "window.deviceChart.axes[0].values(window.deviceChart, [window.deviceChart.data[0][0]], 0, 60, 60)"
    )
    first_point = page.evaluate("window.deviceChart.data[0][0]")
    new_york = dt.datetime.fromtimestamp(first_point, ZoneInfo("America/New_York"))
    expect_label = new_york.strftime("%m-%d\n%H:%M")
    assert labels == [expect_label]  # the time axis's labels (window.zonedParts) in the picked zone

    # a custom range is typed as wall time in the picked zone (New York), not the browser's (Shanghai)
    start = (now - dt.timedelta(minutes=30)).astimezone(ZoneInfo("America/New_York"))
    page.get_by_label("Custom").check()
    page.get_by_label("From").fill(start.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_label("To", exact=True).fill(now.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("[data-chart]")).to_have_attribute("data-chart-range", "custom")
    assert page.evaluate("window.deviceChart.scales.x.min") == start.timestamp()
