"""The header's time-zone menu (issue 20, item 5), in Chromium: the default is the browser's zone, a picked
IANA zone applies to every time on the page with its offset, survives a reload, and "Browser's zone" goes
back; times added by htmx swaps follow it too."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from commands.models import Command, CommandEvent, CommandStatus
from tests.devices.fixtures import register
from tests.portal.fixtures import command, create_personas

pytestmark = pytest.mark.browser

CREATED = dt.datetime(2026, 12, 7, 23, 28, 9, tzinfo=dt.UTC)


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "timezone_id": "Asia/Shanghai"}


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_the_user_picks_a_zone_and_every_time_follows_with_its_offset(live_server, page: Page):
    personas = create_personas()
    device = register(personas.app, node_id="861111111111116")
    pending = command(device, CommandStatus.SENT)
    due = CREATED + dt.timedelta(seconds=30)
    Command.objects.filter(pk=pending.pk).update(created_at=CREATED, sent_at=CREATED, ack_due_at=due)
    CommandEvent.objects.create(command=pending, at=CREATED, status=CommandStatus.SENT, reason="sent")
    page.goto(live_server.url + "/login/")
    page.get_by_label("Account name").fill(personas.owner.username)
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()

    page.goto(live_server.url + "/commands/")
    created = page.locator("table time").first
    zone = page.get_by_label("Time zone")
    # the default: the browser's zone (Shanghai, UTC+8), ISO 8601 with the offset; the UTC instant as title
    expect(zone).to_have_value("")
    expect(created).to_have_text("2026-12-08T07:28:09+08:00")
    expect(created).to_have_attribute("title", "2026-12-07T23:28:09+00:00")

    # the menu lists the IANA zones; New York in December is UTC-5
    zone.select_option("America/New_York")
    expect(created).to_have_text("2026-12-07T18:28:09-05:00")
    # the command's own page (its ledger and the "why" sentence) in the same zone after navigating
    page.goto(f"{live_server.url}/commands/{pending.command_id}/")
    expect(page.get_by_label("Time zone")).to_have_value("America/New_York")
    why = page.locator("[data-why]")
    expect(why).to_contain_text("Sent at 2026-12-07T18:28:09-05:00")  # commands.explain: <time> in the sentence
    expect(why).to_contain_text("it times out at 2026-12-07T18:28:39-05:00")
    texts = page.locator("main time[data-local]").all_inner_texts()
    assert texts and all(text.endswith("-05:00") for text in texts), texts

    # a zone with a half-hour offset (Adelaide in summer, UTC+10:30) kept across a reload; then the browser's
    page.goto(live_server.url + "/commands/")
    page.get_by_label("Time zone").select_option("Australia/Adelaide")
    expect(created).to_have_text("2026-12-08T09:58:09+10:30")
    page.reload()
    expect(page.locator("table time").first).to_have_text("2026-12-08T09:58:09+10:30")
    page.get_by_label("Time zone").select_option("")
    expect(page.locator("table time").first).to_have_text("2026-12-08T07:28:09+08:00")

    # a renamed zone under today's IANA name (Chromium's list says Asia/Calcutta)
    page.get_by_label("Time zone").select_option("Asia/Kolkata")
    expect(page.locator("table time").first).to_have_text("2026-12-08T04:58:09+05:30")
    page.get_by_label("Time zone").select_option("")

    # keyboard: the menu is reached with Tab and changed with the arrow keys (no submit, no reload)
    page.get_by_label("Time zone").focus()
    page.keyboard.press("ArrowDown")
    first_zone = page.get_by_label("Time zone").input_value()
    assert first_zone, "ArrowDown picks the first IANA zone"
    expect(page.locator("table time").first).not_to_have_text("2026-12-08T07:28:09+08:00")


def test_the_menu_is_translated(live_server, page: Page):
    personas = create_personas()
    page.goto(live_server.url + "/login/")
    page.get_by_label("Account name").fill(personas.owner.username)
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Language").select_option("zh-hans")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_label("时区")).to_be_visible()
    expect(page.get_by_label("时区").locator("option").first).to_have_text("浏览器的时区")
