"""In Chromium: an owner builds a rule in the editor, a simulated device crosses its threshold through the
real ingress, the alarm appears in the console by itself and the owner acknowledges it."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import Page, expect

from applications.models import Membership
from rules.models import Alarm
from tests.applications.fixtures import create_app
from tests.ingress.fixtures import WorkerThread
from tests.portal.fixtures import create_user
from tests.rules.fixtures import ReportingDevice, meter_device, meter_product

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _settings(settings, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_build_a_rule_trigger_it_with_the_simulator_and_acknowledge_the_alarm(live_server, page: Page):
    credentials = create_app("Water utility")
    meter_product(credentials)
    device = meter_device(credentials, node_id="867000000000009")
    user = create_user("dana")
    Membership.objects.create(user=user, application=credentials.application, role="owner")
    worker = WorkerThread().start()
    simulated = ReportingDevice(device.node_id, worker.port)
    simulated.thread.start()
    try:
        assert simulated.ready.wait(20) and simulated.error is None, repr(simulated.error)
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(live_server.url + "/login/")
        page.get_by_label("Account name").fill("dana")
        page.get_by_label("Password").fill("correct horse 9")
        page.get_by_role("button", name="Sign in").click()
        page.goto(live_server.url + "/rules/")
        page.get_by_label("New rule for product").select_option(label="Acme · m1 (WaterMeter)")
        page.get_by_role("button", name="New rule").click()
        page.get_by_label("Name", exact=True).fill("Too hot")
        page.locator("#id_property_0").select_option("Meter/temperature")
        page.locator("#id_operator_0").select_option(">")
        page.locator("#id_value_0").fill("80")
        # editor.js: a row shows its kind's fields; more rows on demand
        expect(page.locator("#id_minutes_0")).to_be_hidden()
        expect(page.locator("#id_kind_1")).to_be_hidden()
        page.get_by_role("button", name="Add a condition").click()
        expect(page.locator("#id_property_1")).to_be_visible()
        page.locator("#id_kind_1").select_option("status")
        expect(page.locator("#id_property_1")).to_be_hidden()
        expect(page.locator("#id_status_1")).to_be_visible()
        page.locator("#id_kind_1").select_option("")  # not this one after all: the rule keeps one condition
        expect(page.locator("#id_status_1")).to_be_hidden()
        page.get_by_label("Raise an alarm named").fill("Overheat")
        page.get_by_label("Alarm severity").select_option("critical")
        page.get_by_label("Enabled").check()
        page.get_by_role("button", name="Save rule").click()
        expect(page.get_by_role("heading", name="Too hot")).to_be_visible()

        page.goto(live_server.url + "/rules/alarms/")
        expect(page.get_by_text("No alarms match.")).to_be_visible()
        simulated.hot.set()
        assert simulated.sent.wait(10)
        # The table refreshes itself on the alarms.changed live event (its fallback is every 30 s): no reload.
        expect(page.locator("[data-live-state]")).to_have_text("●")
        row = page.locator("tr", has_text="Overheat")
        expect(row).to_be_visible(timeout=15000)
        expect(row).to_contain_text("867000000000009")
        row.get_by_role("checkbox").check()
        page.get_by_role("button", name="Acknowledge selected").click()
        expect(page.locator("tr", has_text="Overheat")).to_contain_text("acknowledged by dana")
        assert Alarm.objects.get().acknowledged_by == "dana"
    finally:
        simulated.hot.set()
        simulated.thread.join(10)
        stopper = threading.Thread(target=worker.stop)
        stopper.start()
        stopper.join(20)
