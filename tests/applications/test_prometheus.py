"""applications.prometheus: the port of each supervised worker, and a taken port named by its setting."""

from __future__ import annotations

import logging
import socket

from applications import prometheus


def test_each_worker_takes_the_base_port_plus_its_index_and_0_is_off(settings, monkeypatch):
    settings.INGRESS_METRICS_PORT = 9100
    monkeypatch.setenv("WORKER_INDEX", "2")
    assert prometheus.port_for("INGRESS_METRICS_PORT") == 9102
    monkeypatch.delenv("WORKER_INDEX")
    assert prometheus.port_for("INGRESS_METRICS_PORT") == 9100  # alone: index 0
    settings.INGRESS_METRICS_PORT = 0
    monkeypatch.setenv("WORKER_INDEX", "2")
    assert prometheus.port_for("INGRESS_METRICS_PORT") == 0


def test_a_taken_port_is_one_line_naming_the_setting_and_the_process_runs_on(settings, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings.METRICS_ADDRESS = "127.0.0.1"
        settings.MQTT_METRICS_PORT = port
        with caplog.at_level(logging.ERROR, logger="metrics"):
            assert prometheus.serve("MQTT_METRICS_PORT") == 0
    assert not prometheus.serving()
    [record] = caplog.records
    assert f"127.0.0.1:{port} cannot be bound" in record.getMessage()
    assert "set MQTT_METRICS_PORT to a free base port" in record.getMessage()
    assert record.exc_info is None


def test_a_collector_that_fails_yields_nothing_and_is_logged_without_taking_the_scrape_down(caplog):
    from prometheus_client import generate_latest

    def broken():
        raise RuntimeError("database gone")

    prometheus.register("broken-for-test", broken)
    try:
        with caplog.at_level(logging.ERROR, logger="metrics"):
            text = generate_latest().decode()
    finally:
        prometheus.unregister("broken-for-test")
    assert "process_" in text or "python_" in text
    assert "collecting metrics failed" in caplog.text
