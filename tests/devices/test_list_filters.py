"""The device list's product and group filters, each control labelled (issue 20, items 6 and 10)."""

from __future__ import annotations

import re

import pytest

from devices.actions import do_create_group
from tests.devices.bulkfiles import other_product
from tests.devices.fixtures import WATER_METER, register, water_meter
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.django_db


@pytest.fixture
def personas(no_wake):
    personas = create_personas()
    personas.product = water_meter(personas.app)
    personas.metered = register(personas.app, node_id="861111111111111", info=WATER_METER)
    personas.bare = register(personas.app, node_id="861111111111112")
    return personas


def test_every_filter_control_has_a_label(client, personas):
    client.force_login(personas.owner)
    page = client.get("/devices/").content.decode()
    form = re.search(r'<form class="inline-form filters".*?</form>', page, re.S).group(0)
    controls = re.findall(r"<(?:select|input)\b[^>]*>", form)
    assert len(controls) == 7  # search, status, application, product, group, tag, sort
    assert all("aria-label=" in control for control in controls), controls


def test_the_product_filter_lists_and_narrows(client, personas):
    client.force_login(personas.owner)
    page = client.get("/devices/").content.decode()
    assert f'<option value="{personas.product.product_id}">WaterMeter · v1001</option>' in page
    table = client.get("/devices/", {"product": str(personas.product.product_id)}).content.decode()
    assert "861111111111111" in table and "861111111111112" not in table


def test_a_malformed_product_filter_lists_nothing_instead_of_failing(client, personas):
    client.force_login(personas.owner)
    response = client.get("/devices/", {"product": "not-a-uuid"})
    assert response.status_code == 200
    assert "861111111111111" not in response.content.decode()


def test_the_group_filter_lists_and_narrows(client, personas):
    group = do_create_group(personas.app.application, "roof", "", 0, [personas.bare.device_id])
    client.force_login(personas.owner)
    assert f'<option value="{group.dev_group_id}">roof</option>' in client.get("/devices/").content.decode()
    table = client.get("/devices/", {"group": group.dev_group_id}).content.decode()
    assert "861111111111112" in table and "861111111111111" not in table


def test_another_applications_products_and_groups_are_not_offered(client, personas):
    foreign = other_product(personas.other_app)
    group = do_create_group(personas.other_app.application, "theirs", "", 0, [])
    client.force_login(personas.owner)
    page = client.get("/devices/").content.decode()
    assert str(foreign.product_id) not in page and group.dev_group_id not in page


def test_the_profile_upload_help_shows_the_service_folder_placeholder(client, personas):
    client.force_login(personas.owner)
    page = client.get("/products/upload/").content.decode()
    assert "service/&lt;serviceType&gt;/profile/servicetype-capability.json" in page
