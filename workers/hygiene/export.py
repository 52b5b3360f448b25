"""One row per key, for spreadsheets (CSV) and scripts (JSON Lines), written as the records
stream in: memory stays flat however many keys there are."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any

from workers.hygiene.records import KeyRecord
from workers.hygiene.summary import DepartedCheck

COLUMNS = (
    "key_id",
    "account_id",
    "account_name",
    "iam_user",
    "status",
    "created",
    "last_used",
    "last_used_service",
    "last_used_region",
    "owner",
    "flags",
)


def row(record: KeyRecord, now: datetime, departed: DepartedCheck | None = None) -> dict[str, Any]:
    owner_left = bool(departed and record.owner and departed(record))
    return {
        "key_id": record.key_id,
        "account_id": record.account_id,
        "account_name": record.account_name or "",
        "iam_user": record.user or "",
        "status": record.status,
        "created": record.created.isoformat() if record.created else "",
        "last_used": record.last_used.isoformat() if record.last_used else "",
        "last_used_service": record.last_service or "",
        "last_used_region": record.last_region or "",
        "owner": record.owner or "",
        "flags": " ".join(record.flags(now, owner_left=owner_left)),
    }


def write_csv(records: Iterable[KeyRecord], out: IO[str], now: datetime, departed: DepartedCheck | None = None) -> int:
    """Write the header and one row per key; returns the number of keys written."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerow(_spreadsheet_safe(row(record, now, departed)))
        count += 1
    return count


def write_json_lines(
    records: Iterable[KeyRecord], out: IO[str], now: datetime, departed: DepartedCheck | None = None
) -> int:
    """One JSON object per line and key; returns the number of keys written."""
    count = 0
    for record in records:
        out.write(json.dumps(row(record, now, departed)) + "\n")
        count += 1
    return count


def _spreadsheet_safe(values: dict[str, Any]) -> dict[str, Any]:
    # A cell starting with = + - @ (or a tab or carriage return before one) is a formula to
    # spreadsheets; IAM user names and tags come from outside, so such cells are prefixed with a
    # quote to stay text.
    return {k: "'" + v if isinstance(v, str) and v[:1] in _FORMULA_STARTS else v for k, v in values.items()}


_FORMULA_STARTS = frozenset("=+-@\t\r")
