"""One account's part of the deactivation sweep: read every key of the account (status, last use,
owner), compare with the account's last snapshot, raise the same notices as the real-time path for
keys deactivated or deleted since, and write the snapshot back.

The sweep runs this once per account, as one RQ job per account (workers/jobs/sweep.py) or in
threads of one process (workers/sweep/local.py). A very large account's job only lists its users
(`Split`): batch jobs read them (workers/sweep/batches.py) and the last one settles the account
with `settle_account`, the same comparison as here. An account that cannot be read keeps its
previous snapshot (its keys are not taken for deleted) and is reported.

Snapshot (the contract with the key-hygiene report): hash `whose-key:snapshot:<account>`, field
= key ID, value = JSON {user, status, created, last_used, last_service, last_region,
owner_slack_id, owner_email, account_name, details_read_at, tags_read_at}: the last two say when
last use and owner tags were read (epoch seconds), which are read again only when due
(workers/sweep/cadence.py), while status is read by every sweep.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from core.coordination import text
from core.key_events import KeyEvent
from core.redis_keys import SNAPSHOT, redis_key
from workers.aws.errors import AccountOutcome, AwsCallError
from workers.aws.gateway import SWEEP_CLIENT_CONFIG, start_counting_calls
from workers.aws.iam_keys import get_key_last_used, get_user_access_keys
from workers.aws.iam_users import get_user_tags, list_user_names
from workers.constants import ACCOUNT_CONCURRENCY
from workers.lookup.key_index import remember_many
from workers.model import Account
from workers.runtime import Runtime
from workers.slack.owners import owner_from_tags
from workers.sweep.cadence import Cadence
from workers.sweep.lock import AssumePace
from workers.sweep.state import AccountResult

log = logging.getLogger(__name__)

Snapshot = dict[str, dict[str, Any]]  # key ID -> snapshot entry
# What a sweep keeps from the last snapshot for a key whose last use is not due to be read again.
DETAIL_FIELDS = ("last_used", "last_service", "last_region", "details_read_at")


class ChangeNotices(Protocol):
    """Whoever tells owners about the changes a sweep finds (the notifier). Handed in, so the sweep
    reads and compares and never depends on how notices are confirmed, rendered or delivered."""

    def handle(self, event: KeyEvent, cause: str | None = None) -> dict[str, Any]: ...

    def retry_pending(self) -> dict[str, Any]: ...


class SweepStopped(Exception):
    """The sweep's stop flag was set (its job timed out, or it lost its lock): work left undone."""


@dataclass
class Split:
    """An account with more users than one job should read: its users, for batch jobs to read."""

    user_names: list[str]
    aws_calls: int  # spent listing them (AssumeRole, ListUsers)


def snapshot_key(account_id: str) -> str:
    return redis_key(SNAPSHOT, account_id)


def sweep_account(
    runtime: Runtime, account: Account, sweep_id: str, notices: ChangeNotices, stop: threading.Event | None = None
) -> AccountResult:
    """Read, compare, notify and write back one account, whatever its size (one process)."""
    outcome = sweep_or_split(runtime, account, sweep_id, notices, stop, split_above=None)
    assert isinstance(outcome, AccountResult)  # never split without split_above
    return outcome


def sweep_or_split(
    runtime: Runtime,
    account: Account,
    sweep_id: str,
    notices: ChangeNotices,
    stop: threading.Event | None = None,
    *,
    split_above: int | None,
) -> AccountResult | Split:
    """Sweep one account, or, when it has more than `split_above` users, return them to be read in
    batches by several jobs (workers/sweep/batches.py). Never raises for AWS failures."""
    stop = stop or threading.Event()
    if account.status != "ACTIVE":
        return AccountResult(account, AccountOutcome.SUSPENDED, detail=f"the account is {account.status.lower()}")
    stats = start_counting_calls()
    try:
        iam = iam_client(runtime, account, stop)
        names = list(list_user_names(iam))
        if split_above is not None and len(names) > split_above:
            return Split(names, stats.calls)
        previous = load_snapshot(runtime, account.id)
        current = read_users(iam, account, names, stop, previous)
    except AwsCallError as exc:
        return unreadable(account, exc, stats.calls)
    return settle_account(runtime, account, current, sweep_id, stats.calls, notices, previous)


def unreadable(account: Account, exc: AwsCallError, aws_calls: int) -> AccountResult:
    log.warning("sweep could not read an account", extra={"account": account.id, "detail": exc.detail})
    return AccountResult(account, exc.outcome, aws_calls=aws_calls, detail=exc.detail)


def load_snapshot(runtime: Runtime, account_id: str) -> Snapshot:
    """The account's snapshot as the last sweep wrote it ({} for an account never swept)."""
    stored = runtime.redis.hgetall(snapshot_key(account_id))
    return {text(k): json.loads(v) for k, v in stored.items()}


def settle_account(
    runtime: Runtime,
    account: Account,
    current: Snapshot,
    sweep_id: str,
    aws_calls: int,
    notices: ChangeNotices,
    previous: Snapshot | None = None,
) -> AccountResult:
    """Compare what was read with the account's last snapshot, raise the notices, write it back.
    Safe to run twice for one sweep: the notifier tells each change once."""
    previous = load_snapshot(runtime, account.id) if previous is None else previous
    result = AccountResult(account, AccountOutcome.FOUND, keys=len(current), aws_calls=aws_calls)
    for key_id, entry in current.items():
        kind = "deactivated" if entry["status"] == "Inactive" else "reactivated"
        _count(result, kind, notices.handle(_event(kind, account, key_id, entry["user"], sweep_id), sweep_id))
    for key_id in previous.keys() - current.keys():
        event = _event("deleted", account, key_id, previous[key_id].get("user"), sweep_id)
        _count(result, "deleted", notices.handle(event, sweep_id))
    write_snapshot(runtime, account, current)
    return result


def iam_client(runtime: Runtime, account: Account, stop: threading.Event) -> Any:
    """An IAM client in the account; a role not yet assumed by this process waits its turn first."""
    if not runtime.gateway.has_session(account.id):
        AssumePace(runtime.redis).wait(stop)
    return runtime.gateway.fresh_client(account.id, "iam", SWEEP_CLIENT_CONFIG)


def read_users(
    iam: Any, account: Account, names: list[str], stop: threading.Event, previous: Snapshot | None = None
) -> Snapshot:
    """Every key of these users with its last use and owner: for each user ListAccessKeys, and, when
    due (workers/sweep/cadence.py), ListUserTags and GetAccessKeyLastUsed per key; what is not due
    is kept from `previous` (the account's last snapshot). ACCOUNT_CONCURRENCY users at a time."""
    halt = threading.Event()  # this read's own stop: set when it failed or was cut short
    previous = previous or {}
    cadence = Cadence(time.time())

    def read_user(user_name: str) -> Snapshot:
        if stop.is_set() or halt.is_set():
            raise SweepStopped(f"stopped before reading {user_name}")
        keys = get_user_access_keys(iam, user_name)
        if not keys:
            return {}
        listed = [(key.key_id, key.status) for key in keys]
        if cadence.tags_due(account.id, user_name, listed, previous):
            owner = owner_from_tags(get_user_tags(iam, user_name) or {})
            tags = {"owner_slack_id": owner.slack_user_id, "owner_email": owner.email, "tags_read_at": cadence.now}
        else:
            kept = previous[keys[0].key_id]
            tags = {name: kept.get(name) for name in ("owner_slack_id", "owner_email", "tags_read_at")}
        entries: Snapshot = {}
        for key in keys:
            if stop.is_set() or halt.is_set():
                raise SweepStopped(f"stopped while reading {user_name}")
            before = previous.get(key.key_id)
            if cadence.last_use_due(key.key_id, key.status, before):
                found = get_key_last_used(iam, key.key_id)
                used = found.last_used if found else None
                details = {
                    "last_used": used.date if used else None,
                    "last_service": used.service if used else None,
                    "last_region": used.region if used else None,
                    "details_read_at": cadence.now,
                }
            else:
                assert before is not None  # not due means it was read before
                details = {name: before.get(name) for name in DETAIL_FIELDS}
            entries[key.key_id] = {
                "user": user_name,
                "status": key.status,
                "created": key.created,
                **details,
                **tags,
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
            # An account no sweep reaches any more (it left the organization) is forgotten in time.
            pipe.expire(name, SNAPSHOT.seconds)
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
