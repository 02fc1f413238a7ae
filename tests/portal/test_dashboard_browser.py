"""The fleet dashboard in Chromium: its tiles agree with the database, lead to the filtered list, and a
device event shows by nodeId with a link to the device (issue 20, item 2)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from commands.models import Command
from devices.models import Device, Status
from tests.conftest import manage
from tests.portal.fixtures import create_fleet

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login/")
    page.get_by_label("Account name").fill(username)
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def _tile(page: Page, name: str) -> int:
    return int(page.locator(f'[data-count="{name}"] .tile-value').inner_text())


def test_the_dashboard_counts_what_the_database_holds_and_leads_to_the_list(live_server, page: Page):
    personas = create_fleet()
    application = personas.app.application
    devices = Device.objects.filter(application=application)
    _sign_in(page, live_server.url, "olivia")

    expected = {
        "online": devices.filter(status=Status.ONLINE).count(),
        "abnormal": devices.filter(status=Status.ABNORMAL).count(),
        "offline": devices.filter(status=Status.OFFLINE).count(),
        "not_activated": devices.filter(activated=False).count(),
        "pending_commands": Command.objects.filter(application=application, status="PENDING").count(),
        "failed_commands": Command.objects.filter(application=application, status="FAILED").count(),
        "blacklisted_hosts": application.push_targets.filter(blacklisted_until__isnull=False).count(),
    }
    assert (
        {name: _tile(page, name) for name in expected}
        == expected
        == {
            "online": 3,
            "abnormal": 1,
            "offline": 6,
            "not_activated": 4,
            "pending_commands": 2,
            "failed_commands": 1,
            "blacklisted_hosts": 1,
        }
    )

    # a live device event reads by nodeId and links to the device
    expect(page.locator("body[data-live=open]")).to_be_attached(timeout=10000)
    device = devices.get(node_id="863703030000000")
    result = manage(
        "send_event",
        personas.app.app_id,
        "device.log",
        "--data",
        f'{{"deviceId": "{device.device_id}", "nodeId": "{device.node_id}", "summary": "uplink 12 bytes"}}',
    )
    assert result.returncode == 0, result.stderr
    link = page.locator("[data-live-events] a", has_text=device.node_id)
    expect(link).to_have_attribute("href", f"/devices/{device.device_id}/", timeout=10000)
    expect(page.locator("[data-live-events]")).to_contain_text("summary: uplink 12 bytes")
    expect(page.locator("[data-live-events]")).not_to_contain_text("{")  # no raw JSON

    # the abnormal tile leads to the list of exactly those devices
    page.locator('[data-count="abnormal"]').click()
    expect(page).to_have_url(f"{live_server.url}/devices/?application={personas.app.app_id}&status=ABNORMAL")
    abnormal = devices.get(status=Status.ABNORMAL)
    expect(page.locator("main")).to_contain_text(abnormal.node_id)
    for other in devices.exclude(status=Status.ABNORMAL):
        expect(page.locator("main")).not_to_contain_text(other.node_id)
