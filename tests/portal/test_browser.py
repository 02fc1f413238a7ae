"""The portal as a person uses it, in Debian's Chromium driven by Playwright."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from applications.models import Application
from tests.conftest import manage
from tests.portal.fixtures import create_user

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_operator_signs_in_creates_an_application_switches_language_and_sees_a_live_event(live_server, page: Page):
    create_user("root", operator=True)

    # sign in
    page.goto(live_server.url + "/")
    page.get_by_label("Account name").fill("root")
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # create an application; its secret is shown once
    page.get_by_role("link", name="Applications").click()
    page.get_by_role("link", name="New application").click()
    page.get_by_label("Name").fill("Smart meters")
    page.get_by_role("button", name="Create application").click()
    expect(page.get_by_role("heading", name="Application Smart meters created")).to_be_visible()
    secret = page.locator("[data-secret]").inner_text()
    application = Application.objects.get(name="Smart meters")
    assert application.check_secret(secret)

    # switch the language
    page.get_by_label("Language").select_option("zh-hans")
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("nav")).to_contain_text("管理门户")
    page.get_by_role("link", name="仪表盘").click()

    # a live event from another process appears without reloading
    expect(page.locator("body[data-live=open]")).to_be_attached(timeout=10000)
    result = manage("send_event", application.app_id, "firmware.notice", "--data", json.dumps({"text": "hello"}))
    assert result.returncode == 0, result.stderr
    expect(page.locator("[data-live-events]")).to_contain_text("firmware.notice", timeout=10000)
    expect(page.locator("[data-live-events]")).to_contain_text("hello")
    page.screenshot(path=str(live_server.screenshot_dir / "dashboard-live-event.png"))
