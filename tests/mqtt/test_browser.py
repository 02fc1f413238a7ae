"""An operator opens a gateway in Chromium and finds the sub-devices it added over MQTT, with their latest data."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import Page, expect

from applications.actions import do_add_member
from applications.models import Role
from tests.applications.fixtures import create_app
from tests.mqtt.fixtures import GatewayClient, ServerThread, mqtt_gateway
from tests.portal.fixtures import create_user

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def server():
    thread = ServerThread().start()
    yield thread
    # Stopped from another thread: closing its loop runs channels_redis's flush with run_until_complete,
    # which Playwright's loop running in this thread would refuse.
    stopper = threading.Thread(target=thread.stop)
    stopper.start()
    stopper.join(timeout=30)


def test_a_gateways_page_lists_its_sub_devices_with_their_latest_data(live_server, server, page: Page):
    # given: a gateway that added three meters over MQTT and reported for two of them
    credentials = create_app("Water utility", login=False)
    do_add_member(credentials.application, create_user("olga"), Role.VIEWER)
    gateway = mqtt_gateway(credentials, node_id="gw-building-7")
    mqtt = GatewayClient(gateway, server.port)
    assert not mqtt.connect().is_failure
    response = mqtt.add(["meter-a", "meter-b", "meter-c"])
    ids = {entry["deviceInfo"]["nodeId"]: entry["deviceInfo"]["deviceId"] for entry in response["data"]}
    mqtt.report({ids["meter-a"]: "1234", ids["meter-b"]: "5678"})
    mqtt.close()

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(live_server.url + "/")
    page.get_by_label("Account name").fill("olga")
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Devices", exact=True).first.click()
    page.get_by_role("link", name="gw-building-7").click()

    # then: the gateway's page lists its sub-devices and what each reported last
    expect(page.get_by_role("heading", name="gw-building-7")).to_be_visible()
    section = page.locator("[data-sub-devices]")
    expect(section).to_contain_text("3 devices behind this gateway")
    expect(section.locator("tr[data-sub-device]")).to_have_count(3)
    expect(page.locator(f'tr[data-sub-device="{ids["meter-a"]}"]')).to_contain_text("1234")
    expect(page.locator(f'tr[data-sub-device="{ids["meter-b"]}"]')).to_contain_text("5678")
    expect(page.locator(f'tr[data-sub-device="{ids["meter-c"]}"]')).to_contain_text("No data reported yet.")
    page.screenshot(path=str(live_server.screenshot_dir / "gateway-sub-devices.png"), full_page=True)

    # and a sub-device's page names its gateway
    section.get_by_role("link", name="meter-b").click()
    expect(page.get_by_role("heading", name="meter-b")).to_be_visible()
    page.locator("[data-gateway]").get_by_role("link", name="gw-building-7").click()
    expect(page.get_by_role("heading", name="gw-building-7")).to_be_visible()
    assert not errors, errors
