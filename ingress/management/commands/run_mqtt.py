"""`python manage.py run_mqtt`: MQTT and MQTTS device access, a process of its own beside run_ingress.

One process: amqtt listens with a plain TCP server (no SO_REUSEPORT), so MQTT_PORT has one owner.
It runs the embedded broker of ingress.mqtt.server around the same uplink pipeline and downlink action
as the CoAP workers; `make run` starts it (portal.launcher) unless MQTT_ENABLED is false.
"""

from __future__ import annotations

import asyncio
import signal
import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run MQTT device access on MQTT_PORT (and MQTTS on MQTTS_PORT when MQTT_TLS_CERT_FILE/KEY_FILE are set)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=None, help="MQTT port (MQTT_PORT)")
        parser.add_argument("--tls-port", type=int, default=None, help="MQTTS port (MQTTS_PORT)")

    def handle(self, *args, port: int | None, tls_port: int | None, **options) -> None:
        port = port or settings.MQTT_PORT
        tls_port = tls_port or settings.MQTTS_PORT
        ports = [("MQTT_PORT", port)]
        if settings.MQTT_TLS_CERT_FILE and settings.MQTT_TLS_KEY_FILE:
            ports.append(("MQTTS_PORT", tls_port))
        for variable, number in ports:
            _check_free(number, variable)
        asyncio.run(_run(port, tls_port))


def _check_free(port: int, variable: str) -> None:
    """One clear line naming the variable when the port is taken (this machine runs Mosquitto on 1883)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            raise CommandError(
                f"Port {port} is already in use (set {variable} to a free port, e.g. {variable}={port + 1})."
            ) from None


async def _run(port: int, tls_port: int) -> None:
    from ingress.mqtt.server import MqttServer

    server = MqttServer(port=port, tls_port=tls_port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await server.start()
    print(
        f"mqtt: listening on MQTT port {port}" + (f", MQTTS {server.tls_port}" if server.tls_port else ""), flush=True
    )
    await stopping.wait()
    await server.stop()
