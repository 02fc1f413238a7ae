"""HTTPS callbacks (F-6.3): the application's uploaded PEM chain is the trust store."""

from __future__ import annotations

import ssl

import pytest
from cryptography.hazmat.primitives import serialization

from applications.models import Application
from subscriptions import actions
from subscriptions.delivery import deliver_target
from subscriptions.models import PushState
from tests.portal.test_https import _certificate, _write
from tests.subscriptions.fixtures import data_changed, subscribe
from tests.subscriptions.receiver import Receiver


@pytest.fixture
def tls_receiver(tmp_path):
    ca_key, ca_cert = _certificate("Receiver CA", ca=True)
    key, cert = _certificate("localhost", ca_key, ca_cert.subject, san="localhost")
    cert_path, key_path = _write(tmp_path, "receiver", key, cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = Receiver().start(context)
    server.ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    yield server
    server.stop()


def _push_over_https(credentials, receiver, chain: str):
    Application.objects.filter(pk=credentials.application.pk).update(push_ca_chain=chain, push_protocol="HTTPS")
    credentials.application.refresh_from_db()
    subscription = subscribe(credentials, receiver)
    subscription.callback_url = f"https://localhost:{receiver.port}/callback"
    subscription.save()
    message = actions.notify(credentials.application, "deviceDataChanged", data_changed())
    deliver_target(message.target_id)
    message.refresh_from_db()
    return message


def test_uploaded_chain_trusts_the_receiver(owner_app, tls_receiver, no_wake):
    message = _push_over_https(owner_app, tls_receiver, tls_receiver.ca_pem)
    assert message.state == PushState.DELIVERED
    assert len(tls_receiver.received) == 1


def test_a_wrong_chain_is_reported_as_a_certificate_error(owner_app, tls_receiver, no_wake):
    _, other_ca = _certificate("Some other CA", ca=True)
    message = _push_over_https(owner_app, tls_receiver, other_ca.public_bytes(serialization.Encoding.PEM).decode())
    assert message.state == PushState.PENDING
    assert message.last_error.startswith("certificate error")
    assert tls_receiver.received == []


def test_without_a_chain_the_system_trust_store_decides(owner_app, tls_receiver, no_wake):
    message = _push_over_https(owner_app, tls_receiver, "")
    assert message.last_error.startswith("certificate error")
