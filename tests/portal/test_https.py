"""HTTPS on HTTPS_PORT with the original's two-way-TLS clients: their certificate is not checked."""

from __future__ import annotations

import datetime as dt
import ssl

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from portal.management.commands.run_web import build_configs
from portal.ports import free_port
from tests.applications.fixtures import create_app
from tests.conftest import LiveServer


def _certificate(common_name: str, issuer_key=None, issuer_name=None, *, ca: bool = False, san: str | None = None):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    certificate = builder.sign(issuer_key or key, hashes.SHA256())
    return key, certificate


def _write(folder, name, key, certificate):
    key_path, cert_path = folder / f"{name}.key", folder / f"{name}.pem"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(cert_path), str(key_path)


@pytest.fixture
def https_server(transactional_db, tmp_path):
    ca_key, ca_cert = _certificate("Platform test CA", ca=True)
    server_key, server_cert = _certificate("localhost", ca_key, ca_cert.subject, san="localhost")
    cert, key = _write(tmp_path, "server", server_key, server_cert)
    (tmp_path / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    configs = build_configs("127.0.0.1", free_port(), free_port(), cert, key, log_level="warning")
    server = LiveServer(configs[1]).start()
    yield server, tmp_path
    server.stop()


def test_web_process_adds_https_only_with_both_tls_files():
    assert len(build_configs("127.0.0.1", 1, 2, "", "")) == 1
    https = build_configs("127.0.0.1", 1, 2, "cert.pem", "key.pem")[1]
    assert https.port == 2
    assert https.ssl_cert_reqs == ssl.CERT_NONE


def test_client_with_a_certificate_from_an_unknown_ca_logs_in(https_server):
    server, folder = https_server
    credentials = create_app(login=False)
    # The client's own certificate comes from a CA the server has never seen.
    stranger_key, stranger_ca = _certificate("Unknown client CA", ca=True)
    client_key, client_cert = _certificate("app-server", stranger_key, stranger_ca.subject)
    cert, key = _write(folder, "client", client_key, client_cert)
    context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    context.load_cert_chain(cert, key)

    response = httpx.post(
        f"https://localhost:{server.port}/iocm/app/sec/v1.1.0/login",
        data={"appId": credentials.app_id, "secret": credentials.secret},
        verify=context,
    )

    assert response.status_code == 200
    assert response.json()["tokenType"] == "bearer"


def test_client_without_a_certificate_is_served_too(https_server):
    server, folder = https_server
    context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    assert httpx.get(f"https://localhost:{server.port}/livez", verify=context).text == "ok"


@pytest.fixture
def two_way_server(transactional_db, tmp_path, request):
    """HTTPS with TLS_CLIENT_CA_FILE: client certificates of that CA are verified (the original's
    two-way TLS); `request.param` is TLS_CLIENT_CERT_REQUIRED."""
    ca_key, ca_cert = _certificate("Platform test CA", ca=True)
    server_key, server_cert = _certificate("localhost", ca_key, ca_cert.subject, san="localhost")
    cert, key = _write(tmp_path, "server", server_key, server_cert)
    (tmp_path / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    client_ca_key, client_ca = _certificate("Application servers CA", ca=True)
    (tmp_path / "client-ca.pem").write_bytes(client_ca.public_bytes(serialization.Encoding.PEM))
    client_key, client_cert = _certificate("app-server", client_ca_key, client_ca.subject)
    _write(tmp_path, "client", client_key, client_cert)
    configs = build_configs(
        "127.0.0.1",
        free_port(),
        free_port(),
        cert,
        key,
        client_ca=str(tmp_path / "client-ca.pem"),
        client_cert_required=request.param,
        log_level="warning",
    )
    server = LiveServer(configs[1]).start()
    yield server, tmp_path
    server.stop()


def _context(folder, client: str | None):
    context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    if client:
        context.load_cert_chain(str(folder / f"{client}.pem"), str(folder / f"{client}.key"))
    return context


def _stranger(folder):
    stranger_key, stranger_ca = _certificate("Unknown client CA", ca=True)
    key, certificate = _certificate("intruder", stranger_key, stranger_ca.subject)
    _write(folder, "stranger", key, certificate)


@pytest.mark.parametrize("two_way_server", [True], indirect=True)
def test_two_way_tls_requires_a_certificate_of_the_configured_ca(two_way_server):
    server, folder = two_way_server
    credentials = create_app(login=False)
    url = f"https://localhost:{server.port}"
    login = httpx.post(
        f"{url}/iocm/app/sec/v1.1.0/login",
        data={"appId": credentials.app_id, "secret": credentials.secret},
        verify=_context(folder, "client"),
    )
    assert login.status_code == 200 and login.json()["tokenType"] == "bearer"
    _stranger(folder)
    for client in (None, "stranger"):  # no certificate, or one of another CA: the handshake fails
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            httpx.get(f"{url}/livez", verify=_context(folder, client))


@pytest.mark.parametrize("two_way_server", [False], indirect=True)
def test_two_way_tls_optional_verifies_a_certificate_when_sent(two_way_server):
    server, folder = two_way_server
    url = f"https://localhost:{server.port}"
    assert httpx.get(f"{url}/livez", verify=_context(folder, None)).text == "ok"
    assert httpx.get(f"{url}/livez", verify=_context(folder, "client")).text == "ok"
    _stranger(folder)
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        httpx.get(f"{url}/livez", verify=_context(folder, "stranger"))


def test_web_process_configures_two_way_tls_only_with_a_client_ca():
    https = build_configs("127.0.0.1", 1, 2, "cert.pem", "key.pem", client_ca="ca.pem")[1]
    assert (https.ssl_cert_reqs, https.ssl_ca_certs) == (ssl.CERT_REQUIRED, "ca.pem")
    optional = build_configs("127.0.0.1", 1, 2, "c", "k", client_ca="ca.pem", client_cert_required=False)[1]
    assert optional.ssl_cert_reqs == ssl.CERT_OPTIONAL
