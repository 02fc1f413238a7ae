"""The send-command form's device picker over 10,000 devices, in Chromium (issue 20, item 6): type the
start of a nodeId, choose with the keyboard, and the command goes to that device."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from applications.models import Membership
from commands.models import Command
from devices.actions import do_register_device
from devices.models import Device, Status
from tests.applications.fixtures import create_app
from tests.portal.fixtures import create_user
from tests.products.codecs.fixtures import deploy, meter

pytestmark = pytest.mark.browser

FLEET = 10_000
ONLINE = Status.ONLINE
SETTLED = "() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')"


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def make_fleet(credentials) -> None:
    """10,000 devices of the meter product: 8670000000NNNNN, named "meter NNNNN", without 04245 (another
    application's) (bulk_create: registration is tested elsewhere; this is about the picker's reads)."""
    info = {"manufacturerId": "Acme", "deviceType": "WaterMeter", "model": "m1", "name": "meter 00000"}
    first = do_register_device(credentials.application, node_id="867000000000000", timeout=0, info=info).device
    Device.objects.filter(pk=first.pk).update(status=ONLINE, activated=True)  # commands to offline devices fail
    copy = {f: getattr(first, f) for f in ("application_id", "product_id", "manufacturer_id", "device_type", "model")}
    Device.objects.bulk_create(
        [
            Device(
                node_id=f"8670000000{n:05d}", name=f"meter {n:05d}", timeout=0, status=ONLINE, activated=True, **copy
            )
            for n in range(1, FLEET + 1)
            if n != 4245
        ],
        batch_size=2000,
    )


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login/")
    page.get_by_label("Account name").fill(username)
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()


def test_pick_one_of_ten_thousand_devices_with_the_keyboard_and_send_it_a_command(live_server, page: Page):
    # given: 10,000 devices in the developer's application, and one of another application
    credentials = create_app("Water utility")
    deploy(meter(credentials))
    make_fleet(credentials)
    other = create_app("Gas utility")
    do_register_device(other.application, node_id="867000000004245", timeout=0)
    Membership.objects.create(user=create_user("dana"), application=credentials.application, role="developer")
    assert Device.objects.filter(application=credentials.application).count() == FLEET

    sign_in(page, live_server.url, "dana")
    page.get_by_role("link", name="Application simulator").click()
    picker = page.get_by_role("combobox", name="Device")
    expect(picker).to_have_attribute("aria-expanded", "false")

    # when: the start of a nodeId is typed
    picker.focus()
    page.keyboard.type("86700000000424")
    listbox = page.get_by_role("listbox", name="Device")
    expect(listbox).to_be_visible()
    options = listbox.get_by_role("option")
    # then: the nine of its devices that start so, in order, and not the other application's
    expect(options).to_have_count(9)
    expect(options.first).to_contain_text("867000000004240")
    expect(options.nth(5)).to_contain_text("867000000004246")
    expect(listbox).not_to_contain_text("Gas utility")
    expect(picker).to_have_attribute("aria-expanded", "true")

    # the arrow keys move the active option (aria-activedescendant), Escape closes, ArrowDown reopens
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    active = options.nth(1)
    expect(active).to_have_attribute("aria-selected", "true")
    expect(picker).to_have_attribute("aria-activedescendant", active.get_attribute("id"))
    page.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    expect(picker).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("ArrowDown")  # reopens on the first option
    expect(listbox).to_be_visible()
    expect(options.first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")

    # Enter chooses it: the form re-renders with that device's commands
    page.keyboard.press("Enter")
    page.wait_for_function(SETTLED)
    expect(page.get_by_role("combobox", name="Device")).to_have_value("867000000004241")
    page.get_by_label("Command").select_option("Meter|SET_PERIOD")
    page.wait_for_function(SETTLED)
    page.get_by_label("period (int)").fill("300")
    page.get_by_role("button", name="Send command").click()

    # then: the command went to the chosen device, and only one was made
    expect(page.locator("[data-command-status]")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/commands/[0-9a-f]{32}/$"))
    command = Command.objects.select_related("device").get()
    assert command.device.node_id == "867000000004241"
    assert command.paras == {"period": 300}


def test_a_name_finds_its_device_and_typing_again_drops_the_earlier_choice(live_server, page: Page):
    credentials = create_app("Water utility")
    deploy(meter(credentials))
    make_fleet(credentials)
    Membership.objects.create(user=create_user("dana"), application=credentials.application, role="developer")
    sign_in(page, live_server.url, "dana")
    page.goto(live_server.url + "/commands/simulator/")
    picker = page.get_by_role("combobox", name="Device")
    picker.fill("METER 0999")
    options = page.get_by_role("listbox", name="Device").get_by_role("option")
    expect(options).to_have_count(10)
    expect(options.first).to_contain_text("meter 09990")
    options.nth(3).click()
    page.wait_for_function(SETTLED)
    expect(page.get_by_role("combobox", name="Device")).to_have_value("867000000009993")
    expect(page.get_by_label("Command")).to_be_visible()
    hidden = page.locator("#simulator input[type=hidden][name=device]").first
    expect(hidden).to_have_value(Device.objects.get(node_id="867000000009993").device_id)
    page.get_by_role("combobox", name="Device").press("Backspace")
    expect(hidden).to_have_value("")
