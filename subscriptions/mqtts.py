"""Pushes over MQTTS: the push transport for subscriptions with `channel=MQTTS` (docs/northbound.md).

A push to an MQTTS subscription is an outbox row like any other (`PushMessage`), on the application's
one MQTTS target (`PushTarget` with channel MQTTS). The application server connects to the platform's
MQTT broker over TLS (`run_mqtt`, MQTTS_PORT) with its appId and secret and subscribes to its own
topic, `/huawei/v1/apps/{appId}/notify/{notifyType}` (or `…/notify/#`). The broker process holding that
session claims the rows with the outbox's lease, publishes each body with QoS 1 and records the
outcome: a row is delivered when the application's client sent its PUBACK, and stays pending (retried
with the outbox's backoff, expired after PUSH_MAX_AGE_SECONDS) until then. So a push queued while the
application is offline, or while the broker restarts, is sent when it subscribes again: at least once.

The worker's delivery task for an MQTTS target does not publish: it tells the broker process that
holds the application's session (its channel name in Redis) to deliver, over the channel layer.
This module is what both sides share; the broker side is ingress.mqtt.server (the layer above).
"""

from __future__ import annotations

import re

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import close_old_connections

from applications.models import Application
from applications.redis import get_redis, key
from subscriptions.models import Channel, PushTarget

TOPIC = "/huawei/v1/apps/{app_id}/notify/{notify_type}"
TOPIC_PREFIX = "/huawei/v1/apps/{app_id}/"
PUSH_MESSAGE = "push.mqtts"  # channel-layer message type: {"type", "application": pk}
CLIENT_ID = re.compile(r"^(?P<app_id>[^_/#+]+)(?:_[\x21-\x7e]{0,64})?$")


def topic(app_id: str, notify_type: str) -> str:
    """The topic a push of `notify_type` is published to."""
    return TOPIC.format(app_id=app_id, notify_type=notify_type)


def may_subscribe(app_id: str, topic_filter: str) -> bool:
    """An application subscribes only under its own prefix (wildcards after it cannot reach another's)."""
    return topic_filter.startswith(TOPIC_PREFIX.format(app_id=app_id))


def filter_matches(topic_filter: str, topic_name: str) -> bool:
    """MQTT 3.1.1 section 4.7 topic filter matching (`+` one level, `#` the rest)."""
    filter_levels, topic_levels = topic_filter.split("/"), topic_name.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels) or (level != "+" and level != topic_levels[index]):
            return False
    return len(filter_levels) == len(topic_levels)


def owner_key(application_pk: int) -> str:
    """Redis: the channel name of the MQTT process holding the application's subscribed session."""
    return key("push", "mqtts", "owner", application_pk)


def target_for(application: Application) -> PushTarget:
    """The application's one MQTTS target (host "" and port 0)."""
    target, _ = PushTarget.objects.get_or_create(application=application, channel=Channel.MQTTS, host="", port=0)
    return target


def wake_broker(application_pk: int) -> bool:
    """Ask the broker process holding the application's session to deliver its due pushes.

    False when no process holds one: the rows wait (pending) until the application subscribes.
    """
    channel = get_redis().get(owner_key(application_pk))
    layer = get_channel_layer()
    if channel is None or layer is None:
        return False
    async_to_sync(layer.send)(channel.decode(), {"type": PUSH_MESSAGE, "application": application_pk})
    return True


def authenticate(client_id: str, username: str, secret: str) -> Application | None:
    """The application a client connects as: client id `{appId}` or `{appId}_{anything}`, user name the
    appId, password its secret. None when the client id and user name do not name an application (then
    it is not an application's connection); `PermissionError` naming why when they do and it is refused.
    Runs in a thread (ORM)."""
    match = CLIENT_ID.match(client_id or "")
    if match is None or match["app_id"] != username:
        return None
    try:
        application = Application.objects.filter(app_id=username).first()
        if application is None:
            return None
        if not application.is_active:
            raise PermissionError(f"application {username} is not active")
        if not application.check_secret(secret or ""):
            raise PermissionError("wrong secret for the appId")
        return application
    finally:
        close_old_connections()
