"""Registering a device in Chromium with the product chosen among 200 by the keyboard (issue 20, item 6):
the product picker lists the first matches of what is typed, never another application's, and the device
registers with the chosen product."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from applications.actions import do_add_member
from applications.models import Role
from devices.models import Device
from tests.applications.fixtures import create_app
from tests.portal.fixtures import create_user
from tests.products.codecs.fixtures import meter
from tests.products.fixtures import copies_of

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setattr("subscriptions.actions.wake", lambda *args: None)


def test_choose_one_of_two_hundred_products_with_the_keyboard_and_register_the_device(live_server, page: Page):
    # given: 200 products in the developer's application, and one of another application that starts alike
    credentials = create_app("Water utility", login=False)
    do_add_member(credentials.application, create_user("devon"), Role.DEVELOPER)
    products = copies_of(meter(credentials), 199, device_type="Sensor", model="s")
    other = create_app("Gas utility", login=False)
    copies_of(products[0], 1, application=other.application, device_type="Sensor12", model="gas")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(live_server.url + "/login/")
    page.get_by_label("Account name").fill("devon")
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url + "/devices/register/")
    # the only application is chosen already; the products are not listed
    expect(page.get_by_label("Application")).to_have_value(credentials.application.app_id)
    expect(page.locator("option", has_text="Sensor")).to_have_count(0)

    page.get_by_label("nodeId (IMEI)").fill("867000000000010")
    picker = page.get_by_role("combobox", name="Product")
    picker.focus()
    page.keyboard.type("sensor12")
    listbox = page.get_by_role("listbox", name="Product")
    options = listbox.get_by_role("option")
    # then: Sensor120..Sensor129 of this application, in order, and not the other application's Sensor12000
    expect(options).to_have_count(10)
    expect(options.first).to_contain_text("Sensor120 · Maker 120 · s120")
    expect(listbox).not_to_contain_text("Gas utility")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(picker).to_have_attribute("aria-activedescendant", options.nth(1).get_attribute("id"))
    page.keyboard.press("Enter")  # chooses, does not submit
    expect(listbox).to_be_hidden()
    expect(picker).to_have_value("Sensor121 · Maker 121 · s121")
    assert not Device.objects.exists()

    page.get_by_role("button", name="Register", exact=True).click()
    expect(page.get_by_role("heading", name="Device 867000000000010 registered")).to_be_visible()
    device = Device.objects.select_related("product").get()
    assert device.product_id == products[121].pk and device.model == "s121"
    assert errors == []
