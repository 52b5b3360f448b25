"""One account's part of the deactivation sweep: read every key of the account (status, last use,
owner), compare with the account's last snapshot, raise the same notices as the real-time path for
keys deactivated or deleted since, and write the snapshot back.

The sweep runs this once per account, as one RQ job per account (workers/jobs/sweep.py) or in
threads of one process (workers/sweep_local.py). An account that cannot be read keeps its previous
snapshot (its keys are not taken for deleted) and is reported.

Snapshot (the contract with the key-hygiene report): hash `whose-key:snapshot:<account>`, field
= key ID, value = JSON {user, status, created, last_used, last_service, last_region,
owner_slack_id, owner_email, account_name}.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from core.key_events import KeyEvent
from core.redis_keys import SNAPSHOT, redis_key
from workers.aws import SWEEP_CLIENT_CONFIG, AwsCallError, start_counting_calls
from workers.constants import ACCOUNT_CONCURRENCY
from workers.iam import get_key_last_used, get_user_access_keys, get_user_tags, list_user_names
from workers.key_index import remember_many
from workers.notifier import Notifier
from workers.owners import owner_from_tags
from workers.report import Account, AccountOutcome
from workers.runtime import Runtime
from workers.sweep_lock import AssumePace

log = logging.getLogger(__name__)

Snapshot = dict[str, dict[str, Any]]  # key ID -> snapshot entry


class SweepStopped(Exception):
    """The sweep's stop flag was set (its job timed out, or it lost its lock): work left undone."""


@dataclass
class AccountResult:
    account: Account
    outcome: AccountOutcome
    keys: int = 0
    deactivated: int = 0  # keys found deactivated since the last sweep
    deleted: int = 0  # keys gone since the last sweep
    notified: int = 0  # notices actually sent about them
    aws_calls: int = 0
    detail: str = ""


def snapshot_key(account_id: str) -> str:
    return redis_key(SNAPSHOT, account_id)


def sweep_account(
    runtime: Runtime, account: Account, sweep_id: str, stop: threading.Event | None = None
) -> AccountResult:
    """Read, compare, notify and write back one account; never raises for AWS failures."""
    stop = stop or threading.Event()
    if account.status != "ACTIVE":
        return AccountResult(account, AccountOutcome.SUSPENDED, detail=f"the account is {account.status.lower()}")
    stats = start_counting_calls()
    try:
        current = read_account(runtime, account, stop)
    except AwsCallError as exc:
        log.warning("sweep could not read an account", extra={"account": account.id, "detail": exc.detail})
        return AccountResult(account, exc.outcome, aws_calls=stats.calls, detail=exc.detail)
    stored = runtime.redis.hgetall(snapshot_key(account.id))
    previous = {_text(k): json.loads(v) for k, v in stored.items()}
    result = AccountResult(account, AccountOutcome.FOUND, keys=len(current))
    notifier = Notifier(runtime)
    for key_id, entry in current.items():
        kind = "deactivated" if entry["status"] == "Inactive" else "reactivated"
        _count(result, kind, notifier.handle(_event(kind, account, key_id, entry["user"], sweep_id), sweep_id))
    for key_id in previous.keys() - current.keys():
        event = _event("deleted", account, key_id, previous[key_id].get("user"), sweep_id)
        _count(result, "deleted", notifier.handle(event, sweep_id))
    write_snapshot(runtime, account, current)
    result.aws_calls = stats.calls
    return result


def read_account(runtime: Runtime, account: Account, stop: threading.Event) -> Snapshot:
    """Every key of the account with its last use and owner: ListUsers, then for each user
    ListAccessKeys, ListUserTags and GetAccessKeyLastUsed per key, ACCOUNT_CONCURRENCY at a time."""
    gateway = runtime.gateway
    if not gateway.has_session(account.id):
        AssumePace(runtime.redis).wait(stop)
    iam = gateway.fresh_client(account.id, "iam", SWEEP_CLIENT_CONFIG)
    names = list(list_user_names(iam))
    halt = threading.Event()  # this account's own stop: set when reading it failed or was cut short

    def read_user(user_name: str) -> Snapshot:
        if stop.is_set() or halt.is_set():
            raise SweepStopped(f"stopped before reading {user_name}")
        keys = get_user_access_keys(iam, user_name)
        if not keys:
            return {}
        owner = owner_from_tags(get_user_tags(iam, user_name) or {})
        entries: Snapshot = {}
        for key in keys:
            if stop.is_set() or halt.is_set():
                raise SweepStopped(f"stopped while reading {user_name}")
            found = get_key_last_used(iam, key.key_id)
            used = found.last_used if found else None
            entries[key.key_id] = {
                "user": user_name,
                "status": key.status,
                "created": key.created,
                "last_used": used.date if used else None,
                "last_service": used.service if used else None,
                "last_region": used.region if used else None,
                "owner_slack_id": owner.slack_user_id,
                "owner_email": owner.email,
                "account_name": account.name,
            }
        return entries

    current: Snapshot = {}
    pool = ThreadPoolExecutor(max_workers=ACCOUNT_CONCURRENCY, thread_name_prefix=f"sweep-{account.id}")
    finished = False
    try:
        # Each task runs in a copy of this thread's context, so its AWS calls count for this account.
        tasks = [pool.submit(contextvars.copy_context().run, read_user, name) for name in names]
        for task in tasks:
            current.update(task.result())
        finished = True
    finally:
        if not finished:  # a failure, a job timeout or the stop flag: cancel what has not started
            halt.set()
        pool.shutdown(wait=finished, cancel_futures=True)
    return current


def write_snapshot(runtime: Runtime, account: Account, current: Snapshot) -> None:
    name = snapshot_key(account.id)
    with runtime.redis.pipeline() as pipe:  # MULTI: readers never see half a snapshot
        pipe.delete(name)
        if current:
            pipe.hset(name, mapping={k: json.dumps(v) for k, v in current.items()})
        pipe.execute()
    remember_many(
        runtime.redis,
        {
            key_id: {
                "user": entry["user"],
                "account": account.label,
                "owner_slack_id": entry["owner_slack_id"],
                "owner_email": entry["owner_email"],
            }
            for key_id, entry in current.items()
        },
    )


def _count(result: AccountResult, kind: str, outcome: dict[str, Any]) -> None:
    if outcome.get("news") and kind == "deactivated":
        result.deactivated += 1
    elif outcome.get("news") and kind == "deleted":
        result.deleted += 1
    if outcome.get("notified"):
        result.notified += 1


def _event(kind: str, account: Account, key_id: str, user: str | None, sweep_id: str) -> KeyEvent:
    return KeyEvent(
        kind, account_id=account.id, event_id=f"{sweep_id}-{key_id}", key_id=key_id, user_name=user, source="sweep"
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
