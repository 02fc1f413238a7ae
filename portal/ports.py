"""Checking that the ports we are about to bind are free, with one line that names the variable."""

from __future__ import annotations

import socket


def check_free(host: str, ports: list[tuple[str, int]], kind: int = socket.SOCK_STREAM) -> str | None:
    """None when every port can be bound, else a one-line explanation naming the variable to change."""
    for variable, port in ports:
        with socket.socket(socket.AF_INET, kind) as probe:
            if kind == socket.SOCK_STREAM:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host if host not in ("", "::") else "0.0.0.0", port))
            except OSError:
                return f"Port {port} is already in use (set {variable} to a free port, e.g. {variable}={port + 1})."
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_port_range(count: int) -> int:
    """A base TCP port of 127.0.0.1 such that base .. base + count - 1 are all free (a supervised
    process's workers each serve one: applications.prometheus)."""
    for _ in range(50):
        base, probes = free_port(), []
        try:
            for offset in range(count):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError(f"no {count} consecutive free ports")
