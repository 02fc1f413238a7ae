"""A simulated LwM2M (or Huawei t/r) device over raw UDP: what `simulate_devices`, the portal's device
simulator page, the tests and the bench drive the platform with.

It speaks just enough CoAP to be a module: it registers, accepts the platform's observe of /19/0/0
(or /t/d), sends uplinks as notifications on that observation (confirmable or not, with a message id
it chooses, so retransmissions can be simulated), and records what the platform sends it on /19/1/0
(or /t/d): commands and the codec's cloudRsp ACKs, which it acknowledges with 2.04. Messages are built
and parsed with aiocoap's Message class; the socket and the timing are ours.

With `firmware=True` it also has LwM2M object 5 (Firmware Update) and /3/0/3 (firmware version):
State and Update Result observable, the Package URI (pull: it fetches the package from the platform
with Block2, resuming from the block it recorded), the Package written block-wise (push, Block1),
Update; `fw_outcome` chooses how it ends (success, integrity, update_failed) and
`fw_interrupt_after` loses the connection after that many blocks (Update Result 4), keeping what it
has for the next attempt (F-7.9). `PcpClient` adds Huawei's PCP (software upgrades) on the data
channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiocoap import Message
from aiocoap.numbers import codes
from aiocoap.numbers.types import ACK, CON, NON, RST
from aiocoap.optiontypes import BlockOption

from firmware import pcp
from ingress.formats import (
    LINK_FORMAT,
    MULTIPLE_RESOURCE,
    OPAQUE,
    SENML_JSON,
    TEXT,
    TLV,
    encode_tlv_instance,
    encode_tlv_resource,
    parse_tlv,
)

BLOCK_SZX = 6  # 1,024-byte blocks for what does not fit one datagram (RFC 7959)
BLOCK_SIZE = 2 ** (BLOCK_SZX + 4)


# A standard client's IPSO sensors and Device resources (SimulatedDevice.standard_values).
STANDARD_VALUES: dict[str, Any] = {
    "/3/0/0": "Simulated Sensors",
    "/3/0/9": 90,
    "/3303/0/5700": 21.5,
    "/3303/0/5701": "Cel",
    "/3304/0/5700": 45.0,
    "/3316/0/5700": 3.3,
}


def _senml_label(value: Any) -> str:
    """A SenML record's value label for a standard value: vb (boolean), v (number) or vs (text)."""
    if isinstance(value, bool):
        return "vb"
    return "v" if isinstance(value, int | float) else "vs"


class DeviceError(Exception):
    """The platform refused or did not answer."""


@dataclass
class Received:
    """A request the platform sent to the device."""

    path: str
    method: str
    payload: bytes
    confirmable: bool
    at: float


@dataclass
class SubDevice:
    """An end device behind a simulated LwM2M gateway: an instance of its object 25 (Device ID = nodeId,
    Prefix), with /3/0 (Manufacturer, Model Number) and /19 under its prefix."""

    node_id: str
    prefix: str
    manufacturer: str = "Huawei"
    model: str = "v1001"
    objects: str = "</3/0>,</19/0>,</19/1>"
    observe_token: bytes | None = None
    observe_sequence: int = 2
    observed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class SimulatedDevice(asyncio.DatagramProtocol):
    endpoint: str
    server: tuple[str, int]
    lwm2m: bool = True  # False: the Huawei t/r + t/d channel
    # "huawei": a Huawei module (opaque writes to /19/1/0, lwm2m=1.0); "1.0" or "1.1": a client that follows
    # the OMA specification: /19/x/0 is a multiple-instance resource, so a plain opaque write to it is
    # refused (4.00) as conformant stacks do; 1.0 takes a TLV write of the resource, 1.1 also a write of
    # the resource instance /19/1/0/0; an Execute of /19/1/0 is refused (4.05). docs/lwm2m.md
    client: str = "huawei"
    current_value: bytes = b""  # /19/0/0's value, answered to the observe request (its first notification)
    lifetime: int = 300
    binding: str = "U"
    timeout: float = 2.0  # wait for an answer before retransmitting
    retransmits: int = 3
    refuse_observe: bool = False
    answer_observe: bool = True  # False: takes the observe's token but does not answer the GET (yet)
    asleep: bool = False  # drops whatever arrives, as a module in PSM
    dropped: list[bytes] = field(default_factory=list)  # datagrams that arrived while asleep
    psk: tuple[str, bytes] | None = None  # (identity, key): CoAPS, the server being the COAPS port
    cipher: str = "TLS-PSK-WITH-AES-128-CCM-8"
    local_host: str = "127.0.0.1"  # the address it sends from (a multi-node test's client namespace has its own)
    _tls: Any = None
    _handshake: asyncio.Queue | None = None
    location: str = ""
    observe_token: bytes | None = None
    observe_sequence: int = 2
    received: list[Received] = field(default_factory=list)
    resets: int = 0
    observed: asyncio.Event = field(default_factory=asyncio.Event)
    observe_requested: asyncio.Event = field(default_factory=asyncio.Event)
    downlink: asyncio.Event = field(default_factory=asyncio.Event)
    transport: asyncio.DatagramTransport | None = None
    _waiting: dict[int, asyncio.Future] = field(default_factory=dict)
    _separate: dict[bytes, asyncio.Future] = field(default_factory=dict)
    _mid: int = field(default_factory=lambda: random.randint(0, 0xFFFF))
    on_downlink: Callable[[bytes], None] | None = None  # called with each payload on /19/1/0 (or /t/d)
    on_sub_downlink: Callable[[SubDevice, bytes], None] | None = None  # ... on a sub-device's /{prefix}/19/1/0
    # LwM2M object 5 (Firmware Update) and /3/0/3
    firmware: bool = False
    firmware_version: str = "V1.0"
    fw_delivery: int | None = 2  # /5/0/9: 0 pull, 1 push, 2 both; None: no such resource (4.04)
    fw_outcome: str = "success"  # success | integrity | update_failed
    fw_next_version: str = "V1.1"
    fw_interrupt_after: int | None = None  # pull: connection lost after this many blocks (once)
    fw_block_szx: int = 6  # Block2 size the device asks for: 2**(4+szx)
    fw_reboot: bool = False  # installs by rebooting: observations lost, registers again from a new port
    fw_state: int = 0
    fw_result: int = 0
    fw_uri: str = ""
    fw_package: bytearray = field(default_factory=bytearray)
    fw_installed: bytes = b""  # the package of the last successful update
    fw_blocks: list[int] = field(default_factory=list)  # block numbers fetched (pull) or written (push)
    fw_ended: asyncio.Event = field(default_factory=asyncio.Event)
    _fw_observers: dict[str, bytes] = field(default_factory=dict)
    _fw_task: Any = None
    # An LwM2M gateway (object 25): the end devices behind it, by prefix; its registration lists </25/n>.
    sub_devices: list[SubDevice] = field(default_factory=list)
    object_25_format: int = TLV  # how /25 and /{prefix}/3/0 are answered: TLV or SenML JSON (110)
    # LwM2M bootstrap (ingress.lwm2m_bootstrap): what the bootstrap server wrote (/0, /1), and its Finish.
    bootstrap_writes: dict[str, bytes] = field(default_factory=dict)
    # ... and the instances of /0 and /1 the device holds, instance -> ssid (None: the bootstrap account, a
    # Security instance without one), listed to Bootstrap-Discover (GET /0, /1, Accept link format) as a
    # 1.1 client lists them and updated by the writes; None: Discover answered 4.05 (a 1.0 client).
    bootstrap_instances: dict[int, dict[int, int | None]] | None = field(default_factory=lambda: {0: {0: None}, 1: {}})
    # Standard objects (docs/lwm2m-objects.md): {"/3303/0/5700": 21.5, ...} served as text, observable per
    # path (a composite FETCH is refused with 4.05, so the platform falls back), Write-Attributes recorded,
    # /3/0/4 (reboot) and /3/0/5 (factory reset) executable; `STANDARD_VALUES` is a device with IPSO sensors.
    standard_values: dict[str, Any] = field(default_factory=dict)
    standard_tokens: dict[str, bytes] = field(default_factory=dict)
    standard_attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    bootstrapped: asyncio.Event = field(default_factory=asyncio.Event)
    session_closed: asyncio.Event = field(default_factory=asyncio.Event)  # the server ended the DTLS session

    # --- socket -----------------------------------------------------------------------------------
    async def open(self, local_port: int = 0) -> SimulatedDevice:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(self.local_host, local_port))
        if self.psk is not None:
            await self._dtls_handshake()
        return self

    async def _dtls_handshake(self) -> None:
        """DTLS 1.2 with a pre-shared key, as a module's modem does before its first CoAP message."""
        from mbedtls import tls

        identity, key = self.psk
        configuration = tls.DTLSConfiguration(
            pre_shared_key=(identity, key),
            ciphers=(self.cipher,),
            validate_certificates=False,
            lowest_supported_version=tls.DTLSVersion.DTLSv1_2,
            highest_supported_version=tls.DTLSVersion.DTLSv1_2,
        )
        self._tls = tls.ClientContext(configuration).wrap_buffers(None)
        self._handshake = asyncio.Queue()
        deadline = time.monotonic() + 4 * self.timeout
        while self._tls._handshake_state is not tls.HandshakeStep.HANDSHAKE_OVER:
            try:
                self._tls.do_handshake()
            except tls.WantReadError:
                self._flush_tls()
                try:
                    data = await asyncio.wait_for(self._handshake.get(), timeout=max(0.01, deadline - time.monotonic()))
                except TimeoutError:
                    raise DeviceError(f"DTLS handshake with {self.server} timed out") from None
                self._tls.receive_from_network(data)
            except tls.WantWriteError:
                self._flush_tls()
        self._flush_tls()
        self._handshake = None

    @property
    def negotiated_cipher(self) -> str:
        """The cipher suite the DTLS handshake settled on ("" over plain CoAP)."""
        if self._tls is None:
            return ""
        cipher = self._tls.cipher()  # python-mbedtls: (name, version, bits)
        return str(cipher[0] if isinstance(cipher, tuple) else cipher)

    def _flush_tls(self) -> None:
        data = self._tls.peek_outgoing(65536)
        if data:
            self._tls.consume_outgoing(len(data))
            self.transport.sendto(data, self.server)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    @property
    def local_port(self) -> int:
        return self.transport.get_extra_info("sockname")[1]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def handshake_again(self, psk: tuple[str, bytes]) -> None:
        """A new DTLS session with another identity from the same port (Wakaama's client after bootstrap)."""
        self.psk, self._tls = psk, None
        self.session_closed.clear()
        await self._dtls_handshake()

    async def move(self) -> None:
        """Continue from a new source port (as lwm2m-node-lib does on update, or after a NAT rebind)."""
        self.close()
        await self.open()

    def next_mid(self) -> int:
        self._mid = (self._mid + 1) & 0xFFFF
        return self._mid

    def send(self, message: Message, address: tuple[str, int] | None = None) -> None:
        self.send_datagram(message.encode(), address)

    def send_datagram(self, data: bytes, address: tuple[str, int] | None = None) -> None:
        """One CoAP datagram to the server: in a DTLS record over CoAPS."""
        if self._tls is not None:
            self._tls.write(data)
            self._flush_tls()
            return
        self.transport.sendto(data, address or self.server)

    def datagram_received(self, data: bytes, address: tuple) -> None:
        if self.asleep:
            self.dropped.append(data)
            return
        if self._handshake is not None:
            self._handshake.put_nowait(data)
            return
        if self._tls is not None:
            from mbedtls import tls

            try:
                self._tls.receive_from_network(data)
                data = self._tls.read(65536)
            except tls.WantReadError:
                return
            except Exception:  # the server's close_notify (python-mbedtls raises it as an error)
                self.session_closed.set()
                return
            if not data:
                self.session_closed.set()
                return
        self.coap_received(data)

    def coap_received(self, data: bytes) -> None:
        """One CoAP datagram from the server (decrypted over CoAPS)."""
        try:
            message = Message.decode(data)
        except Exception:
            return
        if message.mtype in (ACK, RST):
            if message.mtype is RST:
                self.resets += 1
            waiter = self._waiting.pop(message.mid, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            return
        if message.code.is_request():
            self._serve(message)
        elif message.code.is_response():
            # A separate response (RFC 7252 5.2.2): the server acknowledged first, answers now.
            waiter = self._separate.pop(message.token, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            if message.mtype is CON:
                ack = Message(code=codes.EMPTY)
                ack.mtype, ack.mid = ACK, message.mid  # set after construction: aiocoap deprecates the arguments
                self.send(ack)

    def _serve(self, request: Message) -> None:
        path = "/" + "/".join(request.opt.uri_path)
        uplink_path = "/19/0/0" if self.lwm2m else "/t/d"
        answer = Message(code=codes.NOT_FOUND)
        sub = self._sub_device(path)
        if self.firmware and (path.startswith("/5/0/") or path == "/3/0/3"):
            answer = self._serve_firmware(request, path)
        elif self.sub_devices and (path == "/25" or sub is not None):
            answer = self._serve_gateway(request, path, sub)
            if answer is None:
                return
        elif request.code == codes.GET and path == uplink_path and request.opt.observe == 0:
            self.observe_requested.set()
            if not self.answer_observe:
                self.observe_token = request.token
                self.observed.set()
                return
            if self.refuse_observe:
                answer = Message(code=codes.NOT_FOUND)
            else:
                self.observe_token = request.token
                answer = Message(
                    code=codes.CONTENT, observe=self.observe_sequence, content_format=OPAQUE, payload=self.current_value
                )
                self.observed.set()
        elif self.standard_values and (
            path in self.standard_values or path in ("/", "/3/0/4", "/3/0/5") or self._standard_instance(path)
        ):
            answer = self._serve_standard(request, path)
        elif self.lwm2m and request.code == codes.GET and path in ("/0", "/1") and request.opt.accept == 40:
            answer = self._bootstrap_discover(int(path[1:]))
        elif self.lwm2m and request.code == codes.PUT and path in ("/0", "/1", "/0/1", "/1/0"):
            self.bootstrap_writes[path] = request.payload  # Bootstrap-Write
            self._bootstrap_written(int(path[1]), request.payload)
            answer = Message(code=codes.CHANGED)
        elif self.lwm2m and request.code == codes.POST and path == "/bs":
            self.bootstrapped.set()  # Bootstrap-Finish
            answer = Message(code=codes.CHANGED)
        elif self.lwm2m and self.client != "huawei" and path.startswith("/19/1/0"):
            answer = self._serve_standard_write(request, path)
        elif request.code in (codes.PUT, codes.POST) and path == ("/19/1/0" if self.lwm2m else "/t/d"):
            answer = self._downlink_received(request, path, request.payload)
        answer.token = request.token
        if request.mtype is CON:
            answer.mtype, answer.mid = ACK, request.mid
        else:
            answer.mtype, answer.mid = NON, self.next_mid()
        self.send(answer)

    def _downlink_received(self, request: Message, path: str, payload: bytes) -> Message:
        self.received.append(Received(path, str(request.code), payload, request.mtype is CON, time.monotonic()))
        self.downlink.set()
        if self.on_downlink is not None:
            self.on_downlink(payload)
        return Message(code=codes.CHANGED)

    def _serve_standard(self, request: Message, path: str) -> Message:
        """IPSO/OMA resources as text: read and observe, Write-Attributes and writes, Execute."""
        if path in ("/3/0/4", "/3/0/5"):
            if request.code != codes.POST:
                return Message(code=codes.METHOD_NOT_ALLOWED)
            self.executed.append(path)
            return Message(code=codes.CHANGED)
        if path == "/":
            return Message(code=codes.METHOD_NOT_ALLOWED, payload=b"no composite operations")
        if path not in self.standard_values:  # an object instance (/3/0): a Read gives its resources
            if request.code != codes.GET or request.opt.observe is not None:
                return Message(code=codes.METHOD_NOT_ALLOWED)
            resources = [resource for resource in self.standard_values if resource.rsplit("/", 1)[0] == path]
            if request.opt.accept == LINK_FORMAT:  # a Discover: the instance and its resources
                links = ",".join(f"<{link}>" for link in (path, *resources))
                return Message(code=codes.CONTENT, payload=links.encode(), content_format=LINK_FORMAT)
            records = [
                {"bn": f"{path}/", "n": resource.rsplit("/", 1)[1], _senml_label(value): value}
                for resource, value in self.standard_values.items()
                if resource.rsplit("/", 1)[0] == path
            ]
            return Message(code=codes.CONTENT, payload=json.dumps(records).encode(), content_format=SENML_JSON)
        if request.code == codes.GET:
            if request.opt.observe == 0:
                self.standard_tokens[path] = request.token
            answer = Message(code=codes.CONTENT, payload=str(self.standard_values[path]).encode(), content_format=0)
            if request.opt.observe == 0:
                answer.opt.observe = self.observe_sequence
            return answer
        if request.code == codes.PUT and not request.payload:
            self.standard_attributes[path] = dict(item.partition("=")[::2] for item in request.opt.uri_query)
            return Message(code=codes.CHANGED)
        if request.code == codes.PUT:
            self.standard_values[path] = request.payload.decode(errors="replace")
            return Message(code=codes.CHANGED)
        return Message(code=codes.METHOD_NOT_ALLOWED)

    def _standard_instance(self, path: str) -> bool:
        return any(resource.rsplit("/", 1)[0] == path for resource in self.standard_values)

    async def wait_standard_observed(self, path: str, timeout: float = 10.0) -> None:
        """Until the platform observes `path` (it does so after the registration's Write-Attributes)."""
        deadline = time.monotonic() + timeout
        while path not in self.standard_tokens:
            if time.monotonic() > deadline:
                raise DeviceError(f"{path} was not observed: does the product map it?")
            await asyncio.sleep(0.02)

    async def notify_standard(self, path: str, value: Any) -> float:
        """A new value of an observed standard resource: a CON notification (text) on its token."""
        token = self.standard_tokens.get(path)
        if token is None:
            raise DeviceError(f"{path} is not observed")
        self.standard_values[path] = value
        self.observe_sequence = (self.observe_sequence + 1) & 0xFFFFFF
        message = Message(code=codes.CONTENT, payload=str(value).encode(), observe=self.observe_sequence)
        message.opt.content_format = 0
        message.token = token
        message.mid = self.next_mid()
        return await self.send_uplink(message, True, f"the platform reset the notification of {path}")

    def _serve_standard_write(self, request: Message, path: str) -> Message:
        """Object 19's resource 0 as the specification has it: multiple instances (LwM2M TS 1.1, 5.4.3)."""
        content_format = request.opt.content_format
        if request.code != codes.PUT:
            return Message(code=codes.METHOD_NOT_ALLOWED, payload=b"resource 0 of object 19 is not executable")
        if path == "/19/1/0/0" and self.client == "1.1" and content_format in (None, OPAQUE):
            return self._downlink_received(request, path, request.payload)
        if path == "/19/1/0" and content_format == TLV:
            try:
                entries = parse_tlv(request.payload)
                (kind, identifier, instances), *rest = entries
                values = [value for _, _, value in instances] if kind == MULTIPLE_RESOURCE and identifier == 0 else []
            except (ValueError, TypeError):
                values = []
            if values and not rest and all(isinstance(value, bytes) for value in values):
                return self._downlink_received(request, path, b"".join(values))
            return Message(code=codes.BAD_REQUEST, payload=b"TLV is not resource 0 with its instances")
        if path == "/19/1/0":
            return Message(
                code=codes.BAD_REQUEST, payload=b"multiple resource, but the payload attempted to treat it as single"
            )
        return Message(code=codes.NOT_FOUND)

    # --- LwM2M gateway (object 25) ---------------------------------------------------------------
    def _sub_device(self, path: str) -> SubDevice | None:
        first = path.strip("/").split("/")[0]
        return next((sub for sub in self.sub_devices if sub.prefix == first), None)

    def gateway_object(self) -> tuple[bytes, int]:
        """/25 as the gateway answers a read: each instance's Device ID (0), Prefix (1), IoT Device Objects (3)."""
        if self.object_25_format == SENML_JSON:
            records = []
            for number, sub in enumerate(self.sub_devices):
                records += [
                    {"bn": f"/25/{number}/", "n": "0", "vs": sub.node_id},
                    {"n": "1", "vs": sub.prefix},
                    {"n": "3", "vs": sub.objects},
                ]
            return json.dumps(records).encode(), SENML_JSON
        body = b"".join(
            encode_tlv_instance(
                number,
                encode_tlv_resource(0, sub.node_id.encode())
                + encode_tlv_resource(1, sub.prefix.encode())
                + encode_tlv_resource(3, sub.objects.encode()),
            )
            for number, sub in enumerate(self.sub_devices)
        )
        return body, TLV

    def _serve_gateway(self, request: Message, path: str, sub: SubDevice | None) -> Message | None:
        if path == "/25" and request.code == codes.GET:
            body, form = self.gateway_object()
            answer = Message(code=codes.CONTENT, payload=body, content_format=form)
            if len(body) > BLOCK_SIZE or request.opt.block2 is not None:  # Block2 (RFC 7959): block by block
                wanted = request.opt.block2
                szx = min(wanted.size_exponent, BLOCK_SZX) if wanted is not None else BLOCK_SZX
                number, size = (wanted.block_number if wanted is not None else 0), 2 ** (szx + 4)
                answer.payload = body[number * size : (number + 1) * size]
                answer.opt.block2 = BlockOption.BlockwiseTuple(number, (number + 1) * size < len(body), szx)
            return answer
        if sub is None:
            return Message(code=codes.NOT_FOUND)
        rest = path[len(sub.prefix) + 1 :]
        if request.code == codes.GET and rest == "/3/0":
            if self.object_25_format == SENML_JSON:
                records = [{"bn": "/3/0/", "n": "0", "vs": sub.manufacturer}, {"n": "1", "vs": sub.model}]
                return Message(code=codes.CONTENT, payload=json.dumps(records).encode(), content_format=SENML_JSON)
            body = encode_tlv_resource(0, sub.manufacturer.encode()) + encode_tlv_resource(1, sub.model.encode())
            return Message(code=codes.CONTENT, payload=body, content_format=TLV)
        if request.code == codes.GET and rest == "/19/0/0" and request.opt.observe == 0:
            sub.observe_token = request.token
            sub.observed.set()
            return Message(code=codes.CONTENT, observe=sub.observe_sequence, content_format=OPAQUE)
        if request.code in (codes.PUT, codes.POST) and rest == "/19/1/0":
            self.received.append(
                Received(path, str(request.code), request.payload, request.mtype is CON, time.monotonic())
            )
            self.downlink.set()
            if self.on_sub_downlink is not None:
                self.on_sub_downlink(sub, request.payload)
            return Message(code=codes.CHANGED)
        return Message(code=codes.NOT_FOUND)

    async def wait_sub_devices_observed(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(asyncio.gather(*(sub.observed.wait() for sub in self.sub_devices)), timeout=timeout)

    def sub_notification(self, sub: SubDevice, payload: bytes, *, mid: int | None = None) -> Message:
        if sub.observe_token is None:
            raise DeviceError(f"{sub.prefix} not observed yet")
        sub.observe_sequence = (sub.observe_sequence + 1) & 0xFFFFFF
        message = Message(code=codes.CONTENT, payload=payload, observe=sub.observe_sequence)
        message.opt.content_format = OPAQUE
        message.token = sub.observe_token
        message.mid = mid if mid is not None else self.next_mid()
        return message

    async def notify_sub(self, sub: SubDevice, payload: bytes, *, confirmable: bool = True) -> float:
        """An uplink of the end device at `sub.prefix`: a notification on the platform's /{prefix}/19/0/0."""
        return await self.send_uplink(
            self.sub_notification(sub, payload), confirmable, f"the platform reset the notification for {sub.prefix}"
        )

    def gateway_links(self) -> str:
        return ",".join(["</25>", *(f"</25/{number}>" for number in range(len(self.sub_devices)))])

    # --- LwM2M object 5 ---------------------------------------------------------------------------
    def _serve_firmware(self, request: Message, path: str) -> Message:
        values = {"/5/0/3": lambda: self.fw_state, "/5/0/5": lambda: self.fw_result, "/3/0/3": lambda: None}
        if request.code == codes.GET and path in values:
            value = self.firmware_version if path == "/3/0/3" else values[path]()
            answer = Message(code=codes.CONTENT, payload=str(value).encode(), content_format=TEXT)
            if request.opt.observe == 0 and path != "/3/0/3":
                self._fw_observers[path] = request.token
                answer.opt.observe = self.next_observe()
            return answer
        if request.code == codes.GET and path == "/5/0/9":
            if self.fw_delivery is None:
                return Message(code=codes.NOT_FOUND)
            return Message(code=codes.CONTENT, payload=str(self.fw_delivery).encode(), content_format=TEXT)
        if request.code == codes.PUT and path == "/5/0/1":
            uri = request.payload.decode()
            if uri != self.fw_uri:  # another package: what was recorded is of no use
                self.fw_uri, self.fw_package[:] = uri, b""
            self._fw_task = asyncio.ensure_future(self._pull())
            return Message(code=codes.CHANGED)
        if request.code == codes.PUT and path == "/5/0/0":
            return self._pushed(request)
        if request.code == codes.POST and path == "/5/0/2":
            if self.fw_state != 2:
                return Message(code=codes.METHOD_NOT_ALLOWED)
            self._fw_task = asyncio.ensure_future(self._update())
            return Message(code=codes.CHANGED)
        return Message(code=codes.NOT_FOUND)

    def next_observe(self) -> int:
        self.observe_sequence = (self.observe_sequence + 1) & 0xFFFFFF
        return self.observe_sequence

    async def _set_firmware(self, *, result: int | None = None, state: int | None = None) -> None:
        """Change Update Result, then State, notifying each observer (confirmable, in that order)."""
        for path, value in (("/5/0/5", result), ("/5/0/3", state)):
            if value is None:
                continue
            if path == "/5/0/5":
                self.fw_result = value
            else:
                self.fw_state = value
            token = self._fw_observers.get(path)
            if token is None:
                continue
            message = Message(code=codes.CONTENT, payload=str(value).encode(), observe=self.next_observe())
            message.opt.content_format = TEXT
            message.token = token
            await self.exchange(message)

    async def _pull(self) -> None:
        parts = urlsplit(self.fw_uri)
        address = (parts.hostname or self.server[0], parts.port or self.server[1])
        size = 1 << (self.fw_block_szx + 4)
        number = len(self.fw_package) // size  # resume from the last block recorded (F-7.9)
        del self.fw_package[number * size :]
        await self._set_firmware(result=0, state=1)
        while True:
            if self.fw_interrupt_after is not None and len(self.fw_blocks) >= self.fw_interrupt_after:
                self.fw_interrupt_after = None
                await self._set_firmware(result=4, state=0)  # connection lost during downloading
                self.fw_ended.set()
                return
            request = Message(code=codes.GET)
            request.opt.uri_path = tuple(part for part in parts.path.split("/") if part)
            request.opt.block2 = (number, False, self.fw_block_szx)
            request.token = random.randbytes(4)
            request.mtype, request.mid = CON, self.next_mid()
            answer = await self._exchange_with(request, address)
            if answer.code != codes.CONTENT:
                await self._set_firmware(result=7, state=0)  # invalid URI
                self.fw_ended.set()
                return
            self.fw_blocks.append(number)
            self.fw_package += answer.payload
            block = answer.opt.block2
            if block is None or not block.more:
                break
            number += 1
        await self._downloaded()

    async def _exchange_with(self, message: Message, address: tuple[str, int]) -> Message:
        if address == self.server or self._tls is not None:
            return await self.exchange(message)
        self.server, previous = address, self.server
        try:
            return await self.exchange(message)
        finally:
            self.server = previous

    def _pushed(self, request: Message) -> Message:
        block = request.opt.block1
        if block is None or block.block_number == 0:
            self.fw_package[:] = b""
            self.fw_state = 1
        number = block.block_number if block is not None else 0
        self.fw_blocks.append(number)
        self.fw_package += request.payload
        if block is not None and block.more:
            answer = Message(code=codes.CONTINUE)
            answer.opt.block1 = (number, True, block.size_exponent)
            return answer
        answer = Message(code=codes.CHANGED)
        if block is not None:
            answer.opt.block1 = (number, False, block.size_exponent)
        self._fw_task = asyncio.ensure_future(self._downloaded())
        return answer

    async def _downloaded(self) -> None:
        if self.fw_outcome == "integrity":
            await self._set_firmware(result=5, state=0)
            self.fw_ended.set()
            return
        await self._set_firmware(state=2)

    async def _update(self) -> None:
        await self._set_firmware(state=3)
        await asyncio.sleep(0.05)
        if self.fw_outcome == "update_failed":
            await self._set_firmware(result=8, state=2)
        elif self.fw_reboot:
            self._fw_observers.clear()
            self.firmware_version = self.fw_next_version
            self.fw_installed, self.fw_package[:] = bytes(self.fw_package), b""
            self.fw_result, self.fw_state = 1, 0
            await self.move()
            await self.register()
        else:
            self.firmware_version = self.fw_next_version
            self.fw_installed, self.fw_package[:] = bytes(self.fw_package), b""
            await self._set_firmware(result=1, state=0)
        self.fw_ended.set()

    async def exchange(self, message: Message, *, retransmits: int | None = None) -> Message:
        """Send a CON and wait for its ACK (or RST), retransmitting with the same message id."""
        message.mtype = CON
        if message.mid is None:
            message.mid = self.next_mid()
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiting[message.mid] = waiter
        separate = loop.create_future()
        if message.code.is_request() and message.token:
            self._separate[message.token] = separate
        try:
            tries = 1 + (self.retransmits if retransmits is None else retransmits)
            for _ in range(tries):
                self.send(message)
                try:
                    answer = await asyncio.wait_for(asyncio.shield(waiter), timeout=self.timeout)
                except TimeoutError:
                    continue
                if answer.mtype is ACK and answer.code == codes.EMPTY and message.code.is_request():
                    # An empty ACK: the response follows separately, with the request's token.
                    try:
                        return await asyncio.wait_for(separate, timeout=self.timeout * 10)
                    except TimeoutError:
                        raise DeviceError(f"no separate response to {message.code} from {self.server}") from None
                return answer
            raise DeviceError(f"no answer to {message.code} from {self.server} after {tries} tries")
        finally:
            self._waiting.pop(message.mid, None)
            self._separate.pop(message.token, None)

    # --- LwM2M / Huawei ---------------------------------------------------------------------------
    async def register(self, objects: str = '</>;rt="oma.lwm2m",</1/0>,</3/0>,</19/0>,</19/1>') -> Message:
        if self.firmware and "</5" not in objects:
            objects += ",</5/0>"
        for instance in dict.fromkeys(path.rsplit("/", 1)[0] for path in self.standard_values):
            if f"<{instance}>" not in objects:
                objects += f",<{instance}>"
        if self.sub_devices and "</25" not in objects:
            objects += "," + self.gateway_links()
        if self.lwm2m:
            version = "1.1" if self.client == "1.1" else "1.0"
            query = (f"ep={self.endpoint}", f"lt={self.lifetime}", f"lwm2m={version}", f"b={self.binding}")
            if version == "1.1" and "Q" in self.binding:
                # 1.1 declares queue mode with its own parameter, the binding naming transports only.
                query = (*query[:3], f"b={self.binding.replace('Q', '') or 'U'}", "Q")
            answer = await self._links_request(("rd",), query, objects)
        else:
            request = Message(code=codes.POST)
            request.opt.uri_path = ("t", "r")
            request.opt.uri_query = (f"ep={self.endpoint}",)
            request.token = random.randbytes(4)
            answer = await self.exchange(request)
        if answer.code != codes.CREATED:
            raise DeviceError(f"registration answered {answer.code}: {answer.payload.decode(errors='replace')}")
        if self.lwm2m:
            self.location = "/".join(answer.opt.location_path)
        return answer

    async def request_bootstrap(self) -> Message:
        """POST /bs?ep=<endpoint> (to a bootstrap server: open with its PSK); the writes follow."""
        request = Message(code=codes.POST)
        request.opt.uri_path = ("bs",)
        request.opt.uri_query = (f"ep={self.endpoint}",)
        request.token = random.randbytes(4)
        return await self.exchange(request)

    def _bootstrap_discover(self, object_id: int) -> Message:
        """`</>;lwm2m=1.1,</0>,</0/0>;uri="coaps://...",</0/1>;ssid=1`, as Anjay's client answers."""
        if self.bootstrap_instances is None:
            return Message(code=codes.METHOD_NOT_ALLOWED)
        links = ["</>;lwm2m=1.1", f"</{object_id}>"]
        for instance, ssid in sorted(self.bootstrap_instances.get(object_id, {}).items()):
            links.append(f"</{object_id}/{instance}>" + (f";ssid={ssid}" if ssid is not None else ';uri="coaps://bs"'))
        return Message(code=codes.CONTENT, payload=",".join(links).encode(), content_format=40)

    def _bootstrap_written(self, object_id: int, payload: bytes) -> None:
        """Record the instance a Bootstrap-Write of /0 or /1 (TLV of one instance) created or replaced."""
        if self.bootstrap_instances is None:
            return
        for _, instance, resources in parse_tlv(payload):
            if not isinstance(resources, list):
                continue
            values = {identifier: value for _, identifier, value in resources if isinstance(value, bytes)}
            ssid = values.get(10 if object_id == 0 else 0)
            self.bootstrap_instances.setdefault(object_id, {})[instance] = (
                int.from_bytes(ssid, "big") if ssid is not None else None
            )

    def bootstrap_account(self) -> tuple[str, str, bytes]:
        """(server URI, PSK identity, PSK) from the Security instance the bootstrap server wrote."""
        written = self.bootstrap_writes.get("/0") or self.bootstrap_writes.get("/0/1") or b""
        resources: dict[int, bytes] = {}

        def walk(entries: list) -> None:
            for _, identifier, value in entries:
                if isinstance(value, list):
                    walk(value)
                else:
                    resources[identifier] = value

        walk(parse_tlv(written))
        return resources[0].decode(), resources[3].decode(), resources[5]

    async def _links_request(self, path: tuple[str, ...], query: tuple[str, ...], objects: str) -> Message:
        """POST links (a registration or its update); over BLOCK_SIZE bytes (a gateway listing hundreds of
        end devices) in Block1 blocks (RFC 7959), each answered 2.31 Continue but the last."""
        payload = objects.encode()
        blocks = [payload[start : start + BLOCK_SIZE] for start in range(0, len(payload), BLOCK_SIZE)] or [b""]
        for number, chunk in enumerate(blocks):
            request = Message(code=codes.POST, payload=chunk, content_format=40)
            request.opt.uri_path = path
            request.opt.uri_query = query
            if len(blocks) > 1:
                request.opt.block1 = BlockOption.BlockwiseTuple(number, number < len(blocks) - 1, BLOCK_SZX)
            request.token = random.randbytes(4)
            answer = await self.exchange(request)
            if number < len(blocks) - 1 and answer.code != codes.CONTINUE:
                raise DeviceError(f"block {number} of the links answered {answer.code}")
        return answer

    async def update(self, objects: str | None = None) -> Message:
        """A registration update; with `objects`, new links (a gateway whose end devices changed)."""
        if objects is not None:
            return await self._links_request(tuple(self.location.split("/")), (f"lt={self.lifetime}",), objects)
        request = Message(code=codes.POST)
        request.opt.uri_path = tuple(self.location.split("/"))
        request.opt.uri_query = (f"lt={self.lifetime}",)
        request.token = random.randbytes(4)
        return await self.exchange(request)

    async def deregister(self) -> Message:
        request = Message(code=codes.DELETE)
        request.opt.uri_path = tuple(self.location.split("/"))
        request.token = random.randbytes(4)
        return await self.exchange(request)

    async def wait_observed(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.observed.wait(), timeout=timeout)

    def notification(self, payload: bytes, *, content_format: int = OPAQUE, mid: int | None = None) -> Message:
        if self.observe_token is None:
            raise DeviceError("not observed yet")
        self.observe_sequence = (self.observe_sequence + 1) & 0xFFFFFF
        message = Message(code=codes.CONTENT, payload=payload, observe=self.observe_sequence)
        message.opt.content_format = content_format
        message.token = self.observe_token
        message.mid = mid if mid is not None else self.next_mid()
        return message

    async def notify(
        self, payload: bytes, *, confirmable: bool = True, content_format: int = OPAQUE, mid: int | None = None
    ) -> float:
        """Send an uplink; for CON, wait for the platform's ACK and return the seconds it took."""
        return await self.send_uplink(
            self.notification(payload, content_format=content_format, mid=mid),
            confirmable,
            "the platform reset the notification (it does not know the observation)",
        )

    async def send_uplink(self, message: Message, confirmable: bool, reset: str) -> float:
        """Send a notification: NON at once (0.0), or CON and wait for the ACK (its seconds); a reset
        raises DeviceError(reset)."""
        started = time.monotonic()
        if not confirmable:
            message.mtype = NON
            self.send(message)
            return 0.0
        answer = await self.exchange(message)
        if answer.mtype is RST:
            raise DeviceError(reset)
        return time.monotonic() - started

    async def wait_downlink(self, count: int = 1, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            self.downlink.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceError(f"{len(self.received)} downlinks arrived, {count} expected")
            try:
                await asyncio.wait_for(self.downlink.wait(), timeout=left)
            except TimeoutError:
                continue
        return self.received


async def connect(
    endpoint: str, port: int, *, host: str = "127.0.0.1", lwm2m: bool = True, **options
) -> SimulatedDevice:
    """A simulated device, registered and observed."""
    device = await SimulatedDevice(endpoint, (host, port), lwm2m=lwm2m, **options).open()
    await device.register()
    await device.wait_observed()
    return device


@dataclass
class FleetResult:
    """What a fleet run saw: uplinks sent and acknowledged, and the acknowledgement latencies."""

    connected: int = 0
    sent: int = 0
    acknowledged: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def summary(self) -> str:
        return (
            f"{self.connected} devices, {self.sent} uplinks sent, {self.acknowledged} acknowledged, "
            f"{self.failed} failed; ack latency p50 {self.percentile(0.5) * 1000:.1f} ms, "
            f"p95 {self.percentile(0.95) * 1000:.1f} ms, p99 {self.percentile(0.99) * 1000:.1f} ms"
        )


async def run_fleet(
    endpoints: list[str],
    port: int,
    *,
    payload: bytes,
    rate: float,
    duration: float,
    host: str = "127.0.0.1",
    lwm2m: bool = True,
    confirmable: bool = True,
    psks: dict[str, bytes] | None = None,
    progress=None,
    client: str = "huawei",
    endpoint_name: Callable[[str], str] = str,
) -> FleetResult:
    """Register and get observed every endpoint, then send `rate` uplinks per second in all, round
    robin over the devices, for `duration` seconds; confirmable ones are awaited concurrently. `client`:
    "huawei" modules or conformant "1.0"/"1.1" clients, or "standard": a 1.1 client with IPSO sensors
    (STANDARD_VALUES) whose uplinks are notifications of /3303/0/5700 (its product must map that path,
    docs/lwm2m-objects.md); `endpoint_name` turns a nodeId into the name each registers with."""
    result = FleetResult()
    devices: list[SimulatedDevice] = []
    for endpoint in endpoints:
        try:
            name = endpoint_name(endpoint)
            psk = (name, psks[endpoint]) if psks is not None else None
            options: dict[str, Any] = {"client": client}
            if client == "standard":
                options = {"client": "1.1", "standard_values": dict(STANDARD_VALUES)}
            device = await connect(name, port, host=host, lwm2m=lwm2m, psk=psk, **options)
            if client == "standard":
                await device.wait_standard_observed("/3303/0/5700")
            devices.append(device)
        except (DeviceError, TimeoutError) as problem:
            result.errors.append(f"{endpoint}: {problem or 'not observed'}")
    result.connected = len(devices)
    if not devices:
        return result

    async def one(device: SimulatedDevice) -> float:
        if client == "standard":
            return await device.notify_standard("/3303/0/5700", round(random.uniform(18.0, 26.0), 1))
        return await device.notify(payload, confirmable=confirmable)

    await _paced(result, [(device.endpoint, device, one) for device in devices], rate, duration, confirmable, progress)
    for device in devices:
        device.close()
    return result


async def _paced(
    result: FleetResult,
    senders: list[tuple[str, Any, Callable[[Any], Any]]],
    rate: float,
    duration: float,
    confirmable: bool,
    progress: Callable[[FleetResult, float], None] | None,
) -> None:
    """Send `rate` uplinks per second in all, round robin over (name, target, send) for `duration`
    seconds; confirmable ones are awaited concurrently and their acknowledgement times kept."""

    async def one(name: str, target: Any, send: Callable[[Any], Any]) -> None:
        try:
            latency = await send(target)
        except DeviceError as problem:
            result.failed += 1
            if len(result.errors) < 20:
                result.errors.append(f"{name}: {problem}")
            return
        result.acknowledged += 1
        if confirmable:
            result.latencies.append(latency)

    pending: set[asyncio.Task] = set()
    started = time.monotonic()
    interval = 1.0 / rate if rate > 0 else 0.0
    index = 0
    next_report = started + 1
    while time.monotonic() - started < duration:
        name, target, send = senders[index % len(senders)]
        index += 1
        result.sent += 1
        task = asyncio.ensure_future(one(name, target, send))
        pending.add(task)
        task.add_done_callback(pending.discard)
        now = time.monotonic()
        if progress is not None and now >= next_report:
            progress(result, now - started)
            next_report = now + 1
        target_time = started + index * interval
        await asyncio.sleep(max(0.0, target_time - time.monotonic()))
    if pending:
        await asyncio.gather(*pending)


async def run_lwm2m_gateway(
    endpoint: str,
    node_ids: list[str],
    port: int,
    *,
    payload: bytes,
    manufacturer: str,
    model: str,
    rate: float,
    duration: float,
    host: str = "127.0.0.1",
    confirmable: bool = True,
    answer: bytes | None = None,
    psk: bytes | None = None,
    progress: Callable[[FleetResult, float], None] | None = None,
) -> FleetResult:
    """One LwM2M gateway (object 25, ingress.lwm2m_gateway): it registers listing `node_ids` as its end
    devices (prefixes d00000, d00001, ...; their /3/0 names `manufacturer` and `model`), waits until the
    platform observes their /{prefix}/19/0/0, then sends `rate` uplinks per second in all, round robin
    over the observed sub-devices, for `duration` seconds.

    With `answer`, every command to a sub-device is answered on its /19/0/0 in the Huawei demo codecs'
    layout: `answer`'s first byte (the response's messageId), the command's mid (its bytes 1-2), then
    the rest of `answer` (errcode, result...). Downlinks starting AA AA are the codec's report ACKs.

    In the result, `connected` is the number of sub-devices the platform observed."""
    result = FleetResult()
    subs = [
        SubDevice(node_id, f"d{n:05d}", manufacturer=manufacturer, model=model) for n, node_id in enumerate(node_ids)
    ]
    gateway = SimulatedDevice(endpoint, (host, port), sub_devices=subs, psk=(endpoint, psk) if psk else None)
    answering: set[asyncio.Future] = set()

    def on_sub_downlink(sub: SubDevice, command: bytes) -> None:
        if answer is None or len(command) < 3 or command[:2] == b"\xaa\xaa":
            return
        task = asyncio.ensure_future(gateway.notify_sub(sub, answer[:1] + command[1:3] + answer[1:]))
        answering.add(task)
        task.add_done_callback(answering.discard)
        task.add_done_callback(lambda done: done.cancelled() or done.exception())  # a lost answer: no matter

    gateway.on_sub_downlink = on_sub_downlink
    try:
        await gateway.open()
        await gateway.register()
        await gateway.wait_observed()
        # Those the platform refused are never observed: the gateway's log says why.
        with contextlib.suppress(TimeoutError):
            await gateway.wait_sub_devices_observed(timeout=max(10.0, len(subs) / 20))
    except (DeviceError, TimeoutError) as problem:
        result.errors.append(f"{endpoint}: {problem or 'not observed'}")
        gateway.close()
        return result
    observed = [sub for sub in subs if sub.observe_token is not None]
    result.connected = len(observed)
    missing = len(subs) - len(observed)
    if missing:
        result.errors.append(f"{endpoint}: {missing} of its {len(subs)} sub-devices were not observed (see its log)")
    if observed:

        async def send(sub: SubDevice) -> float:
            return await gateway.notify_sub(sub, payload, confirmable=confirmable)

        await _paced(result, [(sub.node_id, sub, send) for sub in observed], rate, duration, confirmable, progress)
        await asyncio.sleep(0.5)  # answers to the last commands
    gateway.close()
    return result


@dataclass
class Trial:
    """One uplink sent as a device from the portal's simulator page, and what came back."""

    acknowledged: bool
    latency: float
    downlinks: list[Received]
    error: str = ""


async def try_uplink(
    endpoint: str,
    port: int,
    payload: bytes,
    *,
    host: str = "127.0.0.1",
    confirmable: bool = True,
    wait: float = 1.0,
    client: str = "huawei",
) -> Trial:
    """Register as the device (a Huawei module, or a conformant "1.0"/"1.1" client), get observed, send
    one uplink, and collect what the platform sends back (the codec's cloudRsp ACK, commands) for `wait`
    seconds."""
    device = SimulatedDevice(endpoint, (host, port), timeout=1.0, retransmits=2, client=client)
    await device.open()
    try:
        await device.register()
        await device.wait_observed()
        latency = await device.notify(payload, confirmable=confirmable)
        await asyncio.sleep(wait)
        return Trial(True, latency, list(device.received))
    except (DeviceError, TimeoutError) as problem:
        return Trial(False, 0.0, list(device.received), str(problem) or "the platform did not observe the device")
    finally:
        device.close()


@dataclass
class PcpClient:
    """Huawei PCP on a simulated device's data channel, as an MCU does it (firmware.pcp has the frames).

    It answers the version query and the new-version notice, then requests the package block by
    block (each request an uplink, each block a downlink), checks the package's CRC, reports the
    download, answers Execute and reports the result with its new version."""

    device: SimulatedDevice
    version: str = "V1.0"
    next_version: str = "V2.0"
    outcome: str = "success"  # success | integrity | update_failed
    interrupt_after: int | None = None  # gives up after this many blocks (download timeout), once
    timeout: float = 5.0
    package: bytearray = field(default_factory=bytearray)
    blocks: list[int] = field(default_factory=list)
    frames: list[pcp.Frame] = field(default_factory=list)  # every frame the platform sent
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    _blocks: dict[int, asyncio.Future] = field(default_factory=dict)
    _tasks: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.device.on_downlink = self._received

    def _received(self, payload: bytes) -> None:
        if not payload.startswith(pcp.START):
            return
        frame = pcp.decode(payload)
        self.frames.append(frame)
        if frame.code == pcp.REQUEST_BLOCK:
            result, number = struct.unpack_from(">BH", frame.data)
            waiter = self._blocks.pop(number, None)
            if waiter is not None and not waiter.done():
                waiter.set_result((result, frame.data[3:]))
            return
        task = asyncio.ensure_future(self._handle(frame))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, code: int, data: bytes) -> None:
        await self.device.notify(pcp.Frame(code, data).encode())

    async def _handle(self, frame: pcp.Frame) -> None:
        if frame.code == pcp.QUERY_VERSION:
            await self._send(pcp.QUERY_VERSION, bytes([pcp.OK]) + pcp.version_bytes(self.version))
        elif frame.code == pcp.NEW_VERSION:
            block_size, count, check = struct.unpack_from(">HHH", frame.data, 16)
            await self._send(pcp.NEW_VERSION, bytes([pcp.OK]))
            await self._download(pcp.version_bytes(pcp.version_text(frame.data)), block_size, count, check)
        elif frame.code == pcp.EXECUTE:
            await self._send(pcp.EXECUTE, bytes([pcp.OK]))
            await asyncio.sleep(0.05)
            if self.outcome == "update_failed":
                await self._send(pcp.UPGRADE_RESULT, bytes([0x0A]) + pcp.version_bytes(self.version))
            else:
                self.version = self.next_version
                await self._send(pcp.UPGRADE_RESULT, bytes([pcp.OK]) + pcp.version_bytes(self.version))
        elif frame.code == pcp.UPGRADE_RESULT:
            self.ended.set()

    async def _download(self, version: bytes, block_size: int, count: int, check: int) -> None:
        number = len(self.package) // block_size  # resume from the last block recorded (F-7.9)
        del self.package[number * block_size :]
        while number < count:
            if self.interrupt_after is not None and len(self.blocks) >= self.interrupt_after:
                self.interrupt_after = None
                await self._send(pcp.DOWNLOAD_RESULT, bytes([0x06]))  # download timeout; what it has, it keeps
                return
            waiter = asyncio.get_running_loop().create_future()
            self._blocks[number] = waiter
            await self._send(pcp.REQUEST_BLOCK, version + struct.pack(">H", number))
            result, data = await asyncio.wait_for(waiter, timeout=self.timeout)
            if result != pcp.OK:
                self.ended.set()
                return
            self.blocks.append(number)
            self.package += data
            number += 1
        intact = pcp.crc16(bytes(self.package)) == check and self.outcome != "integrity"
        await self._send(pcp.DOWNLOAD_RESULT, bytes([pcp.OK if intact else 0x07]))
        if not intact:
            self.ended.set()
