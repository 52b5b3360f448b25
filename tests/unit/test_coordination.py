"""Redis coordination (core.coordination) on the unit run's own redis-server: a claim has one
winner, a lease lock is renewed and released only by its holder, the semaphore never admits more
holders than places and takes back ended leases, scripts are registered once per client, and Redis
replies read as text."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
from redis import Redis

from core.coordination import LeaseLock, LeaseSemaphore, Script, claim, release, scripts, text
from tests.support.racing import race

RACERS = 16
ROOT = Path(__file__).resolve().parents[2]


def test_one_caller_among_racing_threads_takes_a_claim(redis: Redis) -> None:
    """Of many threads claiming one key at once exactly one wins; the claim holds its value and TTL."""
    wins = race(RACERS, lambda: claim(redis, "claim:race", 60, value='{"by": "U1"}'))
    assert wins.count(True) == 1
    assert redis.get("claim:race") == b'{"by": "U1"}'
    assert 0 < redis.ttl("claim:race") <= 60


def test_released_claim_can_be_taken_again(redis: Redis) -> None:
    """A claim given up before it expires goes to the next caller."""
    assert claim(redis, "claim:again", 60)
    assert not claim(redis, "claim:again", 60)
    release(redis, "claim:again")
    assert claim(redis, "claim:again", 60)


def test_lease_lock_is_renewed_and_released_only_by_its_holder(redis: Redis) -> None:
    """Another owner can neither take, extend nor delete a held lock; the holder can do all three."""
    lock = LeaseLock(redis, "lock:one", ttl=30)
    assert lock.acquire("sweep-a")
    assert not lock.acquire("sweep-b")
    redis.expire("lock:one", 5)
    assert not lock.renew("sweep-b") and redis.ttl("lock:one") <= 5
    assert not lock.release("sweep-b") and lock.holder() == "sweep-a"
    assert lock.renew("sweep-a") and redis.ttl("lock:one") > 5
    assert lock.acquire("sweep-a"), "a retried job of the holder takes it back"
    assert lock.release("sweep-a") and lock.holder() is None
    assert lock.acquire("sweep-b")


def test_holder_whose_lease_ended_cannot_touch_the_next_holders_lock(redis: Redis) -> None:
    """After a stalled holder's lease ends and another takes the lock, the stalled one's renew and
    release do nothing."""
    lock = LeaseLock(redis, "lock:stalled", ttl=30)
    assert lock.acquire("sweep-a")
    redis.delete("lock:stalled")  # the lease ran out while sweep-a stalled
    assert lock.acquire("sweep-b")
    assert not lock.renew("sweep-a")
    assert not lock.release("sweep-a")
    assert lock.holder() == "sweep-b"


def test_semaphore_never_admits_more_holders_than_places(redis: Redis) -> None:
    """Of many threads racing for 3 places, 3 get one; the rest are told how many hold them."""
    slots = LeaseSemaphore(redis, "slots:race", 3, lease=60, ttl=120)
    counter = iter(range(RACERS))
    holders = [f"h{i}" for i in range(RACERS)]
    lock = threading.Lock()

    def take() -> int:
        with lock:
            holder = holders[next(counter)]
        return slots.acquire(holder)

    results = race(RACERS, take)
    assert sorted(r for r in results if r > 0) == [1, 2, 3]
    assert all(r == -3 for r in results if r <= 0)
    assert redis.zcard("slots:race") == 3


def test_released_place_goes_to_the_next_holder(redis: Redis) -> None:
    """Giving a place back lets the next one in."""
    slots = LeaseSemaphore(redis, "slots:release", 1, lease=60, ttl=120)
    assert slots.acquire("a") == 1
    assert slots.acquire("b") == -1
    slots.release("a")
    assert slots.acquire("b") == 1


def test_semaphore_takes_back_a_place_whose_lease_ended(redis: Redis) -> None:
    """A holder that died frees its place when its lease ends, without anyone releasing it."""
    slots = LeaseSemaphore(redis, "slots:expired", 2, lease=60, ttl=120)
    assert slots.acquire("dead") == 1 and slots.acquire("alive") == 2
    assert slots.acquire("waiting") == -2
    redis.zadd("slots:expired", {"dead": 1})  # its lease ended long ago (Redis's clock)
    assert slots.acquire("waiting") == 2
    assert {text(m) for m in redis.zrange("slots:expired", 0, -1)} == {"alive", "waiting"}
    assert 0 < redis.ttl("slots:expired") <= 120


def test_semaphore_without_a_limit_admits_everyone(redis: Redis) -> None:
    """A limit of 0 means no limit."""
    slots = LeaseSemaphore(redis, "slots:none", 0, lease=60, ttl=120)
    assert [slots.acquire(f"h{i}") for i in range(5)] == [1, 2, 3, 4, 5]


def test_scripts_are_registered_once_per_client(redis: Redis) -> None:
    """Every caller with one client gets the same registered script; another client its own."""
    script = Script("test-echo", "return ARGV[1]")
    assert scripts(redis) is scripts(redis)
    assert scripts(redis)[script] is scripts(redis)[script]
    other = Redis(connection_pool=redis.connection_pool)
    assert scripts(other) is not scripts(redis)
    assert scripts(redis)[script](keys=[], args=["hi"]) == b"hi"


def test_registered_script_still_runs_after_the_server_forgot_it(redis: Redis) -> None:
    """A script flushed from the server (a Redis restart) is loaded again on its next run."""
    script = scripts(redis)[Script("test-flushed", "return 7")]
    assert script(keys=[], args=[]) == 7
    redis.script_flush()
    assert script(keys=[], args=[]) == 7


def test_two_scripts_cannot_share_a_name(redis: Redis) -> None:
    """A second source under a name already registered is refused, not run in the other's place."""
    scripts(redis)[Script("test-clash", "return 1")]
    with pytest.raises(ValueError, match="test-clash"):
        scripts(redis)[Script("test-clash", "return 2")]


def product_sources() -> list[tuple[str, ast.Module]]:
    """Every product module's path and syntax tree."""
    return [
        (str(path.relative_to(ROOT)), ast.parse(path.read_text()))
        for package in ("core", "bot", "workers", "cli")
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


def test_every_script_of_the_product_has_its_own_name() -> None:
    """The Lua scripts declared across the product (`Script("name", ...)`) carry distinct names."""
    names = [
        node.args[0].value
        for _, tree in product_sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Script"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]
    assert len(names) == len(set(names))
    assert {"lease-renew", "lease-release", "semaphore-acquire", "sweep-record-account"} <= set(names)


def test_scripts_are_registered_only_through_the_coordination_registry() -> None:
    """No product module calls redis.register_script itself: every script goes through scripts(redis)."""
    callers = [
        path
        for path, tree in product_sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "register_script"
    ]
    assert callers == ["core/coordination.py"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"sweep-1", "sweep-1"),  # a client without decode_responses
        ("sweep-1", "sweep-1"),  # one with it
        ("Zoë".encode(), "Zoë"),  # UTF-8, as redis-py encodes str
        (b"", ""),
    ],
)
def test_redis_replies_read_as_text(raw: bytes | str, expected: str) -> None:
    """Bytes and str from Redis both come out as the same text."""
    assert text(raw) == expected
