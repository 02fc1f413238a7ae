"""A real HTTP(S) server on a local socket that records every push it receives."""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 drops concurrent connects for a second


@dataclass
class Receiver:
    """Answers with `status` (or the next of `statuses`) after `delay` seconds, and records requests."""

    status: int = 200
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    scheme: str = "http"
    arrived: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/callback") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def start(self, context: ssl.SSLContext | None = None) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver
            disable_nagle_algorithm = True  # headers and body go in separate writes

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                receiver.arrived.set()
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
                payload = b"" if status in (204, 304) else b'{"ok":true}'
                self.send_response(status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def bodies(self) -> list[bytes]:
        return [request.body for request in self.received]
