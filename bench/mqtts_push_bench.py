"""MQTTS push delivery: the outbox drained to an application's MQTT client over TLS, next to the same
outbox drained to an HTTP receiver (bench/push_bench.py's path) in the same run.

What it measures, all on 127.0.0.1:

1. HTTP (baseline): `subscriptions.delivery.deliver_target()` POSTing N pushes to a minimal
   keep-alive HTTP receiver, as a worker thread does;
2. MQTTS: N pushes of the same bodies waiting in the application's MQTTS target; a paho-mqtt client
   connects over TLS with its appId and secret and subscribes; the embedded broker
   (`ingress.mqtt.server.MqttServer`, in this process, its own event loop in a thread) claims,
   publishes with QoS 1, waits for the PUBACKs and records them. Timed from the SUBSCRIBE until every
   row is `delivered` in the database and the client has every message.

Run it:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_push REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/mqtts_push_bench.py [--pushes 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import push_bench  # the HTTP receiver, the database set-up and the bodies


def _certificate(folder: Path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert), str(private)


def fill_mqtts_outbox(application, count: int) -> None:
    from django.utils import timezone

    from subscriptions import mqtts, payloads
    from subscriptions.models import PushMessage

    target = mqtts.target_for(application)
    now = timezone.now()
    topic = mqtts.topic(application.app_id, "deviceDataChanged")
    PushMessage.objects.bulk_create(
        (
            PushMessage(application=application, target=target, notify_type="deviceDataChanged", url=topic,
                        body=payloads.encode(push_bench._body(number)), next_attempt_at=now, created_at=now)
            for number in range(count)
        ),
        batch_size=2000,
    )  # fmt: skip


def mqtts_drain(application, secret: str, tls_port: int, cert: str, count: int) -> float:
    import paho.mqtt.client as mqtt

    from subscriptions.models import PushMessage, PushState

    received = threading.Event()
    seen: list[int] = []

    def on_message(client, userdata, message) -> None:
        seen.append(1)
        if len(seen) >= count:
            received.set()

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=application.app_id, protocol=mqtt.MQTTv311, clean_session=True
    )
    client.username_pw_set(application.app_id, secret)
    client.tls_set(ca_certs=cert)
    client.on_message = on_message
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect("127.0.0.1", tls_port)
    client.loop_start()
    assert connected.wait(10), "no CONNACK"
    started = time.perf_counter()
    client.subscribe(f"/huawei/v1/apps/{application.app_id}/notify/#", qos=1)
    assert received.wait(600), f"received {len(seen)} of {count}"
    pending = PushMessage.objects.filter(application=application).exclude(state=PushState.DELIVERED)
    while pending.exists():  # the last PUBACKs' rows are recorded a moment after the client has them
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushes", type=int, default=3000)
    args = parser.parse_args()
    push_bench.setup_django(os.environ.get("DATABASE_URL", ""))
    from django.conf import settings

    from applications.actions import do_create_application
    from applications.models import Application
    from ingress.mqtt.server import MqttServer
    from portal.ports import free_port

    folder = Path(tempfile.mkdtemp(prefix="mqtts-bench-"))
    cert, key = _certificate(folder)
    loop = asyncio.new_event_loop()
    server = MqttServer(host="127.0.0.1", port=free_port(), tls_port=free_port(), certfile=cert, keyfile=key)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    receiver, port = push_bench.start_receiver()
    url = f"http://127.0.0.1:{port}/push"
    applications = []
    try:
        http_app, _ = do_create_application(f"bench http {uuid.uuid4().hex[:6]}")
        mqtts_app, secret = do_create_application(f"bench mqtts {uuid.uuid4().hex[:6]}")
        applications += [http_app.pk, mqtts_app.pk]
        push_bench.drain(push_bench.fill_outbox(http_app, url, settings.PUSH_CONCURRENCY))  # warm connections
        http_count, http_seconds = push_bench.drain(push_bench.fill_outbox(http_app, url, args.pushes))
        fill_mqtts_outbox(mqtts_app, args.pushes)
        mqtts_seconds = mqtts_drain(mqtts_app, secret, server.tls_port, cert, args.pushes)
    finally:
        receiver.terminate()
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        Application.objects.filter(pk__in=applications).delete()

    http_rate, mqtts_rate = http_count / http_seconds, args.pushes / mqtts_seconds
    print(f"push delivery, {args.pushes} pushes, batch {settings.PUSH_BATCH_SIZE}, "
          f"concurrency {settings.PUSH_CONCURRENCY}")  # fmt: skip
    print(f"{'scenario':<52} {'pushes/s':>10} {'vs HTTP':>8}")
    print(f"{'HTTP: outbox -> receiver (deliver_target, baseline)':<52} {http_rate:>10,.0f} {1:>8.2f}")
    print(f"{'MQTTS: outbox -> app client over TLS, QoS 1':<52} {mqtts_rate:>10,.0f} {mqtts_rate / http_rate:>8.2f}")
    return 0 if http_count == args.pushes else 1


if __name__ == "__main__":
    sys.exit(main())
