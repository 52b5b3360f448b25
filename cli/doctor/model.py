"""What one check of the doctor says: its status, what it found, and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Names (accounts, checks) listed one by one in a line before the rest are only counted.
NAMES_SHOWN = 5


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report; `fix` says what to do when it is not OK."""

    area: str
    name: str
    status: Status
    detail: str
    fix: str = ""


def severity(status: Status) -> int:
    """Orders statuses so the worst of several can be picked with max()."""
    return {Status.OK: 0, Status.WARN: 1, Status.FAIL: 2}[status]


def not_checked(area: str, name: str, needs: str) -> Check:
    """A check skipped because an earlier one it depends on failed."""
    return Check(area, name, Status.WARN, f"not checked: needs {needs} (see above)")
