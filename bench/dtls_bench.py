"""DTLS 1.2 PSK: handshakes and records through the production path, next to the candidate libraries
alone, in one run (docs/dtls.md: which TLS library terminates CoAPS).

1. production: `ingress.dtls.DTLSInterface` (python-mbedtls 2.10.1, Mbed TLS 2.28.8) on a real UDP
   socket in its own event loop thread, handshake steps on its thread pool, as a worker runs it.
   Clients: python-mbedtls clients on their own sockets, one after another. Handshakes are whole
   (ClientHello, HelloVerifyRequest, ClientHello with cookie, ... Finished); records are CoAP NON
   requests (39 bytes of plaintext) through one session, counted when the interface hands them to
   aiocoap's message manager. Baseline beside it: the same CoAP messages in plain UDP to a
   DatagramProtocol that decodes them with aiocoap (what the CoAP port does before any handling).
2. libraries alone, in memory (no sockets, client and server in one thread, both costs counted):
   python-mbedtls, and OpenSSL (the one cryptography 50 bundles) driven through cryptography's cffi
   binding, since pyOpenSSL has no PSK API. Each with both suites of F-1.3 and a cookie exchange.
   Also the bytes and datagrams of one handshake: what a device spends on a re-handshake.

    make bench BENCH=dtls        (or .venv/bin/python bench/dtls_bench.py [--handshakes 300 --records 20000])
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from aiocoap.message import Message  # noqa: E402
from mbedtls import tls  # noqa: E402

from ingress import dtls  # noqa: E402

IDENTITY, KEY = "863703030000001", b"secretPSK"
SUITES = {  # F-1.3: Mbed TLS name, OpenSSL name
    "TLS_PSK_WITH_AES_128_CCM_8": ("TLS-PSK-WITH-AES-128-CCM-8", "PSK-AES128-CCM8"),
    "TLS_PSK_WITH_AES_128_CBC_SHA256": ("TLS-PSK-WITH-AES-128-CBC-SHA256", "PSK-AES128-CBC-SHA256"),
}
# A CoAP NON POST /t/d with a 30-byte payload: 39 bytes, what a meter's report looks like.
COAP = bytes.fromhex("5002 1234 b1 74 01 64 ff".replace(" ", "")) + bytes(range(30))


# --- python-mbedtls -------------------------------------------------------------------------------------
CLIENT_CONTEXTS: dict[str, tls.ClientContext] = {}


def mbedtls_client(suite: str) -> tls.TLSWrappedBuffer:
    """A new client connection (one client context per suite, as a device keeps its configuration)."""
    if suite not in CLIENT_CONTEXTS:
        configuration = tls.DTLSConfiguration(
            ciphers=(suite,),
            pre_shared_key=(IDENTITY, KEY),
            validate_certificates=False,
            lowest_supported_version=tls.DTLSVersion.DTLSv1_2,
            highest_supported_version=tls.DTLSVersion.DTLSv1_2,
        )
        CLIENT_CONTEXTS[suite] = tls.ClientContext(configuration)
    return CLIENT_CONTEXTS[suite].wrap_buffers(None)


def mbedtls_in_memory(suite: str, handshakes: int, records: int) -> dict:
    store = dtls.PskStore(lambda identity: KEY if identity == IDENTITY else None)
    context = dtls.server_context(store)
    flights = {"datagrams": 0, "bytes": 0}
    started = time.perf_counter()
    for number in range(handshakes):
        client, server = mbedtls_client(suite), context.wrap_buffers()
        server.setcookieparam(b"client address")
        out, state = dtls.run_handshake(client, b"")
        datagrams, size = 1, len(out)
        while True:
            answer, server_state = dtls.run_handshake(server, out)
            if server_state == "verify":
                server = context.wrap_buffers()  # what the production gate does: a fresh buffer
                server.setcookieparam(b"client address")
            datagrams, size = datagrams + 1, size + len(answer)
            if state == "over" and server_state == "over":
                break
            out, state = dtls.run_handshake(client, answer)
            if out:
                datagrams, size = datagrams + 1, size + len(out)
            elif state == "over":
                break
        if number == 0:
            flights = {"datagrams": datagrams, "bytes": size}
    handshake_seconds = (time.perf_counter() - started) / handshakes
    started = time.perf_counter()
    for _ in range(records):
        client.write(COAP)
        record = dtls._outgoing(client)
        server.receive_from_network(record)
        server.read(2048)
    record_seconds = (time.perf_counter() - started) / records
    return {"handshake_ms": handshake_seconds * 1000, "record_us": record_seconds * 1e6, **flights}


# --- OpenSSL through cryptography's cffi binding ------------------------------------------------------------
class OpenSSLDtls:
    """Just enough of OpenSSL's DTLS server and client with PSK callbacks and memory BIOs to measure."""

    def __init__(self) -> None:
        from cryptography.hazmat.bindings.openssl.binding import Binding

        self.ffi, self.lib = Binding.ffi, Binding.lib
        ffi = self.ffi

        @ffi.callback("unsigned int(SSL *, const char *, unsigned char *, unsigned int)")
        def server_psk(ssl, identity, psk, max_len):
            if ffi.string(identity).decode() != IDENTITY:
                return 0
            ffi.memmove(psk, KEY, len(KEY))
            return len(KEY)

        @ffi.callback("unsigned int(SSL *, const char *, char *, unsigned int, unsigned char *, unsigned int)")
        def client_psk(ssl, hint, identity, max_identity, psk, max_len):
            ffi.memmove(identity, IDENTITY.encode() + b"\0", len(IDENTITY) + 1)
            ffi.memmove(psk, KEY, len(KEY))
            return len(KEY)

        @ffi.callback("int(SSL *, unsigned char *, unsigned int *)")
        def make_cookie(ssl, cookie, length):
            ffi.memmove(cookie, b"0123456789abcdef", 16)
            length[0] = 16
            return 1

        @ffi.callback("int(SSL *, const unsigned char *, unsigned int)")
        def check_cookie(ssl, cookie, length):
            return int(ffi.buffer(cookie, length)[:] == b"0123456789abcdef")

        self.callbacks = (server_psk, client_psk, make_cookie, check_cookie)  # kept alive
        self.server_psk, self.client_psk, self.make_cookie, self.check_cookie = self.callbacks
        self.buffer = ffi.new("char[]", 65536)

    def context(self, server: bool, cipher: str):
        ffi, lib = self.ffi, self.lib
        ctx = lib.SSL_CTX_new(lib.DTLS_server_method() if server else lib.DTLS_client_method())
        ctx = ffi.gc(ctx, lib.SSL_CTX_free)
        assert lib.SSL_CTX_set_cipher_list(ctx, f"{cipher}:@SECLEVEL=0".encode()) == 1
        if server:
            lib.SSL_CTX_set_psk_server_callback(ctx, self.server_psk)
            lib.SSL_CTX_set_cookie_generate_cb(ctx, self.make_cookie)
            lib.SSL_CTX_set_cookie_verify_cb(ctx, self.check_cookie)
            lib.SSL_CTX_set_options(ctx, lib.SSL_OP_COOKIE_EXCHANGE)
        else:
            lib.SSL_CTX_set_psk_client_callback(ctx, self.client_psk)
        return ctx

    def connection(self, ctx, server: bool):
        lib = self.lib
        ssl = self.ffi.gc(lib.SSL_new(ctx), lib.SSL_free)
        incoming, outgoing = lib.BIO_new(lib.BIO_s_mem()), lib.BIO_new(lib.BIO_s_mem())
        lib.SSL_set_bio(ssl, incoming, outgoing)
        (lib.SSL_set_accept_state if server else lib.SSL_set_connect_state)(ssl)
        return ssl, incoming, outgoing

    def drain(self, bio) -> bytes:
        out = b""
        while (count := self.lib.BIO_read(bio, self.buffer, 65536)) > 0:
            out += self.ffi.buffer(self.buffer, count)[:]
        return out

    def step(self, connection, data: bytes) -> tuple[bytes, bool]:
        ssl, incoming, outgoing = connection
        if data:
            self.lib.BIO_write(incoming, data, len(data))
        done = self.lib.SSL_do_handshake(ssl) == 1
        return self.drain(outgoing), done

    def cipher(self, connection) -> str:
        return self.ffi.string(self.lib.SSL_CIPHER_get_name(self.lib.SSL_get_current_cipher(connection[0]))).decode()


def openssl_in_memory(suite: str, handshakes: int, records: int) -> dict:
    openssl = OpenSSLDtls()
    server_ctx, client_ctx = openssl.context(True, suite), openssl.context(False, suite)
    flights = {}
    started = time.perf_counter()
    for number in range(handshakes):
        server, client = openssl.connection(server_ctx, True), openssl.connection(client_ctx, False)
        out, client_done = openssl.step(client, b"")
        datagrams, size, server_done = 1, len(out), False
        for _ in range(10):
            answer, server_done = openssl.step(server, out)
            if answer:
                datagrams, size = datagrams + 1, size + len(answer)
            out, client_done = openssl.step(client, answer)
            if out:
                datagrams, size = datagrams + 1, size + len(out)
            if client_done and server_done and not out:
                break
        assert client_done and server_done, "OpenSSL handshake did not finish"
        if number == 0:
            flights = {"datagrams": datagrams, "bytes": size, "cipher": openssl.cipher(server)}
    handshake_seconds = (time.perf_counter() - started) / handshakes
    lib = openssl.lib
    started = time.perf_counter()
    for _ in range(records):
        lib.SSL_write(client[0], COAP, len(COAP))
        record = openssl.drain(client[2])
        lib.BIO_write(server[1], record, len(record))
        lib.SSL_read(server[0], openssl.buffer, 65536)
    record_seconds = (time.perf_counter() - started) / records
    return {"handshake_ms": handshake_seconds * 1000, "record_us": record_seconds * 1e6, **flights}


# --- the production path ------------------------------------------------------------------------------------
class CountingManager:
    """Stands in for aiocoap's message manager: counts the messages the interface decodes."""

    def __init__(self) -> None:
        self.count = 0

    def dispatch_message(self, message: Message) -> None:
        self.count += 1

    def dispatch_error(self, problem: BaseException, remote: object) -> None:
        pass


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def socket_handshake(port: int, suite: str) -> tuple[socket.socket, tls.TLSWrappedBuffer]:
    client = mbedtls_client(suite)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1)
    out, state = dtls.run_handshake(client, b"")
    while True:
        if out:
            sock.sendto(out, ("127.0.0.1", port))
        if state == "over":
            return sock, client
        for _ in range(5):  # a client retransmits its last flight when no answer comes (RFC 6347 4.2.4)
            try:
                answer = sock.recv(4096)
                break
            except TimeoutError:
                sock.sendto(out, ("127.0.0.1", port))
        else:
            raise TimeoutError("no answer to 5 retransmissions")
        out, state = dtls.run_handshake(client, answer)


def wait_count(manager: CountingManager, expected: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while manager.count < expected and time.monotonic() < deadline:
        time.sleep(0.001)


def production(suite: str, handshakes: int, records: int) -> dict:
    runner, manager = LoopThread(), CountingManager()
    executor = ThreadPoolExecutor(2, thread_name_prefix="bench-dtls")
    interface = runner.call(
        dtls.DTLSInterface.create(
            manager, host="127.0.0.1", port=0, lookup=lambda i: KEY if i == IDENTITY else None, executor=executor
        )
    )
    try:
        started = time.perf_counter()
        for _ in range(handshakes):
            sock, client = socket_handshake(interface.port, suite)
            sock.close()
        handshake_seconds = (time.perf_counter() - started) / handshakes
        sock, client = socket_handshake(interface.port, suite)
        wait_count(manager, 0)
        started = time.perf_counter()
        for number in range(records):
            client.write(COAP)
            sock.sendto(dtls._outgoing(client), ("127.0.0.1", interface.port))
            if number % 64 == 63:  # stay within the socket buffer: at most 64 in flight
                wait_count(manager, number + 1 - 64)
        wait_count(manager, records)
        elapsed = time.perf_counter() - started
        sock.close()
        return {
            "handshake_ms": handshake_seconds * 1000,
            "records_per_s": manager.count / elapsed,
            "lost": records - manager.count,
        }
    finally:
        runner.call(interface.shutdown())
        runner.stop()
        executor.shutdown()


def plain_baseline(records: int) -> dict:
    """The same CoAP messages in plain UDP, decoded by aiocoap in a DatagramProtocol."""
    runner, manager = LoopThread(), CountingManager()

    class Plain(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, address: tuple) -> None:
            manager.dispatch_message(Message.decode(data, None))

    async def start():
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(Plain, local_addr=("127.0.0.1", 0))
        return transport

    transport = runner.call(start())
    port = transport.get_extra_info("sockname")[1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    started = time.perf_counter()
    for number in range(records):
        sock.sendto(COAP, ("127.0.0.1", port))
        if number % 64 == 63:
            wait_count(manager, number + 1 - 64)
    wait_count(manager, records)
    elapsed = time.perf_counter() - started
    runner.loop.call_soon_threadsafe(transport.close)
    runner.stop()
    return {"records_per_s": manager.count / elapsed, "lost": records - manager.count}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handshakes", type=int, default=300)
    parser.add_argument("--records", type=int, default=20000)
    args = parser.parse_args()
    print(f"DTLS 1.2 PSK, {args.handshakes} handshakes and {args.records} records of {len(COAP)} bytes per row")
    print("\n1. production path (ingress.dtls.DTLSInterface, python-mbedtls) over UDP on 127.0.0.1")
    base = plain_baseline(args.records)
    print(f"   baseline, plain CoAP decoded by aiocoap: {base['records_per_s']:,.0f} msg/s (lost {base['lost']})")
    for name, (mbedtls_name, _) in SUITES.items():
        row = production(mbedtls_name, args.handshakes, args.records)
        print(
            f"   {name:34} handshake {row['handshake_ms']:.2f} ms (client + server, sequential)"
            f"   records {row['records_per_s']:,.0f} msg/s (lost {row['lost']})"
        )
    print("\n2. the libraries alone, in memory (client and server in one thread, both costs)")
    for name, (mbedtls_name, openssl_name) in SUITES.items():
        row = mbedtls_in_memory(mbedtls_name, args.handshakes, args.records)
        print(
            f"   Mbed TLS 2.28 (python-mbedtls 2.10.1) {name:32} handshake {row['handshake_ms']:.3f} ms"
            f"   record {row['record_us']:.1f} us   one handshake: {row['datagrams']} datagrams, {row['bytes']} bytes"
        )
        try:
            row = openssl_in_memory(openssl_name, args.handshakes, args.records)
        except (AssertionError, AttributeError) as problem:
            print(f"   OpenSSL: {name}: not possible here ({problem})")
            continue
        from cryptography.hazmat.backends.openssl import backend

        print(
            f"   {backend.openssl_version_text()[:14]} (cryptography cffi)  {name:32} "
            f"handshake {row['handshake_ms']:.3f} ms   record {row['record_us']:.1f} us   "
            f"one handshake: {row['datagrams']} datagrams, {row['bytes']} bytes ({row['cipher']})"
        )


if __name__ == "__main__":
    main()
