"""notify_many: the rows notify() writes, for many bodies at once (written with COPY)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from subscriptions import actions
from subscriptions.models import PushMessage, PushState
from subscriptions.payloads import encode
from tests.subscriptions.fixtures import data_changed

pytestmark = pytest.mark.django_db

COMPARED = ("application_id", "target_id", "notify_type", "url", "ordering_key", "is_sample", "state", "attempts",
            "lease_until", "last_status_code", "last_error", "delivered_at")  # fmt: skip


@pytest.fixture
def subscribed(owner_app, no_wake):
    actions.do_subscribe(owner_app.application, "deviceDataChanged", "http://127.0.0.1:9/callback")
    return owner_app.application


def test_the_rows_are_those_notify_writes(subscribed, django_capture_on_commit_callbacks):
    one = actions.notify(subscribed, "deviceDataChanged", data_changed(0))
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.notify_many(subscribed, "deviceDataChanged", [data_changed(n) for n in (1, 2, 3)]) == 3
    many = list(PushMessage.objects.exclude(pk=one.pk).order_by("id"))
    assert [bytes(message.body) for message in many] == [encode(data_changed(n)) for n in (1, 2, 3)]
    assert len({message.push_id for message in [one, *many]}) == 4
    for message in many:
        assert {name: getattr(message, name) for name in COMPARED} == {name: getattr(one, name) for name in COMPARED}
        assert message.state == PushState.PENDING and message.next_attempt_at == message.created_at >= before


def test_its_cost_does_not_grow_with_the_bodies(subscribed):
    actions.notify_many(subscribed, "deviceDataChanged", [data_changed(0)])  # the push target exists from now on

    def queries(count: int) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            actions.notify_many(subscribed, "deviceDataChanged", [data_changed(n) for n in range(count)])
        return [query["sql"] for query in captured.captured_queries]

    few, many = queries(2), queries(500)
    assert len(few) == len(many) == 2  # the subscription and the push target; the rows go by COPY
    assert not any("INSERT" in statement for statement in many)  # not a parameter per column (bulk_create)
    assert PushMessage.objects.count() == 503


def test_nothing_is_written_without_a_subscription(owner_app, no_wake):
    assert actions.notify_many(owner_app.application, "deviceDataChanged", [data_changed(0)]) == 0
    assert not PushMessage.objects.exists() and not no_wake


def test_an_mqtts_subscription_gets_its_own_rows_on_its_own_target(subscribed, owner_app, other_app):
    actions.do_subscribe(subscribed, "deviceDataChanged", None, "MQTTS")
    first = actions.notify(subscribed, "deviceDataChanged", data_changed(0), ordering_key="cmd-1")
    assert actions.notify_many(subscribed, "deviceDataChanged", [data_changed(1)]) == 1
    rows = list(PushMessage.objects.order_by("id").select_related("target"))
    http = [row for row in rows if row.target.channel == "HTTP"]
    mqtts = [row for row in rows if row.target.channel == "MQTTS"]
    assert first == http[0]  # notify() answers with the HTTP row
    assert [bytes(row.body) for row in http] == [bytes(row.body) for row in mqtts]
    assert {row.url for row in mqtts} == {f"/huawei/v1/apps/{owner_app.app_id}/notify/deviceDataChanged"}
    assert (http[0].ordering_key, mqtts[0].ordering_key) == ("cmd-1", "mqtts:cmd-1")  # one order per channel
    assert (mqtts[0].target.host, mqtts[0].target.port) == ("", 0)
    # another application's notification reaches neither of this application's targets
    actions.notify(other_app.application, "deviceDataChanged", data_changed(2))
    assert PushMessage.objects.count() == 4
