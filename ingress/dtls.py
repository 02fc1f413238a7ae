"""CoAPS: DTLS 1.2 with pre-shared keys, terminated with python-mbedtls, feeding plaintext CoAP into
the worker's aiocoap context as one more message interface.

aiocoap's own DTLS server (tinydtls) offers only TLS_PSK_WITH_AES_128_CCM_8, refuses clients without
the extended-master-secret and renegotiation-info extensions, and cannot send server-initiated
requests without patches (shared/reference/device-protocols.md). Mbed TLS offers both suites of F-1.3
(TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CBC_SHA256) and accepts older clients.

The identity is the device's nodeId, the key its psk (the registration's 8 to 32 hex digits, as the
bytes they spell). A handshake asks for the key synchronously, so handshake steps run in a thread,
where the database may be read; records of an established session are decrypted in the event loop
(a few microseconds each).

Spoofed floods: a ClientHello from an address with no state is answered statelessly. One "gate"
buffer of the interface's single mbedtls server context sends the HelloVerifyRequest (RFC 6347
4.2.1: a cookie, an HMAC of the client's address under the context's key) and keeps nothing; only a
ClientHello that returns a valid cookie, so comes from an address that receives our datagrams, gets
state: the gate that checked it becomes that peer's buffer, and a fresh gate takes its place. Peers
still handshaking are kept apart from established sessions and bounded (INGRESS_DTLS_MAX_HANDSHAKES
in all, INGRESS_DTLS_HANDSHAKES_PER_HOST per IP address, each dropped after
INGRESS_DTLS_HANDSHAKE_SECONDS), so a handshake flood never pushes an established session out;
established sessions are bounded by INGRESS_DTLS_MAX_PEERS (least recently heard dropped first) and
dropped after INGRESS_DTLS_IDLE_SECONDS of silence, after which the device handshakes again. Failed
handshakes and stray records are refused through `ingress.refusals` (counted, logged at most once
per source per interval).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from typing import Any

from aiocoap import interfaces
from aiocoap.message import Message
from aiocoap.numbers import constants
from django.conf import settings
from mbedtls import tls
from mbedtls.exceptions import TLSError

from ingress import aiocoap_adapter
from ingress.refusals import Refusals, source_of

log = logging.getLogger("ingress.dtls")

CIPHERS = ("TLS-PSK-WITH-AES-128-CCM-8", "TLS-PSK-WITH-AES-128-CBC-SHA256")


def clock() -> float:
    """Seconds for the idle and handshake timers (monotonic; tests replace it to move time)."""
    return time.monotonic()


class PskStore(Mapping[str, bytes]):
    """The keys a handshake may ask for: one lookup per identity. The store belongs to the interface's
    one server context; the identity that succeeded is noted for the handshake step running in this
    thread (`Peer.handshake_step` reads it)."""

    def __init__(self, lookup: Callable[[str], bytes | None]) -> None:
        self.lookup = lookup
        self.local = threading.local()

    def __getitem__(self, identity: str) -> bytes:
        key = self.lookup(identity)
        if key is None:
            raise KeyError(identity)
        self.local.identity = identity
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
        return self.peer.identity

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
    """One client's DTLS state: its mbedtls buffer (which already checked its cookie), the identity
    its handshake proved, and whether the handshake is over."""

    def __init__(self, address: tuple, buffer: tls.TLSWrappedBuffer, store: PskStore) -> None:
        self.address = address
        self.buffer = buffer
        self.store = store
        self.identity: str | None = None
        self.established = False
        self.failed = False
        self.started = self.last_heard = clock()
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
        self.store.local.identity = None
        try:
            out, state = run_handshake(self.buffer, data)
        finally:
            if self.store.local.identity is not None:
                self.identity = self.store.local.identity
        if state == "verify":  # a new ClientHello without the cookie: the client starts again
            self.buffer.setcookieparam(address_bytes(self.address))
        return out, state == "over"

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


def _is_client_hello(data: bytes) -> bool:
    """A handshake record of epoch 0 carrying a ClientHello (content type 22, handshake type 1)."""
    return len(data) > 25 and data[0] == 0x16 and data[3:5] == b"\x00\x00" and data[13] == 1


def address_bytes(address: tuple) -> bytes:
    """The client's transport address, which its cookie is bound to."""
    host, port = address[:2]
    return socket.inet_pton(socket.AF_INET6, host) + port.to_bytes(2, "big")


def _outgoing(buffer: tls.TLSWrappedBuffer) -> bytes:
    data = buffer.peek_outgoing(65536)
    if data:
        buffer.consume_outgoing(len(data))
    return data


def run_handshake(buffer: tls.TLSWrappedBuffer, data: bytes) -> tuple[bytes, str]:
    """Feed one datagram to a handshake and step it as far as it goes. Returns what to send and where
    it stopped: "verify" (a HelloVerifyRequest was made: mbedtls reset the buffer), "wait" (for the
    client) or "over". Raises TLSError when the handshake failed."""
    buffer.receive_from_network(data)
    sent = b""
    while True:
        try:
            buffer.do_handshake()
        except tls.WantReadError:
            return sent + _outgoing(buffer), "wait"
        except tls.WantWriteError:
            sent += _outgoing(buffer)
            continue
        except tls.HelloVerifyRequest:
            return sent + _outgoing(buffer), "verify"
        if buffer._handshake_state is tls.HandshakeStep.HANDSHAKE_OVER:
            return sent + _outgoing(buffer), "over"
        sent += _outgoing(buffer)


def server_context(store: PskStore) -> tls.ServerContext:
    """The interface's one mbedtls server context: both suites of F-1.3, DTLS 1.2, PSK only; its cookie
    key is shared by every buffer it wraps."""
    configuration = tls.DTLSConfiguration(
        ciphers=CIPHERS,
        pre_shared_key_store=store,
        validate_certificates=False,
        lowest_supported_version=tls.DTLSVersion.DTLSv1_2,
        highest_supported_version=tls.DTLSVersion.DTLSv1_2,
        anti_replay=True,
    )
    return tls.ServerContext(configuration)


class DTLSInterface(interfaces.MessageInterface, asyncio.DatagramProtocol):
    """aiocoap's view of the CoAPS socket: messages in (decrypted), messages out (encrypted)."""

    def __init__(
        self,
        manager: interfaces.MessageManager,
        lookup: Callable[[str], bytes | None],
        executor: Executor,
        refusals: Refusals | None = None,
    ) -> None:
        self._manager = manager
        self.lookup = lookup
        self.executor = executor
        self.refusals = refusals or Refusals(log)
        self.store = PskStore(lookup)
        self.context = server_context(self.store)
        self.gate = self.context.wrap_buffers()  # answers ClientHellos without a valid cookie, statelessly
        self.peers: collections.OrderedDict[tuple, Peer] = collections.OrderedDict()  # established
        self.handshaking: collections.OrderedDict[tuple, Peer] = collections.OrderedDict()  # cookie checked
        self.handshaking_per_host: collections.Counter[str] = collections.Counter()
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.handshakes = 0
        self.failures = 0
        self.verify_requests = 0

    @classmethod
    async def create(
        cls,
        manager: interfaces.MessageManager,
        *,
        host: str,
        port: int,
        lookup: Callable[[str], bytes | None],
        executor: Executor,
        refusals: Refusals | None = None,
    ) -> DTLSInterface:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, settings.INGRESS_RCVBUF)
        bind_host = host if ":" in host or host in ("", "::") else f"::ffff:{host}"
        sock.bind((bind_host or "::", port))
        interface = cls(manager, lookup, executor, refusals)
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
        peer = self.peers.get(address) or self.handshaking.get(address)
        if peer is not None and peer.established and _is_client_hello(data):
            # A new association from the address of an established one (the device restarted and kept
            # its port, RFC 6347 4.2.8): a new handshake, after the cookie exchange, replaces the session.
            self._admit(data, address)
            return
        if peer is None or (peer.failed and data[:1] == b"\x16"):
            if len(data) < 13 or data[0] != 0x16:  # only a handshake record may open a session
                self.refusals.refuse("dtls_record", source_of(address), f"{len(data)} bytes outside any session")
                return
            peer = self._admit(data, address)
            if peer is None:
                return
        if address in self.peers:
            self.peers.move_to_end(address)
        peer.last_heard = clock()
        if not peer.established:
            peer.inbox.append(data)
            if not peer.stepping:
                peer.stepping = True
                self.loop.create_task(self._handshake(peer))
            return
        try:
            records = peer.decrypt(data)
        except TLSError as problem:
            # A close_notify, or a new ClientHello from the same port (the device restarted): forget it.
            log.info("DTLS session with %s ended: %s", peer.address, problem)
            self.peers.pop(address, None)
            return
        for plaintext in records:
            self._received_plaintext(peer, plaintext)

    def _admit(self, data: bytes, address: tuple) -> Peer | None:
        """A handshake record from an address without a session: answer a ClientHello without a valid
        cookie with a HelloVerifyRequest and keep nothing; give a peer to one that has a valid cookie,
        within the bounds. Returns that peer, already past its ClientHello, or None."""
        host = source_of(address)
        self.gate.setcookieparam(address_bytes(address))
        try:
            out, state = run_handshake(self.gate, data)
        except TLSError as problem:
            self.gate = self.context.wrap_buffers()
            self.refusals.refuse("dtls_handshake", host, f"not a ClientHello mbedtls accepts: {problem}")
            return None
        if state == "verify":
            self.verify_requests += 1
            if self.transport is not None:
                self.transport.sendto(out, address)
            return None
        gate, self.gate = self.gate, self.context.wrap_buffers()
        if state != "wait" or not out:  # nothing a client's first flight would cause: drop what it left
            self.refusals.refuse("dtls_handshake", host, f"{len(data)} bytes that start no handshake")
            return None
        if len(self.handshaking) >= settings.INGRESS_DTLS_MAX_HANDSHAKES:
            self.refusals.refuse("dtls_flood", host, f"{len(self.handshaking)} handshakes under way already")
            return None
        if self.handshaking_per_host[host] >= settings.INGRESS_DTLS_HANDSHAKES_PER_HOST:
            self.refusals.refuse("dtls_flood", host, f"{self.handshaking_per_host[host]} handshakes from this host")
            return None
        # The cookie was valid: this address receives our datagrams. The gate goes on as its buffer.
        peer = Peer(address, gate, self.store)
        self.peers.pop(address, None)  # a device that restarted on the same port
        self.handshaking[address] = peer
        self.handshaking_per_host[host] += 1
        if self.transport is not None:
            self.transport.sendto(out, address)
        return None

    def _forget_handshake(self, peer: Peer) -> None:
        if self.handshaking.get(peer.address) is peer:
            del self.handshaking[peer.address]
            host = source_of(peer.address)
            self.handshaking_per_host[host] -= 1
            if self.handshaking_per_host[host] <= 0:
                del self.handshaking_per_host[host]

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
                    self.refusals.refuse("dtls_handshake", source_of(peer.address), f"handshake failed: {problem}")
                if out and self.transport is not None:
                    self.transport.sendto(out, peer.address)
                if peer.failed:
                    self._forget_handshake(peer)
                    return
                if done:
                    peer.established = True
                    peer.remote = DTLSAddress(self, peer)
                    self.handshakes += 1
                    self._forget_handshake(peer)
                    self.peers[peer.address] = peer
                    while len(self.peers) > settings.INGRESS_DTLS_MAX_PEERS:
                        self.peers.popitem(last=False)
            # Records that came right behind the handshake's last flight.
            while peer.established and peer.inbox:
                for plaintext in peer.decrypt(peer.inbox.popleft()):
                    self._received_plaintext(peer, plaintext)
        finally:
            peer.stepping = False

    def _received_plaintext(self, peer: Peer, plaintext: bytes) -> None:
        message = aiocoap_adapter.decode(plaintext, peer.remote, self.refusals, peer.address)
        if message is not None:
            self._manager.dispatch_message(message)

    async def _sweep(self) -> None:
        while True:
            shortest = min(settings.INGRESS_DTLS_IDLE_SECONDS, settings.INGRESS_DTLS_HANDSHAKE_SECONDS)
            await asyncio.sleep(max(1.0, shortest / 4))
            self.sweep()

    def sweep(self) -> None:
        """Drop sessions silent for INGRESS_DTLS_IDLE_SECONDS and handshakes older than
        INGRESS_DTLS_HANDSHAKE_SECONDS."""
        now = clock()
        horizon = now - settings.INGRESS_DTLS_IDLE_SECONDS
        for address in [address for address, peer in self.peers.items() if peer.last_heard < horizon]:
            self.peers.pop(address, None)
        started = now - settings.INGRESS_DTLS_HANDSHAKE_SECONDS
        for peer in [peer for peer in self.handshaking.values() if peer.started < started]:
            self._forget_handshake(peer)

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
        self.handshaking.clear()
        self.handshaking_per_host.clear()

    def end_session(self, remote: DTLSAddress) -> None:
        """Close an established session from our side (a close_notify alert) and forget it: the client's
        next record to this port starts a new handshake. The bootstrap session ends so after
        Bootstrap-Finish: a client that keeps one DTLS state per server address (Wakaama's tinydtls
        client) would otherwise send its registration, meant for a new session with its own PSK,
        through the bootstrap one."""
        peer = self.peers.get(remote.peer.address)
        if peer is None or peer is not remote.peer or not peer.established:
            return
        del self.peers[peer.address]
        try:
            peer.buffer.shutdown()
            alert = peer.outgoing()
        except TLSError as problem:
            log.info("DTLS session with %s: no close_notify (%s)", peer.address, problem)
            return
        if alert and self.transport is not None:
            self.transport.sendto(alert, peer.address)

    def session_for(self, host: str, port: int, identity: str) -> DTLSAddress | None:
        """The remote of an established session with this device, to send a downlink through."""
        mapped = host if ":" in host else f"::ffff:{host}"
        peer = self.peers.get((mapped, port))
        if peer is None or not peer.established or peer.identity != identity:
            return None
        return peer.remote
