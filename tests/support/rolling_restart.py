"""A rolling restart of every process of the Procfile under a stream of lookups, for the end-to-end
test (tests/e2e/test_rolling_restart.py) and its bench (bench/rolling_restart.py).

Two of each process run (web, worker, socket), so one serves while the other restarts, as in a
real rolling deploy; the stream's "load balancer" stops sending to a process just before its
SIGTERM, as a platform's router does. Each SIGTERM finds work in hand, made so by holding it at a
stand-in until the signal is sent:
- web: a slash command held inside the web process at `users.info` (the guest check, at the
  Slack double), released after the SIGTERM: it must still be acked;
- worker: lookups held at IAM (`GetAccessKeyLastUsed`, at the AWS proxy) in every RQ worker
  process of both pools, released once the stopping pool's workers have recorded RQ's warm
  shutdown request: their jobs must finish, answered once;
- socket: a slash command envelope held the same way in the stopping socket process, and an
  Events API envelope sent to it once it drains: the first must be acked on its connection, the
  second left to Slack, which sends it again to the other connection.
Answers are counted per request at the Slack double: every lookup answered exactly once.
"""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from rq import Worker

from standins import slack_payloads
from standins.aws_proxy.proxy import HOLD_LIMIT
from standins.loopback import free_port
from standins.processes import ChildProcess
from standins.socket_mode import EVENTS_API, SLASH_COMMANDS, SocketModeDouble
from standins.stack import READY_TIMEOUT, RESTART_TIMEOUT, Stack
from tests.support.waiting import wait_for_queues_drained, wait_until

# The stream's key, and keys held at IAM while a worker restarts: one per RQ worker process, none
# of them the stream's (account, IAM user).
STREAM_KEY = ("acme-data", "etl")
HELD_KEYS = (("acme-prod", "deploy-bot"), ("acme-prod", "alice"), ("acme-management", "break-glass"),
             ("acme-dev", "ci-runner"))  # fmt: skip
# How often the stream sends a lookup through a web process, and one through a socket connection.
STREAM_EVERY = 0.1
# How long a lookup may take to be answered once the restarts are over (the worker phase queues
# the stream behind held jobs, and a loaded CI machine starts processes slowly).
ANSWER_TIMEOUT = 90.0
MENTION_CHANNEL = "C0ROLLING"


@dataclass
class Lookup:
    """One lookup sent: where to, and the IAM user name its answer names."""

    response_url: str
    via: str  # the process it was sent to: "web-0", "socket-1", ...
    marker: str
    sent_at: float
    acked: bool | None = None  # the web's reply or the socket's ack said "Looking up"; None: not yet known
    envelope_id: str | None = None


@dataclass
class Figures:
    """What a rolling restart came to."""

    lookups: int
    lost: int  # lookups never answered (or refused at the edge)
    doubled: int  # lookups answered more than once
    longest_gap: float  # seconds: the longest stretch without an answer while processes restarted
    restarts: list[str] = field(default_factory=list)  # "web-0 -> web-2 (exit 0, 1.2s)", ...
    in_flight: list[str] = field(default_factory=list)  # what each SIGTERM found in hand, and its end


class MemberGate:
    """`users.info` at the Slack double, answering every caller as a full member of the workspace;
    the users hold() names wait there (inside whichever process asked) until release()."""

    def __init__(self, stack: Stack) -> None:
        self.team_id = stack.slack.team_id
        self._changed = threading.Condition()
        self._gates: dict[str, threading.Event] = {}
        self._arrived: set[str] = set()
        stack.slack.register_method("users.info", self._users_info)

    def hold(self, user: str) -> None:
        with self._changed:
            self._gates[user] = threading.Event()

    def wait_arrived(self, user: str, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while user not in self._arrived:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"users.info for {user} did not arrive within {timeout:g}s")
                self._changed.wait(remaining)

    def release(self, user: str) -> None:
        with self._changed:
            gate = self._gates.pop(user, None)
        if gate is not None:
            gate.set()

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user", ""))
        with self._changed:
            gate = self._gates.get(user)
            self._arrived.add(user)
            self._changed.notify_all()
        if gate is not None:
            gate.wait(HOLD_LIMIT)
        member = {"id": user, "team_id": self.team_id, "name": user.lower(), "deleted": False, "is_bot": False}
        return {"user": {**member, "is_restricted": False, "is_ultra_restricted": False, "profile": {}}}


class RollingRestart:
    """Drive one rolling restart on a started Stack(workers=2, socket=True)."""

    def __init__(self, stack: Stack) -> None:
        assert stack.org is not None and stack.socket_mode is not None
        self.stack = stack
        self.org = stack.org
        self.double: SocketModeDouble = stack.socket_mode
        self.redis = Redis.from_url(stack.redis.url)
        self.gate = MemberGate(stack)
        self.lookups: list[Lookup] = []
        self.mentions: list[str] = []  # thread ts of mentions sent while a socket process drained
        self.figures = Figures(0, 0, 0, 0.0)
        self._lock = threading.Lock()
        self._users = itertools.count(1)
        self._serving: set[str] = set()  # the processes the stream's "load balancer" sends to
        # Held while the stream picks a process and sends to it, and while one is taken out of
        # `_serving`: nothing is sent to a process after its SIGTERM but what the test puts in hand.
        self._route = threading.Lock()
        self._connection_of: dict[str, int] = {}  # socket process name -> its Socket Mode connection
        self._errors: list[str] = []
        self._stop_stream = threading.Event()
        self._stream_thread: threading.Thread | None = None
        self._restarts_started = 0.0
        self._restarts_ended = 0.0

    # -- set-up ------------------------------------------------------------------------------

    def start_second_instances(self) -> None:
        """A second `web` (on a port of its own) and a second `socket` beside the stack's first."""
        (socket_0,) = self._processes("socket")
        self._connection_of[socket_0.name] = max(self.double.open_connections)
        port = free_port()
        self.stack.start_process("web", {"PORT": str(port)}).wait_for_port(port, timeout=READY_TIMEOUT)
        self._start_socket()
        self.stack.wait_for_workers(2 * self.stack.pool_size)
        self._serving.update(p.name for p in [*self._processes("web"), *self._processes("socket")])

    def _processes(self, kind: str) -> list[ChildProcess]:
        return [p for p in self.stack.processes if p.name.rsplit("-", 1)[0] == kind]

    def _start_socket(self, replacing: ChildProcess | None = None) -> ChildProcess:
        before = self.double.connections
        process = self.stack.replace(replacing) if replacing else self.stack.start_process("socket")
        self.double.wait_connected(before + 1, timeout=READY_TIMEOUT)
        self._connection_of[process.name] = max(self.double.open_connections)
        return process

    @staticmethod
    def url_of(process: ChildProcess) -> str:
        assert process.env is not None
        return f"http://127.0.0.1:{process.env['PORT']}"

    # -- sending lookups ---------------------------------------------------------------------

    def _new_user(self) -> str:
        return f"U0RR{next(self._users):05d}"

    def send_via_web(self, web: ChildProcess, key: tuple[str, str] = STREAM_KEY, user: str | None = None) -> Lookup:
        """One slash command through this web process, its reply awaited."""
        lookup = Lookup(self.stack.slack.new_response_url(), web.name, key[1], time.time())
        with self._lock:
            self.lookups.append(lookup)
        try:
            reply, _ = self.stack.slash_command(self.org.key(*key), user_id=user or self._new_user(),
                                                response_url=lookup.response_url, web_url=self.url_of(web))  # fmt: skip
            lookup.acked = reply.status == 200 and "Looking up" in reply.body
        except OSError as exc:  # refused or reset: lost at the edge, counted as such
            lookup.acked = False
            self._errors.append(f"{web.name}: {exc}")
        return lookup

    def send_via_socket(
        self, socket: ChildProcess, key: tuple[str, str] = STREAM_KEY, user: str | None = None
    ) -> Lookup:
        """One slash command envelope on this socket process's connection (its ack not awaited)."""
        url = self.stack.slack.new_response_url()
        lookup = Lookup(url, socket.name, key[1], time.time())
        form = slack_payloads.slash_command(self.org.key(*key), user_id=user or self._new_user(),
                                            channel_id="C0INCIDENT", response_url=url)  # fmt: skip
        with self._lock:
            self.lookups.append(lookup)
        lookup.envelope_id = self.double.send(SLASH_COMMANDS, form, on=self._connection_of[socket.name])
        return lookup

    def _stream(self) -> None:
        turn = itertools.count()
        while not self._stop_stream.wait(STREAM_EVERY):
            n = next(turn)
            with self._route:
                webs = [p for p in self._processes("web") if p.name in self._serving]
                sockets = [p for p in self._processes("socket") if p.name in self._serving]
                if webs:
                    self.send_via_web(webs[n % len(webs)])
                if sockets:
                    self.send_via_socket(sockets[n % len(sockets)])

    def _take_out(self, process: ChildProcess) -> None:
        """The "load balancer" stops sending to this process (before its SIGTERM)."""
        with self._route:
            self._serving.discard(process.name)

    # -- restarting --------------------------------------------------------------------------

    def run(self) -> Figures:
        """Start the stream, restart web, worker and socket processes one after another (each of
        the two instances of each), stop the stream and count the answers."""
        self.lookups, self.mentions, self.figures = [], [], Figures(0, 0, 0, 0.0)
        self._stop_stream.clear()
        self._stream_thread = threading.Thread(target=self._stream, name="lookup-stream", daemon=True)
        self._stream_thread.start()
        try:
            self._restarts_started = time.time()
            for web in self._processes("web"):
                self.restart_web(web)
            for worker in self._processes("worker"):
                self.restart_worker(worker)
            for socket in self._processes("socket"):
                self.restart_socket(socket)
            self._restarts_ended = time.time()
        finally:
            self._stop_stream.set()
            self._stream_thread.join(timeout=30)
        return self.count()

    def _stopped(self, process: ChildProcess, began: float) -> str:
        code = process.popen.wait(timeout=RESTART_TIMEOUT)
        return f"exit {code}, {time.monotonic() - began:.1f}s"

    def restart_web(self, web: ChildProcess) -> ChildProcess:
        user = self._new_user()
        self.gate.hold(user)
        held: list[Lookup] = []
        sender = threading.Thread(target=lambda: held.append(self.send_via_web(web, user=user)), daemon=True)
        sender.start()
        self.gate.wait_arrived(user)  # the request is inside the web process now
        self._take_out(web)
        began = time.monotonic()
        web.send_signal(signal.SIGTERM)
        self.gate.release(user)
        sender.join(timeout=RESTART_TIMEOUT)
        stopped = self._stopped(web, began)
        acked = bool(held and held[0].acked)
        self.figures.in_flight.append(f"{web.name}: a slash command in hand at SIGTERM {'acked' if acked else 'LOST'}")
        fresh = self.stack.replace(web)
        assert fresh.env is not None
        fresh.wait_for_port(int(fresh.env["PORT"]), timeout=READY_TIMEOUT)
        self._serving.add(fresh.name)
        self.figures.restarts.append(f"{web.name} -> {fresh.name} ({stopped})")
        return fresh

    def restart_worker(self, worker: ChildProcess) -> ChildProcess:
        workers = len(Worker.all(connection=self.redis))
        keys = {self.org.key(*key): key for key in HELD_KEYS[:workers]}
        hold = self.stack.aws.hold("GetAccessKeyLastUsed", lambda params: params.get("AccessKeyId") in keys)
        try:
            webs = [p for p in self._processes("web") if p.alive()]
            for index, key in enumerate(keys.values()):
                self.send_via_web(webs[index % len(webs)], key)
            # One held call per job, and a job makes one at a time: every RQ worker holds one job.
            wait_until(lambda: hold.hits >= len(keys), what=f"{len(keys)} lookups held at IAM", timeout=READY_TIMEOUT)
            began = time.monotonic()
            worker.send_signal(signal.SIGTERM)  # the pool passes it on to its RQ workers, once

            def asked_to_stop() -> bool:
                stopping = [w for w in Worker.all(connection=self.redis) if w.shutdown_requested_date is not None]
                return len(stopping) >= self.stack.pool_size

            wait_until(asked_to_stop, what=f"{worker.name}'s RQ workers to record the warm shutdown",
                       timeout=READY_TIMEOUT)  # fmt: skip
        finally:
            self.stack.aws.remove(hold)
        stopped = self._stopped(worker, began)
        self.figures.in_flight.append(
            f"{worker.name}: warm shutdown of its {self.stack.pool_size} RQ workers, each holding a job (held at IAM)"
        )
        fresh = self.stack.replace(worker)
        self.stack.wait_for_workers(workers, timeout=RESTART_TIMEOUT)
        self.figures.restarts.append(f"{worker.name} -> {fresh.name} ({stopped})")
        return fresh

    def restart_socket(self, socket: ChildProcess) -> ChildProcess:
        number = self._connection_of[socket.name]
        user = self._new_user()
        self.gate.hold(user)
        in_hand = self.send_via_socket(socket, user=user)
        self.gate.wait_arrived(user)  # the envelope is inside the socket process now
        self._take_out(socket)
        began = time.monotonic()
        socket.send_signal(signal.SIGTERM)
        wait_until(
            lambda: "socket mode draining" in socket.log(), what=f"{socket.name} to drain", timeout=READY_TIMEOUT
        )
        # Sent once it takes no more: left unacked, so Slack sends it again to the other connection.
        ts = f"17000{number:05d}.000100"
        event = {"type": "app_mention", "user": self._new_user(), "ts": ts, "channel": MENTION_CHANNEL,
                 "text": f"<@UWHOSEKEY> whose is {self.org.key(*STREAM_KEY)}?", "event_ts": ts}  # fmt: skip
        left = self.double.send(
            EVENTS_API, slack_payloads.event_callback(event, event_id=f"EvRolling{number}"), on=number
        )
        self.mentions.append(ts)
        self.gate.release(user)
        ack = self.double.wait_for_ack(in_hand.envelope_id or "", timeout=READY_TIMEOUT)
        stopped = self._stopped(socket, began)
        self.double.wait_closed(number)
        redelivered = self.double.envelope(left).sent_on
        outcome = "acked" if "Looking up" in json.dumps(ack) else "LOST"
        self.figures.in_flight.append(
            f"{socket.name}: a slash command in hand at SIGTERM {outcome} on connection #{number}; an event"
            f" sent while it drained went on to connection(s) {redelivered[1:]}"
        )
        fresh = self._start_socket(replacing=socket)
        self._serving.add(fresh.name)
        self.figures.restarts.append(f"{socket.name} -> {fresh.name} ({stopped})")
        return fresh

    # -- counting ----------------------------------------------------------------------------

    def answers(self, lookup: Lookup) -> list[float]:
        """When this lookup's answers reached its response_url (posts naming its IAM user)."""
        return [c.at for c in self.stack.slack.hook_posts(lookup.response_url) if lookup.marker in json.dumps(c.body)]

    def mention_answers(self, ts: str) -> int:
        calls = self.stack.slack.api_calls("chat.postMessage")
        marker = STREAM_KEY[1]
        return sum(1 for c in calls if c.body.get("channel") == MENTION_CHANNEL and c.body.get("thread_ts") == ts
                   and marker in json.dumps(c.body))  # fmt: skip

    def count(self) -> Figures:
        for lookup in self.lookups:  # a socket lookup's ack says whether it was taken
            if lookup.envelope_id is not None and lookup.acked is None:
                ack = self.double.wait_for_ack(lookup.envelope_id, timeout=READY_TIMEOUT)
                lookup.acked = "Looking up" in json.dumps(ack)
        taken = [lookup for lookup in self.lookups if lookup.acked]
        wait_until(lambda: all(self.answers(lookup) for lookup in taken), timeout=ANSWER_TIMEOUT,
                   what=lambda: f"{sum(1 for x in taken if not self.answers(x))} lookups to be answered")  # fmt: skip
        wait_until(lambda: all(self.mention_answers(ts) for ts in self.mentions), timeout=ANSWER_TIMEOUT,
                   what="the mentions sent while a socket process drained to be answered")  # fmt: skip
        # Every job in a final state: any second answer would have been posted by now.
        wait_for_queues_drained(self.redis, timeout=ANSWER_TIMEOUT)
        counts = [len(self.answers(lookup)) for lookup in self.lookups]
        mention_counts = [self.mention_answers(ts) for ts in self.mentions]
        times = sorted(t for lookup in self.lookups for t in self.answers(lookup))
        during = [t for t in times if self._restarts_started <= t <= self._restarts_ended] or times
        edges = [self._restarts_started, *during, self._restarts_ended]
        self.figures.lookups = len(self.lookups) + len(self.mentions)
        self.figures.lost = sum(1 for lookup, c in zip(self.lookups, counts, strict=True) if not lookup.acked or c == 0)
        self.figures.lost += sum(1 for c in mention_counts if c == 0)
        self.figures.doubled = sum(1 for c in [*counts, *mention_counts] if c > 1)
        self.figures.longest_gap = max(b - a for a, b in itertools.pairwise(edges))
        return self.figures

    def errors(self) -> list[str]:
        return list(self._errors)
