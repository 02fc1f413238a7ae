"""Callback URL rules (F-6.1, F-6.3, F-6.7) and the address guard for pushes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class CallbackUrlError(ValueError):
    """A callback URL that breaks a rule; the message says which."""


@dataclass(frozen=True)
class CallbackUrl:
    url: str
    scheme: str
    host: str
    port: int

    @property
    def host_port(self) -> tuple[str, int]:
        return self.host, self.port


def parse_callback_url(url: str, *, https_only: bool = False) -> CallbackUrl:
    """Check the original's rules: scheme, host (IP or domain), explicit port and a path.

    `http://IP:PORT/path` and `http://IP:PORT/` are valid; `http://IP:PORT` and `http://IP/path` are not.
    """
    if not isinstance(url, str) or not url.strip():
        raise CallbackUrlError("the callback URL is empty")
    if len(url) > 1024:
        raise CallbackUrlError("the callback URL is longer than 1024 characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise CallbackUrlError(f"the callback URL is malformed ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise CallbackUrlError("the callback URL must start with http:// or https://")
    if https_only and scheme != "https":
        raise CallbackUrlError("this application pushes over HTTPS only: use an https:// callback URL")
    host = (parts.hostname or "").lower()
    if not host:
        raise CallbackUrlError("the callback URL has no host")
    if port is None:
        raise CallbackUrlError("the callback URL must name its port (http://host:port/path)")
    if not parts.path:
        raise CallbackUrlError("the callback URL must have a path, at least / (http://host:port/)")
    if parts.username or parts.password:
        raise CallbackUrlError("the callback URL must not carry a user name or password")
    if not allowed_host(host):
        raise CallbackUrlError(
            f"{host} is a private, loopback or link-local address; an operator can allow such "
            "callbacks with PUSH_ALLOW_PRIVATE"
        )
    return CallbackUrl(url.strip(), scheme, host, port)


def address_allowed(address: str) -> bool:
    """Public unicast addresses only, unless the operator allows private ones."""
    if settings.PUSH_ALLOW_PRIVATE:
        return True
    ip = ipaddress.ip_address(address)
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def allowed_host(host: str) -> bool:
    """True for domain names (checked when resolved, at delivery) and for allowed IP literals."""
    try:
        return address_allowed(host)
    except ValueError:
        return True
