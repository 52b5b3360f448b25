"""A loopback stand-in for Slack's Socket Mode: a WebSocket server that the Slack double's
`apps.connections.open` points at.

Like Slack, it says hello to each connection, sends envelopes (events, slash commands,
interactions) and records the acks the app sends back, with any response payload. Tests can
drop the connection from the server side; the app must connect again (through
apps.connections.open). An Events API envelope that was not acked when its connection went away
is sent again, with `retry_attempt` raised, as Slack retries events: on another open connection
when there is one (several processes, as in a rolling restart), else on the next.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from standins.loopback import LOOPBACK

# Envelope types as Slack names them, and whether each carries a response payload in its ack.
EVENTS_API = "events_api"
SLASH_COMMANDS = "slash_commands"
INTERACTIVE = "interactive"
ACCEPTS_RESPONSE_PAYLOAD = {EVENTS_API: False, SLASH_COMMANDS: True, INTERACTIVE: False}


@dataclass
class Envelope:
    """One envelope sent to the app, and its ack once it came."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    retry_attempt: int = 0
    sent_on: list[int] = field(default_factory=list)  # the connection numbers it was sent on
    ack: dict[str, Any] | None = None

    def frame(self) -> str:
        return json.dumps(
            {
                "envelope_id": self.envelope_id,
                "payload": self.payload,
                "type": self.type,
                "accepts_response_payload": ACCEPTS_RESPONSE_PAYLOAD.get(self.type, False),
                "retry_attempt": self.retry_attempt,
                "retry_reason": "timeout" if self.retry_attempt else "",
            }
        )


class SocketModeDouble:
    """Start with start(); point apps.connections.open at `url`."""

    def __init__(self, host: str = LOOPBACK, app_id: str = "A0WHOSEKEY") -> None:
        self.host = host
        self.app_id = app_id
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Condition()
        self._current: ServerConnection | None = None  # the newest open connection
        self._open: dict[int, ServerConnection] = {}  # every open connection, by its number
        self._connections = 0  # connections accepted so far
        self._envelopes: dict[str, Envelope] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SocketModeDouble:
        if self._server is None:
            self._server = serve(self._serve, self.host, 0)
            self._thread = threading.Thread(target=self._server.serve_forever, name="socket-mode-double", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> SocketModeDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The ws:// URL apps.connections.open hands out (a fresh ticket each time, as Slack's)."""
        if self._server is None:
            raise RuntimeError("the Socket Mode double is not started")
        port = self._server.socket.getsockname()[1]
        return f"ws://{self.host}:{port}/link/?ticket={uuid.uuid4().hex}&app_id={self.app_id}"

    # -- what tests do -----------------------------------------------------------------------

    @property
    def connections(self) -> int:
        """How many connections the app has opened so far."""
        with self._lock:
            return self._connections

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._current is not None

    def wait_connected(self, count: int = 1, timeout: float = 30.0) -> None:
        """Block until the app has opened `count` connections and one is open now."""
        self._wait(lambda: self._connections >= count and self._current is not None, timeout, f"connection #{count}")

    @property
    def open_connections(self) -> list[int]:
        """The numbers of the connections open now, oldest first."""
        with self._lock:
            return sorted(self._open)

    def wait_closed(self, number: int, timeout: float = 30.0) -> None:
        """Block until connection `number` is closed."""
        self._wait(lambda: number not in self._open, timeout, f"connection #{number} to close")

    def send(self, kind: str, payload: dict[str, Any], on: int | None = None) -> str:
        """Send one envelope on the newest open connection, or on connection number `on`; returns
        its envelope_id."""
        envelope = Envelope(str(uuid.uuid4()), kind, payload)
        with self._lock:
            self._envelopes[envelope.envelope_id] = envelope
            if on is None:
                connection, number = self._current, self._connections
            else:
                connection, number = self._open.get(on), on
        if connection is None:
            raise RuntimeError("the app is not connected")
        envelope.sent_on.append(number)
        connection.send(envelope.frame())
        return envelope.envelope_id

    def wait_for_ack(self, envelope_id: str, timeout: float = 15.0) -> dict[str, Any]:
        """The app's ack of an envelope (with `payload` when it answered in the ack)."""
        self._wait(lambda: self._envelopes[envelope_id].ack is not None, timeout, f"the ack of {envelope_id}")
        ack = self._envelopes[envelope_id].ack
        assert ack is not None
        return ack

    def envelope(self, envelope_id: str) -> Envelope:
        with self._lock:
            return self._envelopes[envelope_id]

    def drop(self) -> None:
        """Close the open connection from the server side, as when Slack's end goes away."""
        with self._lock:
            connection = self._current
        if connection is not None:
            connection.close(code=1001, reason="going away")
            self._wait(lambda: self._current is not connection, 10.0, "the dropped connection to close")

    # -- serving -----------------------------------------------------------------------------

    def _serve(self, connection: ServerConnection) -> None:
        with self._lock:
            self._connections += 1
            number = self._connections
            self._current = connection
            self._open[number] = connection
            retries = [e for e in self._envelopes.values() if e.ack is None and e.type == EVENTS_API
                       and not set(e.sent_on) & set(self._open)]  # fmt: skip
            self._lock.notify_all()
        connection.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": self.app_id},
                                    "debug_info": {"host": "socket-mode-double"}}))  # fmt: skip
        for envelope in retries:
            # Slack sends an unacknowledged event again, saying it is a retry.
            envelope.retry_attempt += 1
            envelope.sent_on.append(number)
            connection.send(envelope.frame())
        try:
            for message in connection:
                self._on_message(message)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                del self._open[number]
                if self._current is connection:
                    self._current = self._open[max(self._open)] if self._open else None
                successor, successor_number = self._current, max(self._open, default=0)
                retries = [e for e in self._envelopes.values() if e.ack is None and e.type == EVENTS_API
                           and e.sent_on and e.sent_on[-1] == number] if successor else []  # fmt: skip
                for envelope in retries:
                    envelope.retry_attempt += 1
                    envelope.sent_on.append(successor_number)
                self._lock.notify_all()
            for envelope in retries:
                assert successor is not None
                with contextlib.suppress(ConnectionClosed):
                    successor.send(envelope.frame())

    def _on_message(self, message: str | bytes) -> None:
        try:
            frame = json.loads(message)
        except ValueError:
            return
        envelope_id = frame.get("envelope_id") if isinstance(frame, dict) else None
        with self._lock:
            envelope = self._envelopes.get(str(envelope_id))
            if envelope is not None and envelope.ack is None:
                envelope.ack = frame
            self._lock.notify_all()

    def _wait(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"Socket Mode double: no {what} within {timeout:g}s")
                self._lock.wait(remaining)
