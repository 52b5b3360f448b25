"""A loopback TCP forwarder standing in for a managed Redis endpoint's DNS name.

Clients connect to the forwarder's port; each connection is relayed to the port it points at
when the connection is made. `point_at` moves the name, as a managed failover does: new
connections reach the new target, while connections already open stay with the old one (or are
reset, with `drop=True`, as when the old node goes away).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass

from standins.loopback import LOOPBACK, free_port

# Bytes read from one side before they are written to the other.
CHUNK = 65536
# How long stop() waits for the accepting thread.
JOIN_TIMEOUT = 5.0


@dataclass
class _Relay:
    client: socket.socket
    server: socket.socket

    def close(self) -> None:
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):  # already closed by the other side
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class TcpForwarder:
    """Start with start(); `port` (and `redis_url`) is where clients connect."""

    def __init__(self, target_port: int | None = None) -> None:
        self.port = free_port()
        self._target = target_port
        self._relays: list[_Relay] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def redis_url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    @property
    def target(self) -> int | None:
        return self._target

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._relays)

    def point_at(self, port: int, *, drop: bool = False) -> None:
        """New connections go to `port`; open ones stay where they are unless `drop`."""
        with self._lock:
            self._target = port
        if drop:
            self.drop_connections()

    def drop_connections(self) -> None:
        """Reset every open connection (both sides), as a node going away does."""
        with self._lock:
            relays, self._relays = self._relays, []
        for relay in relays:
            relay.close()

    def start(self) -> TcpForwarder:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, self.port))
        listener.listen(128)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, name="tcp-forwarder", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT)
            self._thread = None
        self.drop_connections()

    def __enter__(self) -> TcpForwarder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        listener = self._listener
        while listener is not None:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by stop()
                return
            with self._lock:
                target = self._target
            try:
                if target is None:
                    raise OSError("the forwarder points nowhere yet")
                server = socket.create_connection((LOOPBACK, target), timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()  # the client sees a refused connection, as with a dead endpoint
                continue
            relay = _Relay(client, server)
            with self._lock:
                self._relays.append(relay)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(relay, source, sink), daemon=True).start()

    def _pump(self, relay: _Relay, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            if relay in self._relays:
                self._relays.remove(relay)
        relay.close()
