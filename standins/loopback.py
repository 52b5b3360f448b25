"""Loopback ports and HTTP servers: the one place the stand-ins bind, serve and stop a server.

The Slack double and the AWS proxy each hand `LoopbackServer` a function that answers one request;
the server runs it on a thread per connection, from a daemon thread that never blocks exit.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"
# How often serve_forever looks for a shutdown request; bounds how long stop() waits.
POLL_INTERVAL = 0.1
# How long stop() waits for the serving thread once shut down.
JOIN_TIMEOUT = 5.0

RequestHandler = Callable[[BaseHTTPRequestHandler], None]


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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
