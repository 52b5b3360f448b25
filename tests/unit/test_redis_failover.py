"""How whose-key's Redis clients take a failover: which error replies mean "this server stopped
being the primary", the retry every client is built with, and that every process builds its
client through `connect` (the RQ scheduler's own client included)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from redis.connection import Connection, SSLConnection
from redis.exceptions import ConnectionError, ReadOnlyError, ResponseError, TimeoutError
from rq.scheduler import RQScheduler

from core.redis_failover import (
    FailoverConnection,
    FailoverRefusal,
    FailoverSSLConnection,
    as_failover_error,
    failover_connection_class,
    is_failover_refusal,
)
from core.redis_keys import connect

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("bot", "workers", "cli", "core")


@pytest.mark.parametrize(
    ("message", "refusal"),
    [
        # A write on a connection still open to the old primary.
        ("READONLY You can't write against a read only replica.", True),
        # A write inside a Lua script there (Redis 6.2 wraps the replica's refusal).
        (
            "Error running script (call to f_91fb): @user_script:1: @user_script: 1: "
            "-READONLY You can't write against a read only replica.",
            True,
        ),
        # A blocking pop (the RQ worker's wait for a job) ended by the role change.
        ("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)", True),
        # A script failing for its own reasons is no failover.
        ("Error running script (call to f_91fb): @user_script:1: WRONGTYPE Operation against a key", False),
        # CLIENT UNBLOCK by an operator is no failover either.
        ("UNBLOCKED client unblocked via CLIENT UNBLOCK", False),
        # Full memory is a different failure (answered as "cannot take requests").
        ("OOM command not allowed when used memory > 'maxmemory'.", False),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", False),
    ],
)
def test_a_former_primarys_refusals_are_told_from_other_errors(message: str, refusal: bool) -> None:
    """Only a replica's refusals (READONLY, in a script or not, and UNBLOCKED by the role change) count."""
    assert is_failover_refusal(message) is refusal


def test_a_refusal_becomes_a_failover_refusal_and_others_stay_as_they_are() -> None:
    """A refusal, wrapped in a script's error or not, is a FailoverRefusal: a ReadOnlyError the retry
    takes and a ConnectionError RQ's loops wait out; any other error is left alone."""
    script = ResponseError("Error running script (call to f_1): @user_script:1: -READONLY You can't write")
    plain = ReadOnlyError("You can't write against a read only replica.")
    for refusal in (script, plain):
        named = as_failover_error(refusal)
        assert isinstance(named, FailoverRefusal)
        assert isinstance(named, ReadOnlyError) and isinstance(named, ConnectionError)
        assert as_failover_error(named) is named
    other = ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
    assert as_failover_error(other) is other


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost:6379/0", FailoverConnection),
        # TLS keeps its SSL connection, with the same failover handling.
        ("rediss://cache.example.com:6379/0?ssl_cert_reqs=required", FailoverSSLConnection),
        # A unix socket keeps redis-py's own class (no failover behind a local socket).
        ("unix:///run/redis.sock", None),
    ],
)
def test_the_connection_class_follows_the_url_scheme(url: str, expected: type[Connection] | None) -> None:
    """redis:// and rediss:// get the failover-aware connection of their kind; unix:// is left alone."""
    assert failover_connection_class(url).get("connection_class") is expected
    if expected is FailoverSSLConnection:
        assert issubclass(expected, SSLConnection)


def test_every_client_retries_refusals_and_resets_and_workers_timeouts_too() -> None:
    """connect()'s clients retry READONLY and connection errors, several times, with backoff; only
    the workers' also retry timeouts (each try may take the whole connect timeout, and the web must
    answer Slack within 3 s when Redis is unreachable)."""
    pool = connect("redis://127.0.0.1:1/0").connection_pool
    assert pool.connection_class is FailoverConnection
    connection = pool.make_connection()
    assert set(connection.retry._supported_errors) == {ReadOnlyError, ConnectionError}
    assert connection.retry.get_retries() >= 3
    patient = connect("redis://127.0.0.1:1/0", retries=30, retry_timeouts=True).connection_pool.make_connection()
    assert TimeoutError in patient.retry._supported_errors


def test_the_rq_scheduler_builds_its_client_like_the_worker() -> None:
    """RQ's scheduler (a process of its own) copies the worker's connection class and retry."""
    scheduler = RQScheduler(["whose-key-lookups"], connection=connect("redis://127.0.0.1:1/0"))
    pool = scheduler.connection.connection_pool
    assert pool.connection_class is FailoverConnection
    assert ReadOnlyError in pool.make_connection().retry._supported_errors


def test_every_process_reaches_redis_through_connect() -> None:
    """No product module builds a Redis client of its own: the web, the workers and the CLI use connect()."""
    direct = re.compile(r"\bRedis\(|\.from_url\(|ConnectionPool\(")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if direct.search(line) and path != ROOT / "core" / "redis_keys.py"
    ]
    assert not found, f"Redis clients built outside core.redis_keys.connect: {found}"
