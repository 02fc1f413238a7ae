"""CoAPS: DTLS 1.2 with pre-shared keys, terminated with python-mbedtls, feeding plaintext CoAP into
the worker's aiocoap context as one more message interface.

aiocoap's own DTLS server (tinydtls) offers only TLS_PSK_WITH_AES_128_CCM_8, refuses clients without
the extended-master-secret and renegotiation-info extensions, and cannot send server-initiated
requests without patches (shared/reference/device-protocols.md). Mbed TLS offers both suites of F-1.3
(TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CBC_SHA256) and accepts older clients.

The identity is the device's nodeId, the key its psk (the registration's 8 to 32 hex digits, as the
bytes they spell). A handshake asks for the key synchronously, so handshake steps run in a thread,
where the database may be read; records of an established session are decrypted in the event loop
(a few microseconds each). Each peer (address) has its own mbedtls context; peers are bounded in
number (least recently heard dropped first) and dropped after INGRESS_DTLS_IDLE_SECONDS of silence,
after which the device handshakes again.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from typing import Any

from aiocoap import error, interfaces
from aiocoap.message import Direction, Message
from aiocoap.numbers import constants
from django.conf import settings
from mbedtls import tls
from mbedtls.exceptions import TLSError

log = logging.getLogger("ingress.dtls")

CIPHERS = ("TLS-PSK-WITH-AES-128-CCM-8", "TLS-PSK-WITH-AES-128-CBC-SHA256")


class PskStore(Mapping[str, bytes]):
    """The keys a handshake may ask for: one lookup per identity, remembering which one succeeded."""

    def __init__(self, lookup: Callable[[str], bytes | None]) -> None:
        self.lookup = lookup
        self.identity: str | None = None

    def __getitem__(self, identity: str) -> bytes:
        key = self.lookup(identity)
        if key is None:
            raise KeyError(identity)
        self.identity = identity
        return key

    def __contains__(self, identity: object) -> bool:
        return isinstance(identity, str) and self.lookup(identity) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class DTLSAddress(interfaces.EndpointAddress):
    """A DTLS peer as aiocoap sees it: the remote of its messages, and where responses go."""

    is_multicast = False
    is_multicast_locally = False
    scheme = "coaps"
    maximum_block_size_exp = constants.MAX_REGULAR_BLOCK_SIZE_EXP

    def __init__(self, interface: DTLSInterface, peer: Peer) -> None:
        self.interface = interface
        self.peer = peer

    @property
    def sockaddr(self) -> tuple:
        return self.peer.address

    @property
    def identity(self) -> str | None:
        return self.peer.store.identity

    @property
    def hostinfo(self) -> str:
        host, port = self.peer.address[:2]
        host = host[7:] if host.startswith("::ffff:") else host
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    hostinfo_local = property(lambda self: f"[::]:{self.interface.port}")
    uri_base = property(lambda self: "coaps://" + self.hostinfo)
    uri_base_local = property(lambda self: "coaps://" + self.hostinfo_local)
    authenticated_claims = property(lambda self: [self.identity] if self.identity else [])
    blockwise_key = property(lambda self: (self.peer.address, self.identity))

    def as_response_address(self) -> DTLSAddress:
        return self

    def __repr__(self) -> str:
        return f"<DTLSAddress {self.hostinfo} identity={self.identity!r}>"


class Peer:
    """One client's DTLS state: its mbedtls buffer, its PSK store, and whether the handshake is over."""

    def __init__(self, address: tuple, lookup: Callable[[str], bytes | None]) -> None:
        self.address = address
        self.store = PskStore(lookup)
        configuration = tls.DTLSConfiguration(
            ciphers=CIPHERS,
            pre_shared_key_store=self.store,
            validate_certificates=False,
            lowest_supported_version=tls.DTLSVersion.DTLSv1_2,
            highest_supported_version=tls.DTLSVersion.DTLSv1_2,
            anti_replay=True,
        )
        self.buffer = tls.ServerContext(configuration).wrap_buffers()
        self.cookie = _address_bytes(address)
        self.buffer.setcookieparam(self.cookie)
        self.established = False
        self.failed = False
        self.last_heard = time.monotonic()
        self.inbox: collections.deque[bytes] = collections.deque()
        self.stepping = False
        self.remote: DTLSAddress | None = None

    def outgoing(self) -> bytes:
        data = self.buffer.peek_outgoing(65536)
        if data:
            self.buffer.consume_outgoing(len(data))
        return data

    def handshake_step(self, data: bytes) -> tuple[bytes, bool]:
        """Feed one datagram to the handshake (in a thread: it may look a key up). Returns what to send
        and whether the handshake is over."""
        self.buffer.receive_from_network(data)
        sent = b""
        while True:
            try:
                self.buffer.do_handshake()
            except tls.WantReadError:
                return sent + self.outgoing(), False
            except tls.WantWriteError:
                sent += self.outgoing()
                continue
            except tls.HelloVerifyRequest:
                # The cookie exchange: mbedtls reset the session; the client comes back with the cookie.
                out = self.outgoing()
                self.buffer.setcookieparam(self.cookie)
                return sent + out, False
            if self.buffer._handshake_state is tls.HandshakeStep.HANDSHAKE_OVER:
                return sent + self.outgoing(), True
            sent += self.outgoing()

    def decrypt(self, data: bytes) -> list[bytes]:
        """Plaintext records in one datagram of an established session (empty when it was not ours)."""
        self.buffer.receive_from_network(data)
        records = []
        while True:
            try:
                plaintext = self.buffer.read(65536)
            except tls.WantReadError:
                return records
            if not plaintext:
                return records
            records.append(plaintext)

    def encrypt(self, plaintext: bytes) -> bytes:
        self.buffer.write(plaintext)
        return self.outgoing()


def _address_bytes(address: tuple) -> bytes:
    host, port = address[:2]
    return socket.inet_pton(socket.AF_INET6, host) + port.to_bytes(2, "big")


class DTLSInterface(interfaces.MessageInterface, asyncio.DatagramProtocol):
    """aiocoap's view of the CoAPS socket: messages in (decrypted), messages out (encrypted)."""

    def __init__(self, manager: interfaces.MessageManager, lookup: Callable[[str], bytes | None], executor: Executor):
        self._manager = manager
        self.lookup = lookup
        self.executor = executor
        self.peers: collections.OrderedDict[tuple, Peer] = collections.OrderedDict()
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.handshakes = 0
        self.failures = 0

    @classmethod
    async def create(
        cls,
        manager: interfaces.MessageManager,
        *,
        host: str,
        port: int,
        lookup: Callable[[str], bytes | None],
        executor: Executor,
    ) -> DTLSInterface:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, settings.INGRESS_RCVBUF)
        bind_host = host if ":" in host or host in ("", "::") else f"::ffff:{host}"
        sock.bind((bind_host or "::", port))
        interface = cls(manager, lookup, executor)
        interface.port = sock.getsockname()[1]
        await loop.create_datagram_endpoint(lambda: interface, sock=sock)
        interface.loop = loop
        interface.sweeper = loop.create_task(interface._sweep())
        return interface

    # --- asyncio protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, address: tuple) -> None:
        address = address[:2]
        peer = self.peers.get(address)
        if peer is None or (peer.failed and data[:1] == b"\x16"):
            if len(data) < 13 or data[0] != 0x16:  # only a handshake record may open a session
                return
            peer = Peer(address, self.lookup)
            self.peers[address] = peer
            while len(self.peers) > settings.INGRESS_DTLS_MAX_PEERS:
                self.peers.popitem(last=False)
        self.peers.move_to_end(address)
        peer.last_heard = time.monotonic()
        if not peer.established:
            peer.inbox.append(data)
            if not peer.stepping:
                peer.stepping = True
                self.loop.create_task(self._handshake(peer))
            return
        try:
            records = peer.decrypt(data)
        except TLSError as problem:
            # A close_notify or a record that does not belong to the session: forget the peer.
            log.info("DTLS session with %s ended: %s", peer.address, problem)
            self.peers.pop(address, None)
            return
        for plaintext in records:
            self._received_plaintext(peer, plaintext)

    async def _handshake(self, peer: Peer) -> None:
        try:
            while peer.inbox and not peer.established:
                data = peer.inbox.popleft()
                try:
                    out, done = await self.loop.run_in_executor(self.executor, peer.handshake_step, data)
                except TLSError as problem:
                    self.failures += 1
                    peer.failed = True
                    out, done = peer.outgoing(), False  # the alert, if mbedtls made one
                    log.info("DTLS handshake with %s failed: %s", peer.address, problem)
                if out and self.transport is not None:
                    self.transport.sendto(out, peer.address)
                if peer.failed:
                    return
                if done:
                    peer.established = True
                    peer.remote = DTLSAddress(self, peer)
                    self.handshakes += 1
            # Records that came right behind the handshake's last flight.
            while peer.established and peer.inbox:
                for plaintext in peer.decrypt(peer.inbox.popleft()):
                    self._received_plaintext(peer, plaintext)
        finally:
            peer.stepping = False

    def _received_plaintext(self, peer: Peer, plaintext: bytes) -> None:
        try:
            message = Message.decode(plaintext, peer.remote)
        except error.UnparsableMessage:
            log.info("unparsable CoAP inside DTLS from %s", peer.address)
            return
        message.direction = Direction.INCOMING
        self._manager.dispatch_message(message)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, settings.INGRESS_DTLS_IDLE_SECONDS / 4))
            horizon = time.monotonic() - settings.INGRESS_DTLS_IDLE_SECONDS
            for address in [address for address, peer in self.peers.items() if peer.last_heard < horizon]:
                self.peers.pop(address, None)

    # --- aiocoap's MessageInterface ----------------------------------------------------------
    def send(self, message: Message) -> None:
        remote = message.remote
        if not isinstance(remote, DTLSAddress) or self.transport is None:
            return
        peer = self.peers.get(remote.peer.address)
        if peer is None or peer is not remote.peer or not peer.established:
            log.info("no DTLS session with %s any more: dropping %s", remote.peer.address, message)
            return
        self.transport.sendto(peer.encrypt(message.encode()), peer.address)

    async def recognize_remote(self, remote: Any) -> bool:
        return isinstance(remote, DTLSAddress) and remote.interface is self

    async def determine_remote(self, message: Message) -> None:
        return None  # we never initiate DTLS: devices open sessions, we answer and send inside them

    async def shutdown(self) -> None:
        self.sweeper.cancel()
        if self.transport is not None:
            self.transport.close()
        self.peers.clear()

    def session_for(self, host: str, port: int, identity: str) -> DTLSAddress | None:
        """The remote of an established session with this device, to send a downlink through."""
        mapped = host if ":" in host else f"::ffff:{host}"
        peer = self.peers.get((mapped, port))
        if peer is None or not peer.established or peer.store.identity != identity:
            return None
        return peer.remote
