"""The audit log: recorded at the actions layer with who, what, when and from where; operators read,
filter and export it; the retention sweep removes old events."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.utils import timezone

from applications import audit
from applications.models import AuditEvent
from applications.tasks import sweep_audit
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.django_db
PAGE = "/audit/"


@pytest.fixture
def personas():
    return create_personas()


def test_a_northbound_change_is_recorded_as_the_applications_from_its_address(client, personas):
    from tests.applications.fixtures import create_app

    credentials = create_app("Meter reading")
    body = {"notifyType": "deviceAdded", "callbackUrl": "http://93.184.215.14:8080/push"}
    response = client.post(
        "/iocm/app/sub/v1.2.0/subscriptions",
        body,
        content_type="application/json",
        headers=credentials.headers(),
        REMOTE_ADDR="198.51.100.20",
    )
    assert response.status_code == 201
    event = AuditEvent.objects.get(action="subscription.saved")
    assert (event.actor_kind, event.actor, event.address) == ("application", credentials.app_id, "198.51.100.20")
    assert event.application == credentials.application
    assert event.target == "deviceAdded" and event.detail == {"callbackUrl": "http://93.184.215.14:8080/push"}


def test_a_portal_change_is_recorded_as_the_accounts(client, personas):
    client.force_login(personas.owner)
    response = client.post(
        f"/apps/{personas.app.app_id}/reset-secret/", REMOTE_ADDR="192.0.2.44"
    )  # reset the secret from the portal
    assert response.status_code in (200, 302)
    event = AuditEvent.objects.get(action="application.secret_reset")
    assert (event.actor_kind, event.actor, event.address) == ("user", "olivia", "192.0.2.44")
    assert event.application == personas.app.application


def test_a_change_that_fails_leaves_no_event(client, personas):
    from tests.applications.fixtures import create_app

    credentials = create_app("Meter reading")
    before = AuditEvent.objects.count()
    body = {"notifyType": "noSuchType", "callbackUrl": "http://93.184.215.14:8080/push"}
    client.post(
        "/iocm/app/sub/v1.2.0/subscriptions", body, content_type="application/json", headers=credentials.headers()
    )
    assert AuditEvent.objects.count() == before


def test_only_operators_read_the_audit_log(client, personas):
    audit.record("product.added", application=personas.app.application, target="product 1")
    for member in (personas.owner, personas.viewer, personas.outsider):
        client.force_login(member)
        assert client.get(PAGE).status_code == 403
        assert client.get(PAGE + "?export=csv").status_code == 403
    client.logout()
    assert client.get(PAGE).status_code == 302  # to the sign-in page
    client.force_login(personas.operator)
    response = client.get(PAGE)
    assert response.status_code == 200
    assert b"product.added" in response.content


def test_the_audit_log_is_in_the_operators_navigation_only(client, personas):
    client.force_login(personas.operator)
    assert b'href="/audit/"' in client.get("/").content
    client.force_login(personas.owner)
    assert b'href="/audit/"' not in client.get("/").content


def test_filters_and_export_take_the_same_events(client, personas):
    with audit.acting_as("user", "root", "192.0.2.1"):
        audit.record("login.failed", target="", detail={"api": "portal"})
        audit.record("product.added", application=personas.app.application, target="product A")
        audit.record("product.deleted", application=personas.other_app.application, target="product B")
    client.force_login(personas.operator)
    filters = {"action": "product", "application": personas.app.app_id}
    page = client.get(PAGE, filters, headers={"HX-Request": "true"}).content.decode()  # the table only
    assert "product A" in page and "product B" not in page and "login.failed" not in page
    export = client.get(PAGE, {"action": "product", "application": personas.app.app_id, "export": "csv"})
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0] == ["when", "actor_kind", "actor", "address", "action", "application", "target", "detail"]
    assert [row[2:8] for row in rows[1:]] == [
        ["root", "192.0.2.1", "product.added", personas.app.app_id, "product A", "{}"]
    ]


def test_a_date_range_the_wrong_way_round_says_so(client, personas):
    client.force_login(personas.operator)
    response = client.get(PAGE, {"since": "2026-12-05", "until": "2026-12-01"})
    assert response.status_code == 200
    assert "The end date is before the start date." in response.content.decode()


def test_the_page_is_translated(client, personas):
    client.force_login(personas.operator)
    client.cookies["django_language"] = "zh-hans"
    assert "审计日志" in client.get(PAGE).content.decode()


def test_listing_costs_the_same_queries_for_many_events(client, personas, django_assert_max_num_queries):
    for number in range(150):
        audit.record("device.registered", application=personas.app.application, target=f"device {number}")
    client.force_login(personas.operator)
    with django_assert_max_num_queries(8):
        assert client.get(PAGE).status_code == 200


def test_the_sweep_deletes_only_events_past_the_retention(settings, personas):
    settings.AUDIT_RETENTION_DAYS = 30
    now = timezone.now()
    with time_machine.travel(now - dt.timedelta(days=31), tick=False):
        audit.record("product.added", target="old")
    with time_machine.travel(now - dt.timedelta(days=29), tick=False):
        audit.record("product.added", target="recent")
    assert sweep_audit() == {"deleted": 1}
    assert list(AuditEvent.objects.filter(action="product.added").values_list("target", flat=True)) == ["recent"]
    settings.AUDIT_RETENTION_DAYS = 0  # keep forever
    with time_machine.travel(now + dt.timedelta(days=400), tick=False):
        assert sweep_audit() == {"deleted": 0}


@pytest.mark.django_db(transaction=True)
def test_through_the_real_server_a_northbound_change_carries_the_callers_address(live_server):
    # The real server runs northbound paths through a shorter middleware chain (portal.handlers).
    import httpx

    from tests.applications.fixtures import create_app

    credentials = create_app("Meter reading")
    body = {"notifyType": "deviceAdded", "callbackUrl": "http://93.184.215.14:8080/push"}
    response = httpx.post(
        live_server.url + "/iocm/app/sub/v1.2.0/subscriptions", json=body, headers=credentials.headers()
    )
    assert response.status_code == 201
    event = AuditEvent.objects.get(action="subscription.saved")
    assert (event.actor_kind, event.actor, event.address) == ("application", credentials.app_id, "127.0.0.1")
