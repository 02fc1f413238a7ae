"""The application picker's endpoint (issue 20, item 6): prefix matches of the name (any case) or appId,
at most PICK_LIMIT, only the account's applications, each an index range."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from applications.models import Application
from applications.picking import PICK_LIMIT, pick_applications
from tests.applications.fixtures import many_applications
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.django_db


@pytest.fixture
def personas():
    personas = create_personas()
    personas.harbours = many_applications(30)
    return personas


def options(client, **params) -> list[tuple[str, str]]:
    page = client.get("/apps/pick/", {"listbox": "x-list", **params}).content.decode()
    return re.findall(
        r'<li role="option" id="x-list-\d+" aria-selected="false" data-value="([^"]+)" data-label="([^"]+)"', page
    )


def test_an_operator_finds_by_name_in_any_case_the_first_matches_in_order(client, personas):
    client.force_login(personas.operator)
    found = options(client, q="harbour 0")
    assert found == [(a.app_id, f"{a.name} ({a.app_id})") for a in personas.harbours[:PICK_LIMIT]]
    assert "type more to narrow them" in client.get("/apps/pick/", {"q": "harb"}).content.decode()
    assert [value for value, _ in options(client, q="harbour02")] == [a.app_id for a in personas.harbours[20:30]]
    water = personas.app.application
    assert options(client, q=water.app_id[:6]) == [(water.app_id, str(water))]


def test_a_member_is_offered_only_its_own_applications(client, personas):
    client.force_login(personas.owner)
    assert options(client, q="water") == [(personas.app.application.app_id, str(personas.app.application))]
    assert options(client, q="gas") == []
    assert options(client, q="harbour") == []
    assert options(client, q=personas.other_app.application.app_id) == []
    client.force_login(personas.outsider)
    assert options(client, q="water") == []


def test_a_viewer_is_offered_nothing_where_a_change_is_meant(client, personas):
    client.force_login(personas.viewer)
    assert [value for value, _ in options(client, q="Water")] == [personas.app.application.app_id]
    assert options(client, q="Water", editable="1") == []


def test_no_text_lists_nothing_and_says_what_to_type_and_an_anonymous_caller_signs_in(client, personas):
    client.force_login(personas.operator)
    assert options(client, q=" ") == []
    assert "Type the start of an application&#x27;s name or appId." in client.get("/apps/pick/").content.decode()
    assert "No application&#x27;s name or appId starts with “zzz”." in (
        client.get("/apps/pick/", {"q": "zzz"}).content.decode()
    )
    client.logout()
    assert client.get("/apps/pick/", {"q": "W"}).status_code == 302


def test_each_prefix_is_an_index_range_for_an_operator(personas):
    statements = []
    with connection.execute_wrapper(
        lambda execute, sql, params, many, context: (
            statements.append((sql, params)) or execute(sql, params, many, context)
        )
    ):
        pick_applications(Application.objects.all(), "Harbour")
    union_sql, params = statements[0]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + union_sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "application_pick_name" in plan and "application_pick_id" in plan
    assert "Sort" not in plan
    assert ">= 'HARBOUR'::text" in plan and ">= 'Harbour'::text" in plan
    assert Application.objects.count() == 32
