"""portal.bridge: Django's WSGI handler on a thread pool under uvicorn, driven here as uvicorn does
(ASGI messages), with small WSGI applications standing in for Django."""

from __future__ import annotations

import asyncio

from portal.bridge import SMALL_BODY, ThreadedWSGI


class Answer(list):
    """A WSGI answer that records being closed (Django sends request_finished from close())."""

    closed = False
    streaming = False

    def close(self) -> None:
        self.closed = True


def run(app, *, method="POST", body=b"", pieces=1, headers=(), disconnect=False) -> list[dict]:
    async def go() -> list[dict]:
        bridge = ThreadedWSGI(app, workers=2)
        size = len(body)
        step = max(1, -(-size // pieces))
        messages = [
            {"type": "http.request", "body": body[i : i + step], "more_body": i + step < size}
            for i in range(0, max(size, 1), step)
        ]
        if disconnect:
            messages = messages[:1]
            messages[0]["more_body"] = True
            messages.append({"type": "http.disconnect"})
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": "/iocm/x", "raw_path": b"/iocm/x", "query_string": b"", "root_path": "",
            "headers": [(b"host", b"testserver"), (b"content-length", str(size).encode()), *headers],
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80),
        }  # fmt: skip
        sent: list[dict] = []

        async def receive() -> dict:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        await bridge(scope, receive, send)
        bridge.executor.shutdown()
        return sent

    return asyncio.run(go())


def test_a_small_request_is_one_trip_to_a_thread_and_one_answer():
    seen = {}
    answer = Answer([b"hello ", b"world"])

    def app(environ, start_response):
        seen["body"] = environ["wsgi.input"].read()
        seen["method"] = environ["REQUEST_METHOD"]
        headers = [("Content-Type", "application/json"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
        start_response("201 Created", headers)
        return answer

    sent = run(app, body=b'{"x": 1}' * 1000, pieces=4)
    assert seen == {"body": b'{"x": 1}' * 1000, "method": "POST"}
    assert sent == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"application/json"), (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")],
        },
        {"type": "http.response.body", "body": b"hello world"},
    ]
    assert answer.closed


def test_a_streaming_answer_is_sent_in_pieces_and_closed():
    chunk = b"x" * (100 * 1024)
    answer = Answer([chunk] * 7)
    answer.streaming = True

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/csv")])
        return answer

    sent = run(app, method="GET")
    bodies = [message for message in sent if message["type"] == "http.response.body"]
    assert b"".join(message["body"] for message in bodies) == chunk * 7
    assert 2 <= len(bodies) <= 5  # pieces of about 256 KiB, then the end
    assert bodies[-1] == {"type": "http.response.body", "body": b""}
    assert answer.closed


def test_a_large_body_is_streamed_to_the_view_by_a2wsgi():
    seen = {}

    def app(environ, start_response):
        seen["body"] = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return Answer([b"ok"])

    body = bytes(range(256)) * (SMALL_BODY // 256 + 10)
    sent = run(app, body=body, pieces=9)
    assert seen["body"] == body
    assert sent[0]["status"] == 200
    assert b"".join(message.get("body", b"") for message in sent[1:]) == b"ok"


def test_a_client_gone_before_its_body_arrived_runs_nothing():
    called = []

    def app(environ, start_response):
        called.append(True)
        start_response("200 OK", [])
        return Answer([])

    assert run(app, body=b"x" * 1000, disconnect=True) == []
    assert called == []
