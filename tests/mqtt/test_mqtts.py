"""MQTTS: the same device access over TLS with a test certificate (MQTTS_PORT, cert and key from settings)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devices.models import DataHistory
from portal.ports import free_port
from tests.mqtt.fixtures import DeviceClient, ServerThread, mqtt_device

pytestmark = pytest.mark.django_db(transaction=True)


def _self_signed(folder) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "mqtt.pem", folder / "mqtt.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_server(tmp_path, settings):
    cert, key = _self_signed(tmp_path)
    settings.MQTT_TLS_CERT_FILE, settings.MQTT_TLS_KEY_FILE = cert, key
    thread = ServerThread(tls_port=free_port()).start()
    yield thread, cert
    thread.stop()


def test_a_device_reports_over_mqtts(owner_app, tls_server):
    server, cert = tls_server
    device = mqtt_device(owner_app)
    client = DeviceClient(device, server.server.tls_port, tls={"ca_certs": cert})
    assert not client.connect().is_failure

    report = {"msgType": "deviceReq", "data": [{"serviceId": "WaterMeter", "serviceData": {"currentReading": "8"}}]}
    client.publish(client.topic("data", "json"), json.dumps(report))
    client.close()

    assert [row.data["currentReading"] for row in DataHistory.objects.filter(device_id=device.pk)] == ["8"]


def test_mqtts_refuses_a_client_that_does_not_trust_the_certificate(owner_app, tls_server, tmp_path_factory):
    server, _ = tls_server
    device = mqtt_device(owner_app)
    other, _ = _self_signed(tmp_path_factory.mktemp("other"))
    client = DeviceClient(device, server.server.tls_port, tls={"ca_certs": other})
    with pytest.raises(ssl.SSLCertVerificationError):
        client.client.connect("127.0.0.1", client.port)
