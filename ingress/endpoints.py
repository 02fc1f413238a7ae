"""LwM2M endpoint names: which nodeId a client's `ep=` names (docs/lwm2m.md, "Endpoint names").

Huawei modules register with the IMEI itself; standard stacks use the URN forms of LwM2M TS 1.1
(section 7.3.1 "Endpoint Client Name") and RFC 7254: the nRF Connect SDK samples register as
`urn:imei:<IMEI>`. Each form names the device whose nodeId is N:

| endpoint name              | nodeId |
|----------------------------|--------|
| `N`                        | N      |
| `urn:imei:N`               | N      |
| `urn:imei-imsi:N-M`        | N (the IMEI; M is the IMSI) |
| `urn:imei-msisdn:N-M`      | N (the IMEI; M is the MSISDN) |
| `urn:dev:ops:OUI-CLASS-N`, `urn:dev:ops:OUI-N` | N (the serial number, after the last `-`) |

A device registered with a nodeId that is itself one of these names (a whole `urn:...`) is found by it
too: the whole name is tried first.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    """What a registration's endpoint name says: the nodeId it names and the form it used."""

    name: str
    node_id: str
    form: str  # "nodeId", "urn:imei", "urn:imei-imsi", "urn:imei-msisdn", "urn:dev:ops"

    @property
    def candidates(self) -> list[str]:
        """nodeIds to look for, the whole name first."""
        return [self.name] if self.node_id == self.name else [self.name, self.node_id]


PAIRED = ("urn:imei-imsi:", "urn:imei-msisdn:")


def parse(name: str) -> Endpoint:
    """The nodeId an endpoint name stands for (the name itself when it uses no known form)."""
    lowered = name.lower()
    if lowered.startswith("urn:imei:") and len(name) > 9:
        return Endpoint(name, name[9:], "urn:imei")
    for prefix in PAIRED:
        if lowered.startswith(prefix):
            imei, _, other = name[len(prefix) :].partition("-")
            if imei and other:
                return Endpoint(name, imei, prefix[:-1])
    if lowered.startswith("urn:dev:ops:"):
        rest = name[12:]
        serial = rest.rpartition("-")[2]
        if "-" in rest and serial:
            return Endpoint(name, serial, "urn:dev:ops")
    return Endpoint(name, name, "nodeId")
