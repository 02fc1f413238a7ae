"""Subscribe, send a sample from the debugging page, find it in the push log: in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_subscribe_send_a_sample_and_find_it_in_the_log(live_server, receiver, page: Page, no_wake):
    create_personas()
    page.goto(live_server.url + "/login/")
    page.get_by_label("Account name").fill("olivia")
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="Subscriptions").click()
    # Olivia's one application is preselected: nothing to choose (issue 20, item 6)
    expect(page.get_by_label("Application").locator("option")).to_have_count(1)
    page.get_by_label("Notify type").select_option("deviceDataChanged")
    page.get_by_label("Callback URL").fill(receiver.url("/push"))
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("table")).to_contain_text(receiver.url("/push"))

    page.get_by_role("link", name="Push debugging").click()
    expect(page.get_by_label("Application").locator("option")).to_have_count(1)
    page.get_by_label("Notify type").select_option("deviceDataChanged")
    page.get_by_label("URL").fill(receiver.url("/push"))
    page.get_by_role("button", name="Send").click()
    expect(page.locator("[data-debug-result]")).to_contain_text("HTTP 200")
    assert receiver.received[0].json()["notifyType"] == "deviceDataChanged"

    page.get_by_role("link", name="Push log", exact=True).click()
    row = page.locator("#push-table tbody tr").first
    expect(row).to_contain_text("deviceDataChanged")
    expect(row).to_contain_text("delivered")
    row.get_by_role("link").click()
    expect(page.locator("pre.code")).to_contain_text('"notifyType": "deviceDataChanged"')
