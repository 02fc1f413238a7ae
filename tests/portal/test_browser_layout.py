"""The portal at 390 px wide (a phone) and at 1440 px, in Chromium: nothing overflows sideways, the
header fits, the navigation collapses behind a Menu button that works with mouse and keyboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from devices.actions import do_create_group, do_modify_device
from subscriptions.models import Subscription
from tests.devices.fixtures import register, water_meter
from tests.portal.fixtures import create_personas
from tests.products.fixtures import copies_of

pytestmark = pytest.mark.browser

OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
# The outermost elements reaching past the right edge, to name the culprit when a page overflows.
WIDEST = """() => {
  const edge = document.documentElement.clientWidth + 1;
  const past = [...document.querySelectorAll("body *")].filter((el) => el.getBoundingClientRect().right > edge);
  return past.filter((el) => !past.includes(el.parentElement)).slice(0, 5)
    .map((el) => `${el.tagName.toLowerCase()}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`);
}"""


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setattr("subscriptions.actions.wake", lambda *args: None)


def _sign_in(page: Page, live_server, username: str) -> None:
    page.goto(live_server.url + "/login/")
    page.get_by_label("Account name").fill(username)
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_at_390_px_no_page_overflows_sideways_and_the_menu_collapses(live_server, page: Page):
    personas = create_personas()
    product = water_meter(personas.app)
    copies_of(product, 25)  # the register form's product is a picker (more than PICK_LIMIT products)
    device = register(personas.app)
    do_modify_device(device, {"name": "a very long device name without spaces " + "x" * 120})
    Subscription.objects.create(
        application=personas.app.application,
        notify_type="deviceDataChanged",
        callback_url="https://receiver.example.com/a/very/long/callback/path/" + "segment/" * 12,
    )
    page.set_viewport_size({"width": 390, "height": 844})
    _sign_in(page, live_server, personas.owner.username)

    pages = [
        "/", "/apps/", f"/apps/{personas.app.app_id}/", "/devices/", f"/devices/{device.device_id}/",
        "/devices/register/", "/devices/bulk/", "/devices/groups/", "/commands/", "/commands/tasks/",
        "/subscriptions/", "/subscriptions/pushes/", "/firmware/packages/", "/firmware/tasks/", "/products/",
        f"/products/{product.product_id}/", "/commands/simulator/", "/devices/tags/",
        f"/devices/groups/{do_create_group(personas.app.application, 'roof', '', 0, [device.device_id]).dev_group_id}/",
    ]  # fmt: skip
    for path in pages:
        page.goto(live_server.url + path)
        expect(page.locator("main")).to_be_visible()
        assert page.evaluate(OVERFLOW) <= 0, (path, page.evaluate(WIDEST))
        # the header is not cut: its last control ends inside the screen
        sign_out = page.get_by_role("button", name="Sign out").bounding_box()
        assert sign_out["x"] + sign_out["width"] <= 390, path

    # the product picker and its open list fit the screen too
    page.goto(live_server.url + "/devices/register/")
    page.get_by_role("combobox", name="Product").fill("Type02")
    expect(page.get_by_role("listbox", name="Product").get_by_role("option")).to_have_count(5)
    assert page.evaluate(OVERFLOW) <= 0, page.evaluate(WIDEST)

    # the device table scrolls in place instead of widening the page
    page.goto(live_server.url + "/devices/")
    table = page.locator("table.table").first
    assert table.evaluate("(el) => el.scrollWidth > el.clientWidth")
    assert page.evaluate(OVERFLOW) <= 0

    # the navigation is behind the Menu button; keyboard opens and Escape closes it
    devices_link = page.locator("#sidebar").get_by_role("link", name="Devices", exact=True)
    expect(devices_link).to_be_hidden()
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(devices_link).to_be_visible()
    page.keyboard.press("Escape")
    expect(devices_link).to_be_hidden()
    expect(menu).to_be_focused()
    menu.click()
    page.locator("#sidebar").get_by_role("link", name="Subscriptions").click()
    expect(page.get_by_role("heading", name="Subscriptions")).to_be_visible()


def test_at_1440_px_the_sidebar_stays_and_there_is_no_menu_button(live_server, page: Page):
    personas = create_personas()
    page.set_viewport_size({"width": 1440, "height": 900})
    _sign_in(page, live_server, personas.owner.username)
    expect(page.locator("#sidebar").get_by_role("link", name="Devices", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    assert page.evaluate(OVERFLOW) <= 0
