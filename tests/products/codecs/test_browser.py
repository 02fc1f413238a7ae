"""A developer builds a two-message online plugin, deploys it, and decodes a payload, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from applications.actions import do_add_member
from applications.models import Role
from products import codecs
from products.models import CodecVersion
from tests.applications.fixtures import create_app
from tests.products.codecs.fixtures import meter
from tests.products.fixtures import create_user

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_build_a_two_message_plugin_deploy_it_and_decode_a_payload(live_server, page: Page):
    credentials = create_app("Water utility", login=False)
    do_add_member(credentials.application, create_user("devon"), Role.DEVELOPER)
    product = meter(credentials)

    # sign in and open the product's codec from the Developer Center
    page.goto(live_server.url + "/")
    page.get_by_label("Account name").fill("devon")
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Codecs").click()
    page.locator("tr[data-product=m1]").get_by_role("link", name="WaterMeter").click()
    expect(page.get_by_role("heading", name="Codec of WaterMeter")).to_be_visible()
    page.get_by_role("link", name="Build online").click()

    # message 1: a data report, messageId 0x01 then the reading
    page.get_by_role("button", name="Add a message").click()
    expect(page.get_by_label("Message 1 name")).to_be_visible()
    page.get_by_label("Message 1 name").fill("report")
    page.get_by_label("Message 1 service").select_option("Meter")
    page.get_by_role("button", name="Add a field to message 1").click()
    expect(page.get_by_label("Message 1 field 2 name")).to_be_visible()
    page.get_by_label("Message 1 field 2 name").fill("reading")
    page.get_by_label("Message 1 field 2 type").select_option("uint32")
    page.get_by_label("Message 1 field 2 maps to").select_option("reading")
    # the layout follows the form as it changes
    reading = page.locator("#m-0-layout tr.layout-row[data-field=reading]")
    expect(reading).to_contain_text("1\u20134")
    expect(reading).to_contain_text("uint32")
    expect(page.locator("#m-0-layout h3")).to_contain_text("5 bytes")

    # message 2: the SET_PERIOD command, messageId 0x02 then the period
    page.get_by_role("button", name="Add a message").click()
    expect(page.get_by_label("Message 2 name")).to_be_visible()
    page.get_by_label("Message 2 name").fill("setPeriod")
    page.get_by_label("Message 2 kind").select_option("command")
    page.get_by_label("Message 2 service").select_option("Meter")
    page.get_by_label("Message 2 command").select_option("SET_PERIOD")
    page.get_by_role("button", name="Add a field to message 2").click()
    expect(page.get_by_label("Message 2 field 2 name")).to_be_visible()
    page.get_by_label("Message 2 field 2 name").fill("period")
    page.get_by_label("Message 2 field 2 type").select_option("uint16")
    page.get_by_label("Message 2 field 2 maps to").select_option("period")
    expect(page.locator("#layout-status")).to_have_text("Ready to deploy.")
    page.screenshot(path=str(live_server.screenshot_dir / "codec-builder.png"), full_page=True)

    page.get_by_role("button", name="Deploy").click()
    expect(page.locator(".flash")).to_have_text("Version 1 deployed and active.")
    version = CodecVersion.objects.get()
    assert [message["name"] for message in version.definition["messages"]] == ["report", "setPeriod"]
    assert (
        codecs.encode_command(product, {"serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {"period": 60}})
        == b"\x02\x00\x3c"
    )

    # online debugging: the device's bytes, decoded by the version just deployed
    page.get_by_role("link", name="Debug", exact=True).click()
    page.get_by_label("Payload (hex)").fill("01 000004D2")
    page.get_by_role("button", name="Decode", exact=True).click()
    decoded = page.locator("[data-decoded]")
    expect(decoded).to_contain_text('"reading": 1234')
    expect(decoded).to_contain_text('"serviceId": "Meter"')
    expect(page.locator(".debug-result")).to_contain_text("Every value fits the profile's types and ranges.")
    page.screenshot(path=str(live_server.screenshot_dir / "codec-debug-decode.png"))


def test_set_the_uplink_ports_by_keyboard_on_a_phone(live_server, page: Page):
    from products.models import Codec
    from tests.products.codecs.fixtures import deploy

    credentials = create_app("Water utility", login=False)
    do_add_member(credentials.application, create_user("devon"), Role.DEVELOPER)
    product = meter(credentials)
    deploy(product)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(live_server.url + "/")
    page.get_by_label("Account name").fill("devon")
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/products/{product.product_id}/codec/")

    # the form fits its section on a phone, and is reached and sent with the keyboard
    section = page.locator("section.uplink-ports")
    field = page.get_by_label("Channel = port, one per line")
    page.screenshot(path="/tmp/x/uplink-ports-390.png", full_page=True)
    assert section.evaluate("s => s.scrollWidth <= s.clientWidth")
    assert field.bounding_box()["width"] <= section.bounding_box()["width"]
    field.focus()
    page.keyboard.type("/19/0/0 = 2")
    page.keyboard.press("Enter")
    page.keyboard.type("data/binary = 300")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Save the uplink ports")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_text("is not a whole number from 0 to 255.")).to_be_visible()
    assert Codec.objects.get().uplink_ports == {}

    page.get_by_label("Channel = port, one per line").fill("/19/0/0 = 2\ndata/binary = 3")
    page.get_by_label("Channel = port, one per line").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Uplink ports saved.")).to_be_visible()
    assert Codec.objects.get().uplink_ports == {"/19/0/0": 2, "data/binary": 3}
