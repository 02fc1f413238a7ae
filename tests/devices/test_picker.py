"""The device picker's endpoint (issue 20, item 6): prefix matches of nodeId, deviceId or name, at most
PICK_LIMIT, only of the account's applications, each read as an index range."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from devices.models import Device
from devices.querysets import PICK_LIMIT, pick_devices
from tests.devices.fixtures import register
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.django_db


@pytest.fixture
def personas(no_wake):
    personas = create_personas()
    personas.mine = [
        register(personas.app, node_id=f"8611111111{n:05d}", info={"name": f"Meter {n}"}) for n in range(30)
    ]
    personas.pump = register(personas.app, node_id="869999999999999", info={"name": "Basement pump"})
    personas.theirs = register(personas.other_app, node_id="861111111199999", info={"name": "Basement boiler"})
    return personas


def options(client, **params) -> list[tuple[str, str]]:
    page = client.get("/devices/pick/", {"listbox": "x-list", **params}).content.decode()
    return re.findall(
        r'<li role="option" id="x-list-\d+" aria-selected="false" data-value="([^"]+)" data-label="([^"]+)"', page
    )


def test_a_nodeid_prefix_lists_the_first_matches_in_order_and_says_there_are_more(client, personas):
    client.force_login(personas.owner)
    found = options(client, q="86111")
    assert [label for _, label in found] == [d.node_id for d in personas.mine[:PICK_LIMIT]]
    assert "type more to narrow them" in client.get("/devices/pick/", {"q": "86111"}).content.decode()
    assert [label for _, label in options(client, q="861111111100012")] == [personas.mine[12].node_id]


def test_a_name_matches_in_any_case_and_a_deviceid_by_its_start(client, personas):
    client.force_login(personas.owner)
    assert options(client, q="basement") == [(personas.pump.device_id, personas.pump.node_id)]
    assert options(client, q=personas.pump.device_id[:8]) == [(personas.pump.device_id, personas.pump.node_id)]


def test_another_applications_devices_are_never_offered(client, personas):
    client.force_login(personas.outsider)
    assert options(client, q="86111") == [(personas.theirs.device_id, personas.theirs.node_id)]
    client.force_login(personas.owner)
    assert personas.theirs.node_id not in [label for _, label in options(client, q="8611111111999")]
    assert options(client, q="86111", application=personas.other_app.application.app_id) == []


def test_a_viewer_is_offered_nothing_where_a_change_is_meant(client, personas):
    client.force_login(personas.viewer)
    assert options(client, q="86999") == [(personas.pump.device_id, personas.pump.node_id)]
    assert options(client, q="86999", editable="1") == []


def test_no_text_lists_nothing_and_an_anonymous_caller_is_sent_to_sign_in(client, personas):
    client.force_login(personas.owner)
    assert options(client, q="  ") == []
    assert "Type the start of a nodeId" in client.get("/devices/pick/").content.decode()
    client.logout()
    assert client.get("/devices/pick/", {"q": "86"}).status_code == 302


def test_each_prefix_is_an_index_range_of_the_application(personas):
    # given: the planner told not to scan the table, as it would not at a million devices
    statements = []
    with connection.execute_wrapper(
        lambda execute, sql, params, many, context: (
            statements.append((sql, params)) or execute(sql, params, many, context)
        )
    ):
        pick_devices([personas.app.application.pk], "Basement")
    union_sql, params = statements[0]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")  # a range read in order needs no sort: only the pick indexes
        cursor.execute("EXPLAIN " + union_sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "device_pick_node" in plan and "device_pick_name" in plan and "device_pick_id" not in plan
    assert "Sort" not in plan  # each branch read in index order, cut at the limit
    assert ">= 'Basement'::text" in plan and ">= 'BASEMENT'::text" in plan  # the prefix bounds the range
    assert Device.objects.count() == 32
