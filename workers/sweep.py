"""The backstop for best-effort CloudTrail delivery: read every key of every account, compare
with the last snapshot, and raise the same notices for keys deactivated or deleted since.

Streamed per account: each account is listed, compared, written back and forgotten before the
next is taken, so memory stays flat in the number of accounts. An account that cannot be read
keeps its previous snapshot (its keys are not taken for deleted) and is reported.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from core.key_events import KeyEvent
from core.redis_keys import SNAPSHOT, SWEEP_LAST, redis_key
from workers.aws import (
    AwsCallError,
    classify,
    get_key_last_used,
    get_user_access_keys,
    get_user_tags,
    start_counting_calls,
)
from workers.constants import SWEEP_CONCURRENCY
from workers.key_index import remember_many
from workers.notifier import Notifier
from workers.owners import owner_from_tags
from workers.report import Account, AccountOutcome
from workers.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class AccountResult:
    account: Account
    outcome: AccountOutcome
    keys: int = 0
    deactivated: int = 0
    deleted: int = 0
    detail: str = ""


@dataclass
class SweepReport:
    sweep_id: str
    accounts: int = 0
    keys: int = 0
    deactivated: int = 0
    deleted: int = 0
    notified: int = 0
    unreadable: list[AccountResult] = field(default_factory=list)
    aws_calls: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "accounts": self.accounts,
            "keys": self.keys,
            "deactivated": self.deactivated,
            "deleted": self.deleted,
            "notified": self.notified,
            "unreadable": [
                {"account": r.account.id, "outcome": r.outcome.value, "detail": r.detail} for r in self.unreadable
            ],
            "aws_calls": self.aws_calls,
            "seconds": round(self.seconds, 2),
        }


def _snapshot_key(account_id: str) -> str:
    return redis_key(SNAPSHOT, account_id)


class Sweeper:
    def __init__(self, runtime: Runtime, concurrency: int = SWEEP_CONCURRENCY) -> None:
        self.runtime = runtime
        self.notifier = Notifier(runtime)
        self.concurrency = concurrency
        self._lock = threading.Lock()

    def run(self, sweep_id: str | None = None) -> SweepReport:
        sweep_id = sweep_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        started = time.monotonic()
        stats = start_counting_calls()
        report = SweepReport(sweep_id)
        # A fresh listing: an account created since the last one must be swept too.
        self.runtime.finder.org.refresh()
        accounts = list(self.runtime.finder.org.accounts().values())
        report.accounts = len(accounts)

        def sweep(account: Account) -> None:
            result = self.sweep_account(account, sweep_id)
            with self._lock:  # only counts are kept: memory does not grow with the organization
                report.keys += result.keys
                report.deactivated += result.deactivated
                report.deleted += result.deleted
                if not result.outcome.searched:
                    report.unreadable.append(result)

        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="sweep") as pool:
            # Each task runs in a copy of this thread's context (taken here, not in the pool's
            # threads), so the AWS calls it makes count towards this sweep.
            tasks = [pool.submit(contextvars.copy_context().run, sweep, account) for account in accounts]
            for task in tasks:
                task.result()
        report.notified = report.deactivated + report.deleted
        report.aws_calls = stats.calls
        report.seconds = time.monotonic() - started
        self._write_summary(report)
        log.info("sweep finished", extra=report.to_dict())
        return report

    def _write_summary(self, report: SweepReport) -> None:
        """What reports say about the sweep their figures come from: when, and what it could not read."""
        summary = {
            "sweep_id": report.sweep_id,
            "finished_at": datetime.now(UTC).isoformat(),
            "accounts": report.accounts,
            "keys": report.keys,
            "unreadable": [
                {"account": r.account.id, "label": r.account.label, "detail": r.detail} for r in report.unreadable
            ],
        }
        self.runtime.redis.set(redis_key(SWEEP_LAST), json.dumps(summary))

    def sweep_account(self, account: Account, sweep_id: str) -> AccountResult:
        if account.status != "ACTIVE":
            return AccountResult(account, AccountOutcome.SUSPENDED, detail=f"the account is {account.status.lower()}")
        try:
            current = self._read_account(account.id)
        except AwsCallError as exc:
            log.warning("sweep could not read an account", extra={"account": account.id, "detail": exc.detail})
            return AccountResult(account, exc.outcome, detail=exc.detail)
        stored = self.runtime.redis.hgetall(_snapshot_key(account.id))
        previous = {_text(k): json.loads(v) for k, v in stored.items()}
        result = AccountResult(account, AccountOutcome.FOUND, keys=len(current))
        cause = f"sweep-{sweep_id}"
        for key_id, meta in current.items():
            event_kind = "deactivated" if meta["status"] == "Inactive" else "reactivated"
            outcome = self.notifier.handle(self._event(event_kind, account, key_id, meta["user"], sweep_id), cause)
            if outcome.get("notified"):
                result.deactivated += 1
        for key_id in previous.keys() - current.keys():
            user = previous[key_id]["user"]
            kind = "deleted"
            outcome = self.notifier.handle(self._event(kind, account, key_id, user, sweep_id), cause)
            if outcome.get("notified"):
                result.deleted += 1
        self._write_snapshot(account, current)
        return result

    def _read_account(self, account_id: str) -> dict[str, dict[str, str | None]]:
        """Every key of the account: ListUsers, then per user ListUserTags (the owner) and
        ListAccessKeys, and GetAccessKeyLastUsed per key, so reports need no AWS calls."""
        iam = self.runtime.gateway.client(account_id, "iam")
        current: dict[str, dict[str, str | None]] = {}
        for user_name in _list_user_names(iam):
            keys = get_user_access_keys(iam, user_name)
            owner = owner_from_tags(get_user_tags(iam, user_name)) if keys else None
            for metadata in keys:
                used = get_key_last_used(iam, metadata.key_id)
                last = used.last_used if used else None
                current[metadata.key_id] = {
                    "user": user_name,
                    "status": metadata.status,
                    "created": metadata.created,
                    "last_used": last.date if last else None,
                    "last_service": last.service if last else None,
                    "last_region": last.region if last else None,
                    "owner_slack_id": owner.slack_user_id if owner else None,
                    "owner_email": owner.email if owner else None,
                }
        return current

    def _write_snapshot(self, account: Account, current: dict[str, dict[str, str | None]]) -> None:
        name = _snapshot_key(account.id)
        with self.runtime.redis.pipeline() as pipe:  # MULTI: readers never see half a snapshot
            pipe.delete(name)
            if current:
                pipe.hset(
                    name, mapping={k: json.dumps({**v, "account_name": account.name}) for k, v in current.items()}
                )
            pipe.execute()
        remember_many(
            self.runtime.redis,
            {k: {"user": v["user"], "account": account.label} for k, v in current.items()},
        )

    @staticmethod
    def _event(kind: str, account: Account, key_id: str, user: str | None, sweep_id: str) -> KeyEvent:
        return KeyEvent(
            kind, account_id=account.id, event_id=f"sweep-{sweep_id}-{key_id}", key_id=key_id, user_name=user,
            source="sweep",
        )  # fmt: skip


def _list_user_names(iam: Any) -> Iterator[str]:
    try:
        for page in iam.get_paginator("list_users").paginate():
            for user in page["Users"]:
                yield user["UserName"]
    except (ClientError, BotoCoreError) as exc:
        raise classify(exc) from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
