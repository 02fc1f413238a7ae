"""Which fPort a TTN or ChirpStack codec gets for an uplink that came without one (issue 19).

LoRaWAN uplinks carry a port; CoAP, LwM2M and MQTT uplinks do not. A product's codec holds
`uplink_ports` (Codec.uplink_ports), a small mapping from the channel an uplink came on to the port
the codec gets:

    {"*": 1, "data/binary": 2, "/19/0/0": 3, "/t/d": 4}

- `"*"`: every uplink no other entry names (a fixed port);
- `"data/binary"`: MQTT, by topic suffix (the topic after /huawei/v1/devices/{deviceId}/);
- a resource path: CoAP and LwM2M, the resource the ingress observes (`/19/0/0`, Huawei's `/t/d`); a
  gateway's sub-device (`/{prefix}/19/0/0`) matches the entry its path ends with.

An uplink no entry matches gets the manifest's fPort, as before the mapping existed. The ingress
(ingress.pipeline) looks the port up per uplink and passes it to the batch's decode.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from products.codecs.errors import CodecError, CodecIssue, issue

MAX_ENTRIES = 16
ANY = "*"
MQTT_CHANNELS = ("data/binary",)
# A resource path as the ingress observes it: /19/0/0, /t/d, /{prefix}/19/0/0 (letters, digits, - _ .).
RESOURCE = re.compile(r"^(/[A-Za-z0-9_.-]{1,32}){1,6}$")


def check_ports(value: Any) -> dict[str, int]:
    """The mapping as stored, or CodecError naming every bad entry (CODEC_PORT_CHANNEL, CODEC_FPORT)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise CodecError(issue("CODEC_PORT_CHANNEL", path="$.uplinkPorts", value=str(value)[:40]))
    found: list[CodecIssue] = []
    if len(value) > MAX_ENTRIES:
        found.append(issue("CODEC_PORT_CHANNEL", path="$.uplinkPorts", value=f"{len(value)} entries"))
    ports: dict[str, int] = {}
    for channel, port in value.items():
        path = f"$.uplinkPorts[{channel!r}]"
        text = channel.strip() if isinstance(channel, str) else ""
        if not (text == ANY or text in MQTT_CHANNELS or RESOURCE.match(text)):
            found.append(issue("CODEC_PORT_CHANNEL", path=path, value=str(channel)[:40]))
            continue
        if isinstance(port, str) and port.strip().isdigit():
            port = int(port.strip())
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 255:
            found.append(issue("CODEC_FPORT", path=path, value=str(port)[:40]))
            continue
        ports[text] = port
    if found:
        raise CodecError(found)
    return ports


def port_for(ports: Mapping[str, int] | None, channel: str) -> int | None:
    """The port of an uplink that came on `channel`; None: the manifest's fPort."""
    if not ports:
        return None
    if channel in ports:
        return ports[channel]
    if channel.startswith("/"):
        # A gateway's sub-device: /{prefix}/19/0/0 matches the entry /19/0/0.
        for key, port in ports.items():
            if key.startswith("/") and channel.endswith(key):
                return port
    return ports.get(ANY)


def parse_lines(text: str) -> dict[str, Any]:
    """The portal's form: one `channel = port` per line (blank lines ignored), checked by check_ports."""
    result: dict[str, Any] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        channel, _sep, port = line.partition("=")
        result[channel.strip()] = port.strip()
    return result


def as_lines(ports: Mapping[str, int]) -> str:
    return "\n".join(f"{channel} = {port}" for channel, port in ports.items())
