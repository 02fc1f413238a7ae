from __future__ import annotations

from subscriptions import payloads
from subscriptions.models import Subscription


def subscribe(credentials, receiver, notify_type: str = "deviceDataChanged", path: str = "/callback") -> Subscription:
    return Subscription.objects.create(
        application=credentials.application, notify_type=notify_type, callback_url=receiver.url(path)
    )


def data_changed(number: int = 0) -> dict:
    return payloads.device_data_changed(
        "dev-1", "dev-1", payloads.service("Meter", "Meter", {"reading": number}, "20260101T000000Z")
    )
