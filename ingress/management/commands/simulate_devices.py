"""`python manage.py simulate_devices`: simulated LwM2M (or Huawei t/r) devices against an ingress.

    python manage.py simulate_devices --count 20 --rate 50 --duration 30 --payload 0014000012340007
    python manage.py simulate_devices --register APPID --count 5 ...   # register the nodeIds first
    python manage.py simulate_devices --coaps ...                      # DTLS-PSK, each device's own psk
    python manage.py simulate_devices --protocol mqtt --register APPID ...  # MQTT, each device's secret
    python manage.py simulate_devices --protocol mqtt --product-secret PRODUCT_ID SECRET ...  # dynamic
    python manage.py simulate_devices --protocol mqtt --register APPID --gateway 100 ...  # a gateway
    python manage.py simulate_devices --protocol lwm2m --register APPID --gateway 100 ...  # an LwM2M gateway

Each device registers (endpoint name = nodeId: PREFIX followed by its number), is observed by the
platform, then the fleet sends RATE uplinks per second in all for DURATION seconds and prints what
was acknowledged and how fast. With --register, missing devices are registered in the application
first, tied to the product named by --manufacturer/--device-type/--model. With --gateway N the first
device acts as a gateway: it adds N sub-devices of that product (nodeIds: its own, "-", a 5-digit
number), then sends RATE datas messages per second, each reporting for all of them, and answers their
commands (ingress.mqtt.gateway). Over LwM2M (`--protocol lwm2m`, the same as coap) the first device is
an LwM2M gateway (object 25, ingress.lwm2m_gateway; its product must be an LwM2M gateway product): it
lists N end devices whose /3/0 names that product, then sends RATE uplinks (--payload) per second in
all, round robin over them, and with --answer HEX answers their commands (the answer's first byte, the
command's mid, the rest of the answer).
"""

from __future__ import annotations

import asyncio
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from applications.errors import NorthboundError
from applications.models import Application
from devices import actions
from devices.models import Device
from ingress.simulator import run_fleet


class Command(BaseCommand):
    help = "Simulate LwM2M devices: register N, then send uplinks at a rate through a running ingress."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--count", type=int, default=10)
        parser.add_argument("--rate", type=float, default=10.0, help="uplinks per second, all devices together")
        parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=None, help="CoAP port (COAP_PORT)")
        parser.add_argument("--prefix", default="86100000", help="nodeIds are PREFIX + a 7-digit number")
        parser.add_argument("--payload", default="0014000012340007", help="hex payload of each uplink")
        parser.add_argument("--non", action="store_true", help="non-confirmable uplinks")
        parser.add_argument("--huawei", action="store_true", help="the Huawei t/r + t/d channel instead of LwM2M")
        parser.add_argument(
            "--client",
            choices=["huawei", "1.0", "1.1", "standard"],
            default="huawei",
            help="LwM2M: a Huawei module (opaque writes to /19/1/0), or a client that follows the OMA "
            "specification 1.0 (TLV writes) or 1.1 (writes to /19/1/0/0); docs/lwm2m.md; standard: a 1.1 "
            "client with IPSO sensors notifying /3303/0/5700 (its product maps it: docs/lwm2m-objects.md)",
        )
        parser.add_argument(
            "--endpoint-form",
            choices=["nodeId", "urn:imei"],
            default="nodeId",
            help="register as the nodeId itself or as urn:imei:<nodeId>, as standard stacks do",
        )
        parser.add_argument(
            "--coaps", action="store_true", help="CoAPS (DTLS-PSK with each device's psk) on COAPS_PORT"
        )
        parser.add_argument(
            "--protocol",
            choices=["coap", "lwm2m", "mqtt"],
            default="coap",
            help="coap or lwm2m (the same): COAP_PORT; mqtt: MQTT_PORT, hourly HMAC passwords",
        )
        parser.add_argument(
            "--product-secret",
            nargs=2,
            metavar=("PRODUCT_ID", "SECRET"),
            help="MQTT: each device fetches its secret by the dynamic connection (registered on first contact)",
        )
        parser.add_argument("--json", help="MQTT: publish this JSON (a deviceReq) to data/json instead of --payload")
        parser.add_argument(
            "--gateway",
            type=int,
            metavar="N",
            help="the first device acts as a gateway with N sub-devices (MQTT topics, or LwM2M object 25)",
        )
        parser.add_argument(
            "--answer",
            metavar="HEX",
            help="LwM2M gateway: answer commands to sub-devices with messageId HEX[0], the command's mid, HEX[1:]",
        )
        parser.add_argument("--register", metavar="APPID", help="register missing devices in this application")
        parser.add_argument("--manufacturer", default="Huawei")
        parser.add_argument("--device-type", default="WaterMeter")
        parser.add_argument("--model", default="v1001")

    def handle(self, *args, **options) -> None:
        try:
            payload = bytes.fromhex(options["payload"])
        except ValueError:
            raise CommandError(f"--payload must be hexadecimal, got {options['payload']!r}") from None
        endpoints = [f"{options['prefix']}{number:07d}" for number in range(options["count"])]
        if options["register"]:
            self._register(options, endpoints)
        if options["protocol"] == "mqtt":
            self._mqtt(options, endpoints, payload)
            return
        port = options["port"] or (settings.COAPS_PORT if options["coaps"] else settings.COAP_PORT)
        psks = None
        if options["coaps"]:
            devices = Device.objects.filter(node_id__in=endpoints)
            psks = {device.node_id: bytes.fromhex(device.psk) for device in devices if device.psk}
        if options["gateway"] is not None:
            self._lwm2m_gateway(options, endpoints[0], port, payload, psks)
            return

        def progress(result, elapsed: float) -> None:
            self.stdout.write(f"{elapsed:5.1f}s  sent {result.sent}  acknowledged {result.acknowledged}")

        result = asyncio.run(
            run_fleet(
                endpoints,
                port,
                host=options["host"],
                payload=payload,
                rate=options["rate"],
                duration=options["duration"],
                lwm2m=not options["huawei"],
                confirmable=not options["non"],
                psks=psks,
                progress=progress,
                client=options["client"],
                endpoint_name=(lambda node_id: f"urn:imei:{node_id}")
                if options["endpoint_form"] == "urn:imei"
                else str,
            )
        )
        for error in result.errors[:10]:
            self.stderr.write(error)
        self.stdout.write(result.summary())
        if not result.connected:
            raise CommandError("no device could register: is run_ingress running, and are the nodeIds registered?")

    def _mqtt(self, options: dict, endpoints: list[str], payload: bytes) -> None:
        from ingress.mqtt.simulator import run_mqtt_fleet

        port = options["port"] or settings.MQTT_PORT
        if options["product_secret"]:
            from ingress.mqtt.simulator import SecretRefused, fetch_secret

            product_id, product_secret = options["product_secret"]
            credentials = []
            for endpoint in endpoints:
                try:
                    credentials.append(fetch_secret(product_id, product_secret, endpoint, port, host=options["host"]))
                except SecretRefused as refusal:
                    self.stderr.write(str(refusal))
            self.stdout.write(f"{len(credentials)} devices got their secret by the dynamic connection")
        else:
            devices = Device.objects.filter(node_id__in=endpoints).order_by("node_id")
            credentials = [(device.device_id, device.secret) for device in devices if device.secret]
        if not credentials:
            raise CommandError("no device with an MQTT secret: register them with --register (password mode)")

        def progress(result, elapsed: float) -> None:
            self.stdout.write(f"{elapsed:5.1f}s  sent {result.sent}  acknowledged {result.acknowledged}")

        if options["gateway"] is not None:
            self._gateway(options, credentials[0], endpoints[0], port, progress)
            return
        kind, body = ("json", options["json"].encode()) if options["json"] else ("binary", payload)
        result = run_mqtt_fleet(
            credentials,
            port,
            host=options["host"],
            payload=body,
            kind=kind,
            rate=options["rate"],
            duration=options["duration"],
            qos=0 if options["non"] else 1,
            progress=progress,
        )
        for error in result.errors[:10]:
            self.stderr.write(error)
        self.stdout.write(result.summary())
        if not result.connected:
            raise CommandError("no device could connect: is run_mqtt running on that port?")

    def _gateway(self, options: dict, credentials: tuple[str, str], node_id: str, port: int, progress) -> None:
        from ingress.mqtt.simulator import run_mqtt_gateway

        if options["gateway"] < 1:
            raise CommandError("--gateway needs at least one sub-device")
        services = [{"serviceId": "WaterMeter", "data": {"currentReading": "1"}}]
        if options["json"]:
            request = json.loads(options["json"])
            services = [{"serviceId": item["serviceId"], "data": item["serviceData"]} for item in request["data"]]
        result = run_mqtt_gateway(
            *credentials,
            [f"{node_id}-{number:05d}" for number in range(options["gateway"])],
            port,
            product={"manufacturerId": options["manufacturer"], "model": options["model"]},
            services=services,
            host=options["host"],
            rate=options["rate"],
            duration=options["duration"],
            qos=0 if options["non"] else 1,
            progress=progress,
        )
        for error in result.errors[:10]:
            self.stderr.write(error)
        if not result.connected:
            raise CommandError("the gateway could not add its sub-devices: is run_mqtt running on that port?")
        self.stdout.write(
            f"gateway {node_id} with {result.connected} sub-devices: {result.sent} datas messages sent "
            f"({result.sent * result.connected} reports), {result.acknowledged} acknowledged, {result.failed} failed; "
            f"ack latency p50 {result.percentile(0.5) * 1000:.1f} ms, p95 {result.percentile(0.95) * 1000:.1f} ms"
        )

    def _lwm2m_gateway(
        self, options: dict, node_id: str, port: int, payload: bytes, psks: dict[str, bytes] | None
    ) -> None:
        from ingress.simulator import run_lwm2m_gateway

        if options["gateway"] < 1:
            raise CommandError("--gateway needs at least one sub-device")
        if options["huawei"]:
            raise CommandError("--gateway is LwM2M (object 25): not with --huawei")
        try:
            answer = bytes.fromhex(options["answer"]) if options["answer"] else None
        except ValueError:
            raise CommandError(f"--answer must be hexadecimal, got {options['answer']!r}") from None

        def progress(result, elapsed: float) -> None:
            self.stdout.write(f"{elapsed:5.1f}s  sent {result.sent}  acknowledged {result.acknowledged}")

        result = asyncio.run(
            run_lwm2m_gateway(
                node_id,
                [f"{node_id}-{number:05d}" for number in range(options["gateway"])],
                port,
                payload=payload,
                manufacturer=options["manufacturer"],
                model=options["model"],
                rate=options["rate"],
                duration=options["duration"],
                host=options["host"],
                confirmable=not options["non"],
                answer=answer,
                psk=(psks or {}).get(node_id),
                progress=progress,
            )
        )
        for error in result.errors[:10]:
            self.stderr.write(error)
        if not result.connected:
            raise CommandError(
                "the LwM2M gateway has no observed sub-device: is run_ingress running, is its product an LwM2M "
                "gateway product, and does --manufacturer/--model name a product of its application?"
            )
        self.stdout.write(
            f"LwM2M gateway {node_id} with {result.connected} sub-devices: {result.summary().split(', ', 1)[1]}"
        )

    def _register(self, options: dict, endpoints: list[str]) -> None:
        application = Application.objects.filter(app_id=options["register"]).first()
        if application is None:
            raise CommandError(f"no application {options['register']!r}")
        info = {
            "manufacturerId": options["manufacturer"],
            "deviceType": options["device_type"],
            "model": options["model"],
            "protocolType": "MQTT" if options["protocol"] == "mqtt" else "CoAP",
        }
        existing = set(Device.objects.filter(node_id__in=endpoints).values_list("node_id", flat=True))
        for endpoint in endpoints:
            if endpoint not in existing:
                try:
                    actions.do_register_device(
                        application, node_id=endpoint, timeout=0, info=info, password_mode=options["protocol"] == "mqtt"
                    )
                except NorthboundError as error:
                    raise CommandError(f"{endpoint}: {error}") from None
        self.stdout.write(f"{len(endpoints) - len(existing)} devices registered in {application}")
