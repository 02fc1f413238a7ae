"""List filters and the rules page follow the pickers' one rule (issue 20, item 6): up to PICK_LIMIT
applications or products a select, past it a search-as-you-type picker that lists none of them and shows
the chosen one's label."""

from __future__ import annotations

import re

import pytest

from tests.applications.fixtures import many_applications
from tests.devices.fixtures import water_meter
from tests.portal.fixtures import create_personas
from tests.products.fixtures import copies_of

pytestmark = pytest.mark.django_db
APPLICATION_FILTERS = ["/devices/", "/subscriptions/pushes/", "/audit/"]


@pytest.mark.parametrize("path", APPLICATION_FILTERS)
def test_an_operator_with_many_applications_filters_with_a_picker(client, path):
    personas = create_personas()
    harbours = many_applications(25)
    client.force_login(personas.operator)
    page = client.get(path, {"application": harbours[3].app_id}).content.decode()
    chosen = r'id="filter-application" name="application-q" value="Harbour 003 \(harbour003\)" role="combobox"'
    assert re.search(chosen, page)
    assert '<input type="hidden" name="application" value="harbour003" data-picker-value>' in page
    assert "Harbour 004" not in page  # the applications are not listed
    assert '<select name="application"' not in page


@pytest.mark.parametrize("path", APPLICATION_FILTERS[:2])
def test_a_member_filters_with_a_select(client, path):
    personas = create_personas()
    many_applications(25)
    client.force_login(personas.owner)
    page = client.get(path).content.decode()
    assert '<select name="application"' in page and 'id="filter-application"' not in page
    assert personas.app.application.name in page and "Harbour" not in page


def test_many_products_filter_the_device_list_and_start_a_rule_with_a_picker(client):
    personas = create_personas()
    products = copies_of(water_meter(personas.app), 25)
    client.force_login(personas.owner)
    page = client.get("/devices/", {"product": str(products[4].product_id)}).content.decode()
    assert re.search(r'id="filter-product" name="product-q" value="Type004 · Maker 004 · model004"', page)
    assert "Type005" not in page and '<select name="product"' not in page
    assert "Type005" not in client.get("/devices/", {"product": "not-a-uuid"}).content.decode()
    rules = client.get("/rules/").content.decode()
    assert 'id="new-rule-product" name="product-q"' in rules and "Type005" not in rules
    client.force_login(personas.outsider)  # no product of its own: the list's select is empty
    assert "Type004" not in client.get("/devices/").content.decode()
