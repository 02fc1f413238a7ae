"""The audit log page in Debian's Chromium: an operator finds a throttled sign-in with the keyboard, on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from applications import audit
from tests.portal.fixtures import create_user

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_an_operator_filters_the_audit_log_on_a_narrow_screen(live_server, page: Page, settings):
    create_user("root", operator=True)
    with audit.acting_as("user", "mallory", "203.0.113.77"):
        audit.record("login.throttled", detail={"api": "portal", "retryAfter": 600})
        audit.record("product.added", target="product 42")
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(live_server.url + "/login/")
    page.get_by_label("Account name").fill("root")
    page.get_by_label("Password").fill("correct horse 9")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.goto(live_server.url + "/audit/")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()

    # the filters by keyboard: focus the action list and choose the throttled sign-ins
    page.get_by_label("Action").focus()
    page.get_by_label("Action").select_option("login.throttled")
    expect(page.locator("#audit-table")).to_contain_text("203.0.113.77")
    expect(page.locator("#audit-table")).not_to_contain_text("product 42")
    expect(page.locator("#audit-export")).to_have_attribute("href", re.compile(r"action=login\.throttled.*export=csv"))

    # the wide table scrolls inside its own box: the page is no wider than the shell's own pages at
    # 390 px (the shell's layout itself is the portal rewrite's work)
    page.screenshot(path=str(live_server.screenshot_dir / "audit-log-390.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    table = page.evaluate("document.querySelector('.table-scroll').getBoundingClientRect().width")
    page.goto(live_server.url + "/accounts/")
    assert width <= page.evaluate("document.documentElement.scrollWidth")
    assert table < 720  # narrower than the table inside it, which scrolls
