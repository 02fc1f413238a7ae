"""Portal headers (issue 21, item 6): CSP on every page and no inline script in any, Secure cookies
under TLS, HSTS when configured, the websocket origin checked against the configured hosts always."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from portal.launcher import allowed_hosts_warning
from portal.security import origin_allowed
from tests.devices.fixtures import register, water_meter
from tests.portal.fixtures import create_personas

INLINE_HANDLER = re.compile(r"""<[^>]*\son[a-z]+\s*=""", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE)


@pytest.mark.django_db
def test_every_portal_page_has_the_policy_and_no_inline_script(client, no_wake):
    personas = create_personas()
    water_meter(personas.app)
    device = register(personas.app)
    client.force_login(personas.operator)
    pages = [
        "/", "/apps/", "/devices/", "/devices/register/", "/devices/bulk/", "/devices/groups/",
        f"/devices/{device.device_id}/", "/commands/", "/subscriptions/", "/firmware/packages/",
        "/firmware/tasks/", "/products/", "/accounts/", "/api/docs/", "/commands/simulator/", "/commands/tasks/",
        "/subscriptions/pushes/", "/subscriptions/debug/", "/ingress/simulator/",
    ]  # fmt: skip
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), (path, INLINE_SCRIPT.search(html).group(0))
        assert not INLINE_HANDLER.search(html), (path, INLINE_HANDLER.search(html).group(0))
    assert "Content-Security-Policy" in Client().get("/login/")


@pytest.fixture
def no_wake(monkeypatch):
    monkeypatch.setattr("subscriptions.actions.wake", lambda *args: None)


@pytest.mark.django_db
def test_cookies_are_secure_under_tls_only():
    personas = create_personas()
    for secure in (False, True):
        client = Client()
        response = client.post("/login/", {"username": personas.owner.username, "password": "correct horse 9"},
                               secure=secure)  # fmt: skip
        assert response.status_code == 302
        session = response.cookies[settings.SESSION_COOKIE_NAME]
        assert bool(session["secure"]) is secure
        assert session["httponly"]
        csrf = client.get("/devices/register/", secure=secure).cookies.get(settings.CSRF_COOKIE_NAME)
        if csrf is not None:
            assert bool(csrf["secure"]) is secure


@pytest.mark.django_db
def test_hsts_when_configured_and_only_over_tls(settings):
    assert "Strict-Transport-Security" not in Client().get("/login/", secure=True)  # default: none
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    client = Client()  # Django's SecurityMiddleware reads its settings once, when the handler is built
    assert client.get("/login/", secure=True)["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/login/")  # plain HTTP: browsers ignore it anyway


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_portals_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert client.get(response["Location"]).status_code == 200


# --- The websocket origin ---------------------------------------------------------------------------


def test_with_allowed_hosts_star_only_the_sockets_own_origin_passes(settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.CSRF_TRUSTED_ORIGINS = []
    assert origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert origin_allowed("https://portal.example", "portal.example", "wss")
    assert origin_allowed("https://portal.example", "portal.example:443", "wss")
    assert origin_allowed("http://[::1]:8000", "[::1]:8000")
    assert not origin_allowed("http://evil.example", "127.0.0.1:8000")
    assert not origin_allowed("http://127.0.0.1:9999", "127.0.0.1:8000")  # another port: another origin
    assert not origin_allowed("https://portal.example", "portal.example")  # http socket from an https page
    assert not origin_allowed("null", "127.0.0.1:8000")
    assert not origin_allowed("", "127.0.0.1:8000")
    assert not origin_allowed("file://", "127.0.0.1:8000")


def test_configured_hosts_and_trusted_origins_decide_otherwise(settings):
    settings.ALLOWED_HOSTS = ["portal.example", ".corp.example"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://proxy.example:8443"]
    assert origin_allowed("https://portal.example", "portal.example", "wss")
    assert origin_allowed("https://ops.corp.example", "portal.example", "wss")
    assert origin_allowed("https://proxy.example:8443", "portal.example", "wss")
    # DNS rebinding: evil.example resolving to the server sends Host evil.example; not a configured host
    assert not origin_allowed("http://evil.example", "evil.example")
    assert not origin_allowed("null", "portal.example")


def _socket(live_server, user, origin: str | None):
    client = Client()
    client.force_login(user)
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"}
    if origin is not None:
        headers["Origin"] = origin
    return connect(live_server.url.replace("http", "ws") + "/ws/events/", additional_headers=headers, open_timeout=5)


@pytest.mark.parametrize("origin", ["http://evil.example", "null", None])
def test_a_signed_in_cookie_from_another_origin_is_refused(live_server, origin):
    personas = create_personas()
    with pytest.raises(InvalidStatus) as refused:
        _socket(live_server, personas.owner, origin)
    assert refused.value.response.status_code == 403


def test_the_portals_own_origin_opens_the_socket(live_server):
    personas = create_personas()
    with _socket(live_server, personas.owner, live_server.url) as socket:
        socket.ping().wait(5)


# --- make run ---------------------------------------------------------------------------------------


def test_make_run_warns_about_allowed_hosts_star(monkeypatch):
    monkeypatch.delenv("ALLOWED_HOSTS", raising=False)
    assert "ALLOWED_HOSTS" in allowed_hosts_warning()
    monkeypatch.setenv("ALLOWED_HOSTS", "portal.example,*")
    assert allowed_hosts_warning()
    monkeypatch.setenv("ALLOWED_HOSTS", "portal.example")
    assert allowed_hosts_warning() is None
