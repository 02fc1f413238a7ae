"""The product picker's endpoint (issue 20, item 6): prefix matches of device type, manufacturer (name
or id), model or productId, at most PICK_LIMIT, only of the account's applications, each an index range."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from applications.picking import PICK_LIMIT
from products.models import Product
from products.querysets import pick_products
from tests.portal.fixtures import create_personas
from tests.products.codecs.fixtures import meter
from tests.products.fixtures import copies_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def personas():
    personas = create_personas()
    personas.meter = meter(personas.app)  # WaterMeter · Acme Ltd · m1
    personas.mine = copies_of(personas.meter, 30, device_type="Sensor", model="s")
    personas.theirs = copies_of(
        personas.meter, 3, application=personas.other_app.application, device_type="Sensor", model="x"
    )
    return personas


def options(client, **params) -> list[tuple[str, str]]:
    page = client.get("/products/pick/", {"listbox": "x-list", **params}).content.decode()
    return re.findall(
        r'<li role="option" id="x-list-\d+" aria-selected="false" data-value="([^"]+)" data-label="([^"]+)"', page
    )


def test_a_device_type_prefix_in_any_case_lists_the_first_matches_in_order_and_says_there_are_more(client, personas):
    client.force_login(personas.owner)
    found = options(client, q="sensor0")
    assert [label for _, label in found] == [f"Sensor{n:03d} · Maker {n:03d} · s{n:03d}" for n in range(PICK_LIMIT)]
    assert [value for value, _ in found][:1] == [str(personas.mine[0].product_id)]
    assert "type more to narrow them" in client.get("/products/pick/", {"q": "Sensor"}).content.decode()


def test_the_manufacturer_model_and_product_id_each_find_a_product(client, personas):
    client.force_login(personas.owner)
    meter_option = (str(personas.meter.product_id), "WaterMeter · Acme Ltd · m1")
    assert options(client, q="acme l") == [meter_option]  # manufacturer name
    assert options(client, q="M1") == [meter_option]  # model (any case)
    assert options(client, q="ms01") == [(str(p.product_id), p.label) for p in personas.mine[10:20]]  # manufacturerId
    assert options(client, q=str(personas.meter.product_id)[:8]) == [meter_option]
    assert "No product&#x27;s device type, manufacturer, model or productId starts with “zzz”." in (
        client.get("/products/pick/", {"q": "zzz"}).content.decode()
    )


def test_another_applications_products_are_never_offered(client, personas):
    client.force_login(personas.owner)
    assert not any(label.endswith(("x000", "x001", "x002")) for _, label in options(client, q="Sensor"))
    assert options(client, q="Maker 00", application=personas.other_app.application.app_id) == []
    client.force_login(personas.outsider)
    assert [label for _, label in options(client, q="sensor")] == [p.label for p in personas.theirs]
    assert options(client, q="Water") == []


def test_a_viewer_is_offered_nothing_where_a_change_is_meant_and_an_anonymous_caller_signs_in(client, personas):
    client.force_login(personas.viewer)
    assert options(client, q="Water") == [(str(personas.meter.product_id), "WaterMeter · Acme Ltd · m1")]
    assert options(client, q="Water", editable="1") == []
    assert options(client, q="  ") == []
    client.logout()
    assert client.get("/products/pick/", {"q": "W"}).status_code == 302


def test_a_form_names_its_text_field_and_the_picker_reads_it(client, personas):
    client.force_login(personas.owner)
    assert options(client, qname="product-q", **{"product-q": "WaterM"}) == [
        (str(personas.meter.product_id), "WaterMeter · Acme Ltd · m1")
    ]


def test_each_prefix_is_an_index_range_of_the_application(personas):
    # given: the planner told not to scan the table, as it would not with thousands of products
    statements = []
    with connection.execute_wrapper(
        lambda execute, sql, params, many, context: (
            statements.append((sql, params)) or execute(sql, params, many, context)
        )
    ):
        pick_products([personas.app.application.pk], "abcd1234")
    union_sql, params = statements[0]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")  # a range read in order needs no sort: only the pick indexes
        cursor.execute("EXPLAIN " + union_sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for index in ("product_pick_type", "product_pick_maker", "product_pick_maker_id", "product_pick_model"):
        assert index in plan
    assert "product_pick_id" in plan  # "abcd1234" could start a productId
    assert "Sort" not in plan  # each branch read in index order, cut at the limit
    assert ">= 'ABCD1234'::text" in plan and ">= 'abcd1234'::text" in plan  # the prefix bounds the range
    assert Product.objects.count() == 34
