"""In Chromium: a rule's page shows its last evaluations by itself as a simulated device's reports reach
it through the real ingress (the table reloads every 5 s), at 390 px without the page scrolling sideways."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import Page, expect

from applications.models import Membership
from rules import actions
from tests.applications.fixtures import create_app
from tests.ingress.fixtures import WorkerThread
from tests.portal.fixtures import create_user
from tests.rules.fixtures import ReportingDevice, alarm_action, data_condition, meter_device, meter_product, rule_body

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _settings(settings, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_the_rule_page_shows_its_last_evaluations_as_they_happen(live_server, page: Page):
    credentials = create_app("Water utility")
    meter_product(credentials)
    device = meter_device(credentials, node_id="867000000000019")
    rule = actions.do_create_rule(credentials.application, rule_body([data_condition(device)], [alarm_action()]))
    user = create_user("erin")
    Membership.objects.create(user=user, application=credentials.application, role="viewer")
    worker = WorkerThread().start()
    simulated = ReportingDevice(device.node_id, worker.port)
    simulated.thread.start()
    try:
        assert simulated.ready.wait(20) and simulated.error is None, repr(simulated.error)
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(live_server.url + "/login/")
        page.get_by_label("Account name").fill("erin")
        page.get_by_label("Password").fill("correct horse 9")
        page.get_by_role("button", name="Sign in").click()
        page.goto(live_server.url + f"/rules/{rule.rule_id}/")
        section = page.locator("#evaluations")
        expect(section.get_by_role("heading", name="Last evaluations")).to_be_visible()
        expect(section).to_contain_text("Not evaluated yet")  # the cool report (21) reached no condition

        simulated.hot.set()
        assert simulated.sent.wait(10)
        row = section.locator("tr[data-outcome=fired]")
        expect(row).to_be_visible(timeout=15000)  # no reload: the section fetches itself every 5 s
        expect(row).to_contain_text("867000000000019")
        expect(row).to_contain_text("Meter/temperature = 92")
        expect(row).to_contain_text("DEVICE_ALARM")
        expect(row.locator(".badge", has_text="true")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        simulated.hot.set()
        simulated.thread.join(10)
        stopper = threading.Thread(target=worker.stop)
        stopper.start()
        stopper.join(20)
