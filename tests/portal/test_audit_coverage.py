"""Issue 21, item 8's list, each kind checked to leave its audit event with who, what and from where:
logins, secrets, products, codecs, devices, commands, subscriptions, upgrades and settings (throttled
logins and refused callbacks: tests/applications/test_login_throttle.py and
tests/subscriptions/test_push_guard.py; command creations: tests/commands/test_creation_audit.py)."""

import pytest

from applications import actions as app_actions
from applications import audit
from applications.models import AuditEvent
from commands import actions as command_actions
from devices import actions as device_actions
from products.models import Product
from subscriptions import actions as subscription_actions
from tests.applications.fixtures import create_app
from tests.devices.fixtures import WATER_METER, register, water_meter
from tests.firmware.upgrades import create_task, upload
from tests.products.codecs.fixtures import deploy, meter

pytestmark = pytest.mark.django_db

ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}


@pytest.fixture(autouse=True)
def _quiet(settings, monkeypatch):
    settings.PUSH_ALLOW_PRIVATE = True
    monkeypatch.setattr("subscriptions.actions.wake", lambda target_id: None)


def test_each_kind_of_change_leaves_its_event_as_the_actor_from_its_address():
    credentials = create_app("Water utility")
    application = credentials.application
    AuditEvent.objects.all().delete()
    with audit.acting_as(audit.ActorKind.USER, "auditor", "192.0.2.5"):
        # products and codecs
        water_meter(credentials)
        codec_product = meter(credentials)
        deploy(codec_product)
        device_actions.do_set_product_secret(Product.objects.get(pk=codec_product.pk))
        # devices
        device = register(credentials, info=WATER_METER)
        device_actions.do_refresh_key(device, verify_code=device.node_id, node_id=device.node_id, timeout=0)
        device = device_actions.do_bind_device(device)
        device_actions.do_modify_device(device, {"name": "meter 1"})
        # groups and tags
        group = device_actions.do_create_group(application, "north", "", 0, [device.device_id], creator="auditor")
        device_actions.do_modify_group(group, {"name": "north side"})
        device_actions.do_remove_from_group(group, [device.device_id])
        device_actions.do_delete_group(group)
        device_actions.do_set_device_tags(device, ["basement"])
        tag = device.tags.get()
        device_actions.do_rename_tag(tag, "cellar")
        device_actions.do_delete_tag(tag)
        # commands
        command = command_actions.do_create_command(application, device, ALARM)
        command_actions.do_cancel(command)
        # subscriptions
        subscription = subscription_actions.do_subscribe(application, "deviceDataChanged", "http://127.0.0.1:9/cb")
        subscription_actions.do_delete_subscription(application, subscription.subscription_id)
        # upgrades
        package = upload(credentials)
        create_task(credentials, package, [device])
        # settings and secrets
        app_actions.do_update_settings(application, {"abnormal_after": 600, "offline_after": 1200})
        secret = app_actions.do_reset_secret(application)
        device_actions.do_delete_device(device)
    # logins: the northbound login names its actor itself (the address comes from the request, as here)
    with audit.acting_as(audit.ActorKind.ANONYMOUS, "", "192.0.2.6"):
        app_actions.do_login(credentials.app_id, secret, "192.0.2.6")

    events = {event.action: event for event in AuditEvent.objects.all()}
    expected = {
        "product.added", "codec.version_added", "product.mqtt_secret_reset", "device.registered",
        "device.modified", "device.key_refreshed", "command.created", "command.canceled", "subscription.saved",
        "subscription.deleted", "package.uploaded", "upgrade.created", "application.settings_changed",
        "application.secret_reset", "device.deleted", "group.created", "group.devices_added", "group.modified",
        "group.devices_removed", "group.deleted", "device.tags_set", "tag.renamed", "tag.deleted",
    }  # fmt: skip
    assert expected <= set(events), sorted(expected - set(events))
    for action in expected:
        event = events[action]
        assert (event.actor_kind, event.actor, event.address) == ("user", "auditor", "192.0.2.5"), action
        assert event.application_id == application.pk, action
    login = events["login.succeeded"]
    assert (login.actor_kind, login.actor, login.address) == ("application", credentials.app_id, "192.0.2.6")
