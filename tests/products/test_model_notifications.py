"""deviceModelAdded and deviceModelDeleted reach the application that owns the profile."""

import json

import pytest

from products import actions
from products.validation import ProfileInvalid
from subscriptions.models import PushMessage, Subscription
from tests.applications.fixtures import create_app
from tests.products.fixtures import import_files, water_meter_files


@pytest.fixture
def subscribed(db, settings, monkeypatch):
    settings.PUSH_ALLOW_PRIVATE = True
    monkeypatch.setattr("subscriptions.actions.wake", lambda target_id: None)
    credentials = create_app()
    for notify_type in ("deviceModelAdded", "deviceModelDeleted"):
        Subscription.objects.create(
            application=credentials.application, notify_type=notify_type, callback_url="http://127.0.0.1:9/models"
        )
    return credentials


def _bodies(notify_type):
    return [json.loads(bytes(message.body)) for message in PushMessage.objects.filter(notify_type=notify_type)]


def test_importing_a_profile_notifies_device_model_added(subscribed):
    import_files(subscribed, water_meter_files())
    assert _bodies("deviceModelAdded") == [
        {
            "notifyType": "deviceModelAdded",
            "appId": subscribed.app_id,
            "deviceType": "WaterMeter",
            "manufacturerName": "Huawei",
            "manufacturerId": "Huawei",
            "model": "v1001",
            "protocolType": "CoAP",
        }
    ]


def test_deleting_it_notifies_device_model_deleted(subscribed):
    product = import_files(subscribed, water_meter_files())
    actions.do_delete_product(product)
    [body] = _bodies("deviceModelDeleted")
    assert (body["appId"], body["model"]) == (subscribed.app_id, "v1001")


def test_a_refused_profile_notifies_nothing(subscribed):
    files = water_meter_files()
    import_files(subscribed, files)
    with pytest.raises(ProfileInvalid):
        import_files(subscribed, files)
    assert len(_bodies("deviceModelAdded")) == 1
