"""Issue 17 in Chromium: the profile editor's LwM2M mapping picker (search, choose by keyboard, save, see it
in the API; a type that does not fit refused beside the field; 390 px), and the device page's management
with the project's simulator in standard mode through the real `run_ingress`: Read /3/0 shows the device's
answer; reboot and factory reset ask first, do nothing when refused and, confirmed, reach the device and
are logged on it; the factory reset is reached and confirmed from the keyboard."""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections
from playwright.sync_api import Page, expect

from applications.actions import do_login
from devices.models import Device, DeviceLog
from ingress.simulator import STANDARD_VALUES, SimulatedDevice
from products import lwm2m_forms
from tests.ingress.process import ingress  # noqa: F401  (the run_ingress process fixture)
from tests.portal.fixtures import create_personas
from tests.products.fixtures import import_files
from tests.products.lwm2m_fixtures import standard_device, standard_files

pytestmark = pytest.mark.browser

IMEI = "867724030023117"
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def _channels_beside_the_ingress(settings):
    """The run_ingress process takes this test's REDIS_KEY_PREFIX and with it its channel-layer prefix: the
    live server hands management operations to its worker over the same one."""
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"{settings.REDIS_KEY_PREFIX}asgi"
    settings.CHANNEL_LAYERS = layers


def _until(condition: Callable[[], Any], seconds: float = 30.0) -> Any:
    """Poll a database condition (fresh connections each time: the live server commits in its thread)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = condition()
        finally:
            connections.close_all()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login/")
    page.get_by_label("Account name").fill(username)
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def _prefix(product, row: str) -> str:
    return {f"{item.service_id}.{item.name}": item.prefix for item in lwm2m_forms.rows(product.profile, {})}[row]


def test_the_mapping_picker_finds_a_resource_saves_it_and_refuses_a_type_that_does_not_fit(live_server, page: Page):
    personas = create_personas()
    product = import_files(personas.app, standard_files())
    credentials = personas.app
    pair = do_login(credentials.application.app_id, credentials.secret)
    credentials.access_token = pair.access_token
    temperature, battery = _prefix(product, "Temperature.temperature"), _prefix(product, "Device.battery")
    _sign_in(page, live_server.url, "olivia")
    page.goto(f"{live_server.url}/products/{product.product_id}/")
    page.get_by_role("link", name="LwM2M mapping").click()
    expect(page.get_by_role("heading", name="LwM2M mapping")).to_be_visible()

    # search by words of the names: the options show the path, names, type and units
    path = page.locator(f"#{temperature}-path")
    path.click()
    path.press_sequentially("temperature sensor value")
    option = page.locator(f"#{temperature}-path-list").get_by_role("option").filter(has_text="/3303/0/5700")
    expect(option).to_contain_text("Temperature · Sensor Value")
    expect(option).to_contain_text("Float")
    # narrow it by path and choose it with the keyboard
    path.fill("")
    path.press_sequentially("/3303/0/57")
    options = page.locator(f"#{temperature}-path-list").get_by_role("option")
    expect(options.first).to_have_attribute("data-value", "/3303/0/5700")
    path.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    path.press("Enter")
    expect(path).to_have_value("/3303/0/5700")
    page.get_by_text("Write-Attributes of this path").first.click()
    page.locator(f"#{temperature}-st").fill("0.5")
    page.get_by_role("button", name="Save the mapping").click()
    expect(page.get_by_role("status").or_(page.locator(".flash"))).to_contain_text("LwM2M mapping saved")
    expect(page.locator(f"#{temperature}-path-help")).to_contain_text("Sensor Value")

    api = page.request.get(
        f"{live_server.url}/api/v1/profiles/{product.product_id}/lwm2m", headers=credentials.headers()
    ).json()
    assert api["properties"] == [
        {"serviceId": "Temperature", "property": "temperature", "path": "/3303/0/5700", "attributes": {"st": 0.5}}
    ]

    # a String resource for an int property: refused, the rule beside the field, nothing stored
    battery_path = page.locator(f"#{battery}-path")
    battery_path.fill("/3/0/0")
    page.get_by_role("button", name="Save the mapping").click()
    error = page.locator(f"#{battery}-path-error")
    expect(error).to_contain_text("is String, which does not fit dataType int (LWM2M_TYPE)")
    expect(battery_path).to_have_attribute("aria-invalid", "true")
    expect(battery_path).to_have_value("/3/0/0")
    again = page.request.get(
        f"{live_server.url}/api/v1/profiles/{product.product_id}/lwm2m", headers=credentials.headers()
    ).json()
    assert again == api

    # at 390 px nothing overflows sideways and the picker still lists its options
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/products/{product.product_id}/lwm2m/")
    assert page.evaluate(OVERFLOW) <= 0
    path = page.locator(f"#{temperature}-path")
    path.fill("")
    path.press_sequentially("humidity")
    expect(page.locator(f"#{temperature}-path-list").get_by_role("option").first).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0


class _Simulated:
    """The project's simulator as a standard client (IPSO objects, /3/0/4 and /3/0/5 executable), run on
    an event loop of its own thread, since Playwright's sync API holds this one."""

    def __init__(self, port: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.device = SimulatedDevice(
            f"urn:imei:{IMEI}", ("127.0.0.1", port), client="1.1", standard_values=dict(STANDARD_VALUES)
        )
        self.run(self.device.open())
        self.run(self.device.register())

    def run(self, coroutine) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.device.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture
def simulated(ingress) -> Iterator[tuple[Any, _Simulated]]:  # noqa: F811
    personas = create_personas()
    device = standard_device(personas.app, IMEI)
    _, port = ingress(workers=1)
    client = _Simulated(port)
    try:
        # registered, observed: its battery level is in the shadow
        _until(lambda: Device.objects.get(pk=device.pk).shadow.get("Device", {}).get("data", {}).get("battery") == 90)
        yield device, client
    finally:
        client.stop()


def _logged(device) -> list[str]:
    return list(DeviceLog.objects.filter(device=device, summary__startswith="LwM2M ").values_list("summary", flat=True))


@pytest.mark.usefixtures("_channels_beside_the_ingress")
def test_the_device_page_reads_the_device_and_reboots_and_resets_it_after_confirmation(
    live_server, page: Page, simulated
):
    device, client = simulated
    _sign_in(page, live_server.url, "olivia")
    page.goto(f"{live_server.url}/devices/{device.device_id}/")

    # Read /3/0: the device's answer, value by value
    manage = page.locator("[data-lwm2m-manage]")
    manage.get_by_label("Operation").select_option("read")
    manage.get_by_label("Path").fill("/3/0")
    manage.get_by_role("button", name="Send to the device").click()
    result = manage.locator(".lwm2m-result")
    expect(result).to_have_attribute("data-status", "DONE", timeout=20_000)
    expect(result).to_contain_text("2.05")
    expect(result.locator("tr").filter(has_text="/3/0/9")).to_contain_text("90")
    expect(result.locator("tr").filter(has_text="/3/0/0")).to_contain_text("Simulated Sensors")

    # a bad path is refused with the rule's words, and nothing is sent
    manage.get_by_label("Path").fill("/3/0/4")
    manage.get_by_role("button", name="Send to the device").click()  # read of an executable resource
    expect(manage.locator("[data-operation-refused]")).to_contain_text("is not readable")

    # reboot asks first: refused, nothing happens
    questions: list[str] = []

    def dismiss(dialog) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Reboot").click()
    assert _until(lambda: questions) == ["Reboot this device (LwM2M Execute /3/0/4)?"]
    expect(page).to_have_url(f"{live_server.url}/devices/{device.device_id}/")
    assert client.device.executed == [] and not any("execute" in line for line in _logged(device))

    # confirmed: sent, executed by the device, logged on the device
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Reboot").click()
    expect(page.locator(".flash").first).to_contain_text("Sent to the device: /3/0/4")
    _until(lambda: "LwM2M execute /3/0/4: DONE 2.04" in _logged(device))
    assert client.device.executed == ["/3/0/4"]

    # the factory reset from the keyboard alone: Tab to it, Enter, the confirmation accepted
    reset = page.get_by_role("button", name="Factory reset")
    for _ in range(100):
        page.keyboard.press("Tab")
        if reset.evaluate("button => document.activeElement === button"):
            break
    expect(reset).to_be_focused()
    asked: list[str] = []

    def accept(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.keyboard.press("Enter")
    expect(page.locator(".flash").first).to_contain_text("Sent to the device: /3/0/5")
    assert asked == ["Reset this device to its factory settings (LwM2M Execute /3/0/5)? It loses its configuration."]
    _until(lambda: "LwM2M execute /3/0/5: DONE 2.04" in _logged(device))
    assert client.device.executed == ["/3/0/4", "/3/0/5"]

    # at 390 px the panel and its answer fit the width
    page.set_viewport_size({"width": 390, "height": 800})
    manage.get_by_label("Path").fill("/3303/0")
    manage.get_by_label("Operation").select_option("discover")
    manage.get_by_role("button", name="Send to the device").click()
    expect(manage.locator(".lwm2m-result")).to_have_attribute("data-status", "DONE", timeout=20_000)
    expect(manage.locator(".lwm2m-links")).to_contain_text("/3303/0/5700")
    assert page.evaluate(OVERFLOW) <= 0


def test_a_viewer_sees_no_management_and_cannot_post_it(live_server, page: Page):
    personas = create_personas()
    device = standard_device(personas.app, IMEI)
    _sign_in(page, live_server.url, "victor")
    page.goto(f"{live_server.url}/devices/{device.device_id}/")
    expect(page.locator("[data-lwm2m-manage]")).to_have_count(0)
    expect(page.get_by_role("button", name="Reboot")).to_have_count(0)
