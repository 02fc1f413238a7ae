"""The push SSRF guard: only globally routable targets unless allowed, checked at subscription and delivery."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from subscriptions import actions
from subscriptions.apps import SubscriptionsConfig
from subscriptions.callbacks import address_allowed, parse_allowed_targets
from subscriptions.delivery import deliver_target
from subscriptions.models import PushMessage, Subscription
from tests.subscriptions.fixtures import data_changed, subscribe

SUBSCRIPTIONS = "/iocm/app/sub/v1.2.0/subscriptions"

REFUSED = [
    "100.64.0.1",  # shared address space (RFC 6598): cloud metadata services live here
    "100.127.255.254",
    "169.254.169.254",
    "10.0.0.1",
    "127.0.0.1",
    "0.0.0.0",
    "192.0.2.10",  # documentation
    "198.18.0.1",  # benchmarking
    "240.0.0.1",  # reserved
    "224.0.0.1",  # multicast
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "2001:db8::1",
    "::ffff:10.0.0.1",  # v4-mapped
    "::ffff:127.0.0.1",
    "::ffff:100.64.0.1",
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::6440:1",  # NAT64 of 100.64.0.1
    "64:ff9b:1::a00:1",  # NAT64 local use
    "2001::a00:1",  # Teredo
]
ALLOWED = ["8.8.8.8", "203.0.114.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::", "64:ff9b::808:808"]


@pytest.fixture(autouse=True)
def _guard_on(settings):
    settings.PUSH_ALLOW_PRIVATE = False
    settings.PUSH_ALLOWED_TARGETS = []


@pytest.mark.parametrize("address", REFUSED)
def test_non_global_addresses_and_their_ipv6_forms_are_refused(address):
    assert not address_allowed(address, 80)


@pytest.mark.parametrize("address", ALLOWED)
def test_global_addresses_and_their_ipv6_forms_are_allowed(address):
    assert address_allowed(address, 80)


def test_allowed_targets_open_only_the_named_ports(settings):
    settings.PUSH_ALLOWED_TARGETS = ["127.0.0.1:9000-9099", "[::1]:9000", "10.20.0.0/16"]
    assert address_allowed("127.0.0.1", 9000) and address_allowed("127.0.0.1", 9099)
    assert not address_allowed("127.0.0.1", 6379)  # the embedded Redis stays out of reach
    assert not address_allowed("127.0.0.1", 8999)
    assert address_allowed("::1", 9000) and not address_allowed("::1", 9001)
    assert address_allowed("::ffff:127.0.0.1", 9050)  # the same address in its v4-mapped form
    assert address_allowed("10.20.3.4", 22) and not address_allowed("10.21.0.1", 80)
    assert not address_allowed("100.64.0.1", 9000)


@pytest.mark.parametrize("entry", ["localhost:9000", "127.0.0.1:0", "127.0.0.1:9000-80", "[::1]:x", "300.1.1.1"])
def test_a_malformed_allowed_target_stops_the_process_at_start(settings, entry):
    settings.PUSH_ALLOWED_TARGETS = [entry]
    with pytest.raises(ValueError, match="PUSH_ALLOWED_TARGETS"):
        parse_allowed_targets(settings.PUSH_ALLOWED_TARGETS)
    import subscriptions

    with pytest.raises(ImproperlyConfigured, match="PUSH_ALLOWED_TARGETS"):
        SubscriptionsConfig("subscriptions", subscriptions).ready()


@pytest.mark.parametrize(
    "url",
    [
        "http://100.64.0.1:80/p",
        "http://[::ffff:10.0.0.1]:80/p",
        "http://[64:ff9b::a9fe:a9fe]:80/p",
        "http://[2002:a00:1::]:80/p",
    ],
)
def test_subscribing_to_a_non_global_address_is_refused_and_stores_nothing(client, owner_app, url):
    body = {"notifyType": "deviceAdded", "callbackUrl": url}
    response = client.post(SUBSCRIPTIONS, body, content_type="application/json", headers=owner_app.headers())
    assert response.status_code == 400
    assert "PUSH_ALLOWED_TARGETS" in response.json()["error_desc"]
    assert not Subscription.objects.exists()


def test_delivery_checks_each_resolved_address_and_port(owner_app, receiver, no_wake, settings):
    # A name that resolves to loopback (or rebinds to it after subscribing) is checked when connecting.
    settings.PUSH_ALLOW_PRIVATE = True
    subscribe(owner_app, receiver)
    Subscription.objects.update(callback_url=f"http://localhost:{receiver.port}/callback")
    settings.PUSH_ALLOW_PRIVATE = False
    settings.PUSH_ALLOWED_TARGETS = [f"127.0.0.1:{receiver.port + 1}", f"[::1]:{receiver.port + 1}"]
    message = actions.notify(owner_app.application, "deviceDataChanged", data_changed(1))
    deliver_target(message.target_id)
    message.refresh_from_db()
    assert receiver.received == []
    assert "127.0.0.1" in message.last_error and "PUSH_ALLOWED_TARGETS" in message.last_error
    # the receiver's own port named: delivered
    settings.PUSH_ALLOWED_TARGETS = [f"127.0.0.1:{receiver.port}"]
    PushMessage.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)
    deliver_target(message.target_id)
    assert len(receiver.received) == 1


def test_delivery_checks_an_ip_literal_before_each_request(owner_app, receiver, no_wake, settings):
    settings.PUSH_ALLOWED_TARGETS = [f"127.0.0.1:{receiver.port}"]
    settings.PUSH_ALLOW_PRIVATE = False
    subscribe(owner_app, receiver)  # the receiver is on 127.0.0.1, admitted by its port
    first = actions.notify(owner_app.application, "deviceDataChanged", data_changed(1))
    deliver_target(first.target_id)
    assert len(receiver.received) == 1
    settings.PUSH_ALLOWED_TARGETS = []
    second = actions.notify(owner_app.application, "deviceDataChanged", data_changed(2))
    deliver_target(second.target_id)
    second.refresh_from_db()
    assert len(receiver.received) == 1
    assert "not a public address" in second.last_error


def test_a_refused_callback_is_audited_though_the_subscription_rolled_back(client, owner_app):
    from applications.models import AuditEvent

    body = {"notifyType": "deviceAdded", "callbackUrl": "http://100.64.0.1:80/p"}
    client.post(SUBSCRIPTIONS, body, content_type="application/json", headers=owner_app.headers())
    [event] = AuditEvent.objects.filter(action="callback.refused")
    assert (event.action, event.actor, event.actor_kind, event.address) == (
        "callback.refused",
        owner_app.app_id,
        "application",
        "127.0.0.1",
    )
    assert event.application == owner_app.application
    assert event.target == "http://100.64.0.1:80/p" and "not a public address" in event.detail["reason"]
