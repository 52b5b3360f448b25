"""The Redis names (core/redis_keys.py): one family per stem, each saying what it holds and how
long it lives, and every key built the same way under whose-key's prefix."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import redis_keys
from core.redis_keys import ALL_NAMES, PREFIX, RedisName, redis_key


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


# Parts as callers pass them: IDs, hashes and timestamps, never holding the separator.
parts = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=12), max_size=3)


@given(first=st.sampled_from(ALL_NAMES), first_parts=parts, second=st.sampled_from(ALL_NAMES), second_parts=parts)
def test_different_families_or_parts_never_share_a_key(
    first: RedisName, first_parts: list[str], second: RedisName, second_parts: list[str]
) -> None:
    """Two keys are the same only for the same family and the same parts, so no writer reads another's state."""
    same_key = redis_key(first, *first_parts) == redis_key(second, *second_parts)
    assert same_key == (first == second and first_parts == second_parts)


def test_every_key_starts_with_the_prefix() -> None:
    """Every family's keys start with PREFIX, so ACLs and SCANs can be scoped to whose-key."""
    assert all(redis_key(name, "x").startswith(PREFIX + name.stem + ":") for name in ALL_NAMES)
