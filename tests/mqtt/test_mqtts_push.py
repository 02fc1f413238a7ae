"""Pushes over MQTTS (subscriptions with channel=MQTTS): an application server's MQTT client over TLS
receives them through the real `run_mqtt` process and the real push worker, from the outbox."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys

import pytest
from django.db import transaction
from django.utils import timezone

from applications.redis import get_redis, key
from portal.env import BASE_DIR
from portal.ports import free_port
from subscriptions import actions, mqtts
from subscriptions.models import Channel, PushMessage, PushState, PushTarget, Subscription
from subscriptions.payloads import encode
from tests.applications.fixtures import create_app
from tests.conftest import database_url_for_tests
from tests.mqtt.fixtures import MqttClient, ServerThread, wait_for
from tests.mqtt.test_mqtts import _self_signed
from tests.subscriptions.fixtures import data_changed

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIPTIONS = "/iocm/app/sub/v1.2.0/subscriptions"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def platform(tmp_path):
    """`run_mqtt` with MQTTS on a free port and a Celery worker, both as real processes.

    Both keep the Redis key prefix of this process's environment, which its Celery client and channel
    layer use too, so the worker's wake-up reaches the broker process over the channel layer.
    """
    cert, key = _self_signed(tmp_path)
    port, tls_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "MQTT_TLS_CERT_FILE": cert,
        "MQTT_TLS_KEY_FILE": key,
        "LOG_LEVEL": "WARNING",
    }
    mqtt = subprocess.Popen(
        [sys.executable, "manage.py", "run_mqtt", "--port", str(port), "--tls-port", str(tls_port)],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "threads", "--concurrency", "2",
         "-l", "warning", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        assert f"MQTTS {tls_port}" in mqtt.stdout.readline()
        yield {"port": port, "tls_port": tls_port, "cert": cert}
    finally:
        _stop(worker)
        _stop(mqtt)


def _app_client(credentials, port: int, cert: str, *, secret: str | None = None, suffix: str = "") -> MqttClient:
    client_id = credentials.app_id + suffix
    return MqttClient(client_id, credentials.app_id, secret or credentials.secret, port, tls={"ca_certs": cert})


def _subscribe_mqtts(client, credentials, notify_type: str = "deviceDataChanged"):
    body = json.dumps({"notifyType": notify_type, "callbackUrl": "", "channel": "MQTTS"})
    response = client.post(SUBSCRIPTIONS, body, content_type="application/json", headers=credentials.headers())
    assert response.status_code == 201, response.content
    return response.json()


def _notify(credentials, number: int) -> PushMessage:
    # A target is woken at most once a second (beat's sweep, not running here, covers the rest).
    for target in PushTarget.objects.filter(application=credentials.application):
        assert wait_for(lambda target=target: not get_redis().exists(key("push", "wake", target.pk)), timeout=3)
    with transaction.atomic():  # committed: the wake-up goes to the real worker
        return actions.notify(credentials.application, "deviceDataChanged", data_changed(number))


def _received(client: MqttClient, timeout: float = 20):
    return client.messages.get(timeout=timeout)


def test_an_mqtts_subscriber_receives_pushes(client, platform):
    owner, other = create_app("Water utility"), create_app("Other utility")
    _subscribe_mqtts(client, owner)
    _subscribe_mqtts(client, other)
    topic = f"/huawei/v1/apps/{owner.app_id}/notify/deviceDataChanged"

    # given a push queued while the application server is offline: it waits in the outbox
    offline = _notify(owner, 1)
    assert offline.url == topic
    assert PushMessage.objects.get(pk=offline.pk).state == PushState.PENDING

    # when the application connects over MQTTS with its appId and secret and subscribes to its topics
    app_client = _app_client(owner, platform["tls_port"], platform["cert"])
    assert not app_client.connect().is_failure
    assert [code.value for code in app_client.subscribe(f"/huawei/v1/apps/{owner.app_id}/notify/#")] == [1]
    # and another application's client tries to read them
    spy = _app_client(other, platform["tls_port"], platform["cert"], suffix="_spy")
    assert not spy.connect().is_failure
    assert [code.value for code in spy.subscribe(f"/huawei/v1/apps/{owner.app_id}/notify/#")] == [0x80]
    assert [code.value for code in spy.subscribe("#")] == [0x80]
    assert [code.value for code in spy.subscribe(f"/huawei/v1/apps/{other.app_id}/notify/#")] == [1]

    # then the queued push arrives, QoS 1, with the HTTP push's exact body, and is delivered on PUBACK
    message = _received(app_client)
    assert (message.topic, message.qos, message.payload) == (topic, 1, encode(data_changed(1)))
    assert wait_for(lambda: PushMessage.objects.get(pk=offline.pk).state == PushState.DELIVERED)

    # and a push made now goes through the worker's wake-up to the broker process
    live = _notify(owner, 2)
    message = _received(app_client)
    assert (message.topic, message.payload) == (topic, encode(data_changed(2)))
    delivered = wait_for(lambda: PushMessage.objects.filter(pk=live.pk, state=PushState.DELIVERED).first())
    assert delivered.attempts == 1 and delivered.last_error == ""
    assert delivered.attempt_log.get().error == ""

    # the other application's client saw none of them; its own push reaches it
    mine = _notify(other, 3)
    message = _received(spy)
    assert (message.topic, message.payload) == (
        f"/huawei/v1/apps/{other.app_id}/notify/deviceDataChanged",
        encode(data_changed(3)),
    )
    assert wait_for(lambda: PushMessage.objects.get(pk=mine.pk).state == PushState.DELIVERED)
    assert spy.messages.empty() and app_client.messages.empty()
    app_client.close()
    spy.close()


def test_pushes_wait_for_a_reconnect_and_are_then_delivered(client, platform):
    owner = create_app()
    _subscribe_mqtts(client, owner)
    app_client = _app_client(owner, platform["tls_port"], platform["cert"])
    assert not app_client.connect().is_failure
    app_client.subscribe(f"/huawei/v1/apps/{owner.app_id}/notify/deviceDataChanged")
    assert wait_for(lambda: _held(owner))  # the broker holds the session (else the release below may precede it)
    app_client.close()
    # the broker has let the session go: nothing holds the application
    assert wait_for(lambda: not _held(owner))

    queued = [_notify(owner, number) for number in range(3)]
    # the worker's wake-up finds no session: the rows stay pending
    assert wait_for(lambda: PushMessage.objects.filter(state=PushState.PENDING).count() == 3)

    again = _app_client(owner, platform["tls_port"], platform["cert"], suffix="_2")
    assert not again.connect().is_failure
    again.subscribe(f"/huawei/v1/apps/{owner.app_id}/notify/+")
    bodies = {_received(again).payload for _ in queued}
    assert bodies == {encode(data_changed(number)) for number in range(3)}
    assert wait_for(lambda: PushMessage.objects.filter(state=PushState.DELIVERED).count() == 3)
    again.close()


def _held(credentials) -> bool:
    from django.conf import settings

    from portal import settings as started_with

    # the subprocesses use the prefix the settings module read from the environment (its default when
    # unset), not this test's: reading "" + name when unset, this was never true, so waits on it passed
    name = mqtts.owner_key(credentials.application.pk).removeprefix(settings.REDIS_KEY_PREFIX)
    return get_redis().get(started_with.REDIS_KEY_PREFIX + name) is not None


@pytest.fixture
def tls_thread(tmp_path, settings):
    cert, key = _self_signed(tmp_path)
    settings.MQTT_TLS_CERT_FILE, settings.MQTT_TLS_KEY_FILE = cert, key
    thread = ServerThread(tls_port=free_port()).start()
    yield thread, cert
    thread.stop()


def test_an_application_is_refused_a_wrong_secret_and_plain_mqtt(tls_thread):
    thread, cert = tls_thread
    owner = create_app()
    wrong = _app_client(owner, thread.server.tls_port, cert, secret="not-the-secret")
    assert wrong.connect().is_failure
    plain = MqttClient(owner.app_id, owner.app_id, owner.secret, thread.server.port)
    assert plain.connect().is_failure  # its secret never travels without TLS
    good = _app_client(owner, thread.server.tls_port, cert)
    assert not good.connect().is_failure
    # an application receives; it cannot publish, not even to its own topic or a device's
    good.publish(f"/huawei/v1/apps/{owner.app_id}/notify/deviceDataChanged", b"{}")
    assert thread.server.stats["refused_publish"] == 1
    for each in (wrong, plain, good):
        each.close()


def test_an_mqtts_push_without_puback_is_retried(tls_thread, settings):
    thread, cert = tls_thread
    settings.MQTT_ACK_TIMEOUT = 1
    owner = create_app()
    Subscription.objects.create(
        application=owner.application, notify_type="deviceDataChanged", callback_url="", channel=Channel.MQTTS
    )
    with transaction.atomic():
        message = actions.notify(owner.application, "deviceDataChanged", data_changed(5))
    silent = _app_client(owner, thread.server.tls_port, cert)
    silent.client.manual_ack_set(True)  # paho hands the PUBLISH over and sends no PUBACK until told to
    assert not silent.connect().is_failure
    silent.subscribe(f"/huawei/v1/apps/{owner.app_id}/notify/#")

    failed = wait_for(lambda: PushMessage.objects.filter(pk=message.pk, attempts=1).first())
    assert failed.state == PushState.PENDING  # retried later with the outbox's backoff
    assert "no PUBACK" in failed.last_error
    assert PushTarget.objects.get(pk=failed.target_id).channel == Channel.MQTTS
    assert silent.messages.get(timeout=5).payload == encode(data_changed(5))
    silent.close()


def test_pushes_delayed_while_the_application_was_away_go_as_soon_as_it_subscribes(client, platform):
    """A publish that failed under a closing session leaves its row waiting out a retry delay (minutes
    after a few attempts); the application's next subscription is what it waited for: delivered then."""
    owner = create_app()
    _subscribe_mqtts(client, owner)
    delayed = _notify(owner, 7)
    PushMessage.objects.filter(pk=delayed.pk).update(
        attempts=3, next_attempt_at=timezone.now() + dt.timedelta(hours=1), last_error="MQTT publish failed"
    )

    again = _app_client(owner, platform["tls_port"], platform["cert"])
    assert not again.connect().is_failure
    again.subscribe(f"/huawei/v1/apps/{owner.app_id}/notify/+")

    assert _received(again).payload == encode(data_changed(7))
    assert wait_for(lambda: PushMessage.objects.get(pk=delayed.pk).state == PushState.DELIVERED)
    again.close()
