"""The whole bot running locally on real parts: a throwaway Redis, a moto server with a seeded
organization, the loopback Slack, and the `web` and `worker` processes started as the Procfile
starts them. Used by `whose-key demo`, the end-to-end tests and the benchmarks."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shlex
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standins import slack_payloads
from standins.aws_proxy import IAM_MODES, AwsFaultProxy
from standins.loopback import free_port
from standins.moto_org import (
    DEMO_ORGANIZATION,
    DEMO_SLACK_USERS,
    MANAGEMENT_ACCOUNT_ID,
    AccountSpec,
    MotoServer,
    SeededOrg,
    seed_organization,
)
from standins.processes import ChildProcess, wait_until
from standins.redis_server import RedisServer
from standins.slack_double import SlackDouble, enable_socket_mode

if TYPE_CHECKING:
    # Only tests run the Socket Mode double, and it needs `websockets`, a test-only package: the
    # demo's install must never need it, so it is imported where a stack asks for it.
    from standins.socket_mode import SocketModeDouble

SIGNING_SECRET = "offline-signing-secret"  # noqa: S105 - only ever used against local processes
BOT_TOKEN = "xoxb-offline-token"  # noqa: S105
APP_TOKEN = "xapp-offline-app-token"  # noqa: S105 - the app-level token the `socket` process presents
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# How long the web process may take to listen, and the workers to register.
READY_TIMEOUT = 30.0
# A graceful stop lets a worker finish its job first, and on a loaded CI machine a fresh process
# takes a while to import and register: a bound, not a pace (the wait ends as soon as they are in).
RESTART_TIMEOUT = 90.0
# How strict the AWS stand-in's IAM is (see standins/aws_proxy/strict_iam.py): `moto` unless set,
# so `python3 dev.py test` can run the end-to-end layer again against strict IAM.
IAM_MODE_VARIABLE = "WHOSE_KEY_TEST_IAM_MODE"


def iam_mode_from_env() -> str:
    """The IAM mode the environment asks for, refused with the allowed values when unknown."""
    mode = os.environ.get(IAM_MODE_VARIABLE, "").strip() or "moto"
    if mode not in IAM_MODES:
        raise ValueError(f"{IAM_MODE_VARIABLE} must be one of {', '.join(IAM_MODES)}; got {mode!r}")
    return mode


def read_procfile(path: Path = PROJECT_ROOT / "Procfile") -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if ":" in line and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def sign(body: bytes, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack would send with this body (v0 HMAC-SHA256 signature)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@dataclass
class HttpResult:
    status: int
    body: str
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body)


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float = 10) -> HttpResult:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
            return HttpResult(response.status, response.read().decode(), time.perf_counter() - started)
    except urllib.error.HTTPError as exc:
        return HttpResult(exc.code, exc.read().decode(), time.perf_counter() - started)


def http_get(url: str, timeout: float = 10) -> HttpResult:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback only
            return HttpResult(response.status, response.read().decode(), time.perf_counter() - started)
    except urllib.error.HTTPError as exc:
        return HttpResult(exc.code, exc.read().decode(), time.perf_counter() - started)


@dataclass
class Stack:
    """Start with start(); `web_url`, `slack`, `org`, `redis`, `moto` and `aws` are then ready.

    `aws` is the proxy every process reaches moto through: it answers CloudTrail LookupEvents from
    what passed through it (seeding included), and tests script AWS faults on it.
    """

    accounts: Iterable[AccountSpec] | None = None
    workers: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    seed: bool = True
    # Also run the Procfile's `socket` process against a loopback Socket Mode double (`socket_mode`).
    socket: bool = False
    iam_mode: str | None = None  # None: from WHOSE_KEY_TEST_IAM_MODE (moto when unset)

    def __post_init__(self) -> None:
        self.redis = RedisServer()
        self.moto = MotoServer()
        self.aws = AwsFaultProxy(
            self.moto.url, default_account=MANAGEMENT_ACCOUNT_ID, iam_mode=self.iam_mode or iam_mode_from_env()
        )
        # Triggers live an hour here, not Slack's 3 seconds: a loaded test machine must not make a
        # press fail at random (tests that need an expired one use expire_trigger).
        self.slack = SlackDouble(token=BOT_TOKEN, users_by_email=dict(DEMO_SLACK_USERS), trigger_lifetime=3600)
        self.port = free_port()
        self.org: SeededOrg | None = None
        self.processes: list[ChildProcess] = []
        self.retired: list[ChildProcess] = []  # processes stopped and replaced (replace()), for logs()
        self.socket_mode: SocketModeDouble | None = None
        if self.socket:
            from standins.socket_mode import SocketModeDouble

            self.socket_mode = SocketModeDouble()
        self._logs = tempfile.TemporaryDirectory(prefix="whose-key-logs-")

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment the Procfile's processes run with: settings only, no defaults guessed."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLACK_", "WHOSE_KEY_"))}
        env.update(self.moto.env())
        env["AWS_ENDPOINT_URL"] = self.aws.url
        env.update(
            {
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": self.slack.base_url,
                "REDIS_URL": self.redis.url,
                "PORT": str(self.port),
                "WEB_CONCURRENCY": "2",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.socket_mode is not None:
            env["SLACK_APP_TOKEN"] = APP_TOKEN
        env.update(self.extra_env)
        return env

    def start(self) -> Stack:
        self.redis.start()
        self.moto.start()
        self.aws.start()
        self.slack.start()
        if self.seed:
            self.org = seed_organization(self.moto, self.accounts or DEMO_ORGANIZATION, endpoint_url=self.aws.url)
        web = self.start_process("web")
        for _ in range(self.workers):
            self.start_process("worker")
        if self.socket_mode is not None:
            enable_socket_mode(self.slack, APP_TOKEN, lambda: self.socket_mode.url if self.socket_mode else "")
            self.socket_mode.start()
            self.start_process("socket")
        web.wait_for_port(self.port, timeout=READY_TIMEOUT)
        self.wait_for_workers(self.workers * self.pool_size)
        if self.socket_mode is not None:
            self.socket_mode.wait_connected(1, timeout=READY_TIMEOUT)
        return self

    @property
    def pool_size(self) -> int:
        """RQ worker processes one `worker` process runs: one for lookups plus WHOSE_KEY_WORKERS."""
        return 1 + int(self.env().get("WHOSE_KEY_WORKERS", "1"))

    def start_process(self, kind: str, env: dict[str, str] | None = None) -> ChildProcess:
        """Start one process exactly as the Procfile's `kind` line says (with `env` over the
        stack's environment: a second `web` needs a PORT of its own)."""
        argv = shlex.split(read_procfile()[kind])
        if argv[0] == "python":
            argv[0] = sys.executable
        index = sum(1 for p in [*self.processes, *self.retired] if p.name.startswith(kind))
        name = f"{kind}-{index}"
        log_path = Path(self._logs.name) / f"{name}.log"
        process = ChildProcess(name, argv, env={**self.env(), **(env or {})}, cwd=PROJECT_ROOT, log_path=log_path)
        self.processes.append(process.start())
        return process

    def replace(self, process: ChildProcess) -> ChildProcess:
        """Start a fresh process of the same kind, command and environment in place of one that has
        exited (a rolling restart's next step); its log stays in logs()."""
        if process.alive():
            raise RuntimeError(f"{process.name} is still running; stop it before replacing it")
        self.processes.remove(process)
        self.retired.append(process)
        kind = process.name.rsplit("-", 1)[0]
        index = sum(1 for p in [*self.processes, *self.retired] if p.name.startswith(kind))
        name = f"{kind}-{index}"
        log_path = Path(self._logs.name) / f"{name}.log"
        fresh = ChildProcess(name, process.argv, env=process.env, cwd=PROJECT_ROOT, log_path=log_path)
        self.processes.append(fresh.start())
        return fresh

    def wait_for_workers(self, count: int, timeout: float = READY_TIMEOUT) -> None:
        """Wait until count workers have registered with Redis (any process dying fails it at once)."""
        from redis import Redis
        from rq import Worker

        connection = Redis.from_url(self.redis.url)
        wait_until(
            lambda: len(Worker.all(connection=connection)) >= count,
            timeout=timeout,
            what=f"{count} worker(s) to register",
            watching=self.processes,
        )

    def kill_worker(self, pid: int, sig: int = signal.SIGKILL) -> None:
        """Kill one RQ worker process of a pool (by the pid RQ registered); its supervisor restarts it."""
        os.kill(pid, sig)

    def restart_workers(self, timeout: float = RESTART_TIMEOUT) -> None:
        """Stop every RQ worker process gracefully and wait until their supervisors have started
        fresh ones: nothing a worker cached in memory (role sessions, clients) survives."""
        from redis import Redis
        from rq import Worker

        connection = Redis.from_url(self.redis.url)
        old = {worker.name: worker.pid for worker in Worker.all(connection=connection)}
        for pid in old.values():
            os.kill(pid, signal.SIGTERM)  # idle workers leave at once and unregister themselves
        wait_until(
            lambda: (
                (names := {w.name for w in Worker.all(connection=connection)}).isdisjoint(old)
                and len(names) >= len(old)
            ),
            timeout=timeout,
            what=f"{len(old)} fresh worker(s) to register",
            watching=self.processes,
        )

    def kill(self, process: ChildProcess, sig: int = signal.SIGKILL) -> None:
        """Signal one process's group (SIGKILL unless told) and wait for it to exit."""
        process.kill(sig)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        self.processes.clear()
        self.retired.clear()
        if self.socket_mode is not None:
            self.socket_mode.stop()
        self.slack.stop()
        self.aws.stop()
        self.moto.stop()
        self.redis.close()
        self._logs.cleanup()

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- Driving it as Slack would -------------------------------------------------------------

    def slash_command(
        self,
        text: str,
        *,
        user_id: str = "U0ASKER01",
        channel_id: str = "C0INCIDENT",
        response_url: str | None = None,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
        web_url: str | None = None,
    ) -> tuple[HttpResult, str]:
        """POST a signed `/whose-key` to the web app (or the web process at `web_url`); returns its
        reply and the response_url."""
        response_url = response_url or self.slack.new_response_url()
        form = slack_payloads.slash_command(text, user_id=user_id, channel_id=channel_id, response_url=response_url)
        body = urllib.parse.urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, secret, timestamp)}
        return http_post((web_url or self.web_url) + "/slack/events", body, headers), response_url

    def block_action(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str = "U0ASKER01",
        channel_id: str = "C0INCIDENT",
        response_url: str | None = None,
    ) -> tuple[HttpResult, str]:
        """POST a signed button press (block_actions) to the web app, with a trigger the Slack
        double issued (so the press can open a modal)."""
        response_url = response_url or self.slack.new_response_url()
        payload = slack_payloads.block_action(
            action_id,
            value,
            user_id=user_id,
            channel_id=channel_id,
            response_url=response_url,
            trigger_id=self.slack.new_trigger_id(user_id),
        )
        return self.interactive(payload), response_url

    def view_submission(
        self, view_id: str, typed: dict[str, dict[str, str]] | None = None, *, user_id: str = "U0ASKER01"
    ) -> HttpResult:
        """POST a signed submission of a modal the Slack double holds, with what the person typed
        ({block_id: {action_id: text}})."""
        view = self.slack.modal(view_id).view
        return self.interactive(slack_payloads.view_submission(view, typed, user_id=user_id))

    def interactive(self, payload: dict[str, Any]) -> HttpResult:
        """POST any signed interactive payload (a forged one too) to the web app."""
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
        return http_post(self.web_url + "/slack/events", body, headers)

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
    ) -> HttpResult:
        """POST a signed Events API callback carrying `event`; retry_num sets X-Slack-Retry-Num."""
        envelope = slack_payloads.event_callback(event, event_id=event_id)
        body = json.dumps(envelope).encode()
        headers = {"Content-Type": "application/json", **sign(body)}
        if retry_num is not None:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"})
        return http_post(self.web_url + "/slack/events", body, headers)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log()}" for p in [*self.retired, *self.processes])
