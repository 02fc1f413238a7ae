"""The application simulator in Chromium: a command from a form made from the profile, its status live."""

from __future__ import annotations

import asyncio
import struct
import threading

import pytest
from playwright.sync_api import Page, expect

from applications.models import Membership
from ingress.simulator import connect
from tests.applications.fixtures import create_app
from tests.ingress.fixtures import WorkerThread
from tests.portal.fixtures import create_user
from tests.products.codecs.fixtures import deploy, meter

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _settings(settings, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.PUSH_ALLOW_PRIVATE = True
    settings.INGRESS_ACK_TIMEOUT = 0.5
    settings.INGRESS_HEARTBEAT_SECONDS = 1
    settings.CODEC_VERSION_CACHE_SECONDS = 0


class AnsweringDevice:
    """A simulated LwM2M device in its own thread: reports once, then answers every command it gets."""

    def __init__(self, node_id: str, port: int) -> None:
        self.node_id, self.port = node_id, port
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.main, daemon=True)

    def main(self) -> None:
        try:
            asyncio.run(self.run())
        except BaseException as error:  # reported by the test, which waits on `ready`
            self.error = error
            self.ready.set()

    async def run(self) -> None:
        device = await connect(self.node_id, self.port)
        await device.notify(b"\x01" + struct.pack(">Ih", 100, 21))
        self.ready.set()
        answered = 0
        while not self.stop.is_set():
            commands = [d for d in device.received if d.payload[:1] == b"\x02"]
            for downlink in commands[answered:]:
                mid = struct.unpack(">H", downlink.payload[1:3])[0]
                await device.notify(b"\x03" + struct.pack(">HBb", mid, 0, 1))
                answered += 1
            await asyncio.sleep(0.05)
        device.close()


def test_send_a_command_from_the_simulator_and_watch_it_succeed(live_server, page: Page):
    credentials = create_app("Water utility")
    deploy(meter(credentials))
    from devices.actions import do_register_device

    info = {"manufacturerId": "Acme", "deviceType": "WaterMeter", "model": "m1"}
    do_register_device(credentials.application, node_id="867000000000001", timeout=0, info=info)
    user = create_user("dana")
    Membership.objects.create(user=user, application=credentials.application, role="developer")
    worker = WorkerThread().start()
    device = AnsweringDevice("867000000000001", worker.port)
    device.thread.start()
    try:
        assert device.ready.wait(20) and device.error is None, repr(device.error)
        page.goto(live_server.url + "/login/")
        page.get_by_label("Account name").fill("dana")
        page.get_by_label("Password").fill("correct horse 9")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Application simulator").click()
        # A choice may re-render the form (htmx GET on change; htmx marks the form .htmx-request at once):
        # wait until it is in place before filling it, or a late swap empties the fields again (seen
        # under load in the full suite).
        settled = "() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')"
        page.get_by_role("combobox", name="Device").fill("86700")
        page.get_by_role("option", name="867000000000001").wait_for()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_function(settled)
        page.get_by_label("Command").select_option("Meter|SET_PERIOD")
        page.wait_for_function(settled)
        page.get_by_label("period (int)").fill("300")
        page.get_by_label("expireTime (seconds)").fill("0")
        page.get_by_role("button", name="Send command").click()
        status = page.locator("[data-command-status]")
        expect(status).to_have_attribute("data-command-status", "SUCCESSFUL", timeout=15000)
        expect(page.locator("ol.timeline")).to_contain_text("DELIVERED")
        expect(page.locator("ol.timeline")).to_contain_text("errcode 0")
    finally:
        device.stop.set()
        device.thread.join(10)
        # Playwright's event loop runs in this thread; the worker's loop must be closed from another.
        stopper = threading.Thread(target=worker.stop)
        stopper.start()
        stopper.join(20)
