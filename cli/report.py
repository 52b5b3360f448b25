"""`whose-key report`: key hygiene in the terminal, as CSV or JSON Lines, or posted as the digest.

Reads the sweep's snapshots in Redis (no AWS call). Exports stream one row per key as they are
read, so an organization of 100,000 keys takes the memory of a few.
"""

from __future__ import annotations

import sys
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import IO

from redis import Redis
from redis.exceptions import RedisError

from core.logs import configure_logging
from core.settings import Settings, SettingsError
from workers.hygiene.departures import DepartureChecker
from workers.hygiene.digest import post_digest
from workers.hygiene.export import write_csv, write_json_lines
from workers.hygiene.reader import iter_records, read_sweep_summary
from workers.hygiene.summary import DepartedCheck, summarize
from workers.hygiene.terminal import print_report
from workers.runtime import Runtime, build_runtime
from workers.slack.poster import DeliveryError


def run_report(*, post: bool = False, csv_path: str | None = None, json_path: str | None = None) -> int:
    configure_logging("WARNING")
    try:
        settings = Settings.from_env(require_slack=post, require_signing_secret=False)
    except SettingsError as exc:
        print(f"whose-key: {exc}", file=sys.stderr)
        return 2
    if post and not settings.audit_channel:
        print("whose-key: --post needs WHOSE_KEY_AUDIT_CHANNEL, the channel the digest goes to", file=sys.stderr)
        return 2
    runtime = build_runtime(settings)
    # Departed owners need Slack; without a token the report says it could not tell.
    departed = DepartureChecker(runtime.slack, runtime.cache) if settings.slack_bot_token else None
    try:
        if csv_path or json_path:
            return _export(runtime.redis, departed, csv_path, json_path)
        return _report(runtime, departed, post)
    except RedisError as exc:
        print(f"whose-key: Redis holds the sweep's snapshots and could not be reached ({exc})", file=sys.stderr)
        return 1


def _report(runtime: Runtime, departed: DepartedCheck | None, post: bool) -> int:
    report = summarize(
        iter_records(runtime.redis), datetime.now(UTC), departed=departed, sweep=read_sweep_summary(runtime.redis)
    )
    print_report(report)
    if not post:
        return 0
    try:
        post_digest(runtime, report, f"digest-cli-{uuid.uuid4().hex}")
    except DeliveryError as exc:
        print(f"whose-key: the digest was not posted: {exc}", file=sys.stderr)
        return 1
    print(f"posted the digest and its chart to {runtime.settings.audit_channel}")
    return 0


def _export(redis: Redis, departed: DepartedCheck | None, csv_path: str | None, json_path: str | None) -> int:
    now = datetime.now(UTC)
    with ExitStack() as files:
        if csv_path:
            out = _open(files, csv_path)
            count = write_csv(iter_records(redis), out, now, departed)
            _done(count, csv_path)
        if json_path:
            out = _open(files, json_path)
            count = write_json_lines(iter_records(redis), out, now, departed)
            _done(count, json_path)
    return 0


def _open(files: ExitStack, path: str) -> IO[str]:
    if path == "-":
        return sys.stdout
    return files.enter_context(open(path, "w", newline="", encoding="utf-8"))  # noqa: SIM115


def _done(count: int, path: str) -> None:
    if path != "-":
        print(f"wrote {count:,} keys to {path}", file=sys.stderr)
