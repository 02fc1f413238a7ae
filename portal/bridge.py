"""Django's WSGI handler on a thread pool under uvicorn, with as few hand-offs as possible.

a2wsgi (which this falls back to for large request bodies) hands every piece of a request and of its
answer between the event loop and the worker thread, each hand-off a wake-up of the other side. Most
calls here are small: this reads a small body whole on the event loop, runs the view in one trip to a
thread, which returns the whole answer, and writes it: two hand-offs. Streaming answers (the CSV
reports) are pulled chunk by chunk from the thread.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi import WSGIMiddleware
from a2wsgi.wsgi import build_environ

SMALL_BODY = 256 * 1024  # bytes read whole on the event loop before the view runs
STREAM_PIECE = 256 * 1024  # bytes of a streaming answer taken from the thread at each trip


class ThreadedWSGI:
    def __init__(self, app: Callable, workers: int) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="web")
        self.large = WSGIMiddleware(app, workers=1)
        self.large.executor.shutdown()
        self.large.executor = self.executor  # one pool: WEB_THREADS bounds the database connections too

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or _declared_length(scope) > SMALL_BODY:
            await self.large(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        environ = build_environ(scope, io.BytesIO(bytes(body)))
        environ.pop("wsgi.file_wrapper", None)  # so Django answers files as streaming responses
        loop = asyncio.get_running_loop()
        status, headers, chunks, iterator = await loop.run_in_executor(self.executor, self._run, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if iterator is None:
            await send({"type": "http.response.body", "body": b"".join(chunks)})
            return
        try:
            while chunks := await loop.run_in_executor(self.executor, _pull, iterator):
                await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await loop.run_in_executor(self.executor, _close, iterator)

    def _run(self, environ: dict) -> tuple[int, list, list[bytes], Any]:
        started: list = []

        def start_response(status: str, headers: list, exc_info: Any = None) -> Callable:
            started[:] = [status, headers]
            return lambda chunk: None  # the legacy write() callable: unused by Django

        iterable = self.app(environ, start_response)
        status, headers = started
        encoded = [(name.lower().encode("latin1"), value.encode("latin1")) for name, value in headers]
        code = int(status.split(" ", 1)[0])
        if getattr(iterable, "streaming", False):
            return code, encoded, [], _Closing(iterable)
        try:
            return code, encoded, list(iterable), None
        finally:
            _close(iterable)


class _Closing:
    """A streaming answer's iterator that closes the answer (Django's request_finished) with it."""

    def __init__(self, iterable: Iterable[bytes]) -> None:
        self.iterable, self.iterator = iterable, iter(iterable)

    def __iter__(self) -> _Closing:
        return self

    def __next__(self) -> bytes:
        return next(self.iterator)

    def close(self) -> None:
        _close(self.iterable)


def _pull(iterator: Any) -> list[bytes]:
    """The next chunks of a streaming answer, up to STREAM_PIECE bytes; empty at its end."""
    chunks, size = [], 0
    for chunk in iterator:
        chunks.append(chunk)
        size += len(chunk)
        if size >= STREAM_PIECE:
            break
    return chunks


def _close(iterable: Any) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()


def _declared_length(scope: dict) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return SMALL_BODY + 1
        if name == b"transfer-encoding":
            return SMALL_BODY + 1
    return 0
