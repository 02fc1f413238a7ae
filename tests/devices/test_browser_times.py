"""Times in the browser's zone with the offset shown, data as key-value rows (issue 20, item 5), in Chromium."""

from __future__ import annotations

import datetime as dt

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
