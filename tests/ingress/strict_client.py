"""A strict LwM2M client of the tests' own, on aiocoap (a real CoAP stack, both ways), written to the OMA
specification rather than to the platform: object 19's resource 0 is multiple-instance (TS 1.1 appendix
E.19), so

- a plain opaque write of /19/1/0 is refused with 4.00, as conformant stacks refuse it;
- 1.0 takes a TLV write carrying the resource's instances; 1.1 also takes a write of the resource
  instance /19/1/0/0 (1.1 addresses resource instances in URIs, 1.0 does not: 4.04 there), once that
  instance exists (`downlink_instance=False`: 4.04 until a TLV write creates it, as Anjay answers);
- /19/0/0 is observable (aiocoap's own observation handling) and answers with its current value;
- an Execute of a resource that is not executable is 4.05.

Over CoAPS (`psk=(identity, key)`) aiocoap's datagrams, unchanged, go through `DtlsTunnel`: the
simulator's DTLS-PSK client side (python-mbedtls, ingress/simulator.py) carrying them, one CoAP datagram a
DTLS record, between a loopback socket aiocoap talks plain CoAP to and the platform's COAPS port. No DTLS
of aiocoap's own (it has tinydtls only, which the project does not install).
"""

from __future__ import annotations

import asyncio

import aiocoap
from aiocoap import Message, resource
from aiocoap.numbers import codes

from ingress.formats import MULTIPLE_RESOURCE, OPAQUE, RESOURCE_INSTANCE, TLV, FormatError, parse_tlv
from ingress.simulator import SimulatedDevice


class DtlsTunnel(SimulatedDevice):
    """A DTLS-PSK session with the server (the simulator's handshake and records) whose plaintext is
    the CoAP datagrams of a local CoAP stack: what that stack sends to `plain_address` goes to the
    server in a record; what the server sends is decrypted and handed to the stack as it came."""

    plain: asyncio.DatagramTransport | None = None
    stack: tuple | None = None  # the local stack's address, learnt from its first datagram

    async def open(self, local_port: int = 0) -> DtlsTunnel:
        loop = asyncio.get_running_loop()
        tunnel = self

        class Plain(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, address: tuple) -> None:
                tunnel.stack = address
                tunnel.send_datagram(data)

        self.plain, _ = await loop.create_datagram_endpoint(Plain, local_addr=("127.0.0.1", 0))
        return await super().open(local_port)  # the DTLS handshake

    @property
    def plain_address(self) -> tuple[str, int]:
        return self.plain.get_extra_info("sockname")[:2]

    def coap_received(self, data: bytes) -> None:
        if self.stack is not None:
            self.plain.sendto(data, self.stack)

    def close(self) -> None:
        super().close()
        if self.plain is not None:
            self.plain.close()


class Uplink(resource.ObservableResource):
    """/19/0/0: the value is the device's data; a new value notifies the platform."""

    def __init__(self, value: bytes) -> None:
        super().__init__()
        self.value = value
        self.observers = 0  # observations aiocoap holds: a reset to a notification ends one (RFC 7641 3.6)

    def update_observation_count(self, newcount: int) -> None:
        self.observers = newcount

    def set(self, value: bytes) -> None:
        self.value = value
        self.updated_state()

    async def render_get(self, request: Message) -> Message:
        return Message(payload=self.value, content_format=OPAQUE)


class Downlink(resource.Resource):
    """/19/1/0 (the resource) or /19/1/0/0 (its instance 0, `instance=True`)."""

    def __init__(self, client: StrictClient, *, instance: bool) -> None:
        super().__init__()
        self.client, self.instance = client, instance

    async def render_put(self, request: Message) -> Message:
        content_format = request.opt.content_format
        if self.instance:
            if self.client.version == "1.0":
                return Message(code=codes.NOT_FOUND, payload=b"1.0 has no resource instance URIs")
            if content_format not in (None, OPAQUE):
                return Message(code=codes.UNSUPPORTED_CONTENT_FORMAT)
            if not self.client.downlink_instance:
                return Message(code=codes.NOT_FOUND, payload=b"no resource instance 0 yet")
            return self.client.took(request.payload)
        if content_format != TLV:
            return Message(
                code=codes.BAD_REQUEST, payload=b"multiple resource, but the payload attempted to treat it as single"
            )
        try:
            (kind, identifier, instances), *rest = parse_tlv(request.payload)
        except (FormatError, ValueError):
            return Message(code=codes.BAD_REQUEST, payload=b"not TLV")
        if rest or kind != MULTIPLE_RESOURCE or identifier != 0:
            return Message(code=codes.BAD_REQUEST, payload=b"not resource 0")
        if not all(entry_kind == RESOURCE_INSTANCE for entry_kind, _, _ in instances):
            return Message(code=codes.BAD_REQUEST, payload=b"not resource instances")
        self.client.downlink_instance = True  # a write of the resource replaces its instances: 0 exists now
        return self.client.took(b"".join(value for _, _, value in instances))

    async def render_post(self, request: Message) -> Message:
        return Message(code=codes.METHOD_NOT_ALLOWED, payload=b"not executable")


class StrictClient:
    """Register with `start()` (again with `register()`), change /19/0/0 with `report()`, leave with
    `deregister()`; `written` holds every downlink value it took."""

    def __init__(
        self,
        endpoint: str,
        server: tuple[str, int],
        *,
        version: str = "1.1",
        value: bytes = b"",
        downlink_instance: bool = True,
        queue_mode: bool = False,
        psk: tuple[str, bytes] | None = None,
        cipher: str = "TLS-PSK-WITH-AES-128-CCM-8",
    ) -> None:
        self.endpoint, self.server, self.version = endpoint, server, version
        # CoAPS: `server` is the COAPS port; aiocoap talks to the tunnel's loopback socket (`peer`).
        self.psk, self.cipher = psk, cipher
        self.tunnel: DtlsTunnel | None = None
        self.peer = server
        self.queue_mode = queue_mode  # 1.0: binding UQ; 1.1: the Q parameter (TS 1.1 6.2.1)
        # Whether /19/1/0 holds resource instance 0: Anjay answers a write of /19/1/0/0 with 4.04 until it does.
        self.downlink_instance = downlink_instance
        self.uplink = Uplink(value)
        self.written: list[bytes] = []
        self.wrote = asyncio.Event()
        self.on_write = None
        self.location: tuple[str, ...] = ()

    def took(self, value: bytes) -> Message:
        self.written.append(value)
        self.wrote.set()
        if self.on_write is not None:
            self.on_write(value)
        return Message(code=codes.CHANGED)

    async def start(self) -> StrictClient:
        site = resource.Site()
        site.add_resource(("19", "0", "0"), self.uplink)
        site.add_resource(("19", "1", "0"), Downlink(self, instance=False))
        site.add_resource(("19", "1", "0", "0"), Downlink(self, instance=True))
        self.context = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", 0))
        if self.psk is not None:
            self.tunnel = await DtlsTunnel(self.endpoint, self.server, psk=self.psk, cipher=self.cipher).open()
            self.peer = self.tunnel.plain_address
        await self.register()
        return self

    async def register(self) -> None:
        """A Register (POST /rd): the first, or a new one that replaces the registration (not an Update)."""
        links = b'</>;rt="oma.lwm2m",</1/0>,</3/0>,</19/0>,</19/1>'
        request = Message(code=codes.POST, payload=links, content_format=40)
        binding = "b=U" if not self.queue_mode else ("b=UQ" if self.version == "1.0" else "b=U&Q")
        request.set_request_uri(
            f"coap://{self.peer[0]}:{self.peer[1]}/rd?ep={self.endpoint}&lt=300&lwm2m={self.version}&{binding}"
        )
        answer = await asyncio.wait_for(self.context.request(request).response, 20)
        if answer.code != codes.CREATED:
            raise AssertionError(f"registration answered {answer.code}: {answer.payload!r}")
        self.location = tuple(answer.opt.location_path)

    def report(self, value: bytes) -> None:
        self.uplink.set(value)

    async def update(self) -> Message:
        """A registration Update (POST /rd/<id>): a queue-mode client is awake for a while after it."""
        request = Message(code=codes.POST)
        request.set_request_uri(f"coap://{self.peer[0]}:{self.peer[1]}/{'/'.join(self.location)}")
        return await asyncio.wait_for(self.context.request(request).response, 20)

    async def deregister(self) -> Message:
        request = Message(code=codes.DELETE)
        request.set_request_uri(f"coap://{self.peer[0]}:{self.peer[1]}/{'/'.join(self.location)}")
        return await asyncio.wait_for(self.context.request(request).response, 20)

    @property
    def negotiated_cipher(self) -> str:
        """The DTLS cipher suite ("" over plain CoAP)."""
        return self.tunnel.negotiated_cipher if self.tunnel is not None else ""

    async def stop(self) -> None:
        await self.context.shutdown()
        if self.tunnel is not None:
            self.tunnel.close()
