"""The portal device list's query keeps the shape that is fast at a million devices (docs/performance.md).

A member's list filters by the ids of their applications: a subquery over memberships made PostgreSQL
walk every application's newest devices and filter them (260 ms for a small application's owner beside
a million devices of another); the ids let it read the application's own index range (0.2 ms).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.devices.fixtures import register
from tests.portal.fixtures import create_personas, create_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def personas(no_wake):
    personas = create_personas()
    register(personas.app, node_id="861111111111111")
    register(personas.other_app, node_id="862222222222222")
    return personas


def list_query(client, user) -> str:
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/devices/").content.decode()
    (statement,) = [
        query["sql"] for query in captured.captured_queries if query["sql"].startswith('SELECT "devices_device"."id"')
    ]
    assert "861111111111111" in page
    return statement


def test_a_members_list_filters_by_application_ids_not_by_a_membership_subquery(client, personas):
    statement = list_query(client, personas.viewer)
    assert "applications_membership" not in statement
    assert f'"devices_device"."application_id" IN ({personas.app.application.pk})' in statement
    assert statement.endswith('ORDER BY "devices_device"."created_at" DESC, "devices_device"."id" DESC LIMIT 51')


def test_an_operators_list_has_no_application_filter(client, personas):
    statement = list_query(client, personas.operator)
    assert "WHERE" not in statement  # the newest devices of all applications: the device_recent index


def test_a_member_of_no_application_sees_no_device_without_a_device_query(client, personas):
    client.force_login(create_user("nobody"))
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/devices/").content.decode()
    assert "No devices match." in page
    assert not [query for query in captured.captured_queries if 'FROM "devices_device"' in query["sql"]]
