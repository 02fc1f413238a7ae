"""Django's WSGI handler on a thread pool under uvicorn, with as few hand-offs as possible.

a2wsgi (which this falls back to for large request bodies) hands every piece of a request and of its
answer between the event loop and the worker thread, each hand-off a wake-up of the other side. Most
calls here are small: this reads a small body whole on the event loop, runs the view in one trip to a
thread, which returns the whole answer, and writes it: two hand-offs. Streaming answers (the CSV
reports) are pulled chunk by chunk from the thread.

Bodies are bounded here, as they arrive: DATA_UPLOAD_MAX_MEMORY_SIZE (REQUEST_MAX_BYTES) for JSON and
form bodies, REQUEST_MAX_UPLOAD_BYTES for multipart uploads; a body over its bound is answered 413
without being read further (`too_large`). A chunked body (`Transfer-Encoding: chunked`, what Node's
`https.request` sends when no Content-Length is set) has no declared length: WSGI (and Django, which
reads CONTENT_LENGTH bytes, none when it is missing) needs one, so it is read whole here, into memory up
to SMALL_BODY and a temporary file beyond, counted against the bound while it arrives, and handed on
with the length it turned out to have.
"""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi import WSGIMiddleware
from a2wsgi.wsgi import build_environ
from django.conf import settings

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
        if scope["type"] != "http":
            await self.large(scope, receive, send)
            return
        length, chunked = _declared_length(scope)
        limit = body_limit(scope)
        if length > limit:
            await too_large(scope, send, limit)
            return
        if chunked:
            body = await _read_chunked(receive, limit)
            if body is None:  # the client went away
                return
            if body is TOO_LARGE:
                await too_large(scope, send, limit)
                return
            size = body.seek(0, io.SEEK_END)
            body.seek(0)
            scope = dict(scope, headers=[(n, v) for n, v in scope["headers"] if n != b"transfer-encoding"])
            environ = build_environ(scope, body)
            environ["CONTENT_LENGTH"] = str(size)
        elif length > SMALL_BODY:
            await self.large(scope, receive, send)
            return
        else:
            data = bytearray()
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                data += message.get("body", b"")
                if not message.get("more_body", False):
                    break
            environ = build_environ(scope, io.BytesIO(bytes(data)))
        environ.pop("wsgi.file_wrapper", None)  # so Django answers files as streaming responses
        loop = asyncio.get_running_loop()
        try:
            status, headers, chunks, iterator = await loop.run_in_executor(self.executor, self._run, environ)
        finally:
            environ["wsgi.input"].close()
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


TOO_LARGE: Any = object()
API_PREFIXES = ("/iocm/", "/iodm/", "/api/")


def body_limit(scope: dict) -> int:
    """The most bytes a request's body may have: larger for multipart uploads (packages, profiles,
    codecs, bulk files, whose own limits the views check) than for JSON and form bodies."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type" and value[:10].lower() == b"multipart/":
            return settings.REQUEST_MAX_UPLOAD_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


async def too_large(scope: dict, send: Callable, limit: int) -> None:
    """413 for a body over its bound: the original's error body on the APIs, a sentence elsewhere."""
    desc = f"Bad request message: the request body is larger than {limit} bytes."
    if scope.get("path", "").startswith(API_PREFIXES):
        body = json.dumps({"error_code": "100007", "error_desc": desc}, separators=(",", ":")).encode()
        content_type = b"application/json"
    else:
        body, content_type = desc.encode(), b"text/plain; charset=utf-8"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_chunked(receive: Callable, limit: int) -> Any:
    """A body of undeclared length, read whole: a file positioned at its end, TOO_LARGE once it passes
    `limit` (the rest is not read), None when the client disconnects."""
    body = tempfile.SpooledTemporaryFile(max_size=SMALL_BODY)  # noqa: SIM115 (closed by the caller)
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            body.close()
            return None
        piece = message.get("body", b"")
        size += len(piece)
        if size > limit:
            body.close()
            return TOO_LARGE
        if piece:
            body.write(piece)  # beyond SMALL_BODY this writes to a file: a short blocking call
        if not message.get("more_body", False):
            return body


def _declared_length(scope: dict) -> tuple[int, bool]:
    """(Content-Length, chunked): a chunked body's length is unknown (0) until read; a length that is
    not a number counts as too large for the small path (a2wsgi and Django then refuse it)."""
    length, chunked = 0, False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = SMALL_BODY + 1
        elif name == b"transfer-encoding":
            chunked = True
    return (0, True) if chunked else (length, False)
