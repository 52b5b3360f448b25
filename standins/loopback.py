"""Loopback ports and HTTP servers: the one place the stand-ins bind, serve and stop a server.

The Slack double and the AWS proxy each hand `LoopbackServer` a function that answers one request;
the server runs it on a thread per connection, from a daemon thread that never blocks exit.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import socket
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
# How often serve_forever looks for a shutdown request; bounds how long stop() waits.
POLL_INTERVAL = 0.1
# How long stop() waits for the serving thread once shut down.
JOIN_TIMEOUT = 5.0

RequestHandler = Callable[[BaseHTTPRequestHandler], None]

# Every test process of this user on the machine records the ports it was handed here (port ->
# pid), under a lock; a claim whose process is gone is free again. One file per user, so another
# user's file is never one this user cannot write.
PORT_CLAIMS = Path(tempfile.gettempdir()) / f"whose-key-test-ports-{os.getuid()}.json"
# The band ports come from when the OS's ephemeral range leaves room below it.
PORT_BAND_START = 10000
PORT_BAND_MIN = 2000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on now and no other test process on this machine was handed.

    The port is a stand-in's to bind a moment later, so two things can take it in between: another
    test process side by side (the two end-to-end passes) handed the same port, and any outgoing
    connection, whose local port the OS picks from its ephemeral range. Ports come from below that
    range, and every one handed out is claimed in a machine-wide registry until its process exits.
    """
    with _claims_locked() as claims:
        for port in _candidate_ports():
            if port in claims or not _binds(host, port):
                continue
            claims[port] = os.getpid()
            return port
    raise RuntimeError("no free loopback port left to hand out")


@contextlib.contextmanager
def _claims_locked() -> Iterator[dict[int, int]]:
    """The live claims, under the machine-wide lock; what the block adds is saved."""
    with open(PORT_CLAIMS.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            try:
                saved = json.loads(PORT_CLAIMS.read_text())
            except (OSError, ValueError):
                saved = {}
            claims = {int(port): pid for port, pid in saved.items() if _alive(pid)}
            yield claims
            PORT_CLAIMS.write_text(json.dumps(claims))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's
        pass
    return True


def _candidate_ports() -> list[int]:
    """Ports below the OS's ephemeral range, in random order (or the OS's own picks if no room)."""
    try:
        low = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    if low - PORT_BAND_START >= PORT_BAND_MIN:
        ports = list(range(PORT_BAND_START, low))
        random.shuffle(ports)
        return ports
    return [_os_pick() for _ in range(100)]


def _os_pick() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _binds(host: str, port: int) -> bool:
    """True when a server could bind host:port now, on loopback and on every address (gunicorn's)."""
    for address in (host, "0.0.0.0"):  # noqa: S104 - only tried, never served
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


def port_answers(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def read_body(request: BaseHTTPRequestHandler) -> bytes:
    """The request's body, as long as its Content-Length says."""
    length = int(request.headers.get("Content-Length") or 0)
    return request.rfile.read(length) if length > 0 else b""


def respond(request: BaseHTTPRequestHandler, status: int, headers: Iterable[tuple[str, str]], payload: bytes) -> None:
    """Send a whole answer with its length; a client that already gave up is not an error."""
    try:
        request.send_response(status)
        for name, value in headers:
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        # The client's timeout fired first; whatever the owner recorded stays recorded.
        request.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handle: RequestHandler, methods: frozenset[str]) -> None:
        super().__init__(address, _Handler)
        self.answer = handle
        self.methods = methods


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so keep-alive clients (botocore's pool, benchmarks) reuse connections; every
    # answer sets its length.
    protocol_version = "HTTP/1.1"
    # An answer goes out as two writes (headers, then body): with Nagle's algorithm on, the body
    # waits for the client's delayed ACK, adding ~40 ms to every answer that AWS would not add.
    disable_nagle_algorithm = True
    server: _Server

    def _dispatch(self) -> None:
        if self.command not in self.server.methods:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
            return
        self.server.answer(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: request lines carry query strings, which may carry tokens."""


class LoopbackServer:
    """A threading HTTP server on the loopback; start() serves it, stop() closes its port."""

    def __init__(
        self,
        handle: RequestHandler,
        *,
        name: str,
        host: str = LOOPBACK,
        port: int = 0,
        methods: Iterable[str] = ("GET", "POST"),
    ) -> None:
        self.name = name
        self.host = host
        self._handle = handle
        self._requested_port = port  # 0: the OS picks a free one at start()
        self._methods = frozenset(methods)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError(f"{self.name} is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Scheme, host and port, e.g. http://127.0.0.1:53122."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> LoopbackServer:
        """Bind and serve in a daemon thread; a no-op when already running."""
        if self._server is not None:
            return self
        self._server = _Server((self.host, self._requested_port), self._handle, self._methods)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"{self.name}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; safe to call twice."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=JOIN_TIMEOUT)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
