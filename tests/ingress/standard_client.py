"""A standard LwM2M client of the tests' own on aiocoap (a real CoAP stack both ways) exposing OMA and IPSO
objects: Device (3), Temperature (3303), Humidity (3304), Voltage (3316). It takes Write-Attributes
(a PUT with only query options), answers observations per path (text) and, as a 1.1 client, a composite
observe (FETCH / with SenML CBOR names, RFC 8790), and sends LwM2M 1.1 Send (POST /dp, SenML CBOR)."""

from __future__ import annotations

import asyncio
import json

import aiocoap
import cbor2
from aiocoap import Message, resource
from aiocoap.numbers import codes

from ingress import formats

INITIAL = {
    "/3/0/0": "Standard Sensors",
    "/3/0/9": 87,
    "/3303/0/5700": 21.5,
    "/3303/0/5701": "Cel",
    "/3304/0/5700": 40.0,
    "/3316/0/5700": 3.3,
    "/3/0/15": "UTC",
}
WRITABLE = {"/3/0/15"}


def senml_cbor(values: dict[str, object]) -> bytes:
    records = []
    for path, value in values.items():
        key = 3 if isinstance(value, str) else 4 if isinstance(value, bool) else 2
        records.append({0: path, key: value})
    return cbor2.dumps(records)


class Value(resource.ObservableResource):
    def __init__(self, client: StandardClient, path: str) -> None:
        super().__init__()
        self.client, self.path = client, path

    async def render_get(self, request: Message) -> Message:
        if request.opt.observe == 0 and request.mid not in self.client.observe_mids:  # notifications re-render it
            self.client.observe_mids.add(request.mid)
            self.client.observe_requests.append(self.path)
            if not self.client.answers_observe:
                return Message(code=codes.SERVICE_UNAVAILABLE, payload=b"not ready")
        if request.opt.observe == 0 and self.path not in self.client.observed:
            self.client.observed.append(self.path)
        return Message(payload=str(self.client.values[self.path]).encode(), content_format=formats.TEXT)

    async def render_put(self, request: Message) -> Message:
        if request.payload:
            if self.path not in WRITABLE:
                return Message(code=codes.METHOD_NOT_ALLOWED, payload=b"read-only resource")
            self.client.values[self.path] = request.payload.decode()
            return Message(code=codes.CHANGED)
        self.client.attributes[self.path] = dict(item.partition("=")[::2] for item in request.opt.uri_query)
        self.client.attribute_writes.append(self.path)
        return Message(code=codes.CHANGED)


class Executable(resource.Resource):
    def __init__(self, client: StandardClient, path: str) -> None:
        super().__init__()
        self.client, self.path = client, path

    async def render_post(self, request: Message) -> Message:
        self.client.executed.append(self.path)
        return Message(code=codes.CHANGED)


class Instance(resource.Resource):
    """/3303/0: Discover (GET with Accept link format) lists its resources and their attributes."""

    def __init__(self, client: StandardClient, prefix: str) -> None:
        super().__init__()
        self.client, self.prefix = client, prefix

    async def render_get(self, request: Message) -> Message:
        if request.opt.accept != 40:
            return Message(code=codes.NOT_ACCEPTABLE)
        links = ",".join(  # with the attributes written to each resource, as Anjay 3.14 lists them
            f"<{path}>" + "".join(f";{name}={value}" for name, value in self.client.attributes.get(path, {}).items())
            for path in self.client.values
            if path.startswith(self.prefix + "/")
        )
        return Message(payload=f"<{self.prefix}>,{links}".encode(), content_format=40)


class Composite(resource.ObservableResource):
    """/ : FETCH with SenML CBOR names (a 1.1 client's composite read and observe, SenML-ETCH JSON)."""

    def __init__(self, client: StandardClient) -> None:
        super().__init__()
        self.client = client

    async def render_fetch(self, request: Message) -> Message:
        if not self.client.composite_support:
            return Message(code=codes.METHOD_NOT_ALLOWED)
        if request.opt.content_format != 320:  # SenML-ETCH JSON
            return Message(code=codes.UNSUPPORTED_CONTENT_FORMAT)
        paths = [record["n"] for record in json.loads(request.payload)]
        if request.opt.observe == 0 and request.mid not in self.client.observe_mids:
            self.client.observe_mids.add(request.mid)
            self.client.composite_requests.append(paths)
        if request.opt.observe == 0 and not self.client.composite:
            self.client.composite = paths
        records = [{"n": path, "vs" if isinstance(value, str) else "v": value} for path in paths
                   for value in [self.client.values[path]]]  # fmt: skip
        return Message(payload=json.dumps(records).encode(), content_format=110)


class StandardClient:
    def __init__(
        self,
        endpoint: str,
        server: tuple[str, int],
        *,
        version: str = "1.1",
        binding: str = "U",
        objects: tuple[str, ...] = ("/1/0", "/3/0", "/3303/0", "/3304/0", "/3316/0"),
    ) -> None:
        self.endpoint, self.server, self.version, self.binding = endpoint, server, version, binding
        self.objects = objects
        self.answers_observe = True  # False: every observe is answered 5.03 (not ready)
        self.observe_mids: set[int] = set()  # (retransmissions are one request)
        self.observe_requests: list[str] = []  # every observe GET, by path
        self.composite_requests: list[list[str]] = []  # every composite observe FETCH, its paths
        self.attribute_writes: list[str] = []  # every Write-Attributes, by path
        self.composite_support = version != "1.0"
        self.values = dict(INITIAL)
        self.attributes: dict[str, dict[str, str]] = {}
        self.observed: list[str] = []
        self.composite: list[str] = []
        self.executed: list[str] = []
        self.resources: dict[str, Value] = {}

    async def start(self) -> StandardClient:
        site = resource.Site()
        self.root = Composite(self)
        site.add_resource((), self.root)
        for path in self.values:
            self.resources[path] = Value(self, path)
            site.add_resource(tuple(path.strip("/").split("/")), self.resources[path])
        site.add_resource(("3303", "0"), Instance(self, "/3303/0"))
        for path in ("/3/0/4", "/3/0/5"):
            site.add_resource(tuple(path.strip("/").split("/")), Executable(self, path))
        self.context = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", 0))
        request = Message(code=codes.POST, payload=self.links(), content_format=40)
        request.set_request_uri(
            f"coap://{self.server[0]}:{self.server[1]}/rd?ep={self.endpoint}&lt=300&lwm2m={self.version}&b={self.binding}"
        )
        answer = await asyncio.wait_for(self.context.request(request).response, 20)
        if answer.code != codes.CREATED:
            raise AssertionError(f"registration answered {answer.code}: {answer.payload!r}")
        self.location = tuple(answer.opt.location_path)
        return self

    def links(self) -> bytes:
        return b'</>;rt="oma.lwm2m";ct=112,' + ",".join(f"<{path}>" for path in self.objects).encode()

    async def update(self, objects: tuple[str, ...] | None = None) -> Message:
        """A registration Update (a queue-mode client's wake-up); with `objects`, its new links."""
        request = Message(code=codes.POST)
        if objects is not None:
            self.objects = objects
            request = Message(code=codes.POST, payload=self.links(), content_format=40)
        request.set_request_uri(f"coap://{self.server[0]}:{self.server[1]}/{'/'.join(self.location)}")
        return await asyncio.wait_for(self.context.request(request).response, 20)

    def set(self, path: str, value: object) -> None:
        self.values[path] = value
        self.resources[path].updated_state()
        if path in self.composite:
            self.root.updated_state()

    async def send(self, values: dict[str, object]) -> Message:
        request = Message(code=codes.POST, payload=senml_cbor(values), content_format=112)
        request.set_request_uri(f"coap://{self.server[0]}:{self.server[1]}/dp")
        return await asyncio.wait_for(self.context.request(request).response, 20)

    async def stop(self) -> None:
        await self.context.shutdown()
