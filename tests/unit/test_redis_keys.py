"""The Redis names (core/redis_keys.py): one family per stem, each saying what it holds and how
long it lives, and every key built the same way under whose-key's prefix."""

from __future__ import annotations

import pytest

from core import redis_keys
from core.redis_keys import ALL_NAMES, ANSWER, AUDIT, KEY_STATE, PREFIX, RedisName, redis_key


def test_every_name_is_listed() -> None:
    """ALL_NAMES holds every RedisName the module defines, so none escapes this table."""
    defined = [v for v in vars(redis_keys).values() if isinstance(v, RedisName)]
    assert len(ALL_NAMES) == len(defined) and set(ALL_NAMES) == set(defined)
    assert len(ALL_NAMES) >= 10


def test_stems_are_unique_and_cannot_collide() -> None:
    """No two families share a stem, and no stem contains the separator, so keys never collide."""
    stems = [name.stem for name in ALL_NAMES]
    assert len(set(stems)) == len(stems)
    for stem in stems:
        assert stem and ":" not in stem and stem == stem.strip()


@pytest.mark.parametrize("name", ALL_NAMES, ids=lambda n: n.stem)
def test_each_name_says_what_it_holds_in_one_line(name: RedisName) -> None:
    """`holds` is one short line of words an operator can read."""
    assert name.holds.strip() == name.holds and name.holds
    assert "\n" not in name.holds and len(name.holds) <= 80


@pytest.mark.parametrize("name", ALL_NAMES, ids=lambda n: n.stem)
def test_fixed_lifetimes_are_positive_and_others_say_so(name: RedisName) -> None:
    """A fixed TTL is positive and `seconds` returns it; a name without one raises when asked."""
    if name.ttl is None:
        with pytest.raises(ValueError, match=name.stem):
            _ = name.seconds
    else:
        assert name.ttl > 0 and name.seconds == name.ttl


@pytest.mark.parametrize(
    ("name", "parts", "key"),
    [
        (ANSWER, ("0f3c",), "whose-key:answer:0f3c"),  # one part
        (KEY_STATE, ("AKIARZPUZDIKGB2VALC4",), "whose-key:key-state:AKIARZPUZDIKGB2VALC4"),
        (AUDIT, (), "whose-key:audit"),  # a single key: the stem alone
        (ANSWER, ("a", "b", "c"), "whose-key:answer:a:b:c"),  # parts joined by ":"
    ],
)
def test_redis_key_format(name: RedisName, parts: tuple[str, ...], key: str) -> None:
    """redis_key gives `whose-key:<stem>[:<part>…]`."""
    assert redis_key(name, *parts) == key


def test_every_key_starts_with_the_prefix() -> None:
    """Every family's keys start with PREFIX, so ACLs and SCANs can be scoped to whose-key."""
    assert PREFIX == "whose-key:"
    assert all(redis_key(name, "x").startswith(PREFIX + name.stem + ":") for name in ALL_NAMES)
