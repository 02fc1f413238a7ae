"""The device list and device groups in Chromium (issue 20, item 6): the total, the status, product and
group filters, a sort, paging and the CSV of the filtered list; a group made, filled with the picker,
renamed, emptied and deleted after a confirmation."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import Page, expect

from devices.actions import do_create_group
from devices.models import Device, DeviceGroup, Status
from tests.devices.bulkfiles import other_product
from tests.devices.fixtures import WATER_METER, register, water_meter
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.browser

SETTLED = "() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')"


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def fleet(transactional_db, no_wake):
    """The owner's application: 70 water meters (every third ONLINE) and 10 devices of another product;
    a group of 12 meters; the other application: 5 devices."""
    personas = create_personas()
    personas.product = water_meter(personas.app)
    personas.other_product = other_product(personas.app)
    meters = [
        register(personas.app, node_id=f"8611111111{n:05d}", info={**WATER_METER, "name": f"meter {(n * 37) % 70:02d}"})
        for n in range(70)
    ]
    others = [register(personas.app, node_id=f"8612222222{n:05d}", info={"name": f"valve {n}"}) for n in range(10)]
    Device.objects.filter(pk__in=[d.pk for d in meters[::3]]).update(status=Status.ONLINE, activated=True)
    personas.group = do_create_group(personas.app.application, "Roof", "", 0, [d.device_id for d in meters[:12]])
    for n in range(5):
        register(personas.other_app, node_id=f"8633333333{n:05d}")
    personas.meters, personas.others = meters, others
    return personas


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login/")
    page.get_by_label("Account name").fill(username)
    page.get_by_label("Password").fill("correct horse 9")
    page.get_by_role("button", name="Sign in").click()


def shown_node_ids(page: Page) -> list[str]:
    return page.locator("#device-table tbody tr td:first-child code").all_inner_texts()


def test_filter_sort_page_and_download_the_device_list(live_server, page: Page, fleet):
    sign_in(page, live_server.url, "olivia")
    page.get_by_role("link", name="Devices", exact=True).first.click()
    total = page.locator("#device-total")
    expect(total).to_have_text("80 devices")

    # the status filter: the total and the rows follow
    page.get_by_label("Status").select_option("ONLINE")
    page.wait_for_function(SETTLED)
    online = Device.objects.filter(application=fleet.app.application, status=Status.ONLINE)
    expect(total).to_have_text(f"{online.count()} devices")
    expect(page.locator("#device-table tbody tr")).to_have_count(online.count())

    # the product filter with it, sorted by name
    page.get_by_label("Product").select_option(str(fleet.product.product_id))
    page.wait_for_function(SETTLED)
    page.get_by_label("Sort by").select_option("name")
    page.wait_for_function(SETTLED)
    expected = list(online.filter(product=fleet.product).order_by("name", "id").values_list("node_id", flat=True))
    expect(total).to_have_text(f"{len(expected)} devices")
    assert shown_node_ids(page) == expected
    expect(page.locator("th[aria-sort]")).to_have_text("Name")
    assert "sort=name" in page.url and "status=ONLINE" in page.url  # a link that can be shared

    # the CSV is the filtered list, in its order
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    with open(download.value.path(), encoding="utf-8-sig") as file:
        rows = list(csv.reader(io.StringIO(file.read())))
    assert [row[0] for row in rows[1:]] == expected

    # the group filter, all statuses, and the next page of the whole list by name
    page.get_by_label("Status").select_option("")
    page.wait_for_function(SETTLED)
    page.get_by_label("Group").select_option(fleet.group.dev_group_id)
    page.wait_for_function(SETTLED)
    expect(total).to_have_text("12 devices")
    page.get_by_label("Group").select_option("")
    page.get_by_label("Product").select_option("")
    page.wait_for_function(SETTLED)
    expect(total).to_have_text("80 devices")
    everything = Device.objects.filter(application=fleet.app.application).order_by("name", "id")
    assert shown_node_ids(page) == list(everything.values_list("node_id", flat=True)[:50])
    page.get_by_role("link", name="next page").click()
    page.wait_for_function(SETTLED)
    expect(page.locator("#device-table tbody tr")).to_have_count(30)
    assert shown_node_ids(page) == list(everything.values_list("node_id", flat=True)[50:])
    assert not any(node_id.startswith("8633") for node_id in shown_node_ids(page))


def test_make_fill_rename_empty_and_delete_a_group(live_server, page: Page, fleet):
    sign_in(page, live_server.url, "olivia")
    page.goto(live_server.url + "/devices/groups/")
    page.get_by_label("Name", exact=True).fill("Basement")
    page.get_by_role("button", name="Create group").click()
    page.get_by_role("link", name="Basement", exact=True).click()

    # two devices picked with the keyboard, one pasted
    picker = page.get_by_role("combobox", name="Find a device")
    for text in ("861222222200003", "meter 07"):
        picker.fill(text)
        page.get_by_role("listbox", name="Find a device").get_by_role("option").first.wait_for()
        picker.press("ArrowDown")
        picker.press("Enter")
    box = page.get_by_label("nodeIds to add, one per line")
    meter_07 = Device.objects.get(name="meter 07").node_id
    expect(box).to_have_value(f"861222222200003\n{meter_07}")
    box.press("End")
    box.type(f"\n{fleet.meters[1].node_id}")
    page.get_by_role("button", name="Add to the group").click()
    expect(page.get_by_text("3 devices added to the group.")).to_be_visible()
    group = DeviceGroup.objects.get(name="Basement")
    assert sorted(group.devices.values_list("node_id", flat=True)) == sorted(
        ["861222222200003", meter_07, fleet.meters[1].node_id]
    )

    # renamed
    page.get_by_label("Name", exact=True).fill("Cellar")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Group Cellar")).to_be_visible()

    # one removed
    page.get_by_role("button", name="Remove 861222222200003 from the group").click()
    expect(page.get_by_text("1 device removed from the group.")).to_be_visible()
    expect(page.locator("table tbody tr")).to_have_count(2)

    # deleting asks first: dismissed, nothing happens; accepted, the group goes and its devices stay
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete the group").click()
    expect(page.get_by_role("heading", name="Group Cellar")).to_be_visible()
    assert DeviceGroup.objects.filter(pk=group.pk).exists()
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Delete the group").click()
    expect(page.get_by_text("Group Cellar deleted; its devices stay.")).to_be_visible()
    assert questions == ["Delete the group Cellar? Its devices stay registered."]
    assert not DeviceGroup.objects.filter(pk=group.pk).exists()
    assert Device.objects.filter(node_id=meter_07).exists()
