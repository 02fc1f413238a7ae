"""The client address of a request: the socket's peer, or a proxy's header only behind trusted proxies.

A header such as X-Forwarded-For is whatever the client wrote, unless a proxy we trust replaced or
appended to it. So the peer address counts, and the header is read only when the peer is one of
TRUSTED_PROXIES: then the rightmost address that is not itself a trusted proxy is the client.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=4)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip().strip('"')
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None
    return (ip.ipv4_mapped or ip) if ip.version == 6 else ip


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[Network, ...]) -> bool:
    return any(ip.version == network.version and ip in network for network in networks)


def client_address(request: HttpRequest) -> str:
    """The address a request came from, as a string ("" when the server gave none)."""
    peer = _parse(request.META.get("REMOTE_ADDR", "") or "")
    if peer is None:
        return ""
    networks = trusted_networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _trusted(peer, networks):
        return str(peer)
    header = request.META.get("HTTP_" + settings.TRUSTED_PROXY_HEADER.upper().replace("-", "_"), "")
    for item in reversed(header.split(",")):
        ip = _parse(item)
        if ip is None:
            break  # a malformed hop: trust nothing left of it
        if not _trusted(ip, networks):
            return str(ip)
        peer = ip
    return str(peer)
