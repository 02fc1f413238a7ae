"""Devices pages for every persona."""

import datetime as dt

import pytest

from devices import actions
from devices.models import Device, DeviceGroup
from tests.devices.fixtures import register, report
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.django_db


@pytest.fixture
def personas(no_wake):
    personas = create_personas()
    register(personas.app, node_id="861111111111111", info={"name": "kitchen"})
    register(personas.other_app, node_id="862222222222222", info={"name": "garage"})
    return personas


def test_members_see_only_their_devices(client, personas):
    client.force_login(personas.viewer)
    page = client.get("/devices/").content.decode()
    assert "861111111111111" in page and "862222222222222" not in page
    other = Device.objects.get(node_id="862222222222222")
    assert client.get(f"/devices/{other.device_id}/").status_code == 404


def test_anonymous_goes_to_login(client, personas):
    assert client.get("/devices/").status_code == 302


def test_search_by_imei_prefix_and_status(client, personas):
    client.force_login(personas.operator)
    page = client.get("/devices/?q=8622", headers={"HX-Request": "true"}).content.decode()
    assert "862222222222222" in page and "861111111111111" not in page
    assert "No devices match" in client.get("/devices/?status=ONLINE").content.decode()


def test_list_pages_by_cursor_with_constant_queries(client, personas, django_assert_max_num_queries):
    for number in range(60):
        register(personas.app, node_id=f"86{number:013d}")
    client.force_login(personas.owner)
    with django_assert_max_num_queries(8):
        first = client.get("/devices/")
    assert first.context["next_cursor"]
    with django_assert_max_num_queries(8):
        second = client.get("/devices/", {"after": first.context["next_cursor"]})
    first_ids = {device.pk for device in first.context["devices"]}
    second_ids = {device.pk for device in second.context["devices"]}
    assert len(first_ids) == 50 and len(second_ids) == 11 and not first_ids & second_ids


def test_detail_shows_shadow_history_and_logs(client, personas):
    device = Device.objects.select_related("application").get(node_id="861111111111111")
    device = actions.do_bind_device(device)
    device = Device.objects.select_related("application").get(pk=device.pk)
    for minute in range(3):
        report(device, when=dt.datetime(2026, 5, 1, 10, minute, tzinfo=dt.UTC), currentReading=minute)
    client.force_login(personas.viewer)
    response = client.get(f"/devices/{device.device_id}/")
    page = response.content.decode()
    assert "currentReading" in page
    assert 'data-chart="/devices/' in page  # the chart loads its series from the history endpoint
    history = client.get(
        f"/devices/{device.device_id}/history.json",
        {"range": "custom", "from": "2026-05-01T10:00:00Z", "to": "2026-05-01T11:00:00Z"},
    ).json()
    assert [one["key"] for one in history["series"]] == ["WaterMeter.currentReading"]
    assert "bound: first connection" in page
    assert "Edit" not in page  # viewers read only


def test_owner_registers_in_the_portal_and_sees_the_psk_once(client, personas):
    client.force_login(personas.owner)
    response = client.post(
        "/devices/register/", {"application": personas.app.app_id, "node_id": "863333333333335", "timeout": 0}
    )
    device = Device.objects.get(node_id="863333333333335")
    assert device.psk in response.content.decode()
    assert device.psk not in client.get(f"/devices/{device.device_id}/").content.decode()


def test_registering_a_taken_imei_says_so_beside_the_field_in_plain_words(client, personas):
    register(personas.other_app, node_id="862222222222223")  # another application's device
    client.force_login(personas.owner)
    response = client.post(
        "/devices/register/", {"application": personas.app.app_id, "node_id": "862222222222223", "timeout": 0}
    )
    page = response.content.decode()
    assert "nodeId 862222222222223 is registered already: one IMEI registers one device." in page
    assert "binded" not in page and "100416" not in page
    assert Device.objects.filter(node_id="862222222222223").count() == 1


def test_every_problem_of_the_register_form_is_named_in_one_round(client, personas):
    from tests.devices.fixtures import water_meter

    foreign = water_meter(personas.other_app)
    personas.app.application.device_quota = 1  # the fixture's kitchen device fills it
    personas.app.application.save(update_fields=["device_quota"])
    client.force_login(personas.owner)
    response = client.post("/devices/register/", {
        "application": personas.app.app_id, "node_id": "863333333333333", "psk": "xyz",
        "product": str(foreign.product_id), "timeout": "-1",
    })  # fmt: skip
    errors = response.context["form"].errors
    assert errors["node_id"] == ["IMEI 863333333333333 fails its check digit: the last digit should be 5."]
    assert errors["psk"] == ["The PSK must be 8 to 32 hexadecimal characters (0-9, a-f), or empty."]
    assert errors["timeout"] == ["Ensure this value is greater than or equal to 0."]
    assert "quota of 1 devices" in errors["application"][0]
    assert "product" in errors  # another application's product (not selectable either)
    assert not Device.objects.filter(node_id__startswith="86333").exists()


def test_viewer_cannot_edit_or_delete(client, personas):
    device = Device.objects.get(node_id="861111111111111")
    client.force_login(personas.viewer)
    assert client.post(f"/devices/{device.device_id}/edit/", {"name": "x"}).status_code == 403
    assert client.post(f"/devices/{device.device_id}/delete/").status_code == 403
    assert Device.objects.get(pk=device.pk).name == "kitchen"


def test_owner_edits_and_deletes(client, personas):
    device = Device.objects.get(node_id="861111111111111")
    client.force_login(personas.owner)
    client.post(f"/devices/{device.device_id}/edit/", {"name": "pantry", "location": "north"})
    assert Device.objects.get(pk=device.pk).name == "pantry"
    client.post(f"/devices/{device.device_id}/delete/")
    assert not Device.objects.filter(pk=device.pk).exists()


def test_groups_page(client, personas):
    client.force_login(personas.owner)
    client.post("/devices/groups/", {"application": personas.app.app_id, "name": "Kitchen", "max_devices": 0})
    group = DeviceGroup.objects.get()
    client.post(
        f"/devices/groups/{group.dev_group_id}/members/",
        {"node_ids": "861111111111111\n862222222222222", "action": "add"},
    )
    assert list(group.devices.values_list("node_id", flat=True)) == ["861111111111111"]


def test_the_mqtt_product_secret_is_shown_once_and_only_its_developers_may_replace_it(client, personas):
    from devices.models import ProductSecret
    from tests.devices.fixtures import water_meter

    product = water_meter(personas.app)
    url = f"/devices/mqtt-secret/{product.product_id}/"

    client.force_login(personas.viewer)
    assert "none yet" in client.get(url).content.decode()
    assert client.post(url).status_code == 403
    assert not ProductSecret.objects.exists()

    client.force_login(personas.owner)
    shown = client.post(url).context["secret"]
    assert ProductSecret.objects.get(product=product).secret == shown
    assert shown not in client.get(url).content.decode()  # never shown again

    client.force_login(personas.outsider)
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert ProductSecret.objects.get(product=product).secret == shown
