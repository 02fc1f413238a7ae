"""Where the ingress reaches into aiocoap 0.4.17's internals to refuse malformed datagrams quietly.

aiocoap's UDP transport (`MessageInterfaceUDP6.datagram_msg_received`) catches only
`UnparsableMessage` around `Message.decode`, and logs each at WARNING. An option value that does not
decode (`40 01 00 01 b1 ff`: a Uri-Path that is not UTF-8) raises `UnicodeDecodeError` instead, which
escapes into asyncio's exception handler: a 24-line traceback per datagram. `guard_udp6` replaces the
method on the worker's interface with one that decodes through `decode()` below (every decoding failure
refused through `ingress.refusals`, counted and logged at most once per source per interval) and then
does what aiocoap's does. `decode()` serves the DTLS interface's plaintext too.
"""

from __future__ import annotations

import socket
from importlib.metadata import version
from typing import Any

from aiocoap import error
from aiocoap.message import Direction, Message
from aiocoap.transports.udp6 import MessageInterfaceUDP6, UDP6EndpointAddress

from ingress.refusals import Refusals, source_of

SUPPORTED = "0.4.17"
if version("aiocoap") != SUPPORTED:  # the replaced method copies this version's; check it on an upgrade
    raise ImportError(f"ingress.aiocoap_adapter is written for aiocoap {SUPPORTED}, not {version('aiocoap')}")


def decode(data: bytes, remote: Any, refusals: Refusals, address: Any) -> Message | None:
    """The CoAP message in `data`, or None (refused, counted, maybe logged) when it is not one."""
    try:
        message = Message.decode(data, remote)
    except error.UnparsableMessage as problem:
        refusals.refuse("coap_unparsable", source_of(address), f"{problem} ({_excerpt(data)})")
        return None
    except (ValueError, TypeError, LookupError) as problem:  # UnicodeDecodeError is a ValueError
        reason = f"an option does not decode: {type(problem).__name__}: {problem} ({_excerpt(data)})"
        refusals.refuse("coap_option", source_of(address), reason)
        return None
    message.direction = Direction.INCOMING
    return message


def guard_udp6(interface: MessageInterfaceUDP6, refusals: Refusals) -> None:
    """Make the interface refuse malformed datagrams through `refusals` instead of raising."""
    if not isinstance(interface, MessageInterfaceUDP6):
        raise TypeError(f"not aiocoap's UDP6 interface: {interface!r}")

    def datagram_msg_received(data: bytes, ancdata: list, flags: int, address: tuple) -> None:
        pktinfo = None
        for cmsg_level, cmsg_type, cmsg_data in ancdata:
            if cmsg_level == socket.IPPROTO_IPV6 and cmsg_type == socket.IPV6_PKTINFO:
                pktinfo = cmsg_data
        message = decode(data, UDP6EndpointAddress(address, interface, pktinfo=pktinfo), refusals, address)
        if message is None:
            return
        try:
            interface._ctx.dispatch_message(message)
        except Exception as problem:
            # Our handling failed on a message that decoded: a bug, worth its traceback (once per interval).
            refusals.refuse("coap_dispatch", source_of(address), repr(problem), traceback=problem)

    interface.datagram_msg_received = datagram_msg_received  # type: ignore[method-assign]


def _excerpt(data: bytes, limit: int = 32) -> str:
    shown = data[:limit].hex(" ")
    return f"{len(data)} bytes: {shown}" + (" ..." if len(data) > limit else "")
