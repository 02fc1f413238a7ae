"""Screenshots of the main pages in English and 简体中文, at 1280 px and 390 px, in Chromium.

As a test it checks that each page renders in both languages with data on it. With SCREENSHOTS_DIR set
it writes the PNGs the README links (docs/screenshots):

    SCREENSHOTS_DIR=docs/screenshots make test-slow ARGS="tests/portal/test_screenshots.py"
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from devices.actions import do_bind_device
from subscriptions.models import Subscription
from tests.devices.bulkfiles import create_job, imei
from tests.devices.fixtures import WATER_METER, register, report, water_meter
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.browser

PAGES = [  # (file name, path, heading in English, heading in Chinese)
    ("dashboard", "/", "Dashboard", "仪表盘"),
    ("devices", "/devices/", "Devices", "设备"),
    ("device", "/devices/{device_id}/", None, None),
    ("bulk-job", "/devices/bulk/{job_id}/", None, None),
    ("subscriptions", "/subscriptions/", "Subscriptions", "订阅"),
    ("register", "/devices/register/", "Register a device", "注册设备"),
]


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setattr("subscriptions.actions.wake", lambda *args: None)


def _data(personas) -> dict[str, str]:
    product = water_meter(personas.app)
    now = dt.datetime.now(dt.UTC)
    devices = []
    for number, name in enumerate(["Kitchen meter", "Garage meter", "Roof meter", "Basement meter"]):
        device = register(personas.app, node_id=imei(100 + number), info={**WATER_METER, "name": name})
        if number < 3:
            device = do_bind_device(device)
            for minute in range(0, 60, 5):
                report(device, when=now - dt.timedelta(minutes=60 - minute), currentReading=100 + number * 10 + minute)
        devices.append(device)
    rows = [[imei(200 + n), f"meter {n}", str(product.product_id), "", "600" if n < 2 else ""] for n in range(6)]
    job = create_job(personas.app.application, rows, dry_run=True)
    Subscription.objects.create(
        application=personas.app.application, notify_type="deviceDataChanged", callback_url="https://app.example.com/cb"
    )
    return {"device_id": devices[0].device_id, "job_id": str(job.job_id)}


def _out() -> Path:
    folder = os.environ.get("SCREENSHOTS_DIR")
    return Path(folder) if folder else Path("test-results/screenshots")


def test_main_pages_in_both_languages(live_server, page: Page):
    personas = create_personas()
    ids = _data(personas)
    out = _out()
    out.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(live_server.url + "/login/")
    page.get_by_label("Account name").fill(personas.owner.username)
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    for language, suffix in (("en", "en"), ("zh-hans", "zh")):
        page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        for name, path, english, chinese in PAGES:
            page.set_viewport_size({"width": 1280, "height": 800})
            page.goto(live_server.url + path.format(**ids))
            heading = english if language == "en" else chinese
            if heading:
                expect(page.locator("h1").first).to_have_text(heading)
            if name == "device":  # its chart draws once its series arrive
                expect(page.locator("[data-chart]")).to_have_attribute("data-chart-loaded", "1")
            page.screenshot(path=str(out / f"{name}-{suffix}.png"), full_page=name == "device")
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(live_server.url + "/devices/")
        page.screenshot(path=str(out / f"devices-390px-{suffix}.png"))
        page.goto(live_server.url + "/")
        page.screenshot(path=str(out / f"dashboard-390px-{suffix}.png"), full_page=True)
    assert len(list(out.glob("*.png"))) >= 2 * (len(PAGES) + 1)
