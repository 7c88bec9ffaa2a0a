"""Loopback servers for the SSRF and memory tests: a canary that must never be contacted, a
plain HTTP server that plays a public host, and an httpx transport that sends requests for
that public host's address to it (recording every request it is asked to send)."""

from __future__ import annotations

import contextlib
import gzip
import multiprocessing
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

import httpx

T = TypeVar("T")

#: a global unicast address (example.com's) that stands for "the internet": the transport below
#: sends its requests to the loopback server instead, so nothing ever leaves the machine
PUBLIC_IP = "93.184.215.14"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
CHUNK = b"\0" * (1024 * 1024)


class Canary:
    """A TCP listener on 127.0.0.1 (and ::1 where there is IPv6) that records connections."""

    def __init__(self) -> None:
        self.connections: list[str] = []
        self._sockets = [socket.create_server(("127.0.0.1", 0))]
        self.port = self._sockets[0].getsockname()[1]
        with contextlib.suppress(OSError):  # without IPv6 loopback, IPv4's stands for both
            self._sockets.append(socket.create_server(("::1", self.port), family=socket.AF_INET6))
        for listener in self._sockets:
            threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                connection, peer = listener.accept()
            except OSError:
                return
            self.connections.append(str(peer))
            connection.close()

    def close(self) -> None:
        for listener in self._sockets:
            listener.close()


class _PublicHandler(BaseHTTPRequestHandler):
    canary_port = 0

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", headers.get("content-length", str(len(body))))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, content_type: str, declared: int | None) -> None:
        """`CHUNK`s until the client hangs up (at most a gigabyte)."""
        self.send_response(200)
        self.send_header("content-type", content_type)
        if declared is not None:
            self.send_header("content-length", str(declared))
        self.send_header("connection", "close")
        self.end_headers()
        try:
            for _ in range(1024):
                self.wfile.write(CHUNK)
        except OSError:
            pass

    def do_GET(self) -> None:  # http.server's name
        redirects = {
            "/redirect-metadata": "http://169.254.169.254/latest/meta-data/",
            "/redirect-canary": f"http://127.0.0.1:{self.canary_port}/",
            "/redirect-loop": "/redirect-loop",
            "/redirect-image": "/image.png",
        }
        if self.path in redirects:
            self._send(302, {"location": redirects[self.path]})
        elif self.path == "/image.png":
            self._send(200, {"content-type": "image/png"}, PNG)
        elif self.path == "/huge":
            self._stream("image/png", None)
        elif self.path == "/huge-declared":
            self._stream("image/png", 300 * 1024 * 1024)
        elif self.path == "/text":
            self._send(200, {"content-type": "text/html"}, b"<h1>internal</h1>")
        elif self.path == "/gzip":
            body = gzip.compress(PNG)
            self._send(200, {"content-type": "image/png", "content-encoding": "gzip"}, body)
        elif self.path == "/slow":
            time.sleep(3)
            self._send(200, {"content-type": "image/png"}, PNG)
        else:
            self._send(404, {"content-type": "text/plain"}, b"no")

    def do_POST(self) -> None:
        """An OpenAI-compatible upstream gone wrong: a gigabyte answer to any call."""
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self._stream("application/json", None)


@contextmanager
def public_server(canary_port: int) -> Iterator[int]:
    """The loopback server that plays a public host; yields its port."""
    handler = type("Handler", (_PublicHandler,), {"canary_port": canary_port})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class LoopbackAsPublic(httpx.AsyncHTTPTransport):
    """Sends what is addressed to `PUBLIC_IP` to the loopback public server, everything else
    where it is addressed; `sent` lists every URL it was asked to send."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(str(request.url))
        if request.url.host == PUBLIC_IP:
            request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return await super().handle_async_request(request)


def peak_rss_growth_bytes(run: Callable[[], object]) -> int:
    """How far the process's peak resident set rose above its resident set while `run()` ran
    (Linux: /proc/self/clear_refs resets the peak)."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _status_kb("VmRSS")
    run()
    return (_status_kb("VmHWM") - before) * 1024


def peak_rss_growth_in_child(target: Callable[..., T], *args: object) -> tuple[int, T]:
    """`peak_rss_growth_bytes` of `target(*args)` run in a fresh interpreter, and what it
    returned: nothing else of the test process (its servers, the usage poller) allocates
    while it is measured. `target` must be a module-level function."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_measured, (target, *args))


def _measured(target: Callable[..., T], *args: object) -> tuple[int, T]:
    outcome: list[T] = []
    grown = peak_rss_growth_bytes(lambda: outcome.append(target(*args)))
    return grown, outcome[0]


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)
