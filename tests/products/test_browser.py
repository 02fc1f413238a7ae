"""A developer uploads a bad profile, reads why, uploads a good one and edits a property, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from applications.actions import do_add_member
from applications.models import Role
from products.models import Product
from tests.applications.fixtures import create_app
from tests.products.fixtures import (
    WATER_METER_ZIP,
    build_zip,
    changed,
    create_user,
    service_path,
    water_meter_files,
    water_meter_zip,
)

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _zip_file(data: bytes) -> dict:
    return {"name": WATER_METER_ZIP, "mimeType": "application/zip", "buffer": data}


def test_upload_a_bad_profile_then_a_good_one_and_edit_a_property_online(live_server, page: Page):
    credentials = create_app("Water utility", login=False)
    do_add_member(credentials.application, create_user("devon"), Role.DEVELOPER)
    bad = build_zip(
        changed(water_meter_files(), service_path("Electricity"), ("services", 0, "properties", 0, "dataType"), "float")
    )

    # sign in and go to the Developer Center's products
    page.goto(live_server.url + "/")
    page.get_by_label("Account name").fill("devon")
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Products").click()
    expect(page.get_by_role("heading", name="Products")).to_be_visible()

    # a bad zip: the error names the file, the JSON path and the rule
    page.get_by_role("link", name="Upload a profile").click()
    page.get_by_label("Application").select_option(label=str(credentials.application))
    page.get_by_label("Profile zip").set_input_files(_zip_file(bad))
    page.get_by_role("button", name="Upload").click()
    issue = page.locator("tr.issue[data-code=PROFILE_DATA_TYPE]")
    expect(issue).to_contain_text(service_path("Electricity"))
    expect(issue).to_contain_text("$.services[0].properties[0].dataType")
    expect(issue).to_contain_text("dataType “float” must be one of int, decimal, double, string, DateTime, jsonObject.")
    assert not Product.objects.exists()

    # the good one
    page.get_by_label("Profile zip").set_input_files(_zip_file(water_meter_zip()))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash")).to_contain_text(f"Profile {WATER_METER_ZIP} imported.")
    voltage = page.locator("tr[data-property=voltage]")
    expect(voltage.locator("td.unit")).to_have_text("V")

    # edit the property online: a bad value is shown beside its field as soon as it changes
    voltage.get_by_role("link", name="Edit").click()
    page.get_by_label("Maximum length").fill("ten")
    page.get_by_label("Maximum length").press("Tab")
    expect(page.locator("#id_maxLength-error")).to_have_text("maxLength “ten” must be a whole number.")
    page.get_by_label("Maximum length").fill("")
    page.get_by_label("Unit").fill("mV")
    page.get_by_label("Unit").press("Tab")
    expect(page.get_by_role("status")).to_have_text("No problems found.")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".flash")).to_have_text("Saved.")
    expect(page.locator("tr[data-property=voltage] td.unit")).to_have_text("mV")
    product = Product.objects.get()
    assert product.profile["services"][0]["properties"][0]["unit"] == "mV"
    assert product.revision == 2
