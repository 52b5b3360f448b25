"""Words shared by every rendering of the report: key lines, dates, the rotation steps."""

from __future__ import annotations

from datetime import datetime

from core.slack_text import code, escape, mention
from workers.hygiene.records import STALE_DAYS, KeyRecord

ROTATION_STEPS = (
    "Create a second key for the same user (`aws iam create-access-key --user-name USER`).",
    "Put the new key wherever the old one is configured and check it with `aws sts get-caller-identity`.",
    "Deactivate the old key (`aws iam update-access-key --status Inactive`) and watch for errors for a few days.",
    "Delete the old key (`aws iam delete-access-key`). A key nobody uses can go straight to this step.",
)


def day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "never"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


def last_use(record: KeyRecord) -> str:
    """ "2026-01-02, s3 in eu-west-1", or "never"."""
    if record.last_used is None:
        return "never"
    where = ", ".join(filter(None, (record.last_service, f"in {record.last_region}" if record.last_region else None)))
    return f"{day(record.last_used)}" + (f", {where}" if where else "")


def owner_mrkdwn(record: KeyRecord) -> str:
    if record.owner_slack_id:
        return mention(record.owner_slack_id)
    if record.owner_email:
        return escape(record.owner_email)
    return "_no owner tag_"


def key_line(record: KeyRecord, now: datetime) -> str:
    """One key in Slack mrkdwn: every value from AWS escaped."""
    age = record.age_days(now)
    return (
        f"{code(record.key_id)} {escape(record.user or '?')} in {escape(record.account_label)}, "
        f"{escape(record.status)}, {age if age is not None else '?'} days old, last used {escape(last_use(record))}, "
        f"owner {owner_mrkdwn(record)}"
    )


def flag_reasons(record: KeyRecord, now: datetime) -> list[str]:
    """Why a key wants rotating, in words; [] when it does not."""
    reasons = []
    if record.old(now):
        reasons.append(f"older than {STALE_DAYS} days")
    if record.unused(now):
        reasons.append("never used" if record.last_used is None else f"not used for {STALE_DAYS} days or more")
    return reasons
