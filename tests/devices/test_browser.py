"""An operator bulk-registers a file with bad rows in Chromium, watches the job, reads the report, opens a device."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import uuid

import pytest
from playwright.sync_api import Page, expect

from applications.actions import do_add_member
from applications.models import Role
from devices.models import BulkRegistration, Device
from portal.env import BASE_DIR
from tests.applications.fixtures import create_app
from tests.conftest import database_url_for_tests
from tests.devices.bulkfiles import bad_imei, csv_bytes, imei
from tests.devices.fixtures import water_meter
from tests.portal.fixtures import create_user

pytestmark = pytest.mark.browser


# Every value the progress bar shows, as htmx swaps it in.
RECORD_PROGRESS = """() => {
  window.progressSeen = [];
  const note = () => {
    const bar = document.querySelector("#bulk-progress progress");
    if (bar && Number(bar.value) !== window.progressSeen.at(-1)) window.progressSeen.push(Number(bar.value));
  };
  note();
  new MutationObserver(note).observe(document.querySelector("main"), {childList: true, subtree: true});
}"""


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def bulk_worker(transactional_db, settings):
    """A real Celery worker process on a queue of this test's own, registering 25 rows per batch."""
    queue = f"bulk-test-{uuid.uuid4().hex[:8]}"
    settings.BULK_REGISTRATION_QUEUE = queue
    env = {**os.environ, "DATABASE_URL": database_url_for_tests(), "BULK_REGISTRATION_CHUNK": "25"}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "threads", "--concurrency", "2",
         "-Q", queue, "-l", "warning", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR, env=env, start_new_session=True,
    )  # fmt: skip
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)


def test_bulk_register_a_file_with_bad_rows_and_open_a_registered_device(live_server, bulk_worker, page: Page):
    # given: an application with the WaterMeter product, and its developer
    credentials = create_app("Water utility", login=False)
    do_add_member(credentials.application, create_user("devon"), Role.DEVELOPER)
    product = water_meter(credentials)
    pid = str(product.product_id)
    rows = [[imei(n), f"meter {n}", pid, "", ""] for n in range(200)]
    rows[10] = [bad_imei(10), "mistyped", pid, "", ""]  # row 12: a wrong check digit
    rows[50][4] = "soon"  # row 52: a timeout that is not a number
    rows[120][0] = imei(119)  # rows 121 and 122: one nodeId twice

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))  # htmx's live-event trigger filter included

    # sign in and go to bulk registration from the devices list
    page.goto(live_server.url + "/")
    page.get_by_label("Account name").fill("devon")
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Devices", exact=True).first.click()
    page.get_by_role("link", name="Bulk registration").click()
    expect(page.get_by_role("heading", name="Bulk registration")).to_be_visible()

    # upload: the whole file is checked first, each problem named by row and column
    page.get_by_label("Application").select_option(label=str(credentials.application))
    page.get_by_label("Devices file").set_input_files(
        {"name": "meters.csv", "mimeType": "text/csv", "buffer": csv_bytes(rows)}
    )
    page.get_by_label("Register the good rows (skip bad rows)").check()
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="4 rows have problems")).to_be_visible()
    problems = page.locator("tr.problem")
    expect(problems).to_have_count(4)
    expect(page.locator('tr.problem[data-row="12"][data-column="nodeId"]')).to_contain_text("fails its check digit")
    expect(page.locator('tr.problem[data-row="52"][data-column="timeout"]')).to_contain_text("whole number of seconds")
    expect(page.locator('tr.problem[data-row="121"]')).to_contain_text("is also on row 122 of this file")
    assert not Device.objects.exists()

    # start, and watch the progress bar reach the end
    page.get_by_role("button", name="Register 196 devices").click()
    progress = page.get_by_role("progressbar", name="Registration progress")
    expect(progress).to_be_visible()
    page.evaluate(RECORD_PROGRESS)
    expect(page.locator("#bulk-progress")).to_have_attribute("data-state", "done", timeout=30000)
    expect(progress).to_have_attribute("value", "100")
    seen = page.evaluate("window.progressSeen")
    assert seen == sorted(seen) and seen[-1] == 100, seen  # it only ever moved forward, to the end
    expect(page.locator('[data-count="registered"]')).to_have_text("196")
    expect(page.locator('[data-count="invalid"]')).to_have_text("4")
    page.screenshot(path=str(live_server.screenshot_dir / "bulk-registration-done.png"), full_page=True)
    assert Device.objects.filter(application=credentials.application).count() == 196
    assert BulkRegistration.objects.get().registered_rows == 196

    # download the report: every row, in the file's order, with what became of it
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the report (CSV)").click()
    assert download.value.suggested_filename == "meters-report.csv"
    report = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert report[0] == ["row", "nodeId", "name", "status", "deviceId", "psk", "problems"]
    assert len(report) == 201
    devices = {device.node_id: device for device in Device.objects.all()}
    assert report[1] == ["2", imei(0), "meter 0", "registered", devices[imei(0)].device_id, devices[imei(0)].psk, ""]
    assert report[11][:4] == ["12", bad_imei(10), "mistyped", "invalid"]
    assert report[11][6].startswith(f"nodeId: IMEI {bad_imei(10)} fails its check digit")
    assert report[51][3] == "invalid" and report[51][6].startswith("timeout: ")
    assert [line[3] for line in report[120:122]] == ["invalid", "invalid"]
    assert sum(line[3] == "registered" for line in report[1:]) == 196

    # open a registered device: its log says how it was registered
    page.get_by_role("link", name="See the devices").click()
    page.get_by_role("link", name=imei(199)).click()
    expect(page.get_by_role("heading", name=imei(199))).to_be_visible()
    expect(page.locator("[data-device-log]")).to_contain_text(
        f"registered with nodeId {imei(199)} by bulk registration meters.csv, row 201"
    )
    assert not errors, errors


def test_the_device_page_shows_the_last_location(live_server, page: Page):
    credentials = create_app()
    do_add_member(credentials.application, create_user("owen"), Role.OWNER)
    from tests.devices.fixtures import register

    device = register(credentials)
    Device.objects.filter(pk=device.pk).update(
        shadow={"Location": {"data": {"latitude": 31.2304, "longitude": 121.4737}, "eventTime": "20250102T030405Z"}}
    )
    page.goto(live_server.url + "/")
    page.get_by_label("Account name").fill("owen")
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/devices/{device.device_id}/")
    section = page.locator("[data-location]")
    expect(section.get_by_role("heading", name="Location")).to_be_visible()
    expect(section.locator("[data-latitude]")).to_have_text("31.2304")
    expect(section.locator("[data-longitude]")).to_have_text("121.4737")
    expect(section.get_by_role("link", name="Show on a map")).to_have_attribute("href", re.compile(r"mlat=31\.2304"))
    page.set_viewport_size({"width": 390, "height": 800})  # a phone: nothing in the card overflows it
    page.screenshot(path=str(live_server.screenshot_dir / "device-location.png"), full_page=True)
    assert section.evaluate("card => card.scrollWidth <= card.clientWidth")


def test_the_device_page_shows_desired_against_reported(live_server, page: Page):
    from commands import shadow
    from devices import actions as device_actions
    from tests.commands.test_shadow_api import writable_meter_files
    from tests.devices.fixtures import WATER_METER, register
    from tests.products.fixtures import import_files

    credentials = create_app()
    do_add_member(credentials.application, create_user("olga"), Role.OWNER)
    import_files(credentials, writable_meter_files())
    device = device_actions.do_bind_device(register(credentials, info=WATER_METER))
    Device.objects.filter(pk=device.pk).update(
        shadow={"WaterMeterAlarm": {"serviceType": "WaterMeterAlarm", "data": {"highFlow": 10}, "eventTime": None}}
    )
    device = Device.objects.select_related("product").get(pk=device.pk)
    shadow.do_modify_shadow(
        credentials.application, device, [{"serviceId": "WaterMeterAlarm", "desired": {"highFlow": 30}}]
    )
    page.goto(live_server.url + "/")
    page.get_by_label("Account name").fill("olga")
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/devices/{device.device_id}/")
    row = page.locator('[data-desired] tr[data-property="WaterMeterAlarm.highFlow"]')
    expect(row).to_have_attribute("data-differs", "")
    expect(row.locator("mark")).to_have_text("30")
    expect(row).to_contain_text("10")
    expect(row).to_contain_text("differs")
    expect(row).to_contain_text("PENDING")
    page.screenshot(path=str(live_server.screenshot_dir / "device-shadow.png"), full_page=True)
