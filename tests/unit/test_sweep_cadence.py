"""The sweep's slower reads (workers/sweep/cadence.py): last use and owner tags are read again at
least once a day, spread over the day's sweeps, and at once for a new key or a changed status."""

from __future__ import annotations

import pytest

from workers.sweep.cadence import DAY, Cadence, due

NOW = 1_800_000_000.0
HOUR = 3600.0


@pytest.mark.parametrize(
    ("read_at", "expected"),
    [
        (None, True),  # never read
        (NOW - DAY - 1, True),  # more than a day ago: its moment of the day has surely passed since
        (NOW, False),  # read by this very sweep
        (NOW + 10, True),  # a clock that went backwards is not trusted
    ],
)
def test_due_for_fixed_cases(read_at: float | None, expected: bool) -> None:
    """Never read, or read over a day ago, is due; read just now is not."""
    assert due("AKIAEXAMPLE000000001", read_at, NOW) is expected


def test_each_name_is_read_once_a_day_whatever_the_interval() -> None:
    """Over three days of sweeps every 17 minutes, each name is read 3 or 4 times and never more than a day apart."""
    names = [f"AKIAEXAMPLE{n:09d}" for n in range(200)]
    read_at: dict[str, float | None] = dict.fromkeys(names)
    reads: dict[str, list[float]] = {n: [] for n in names}
    moment = NOW
    while moment < NOW + 3 * DAY:
        for name in names:
            if due(name, read_at[name], moment):
                read_at[name] = moment
                reads[name].append(moment)
        moment += 17 * 60
    for name, times in reads.items():
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert 3 <= len(times) <= 5, name
        assert max(gaps) <= DAY + 17 * 60, name


def test_reads_are_spread_over_the_days_sweeps() -> None:
    """With hourly sweeps, a day's reads of 2,400 keys fall about evenly: no sweep reads more than 4x its share."""
    names = [f"AKIAEXAMPLE{n:09d}" for n in range(2400)]
    read_at = {n: NOW - 0.5 for n in names}  # all read by a sweep just before: the first sweep's burst
    per_sweep = []
    for hour in range(1, 25):
        moment = NOW + hour * HOUR
        due_now = [n for n in names if due(n, read_at[n], moment)]
        for name in due_now:
            read_at[name] = moment
        per_sweep.append(len(due_now))
    assert sum(per_sweep) == len(names)  # each read once in the day
    assert max(per_sweep) <= 4 * len(names) / 24


@pytest.mark.parametrize(
    ("before", "status", "expected"),
    [
        (None, "Active", True),  # a new key
        ({"status": "Active", "last_used": None, "details_read_at": NOW}, "Inactive", True),  # status changed
        ({"status": "Active", "last_used": None, "details_read_at": NOW}, "Active", False),  # unchanged, just read
        ({"status": "Active", "details_read_at": NOW}, "Active", True),  # an entry without last use
        ({"status": "Active", "last_used": "2026-01-01"}, "Active", True),  # written before the cadence
    ],
)
def test_last_use_is_read_for_new_or_changed_keys(before: dict | None, status: str, expected: bool) -> None:
    """A new key, a changed status or an entry that lacks it always reads last use again."""
    assert Cadence(NOW).last_use_due("AKIAEXAMPLE000000001", status, before) is expected


def test_tags_are_read_when_any_key_of_the_user_is_new_or_changed() -> None:
    """A user's tags are kept only while every one of their keys is known with the same status."""
    known = {"K1": {"status": "Active", "tags_read_at": NOW}, "K2": {"status": "Inactive", "tags_read_at": NOW}}
    cadence = Cadence(NOW)
    assert not cadence.tags_due("111122223333", "deploy", [("K1", "Active"), ("K2", "Inactive")], known)
    assert cadence.tags_due("111122223333", "deploy", [("K1", "Active"), ("K3", "Active")], known)  # new key
    assert cadence.tags_due("111122223333", "deploy", [("K1", "Inactive")], known)  # deactivated
    assert cadence.tags_due("111122223333", "deploy", [("K1", "Active")], {"K1": {"status": "Active"}})  # never
