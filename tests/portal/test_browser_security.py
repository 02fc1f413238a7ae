"""The portal under its Content-Security-Policy in Chromium: no violation on the main pages, the live
socket opens, destructive actions ask first, the skip link leads to the content, the language switches."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from devices.models import Device
from subscriptions.models import Subscription
from tests.devices.fixtures import register, water_meter
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.browser

# Set before any page script runs (DevTools injects it, so the policy does not apply to it).
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) =>
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`));
"""


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


def test_the_main_pages_work_under_the_policy_without_a_violation(live_server, page: Page):
    personas = create_personas()
    product = water_meter(personas.app)
    device = register(personas.app)
    console_errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.add_init_script(RECORD_VIOLATIONS)
    _sign_in(page, live_server, personas.operator.username)
    expect(page.locator("body[data-live=open]")).to_be_attached(timeout=10000)  # the websocket under connect-src
    pages = [
        "/", "/apps/", "/devices/", f"/devices/{device.device_id}/", "/devices/register/", "/devices/bulk/",
        "/devices/groups/", "/commands/", "/commands/simulator/", "/subscriptions/", "/subscriptions/pushes/",
        "/firmware/packages/", "/firmware/tasks/", "/products/", f"/products/{product.product_id}/",
        "/ingress/simulator/", "/accounts/",
    ]  # fmt: skip
    for path in pages:
        page.goto(live_server.url + path)
        expect(page.locator("main")).to_be_visible()
        assert page.evaluate("window.cspViolations") == [], path
    # the API docs: Swagger UI's own scripts, its initialiser as a file
    page.goto(live_server.url + "/api/docs/")
    expect(page.locator(".swagger-ui .title").first).to_be_visible(timeout=15000)
    assert page.evaluate("window.cspViolations") == []
    assert not [text for text in console_errors if "Content Security Policy" in text], console_errors
    # the control: an injected inline script is refused, and the recorder sees it
    page.goto(live_server.url + "/devices/")
    page.evaluate("""() => { const s = document.createElement("script"); s.textContent = "window.ran = 1";
                             document.body.append(s); }""")
    page.wait_for_function("window.cspViolations.length > 0")
    assert page.evaluate("window.ran") is None
    assert page.evaluate("window.cspViolations")[0].startswith("script-src-elem")


def test_deleting_a_device_or_a_subscription_asks_first(live_server, page: Page):
    personas = create_personas()
    device = register(personas.app)
    subscription = Subscription.objects.create(
        application=personas.app.application, notify_type="deviceAdded", callback_url="http://127.0.0.1:9/added"
    )
    page.add_init_script(RECORD_VIOLATIONS)
    _sign_in(page, live_server, personas.owner.username)

    # a device: cancel keeps it, OK deletes it
    page.goto(f"{live_server.url}/devices/{device.device_id}/")
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("button", name="Delete")).to_be_visible()
    assert questions == ["Delete this device, its data and its logs?"]
    assert Device.objects.filter(pk=device.pk).exists()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(f"{live_server.url}/devices/")
    assert not Device.objects.filter(pk=device.pk).exists()

    # a subscription: the same
    page.goto(f"{live_server.url}/subscriptions/")
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("button", name="Delete")).to_be_visible()
    assert questions[-1].startswith("Delete this subscription?")
    assert Subscription.objects.filter(pk=subscription.pk).exists()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No subscriptions yet")).to_be_visible()
    assert not Subscription.objects.filter(pk=subscription.pk).exists()
    assert page.evaluate("window.cspViolations") == []


def test_the_skip_link_is_the_first_stop_and_the_language_switches_on_its_button(live_server, page: Page):
    personas = create_personas()
    _sign_in(page, live_server, personas.owner.username)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("main#content")).to_be_focused()
    # choosing a language does not submit by itself (WCAG 3.2.2); its button does
    page.get_by_label("Language").select_option("zh-hans")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_role("heading", name="仪表盘")).to_be_visible()
