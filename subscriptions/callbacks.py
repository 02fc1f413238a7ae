"""Callback URL rules (F-6.1, F-6.3, F-6.7) and the address guard for pushes."""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class CallbackUrlError(ValueError):
    """A callback URL that breaks a rule; the message says which."""


class CallbackAddressRefused(CallbackUrlError):
    """A callback URL whose host is not a public address: a security event, audited."""


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
    if not allowed_host(host, port):
        raise CallbackAddressRefused(refusal(host))
    return CallbackUrl(url.strip(), scheme, host, port)


# NAT64's well-known prefix (RFC 6052) carries the IPv4 address in its last 32 bits; the local-use
# prefix (RFC 8215) places it where each operator chooses, so it is never treated as public.
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")


@dataclass(frozen=True)
class AllowedTarget:
    """One entry of PUSH_ALLOWED_TARGETS: a network and an optional port range."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    first_port: int = 1
    last_port: int = 65535

    def admits(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int | None) -> bool:
        if ip.version != self.network.version or ip not in self.network:
            return False
        return port is not None and self.first_port <= port <= self.last_port


def parse_allowed_targets(entries: list[str] | tuple[str, ...]) -> tuple[AllowedTarget, ...]:
    """`127.0.0.1:9000`, `[::1]:9000-9099`, `10.0.0.0/8`, `192.168.1.5` (every port when none is named)."""
    targets = []
    for entry in entries:
        match = re.fullmatch(
            r"\[(?P<v6>[^\]]+)\](?::(?P<p6>[\d-]+))?|(?P<v4>[^:]+)(?::(?P<p4>[\d-]+))?|(?P<bare>.+)", entry
        )
        network, ports = None, None
        if match:
            network = match["v6"] or match["v4"] or match["bare"]
            ports = match["p6"] or match["p4"]
        try:
            parsed = ipaddress.ip_network(network or "", strict=False)
            first, _, last = (ports or "1-65535").partition("-")
            first_port, last_port = int(first), int(last or first)
        except ValueError:
            raise ValueError(
                f"PUSH_ALLOWED_TARGETS: {entry!r} is not an address or network with an optional :port or "
                ":first-last port range (127.0.0.1:9000, [::1]:9000-9099, 10.0.0.0/8)"
            ) from None
        if not 1 <= first_port <= last_port <= 65535:
            raise ValueError(f"PUSH_ALLOWED_TARGETS: {entry!r} has a port range outside 1-65535")
        targets.append(AllowedTarget(parsed, first_port, last_port))
    return tuple(targets)


@functools.lru_cache(maxsize=8)
def _allowed_targets(entries: tuple[str, ...]) -> tuple[AllowedTarget, ...]:
    return parse_allowed_targets(entries)


def embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a v4-mapped (::ffff:a.b.c.d), 6to4 (2002::/16) or NAT64 (64:ff9b::/96) address reaches."""
    if ip.version == 4:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routable unicast. An IPv6 form that carries an IPv4 address is judged by that address.

    `is_global` also excludes what `is_private` misses, e.g. the shared range 100.64.0.0/10 where cloud
    metadata services live. Python calls some IPv6 forms global whatever IPv4 address they carry (which
    ones depends on its version), so ::ffff:10.0.0.1, 2002:a00:1:: and 64:ff9b::a00:1 are judged as
    10.0.0.1 here, and ::ffff:8.8.8.8 as 8.8.8.8.
    """
    if ip.version == 6 and ip in NAT64_LOCAL_USE:
        return False
    inner = embedded_ipv4(ip)
    if inner is not None:
        ip = inner
    return ip.is_global and not ip.is_multicast


def address_allowed(address: str, port: int | None = None) -> bool:
    """Public unicast addresses only, unless the operator allows private ones (all, or listed targets)."""
    if settings.PUSH_ALLOW_PRIVATE:
        return True
    ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    if is_public(ip):
        return True
    listed = _allowed_targets(tuple(settings.PUSH_ALLOWED_TARGETS))
    return any(target.admits(ip, port) or target.admits(embedded_ipv4(ip) or ip, port) for target in listed)


def allowed_host(host: str, port: int | None = None) -> bool:
    """True for domain names (checked when resolved, at delivery) and for allowed IP literals."""
    try:
        return address_allowed(host, port)
    except ValueError:
        return True


def refusal(host: str) -> str:
    """Why a callback address is refused, naming the settings that would allow it."""
    return (
        f"{host} is not a public address (private, loopback, link-local, shared or reserved); an operator can "
        "allow such callbacks with PUSH_ALLOWED_TARGETS (address:port) or PUSH_ALLOW_PRIVATE"
    )
