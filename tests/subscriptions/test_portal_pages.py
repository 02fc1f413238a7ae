"""Subscriptions pages for every persona; a denied change changes nothing."""

import pytest

from subscriptions import actions
from subscriptions.models import PushMessage, PushState, PushTarget, Subscription
from tests.portal.fixtures import create_personas
from tests.subscriptions.fixtures import data_changed

pytestmark = pytest.mark.django_db


def _personas_with_pushes(receiver):
    personas = create_personas()
    for credentials in (personas.app, personas.other_app):
        Subscription.objects.create(
            application=credentials.application, notify_type="deviceDataChanged", callback_url=receiver.url()
        )
        actions.notify(credentials.application, "deviceDataChanged", data_changed())
    return personas


def test_lists_show_only_visible_applications(client, receiver, no_wake):
    personas = _personas_with_pushes(receiver)
    client.force_login(personas.outsider)
    page = client.get("/subscriptions/").content.decode()
    assert "Gas utility" in page and "Water utility" not in page
    log = client.get("/subscriptions/pushes/").content.decode()
    assert "Gas utility" in log and "Water utility" not in log
    other_push = PushMessage.objects.get(application=personas.app.application)
    assert client.get(f"/subscriptions/pushes/{other_push.pk}/").status_code == 404


def test_owner_subscribes_in_the_portal_and_sees_the_rule_when_broken(client, receiver, no_wake):
    personas = create_personas()
    client.force_login(personas.owner)
    bad = client.post(
        "/subscriptions/",
        {"application": personas.app.app_id, "notify_type": "deviceAdded", "callback_url": "http://203.0.113.5/x"},
    )
    assert "must name its port" in bad.content.decode()
    assert not Subscription.objects.exists()
    good = client.post(
        "/subscriptions/",
        {"application": personas.app.app_id, "notify_type": "deviceAdded", "callback_url": receiver.url()},
    )
    assert good.status_code == 302
    assert Subscription.objects.get().application == personas.app.application


def test_viewer_cannot_subscribe_delete_or_redeliver(client, receiver, no_wake):
    personas = _personas_with_pushes(receiver)
    client.force_login(personas.viewer)
    response = client.post(
        "/subscriptions/",
        {"application": personas.app.app_id, "notify_type": "deviceAdded", "callback_url": receiver.url()},
    )
    assert response.status_code == 200  # the application is not among the viewer's choices
    assert Subscription.objects.filter(notify_type="deviceAdded").count() == 0
    subscription = Subscription.objects.get(application=personas.app.application)
    assert client.post(f"/subscriptions/{subscription.subscription_id}/delete/").status_code == 403
    assert Subscription.objects.filter(pk=subscription.pk).exists()
    push = PushMessage.objects.get(application=personas.app.application)
    assert client.post(f"/subscriptions/pushes/{push.pk}/redeliver/").status_code == 404


def test_log_filters_by_state_and_counts_queries(client, receiver, no_wake, django_assert_max_num_queries):
    personas = _personas_with_pushes(receiver)
    for _ in range(30):
        actions.notify(personas.app.application, "deviceDataChanged", data_changed())
    PushMessage.objects.filter(pk=PushMessage.objects.first().pk).update(state=PushState.FAILED)
    client.force_login(personas.operator)
    with django_assert_max_num_queries(8):
        page = client.get("/subscriptions/pushes/?state=failed").content.decode()
    assert page.count("badge bad") == 1


def test_lift_blacklist_button(client, receiver, no_wake):
    personas = _personas_with_pushes(receiver)
    target = PushTarget.objects.get(application=personas.app.application)
    PushTarget.objects.filter(pk=target.pk).update(blacklisted_until="2099-01-01T00:00:00Z", consecutive_failures=10)
    client.force_login(personas.outsider)
    assert client.post(f"/subscriptions/targets/{target.pk}/lift/").status_code == 404
    client.force_login(personas.owner)
    client.post(f"/subscriptions/targets/{target.pk}/lift/")
    target.refresh_from_db()
    assert target.blacklisted_until is None


def test_debug_page_sends_a_sample_and_shows_the_answer(client, receiver):
    personas = create_personas()
    client.force_login(personas.owner)
    page = client.post(
        "/subscriptions/debug/",
        {"application": personas.app.app_id, "notify_type": "fwUpgradeResultNotify", "url": receiver.url("/dbg")},
    ).content.decode()
    assert "HTTP 200" in page
    assert receiver.received[0].json()["notifyType"] == "fwUpgradeResultNotify"
    assert PushMessage.objects.get().is_sample
