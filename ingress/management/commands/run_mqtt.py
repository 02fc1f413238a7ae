"""`python manage.py run_mqtt`: MQTT and MQTTS device access, a process of its own beside run_ingress.

It runs the embedded broker of ingress.mqtt.server around the same uplink pipeline and downlink action
as the CoAP workers; `make run` starts it (portal.launcher) unless MQTT_ENABLED is false. With
`--workers N` (MQTT_WORKERS) it supervises N processes (`run_mqtt --worker`) that share MQTT_PORT and
MQTTS_PORT through SO_REUSEPORT, and starts a new one when one dies (its devices reconnect to the
others); one worker runs in this process.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from applications.supervisor import supervise


class Command(BaseCommand):
    help = "Run MQTT device access on MQTT_PORT (and MQTTS on MQTTS_PORT when MQTT_TLS_CERT_FILE/KEY_FILE are set)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=None, help="MQTT port (MQTT_PORT)")
        parser.add_argument("--tls-port", type=int, default=None, help="MQTTS port (MQTTS_PORT)")
        parser.add_argument("--workers", type=int, default=None, help="worker processes (MQTT_WORKERS)")
        parser.add_argument("--worker", action="store_true", help="run one worker in this process, unchecked")

    def handle(self, *args, port: int | None, tls_port: int | None, workers: int | None, worker: bool, **options):
        port = port or settings.MQTT_PORT
        tls_port = tls_port or settings.MQTTS_PORT
        workers = workers or settings.MQTT_WORKERS
        if not worker:
            ports = [("MQTT_PORT", port)]
            if settings.MQTT_TLS_CERT_FILE and settings.MQTT_TLS_KEY_FILE:
                ports.append(("MQTTS_PORT", tls_port))
            for variable, number in ports:
                _check_free(number, variable)
        if worker or workers <= 1:
            asyncio.run(_run(port, tls_port))
        else:
            _supervise(workers, port, tls_port)


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
    from ingress import metrics as ingress_metrics
    from ingress.mqtt.server import MqttServer

    server = MqttServer(port=port, tls_port=tls_port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await server.start()
    ingress_metrics.export_mqtt(server)  # MQTT_METRICS_PORT + WORKER_INDEX, when set
    tls = f", MQTTS {server.tls_port}" if server.tls_port else ""
    print(f"mqtt: listening on MQTT port {port}{tls}", flush=True)
    await stopping.wait()
    await server.stop()


def _supervise(count: int, port: int, tls_port: int) -> None:
    command = [sys.executable, "manage.py", "run_mqtt", "--worker", "--port", str(port), "--tls-port", str(tls_port)]
    supervise("mqtt", command, count, settings.BASE_DIR)
