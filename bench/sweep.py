"""The deactivation sweep at organization scale, on a moto server, a throwaway Redis and the
loopback Slack double; notices are really posted (chat.postMessage) and counted.

    python3 dev.py bench sweep [--sizes 250,500,1000] [--users 20] [--quick]

Each size runs in a fresh process of its own (its own moto, Redis and Slack double), so its
ru_maxrss is the sweeping process's own peak. In it, `workers.sweep.local.run_local` runs
in-process with the Runtime a worker builds (`build_runtime(Settings.from_env(...))`):

1. baseline sweep, cold (first sweep: an AssumeRole per account, every key first seen), under
   tracemalloc: peak Python memory including the sessions and clients the gateway keeps;
2. steady sweep, warm, nothing changed: wall time, AWS calls, Redis commands (the recurring cost);
3. the same again under tracemalloc: the sweep's own transient memory;
4. one key of the last account listed is deactivated, and the next sweep runs: the time from the
   deactivation to the notice at Slack, and the chat.postMessage calls (exactly 1 expected).

Then time and memory per size: time should grow linearly with the accounts, memory stay flat.

This is the in-process sweep (`whose-key sweep --local`) on moto's own speed; the sweep spread
over RQ worker processes, with AWS latency injected at the proxy, is bench/sweep_fanout.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.big_org import MotoIam, cached_clients, isolate_aws_env, moto_pid, seed_big_org  # noqa: E402
from bench.measure import (  # noqa: E402
    OpCounter,
    PeakRss,
    Watchdog,
    format_ops,
    maxrss_mb,
    process_rss_mb,
    rss_mb,
    traced_peak,
)

BOT_TOKEN = "xoxb-bench-token"  # only ever valid at the loopback Slack double
AUDIT_CHANNEL = "C0AUDIT01"


def redis_commands(redis: Any) -> dict[str, int]:
    """Calls per Redis command so far (INFO commandstats), for deltas around a sweep."""
    stats = redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    changed = {k: v - before.get(k, 0) for k, v in after.items()}
    return {k: v for k, v in changed.items() if v and k not in ("info",)}


def one_size(accounts: int, users: int, seed_threads: int, timeout: float) -> dict[str, Any]:
    """Everything measured for one organization size, in this process."""
    from core.settings import Settings
    from standins.moto_org import MotoServer
    from standins.redis_server import RedisServer
    from standins.slack_double import SlackDouble
    from workers.notices.notifier import Notifier
    from workers.runtime import build_runtime
    from workers.sweep.local import run_local

    result: dict[str, Any] = {"accounts": accounts, "users": users}
    print(f"--- sweep of {accounts} accounts x {users} users (pid {os.getpid()}) ---", flush=True)
    with (
        Watchdog(timeout) as watchdog,
        RedisServer() as redis_server,
        MotoServer() as server,
        SlackDouble(token=BOT_TOKEN) as slack,
    ):
        watchdog.watch(moto_pid(server))
        watchdog.watch(redis_server._process.pid if redis_server._process else None)
        seeded = seed_big_org(server, accounts, users, threads=seed_threads, progress=print)
        result["seed_seconds"] = seeded.seconds
        rate = seeded.calls / seeded.seconds
        print(f"seeded {seeded.key_count} users+keys in {seeded.seconds:.1f}s ({seeded.calls} calls, {rate:.0f}/s)")
        isolate_aws_env(server)
        settings = Settings.from_env(
            {
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_API_URL": slack.base_url,
                "REDIS_URL": redis_server.url,
                "WHOSE_KEY_SWEEP_INTERVAL": "0",
                "WHOSE_KEY_AUDIT_CHANNEL": AUDIT_CHANNEL,
            },
            require_signing_secret=False,
        )
        runtime = build_runtime(settings)
        ops = OpCounter().attach(runtime.gateway.base)
        result["rss_before_sweeps"] = rss_mb()

        def sweep(label: str, *, traced: bool = False) -> dict[str, Any]:
            ops.take()
            redis_before = redis_commands(runtime.redis)
            posts_before = len(slack.api_calls("chat.postMessage"))
            with PeakRss() as rss:
                if traced:
                    with traced_peak() as peak:
                        report = run_local(runtime, Notifier(runtime), requested_by=f"bench-{label}")
                else:
                    report = run_local(runtime, Notifier(runtime), requested_by=f"bench-{label}")
            redis_ops = delta(redis_commands(runtime.redis), redis_before)
            aws_ops = ops.take()
            posts = slack.api_calls("chat.postMessage")[posts_before:]
            out = {
                "seconds": report.seconds,
                # Counted on the gateway's session, every thread included; SweepSummary.aws_calls
                # is kept alongside because it misses the calls made in the sweep's threads.
                "aws_calls": sum(aws_ops.values()),
                "reported_aws_calls": report.aws_calls,
                "keys": report.keys,
                "accounts": report.accounts,
                "notified": report.notified,
                "unreadable": len(report.unreadable),
                "posts": len(posts),
                "post_channels": [str(c.body.get("channel")) for c in posts],
                "redis_commands": sum(redis_ops.values()),
                "redis_ops": redis_ops,
                "aws_ops": aws_ops,
                "rss_start": rss.start_mb,
                "rss_peak": rss.peak_mb,
                "traced_peak": peak.peak_mb if traced else None,
            }
            traced_note = f", tracemalloc peak {out['traced_peak']:.1f} MB (traced: slower)" if traced else ""
            channels = f" (to {', '.join(out['post_channels'])})" if posts else ""
            print(
                f"  {label:22s} {report.seconds:7.1f}s  {out['aws_calls']:6d} AWS calls  {report.keys} keys in "
                f"{report.accounts} accounts, {report.notified} notified, {out['posts']} chat.postMessage{channels}, "
                f"{len(report.unreadable)} unreadable; RSS {rss.start_mb:.0f}->{rss.peak_mb:.0f} MB{traced_note}",
                flush=True,
            )
            print(f"  {'':22s} AWS: {format_ops(aws_ops)}; SweepSummary.aws_calls says {report.aws_calls}")
            print(
                f"  {'':22s} Redis: {out['redis_commands']} commands, those run inside Lua scripts included "
                f"({format_ops(redis_ops)})",
                flush=True,
            )
            return out

        result["baseline"] = sweep("baseline, cold", traced=True)
        result["steady"] = sweep("steady, warm")
        result["steady_traced"] = sweep("steady, warm", traced=True)

        # One change, in the last account the sweep takes: the worst case for detection.
        listed = list(runtime.org.accounts().values())
        target_account = listed[-1].id
        target = seeded.users[target_account][0]
        iam = MotoIam(server)
        deactivated_at = time.time()
        iam.set_key_status(target_account, target.name, target.key_id, "Inactive")
        iam.close()
        detect = sweep("after 1 deactivation")
        notices = [c for c in slack.api_calls("chat.postMessage") if target.key_id in json.dumps(c.body)]
        detect["notice_latency"] = notices[0].at - deactivated_at if notices else None
        detect["notice_channel"] = notices[0].body.get("channel") if notices else None
        detect["notices_for_key"] = len(notices)
        result["detect"] = detect
        result["gateway_sessions"] = len(runtime.gateway._roles)
        result["gateway_clients"] = cached_clients(runtime.gateway)
        result["moto_rss"] = process_rss_mb(moto_pid(server) or 0)
        if notices:
            print(
                f"  change detected: notice for {target.key_id} ({target.name}, account {target_account}, last of "
                f"{len(listed)}) posted to {detect['notice_channel']} {detect['notice_latency']:.1f}s after the "
                f"deactivation; {len(notices)} notice(s) about it",
                flush=True,
            )
        else:
            print(f"  change NOT detected: no chat.postMessage mentions {target.key_id}", flush=True)
    result["maxrss"] = maxrss_mb()
    print(
        f"  sweeping process: ru_maxrss {result['maxrss']:.0f} MB; the gateway keeps {result['gateway_sessions']} "
        f"sessions and {result['gateway_clients']} boto3 clients",
        flush=True,
    )
    return result


def run_size(accounts: int, users: int, seed_threads: int, timeout: float) -> dict[str, Any] | None:
    """One size in a child process (its own ru_maxrss), bounded in time."""
    with tempfile.NamedTemporaryFile(prefix="whose-key-sweep-", suffix=".json", delete=False) as out:
        path = out.name
    argv = [
        sys.executable, __file__, "--one-size", str(accounts), "--users", str(users),
        "--seed-threads", str(seed_threads), "--timeout", str(timeout), "--json-out", path,
    ]  # fmt: skip
    try:
        completed = subprocess.run(argv, timeout=timeout + 180, check=False)
        if completed.returncode != 0:
            print(f"size {accounts}: the child exited with {completed.returncode}", flush=True)
            return None
        return json.loads(Path(path).read_text())
    except subprocess.TimeoutExpired:
        print(f"size {accounts}: timed out", flush=True)
        return None
    finally:
        Path(path).unlink(missing_ok=True)


def summary(results: list[dict[str, Any]]) -> None:
    print()
    users = results[0]["users"]
    print(f"sweep, per size ({users} users per account, one key each; steady = warm sweep, nothing changed):")
    header = (
        f"  {'accounts':>8s} {'keys':>6s} {'seed s':>7s} {'cold s':>7s} {'steady s':>8s} {'ms/acct':>7s} "
        f"{'AWS calls':>9s} {'calls/acct':>10s} {'Redis cmds':>10s} {'py peak cold':>12s} {'py peak warm':>12s} "
        f"{'maxrss MB':>9s} {'detect s':>8s} {'posts':>5s}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for r in results:
        s, d = r["steady"], r["detect"]
        latency = f"{d['notice_latency']:8.1f}" if d.get("notice_latency") is not None else f"{'none':>8s}"
        print(
            f"  {r['accounts']:8d} {s['keys']:6d} {r['seed_seconds']:7.0f} {r['baseline']['seconds']:7.1f} "
            f"{s['seconds']:8.1f} {s['seconds'] / r['accounts'] * 1000:7.1f} {s['aws_calls']:9d} "
            f"{s['aws_calls'] / r['accounts']:10.2f} {s['redis_commands']:10d} "
            f"{r['baseline']['traced_peak']:10.1f}MB {r['steady_traced']['traced_peak']:10.1f}MB "
            f"{r['maxrss']:9.0f} {latency} {d['posts']:5d}"
        )
    print("  (cold = first sweep under tracemalloc; py peak = tracemalloc peak during the sweep; detect = from the")
    print("   deactivation of a key in the last account listed to its notice at Slack, sweep started right after;")
    print("   posts = chat.postMessage calls during that sweep)")
    if len(results) > 1:
        small, large = results[0], results[-1]
        size_ratio = large["accounts"] / small["accounts"]
        time_ratio = large["steady"]["seconds"] / small["steady"]["seconds"]
        warm_ratio = large["steady_traced"]["traced_peak"] / small["steady_traced"]["traced_peak"]
        cold_ratio = large["baseline"]["traced_peak"] / small["baseline"]["traced_peak"]
        rss_ratio = large["maxrss"] / small["maxrss"]
        print(
            f"  {large['accounts']} vs {small['accounts']} accounts ({size_ratio:.1f}x): steady sweep time "
            f"{time_ratio:.2f}x (linear = {size_ratio:.1f}x); tracemalloc peak warm {warm_ratio:.2f}x, "
            f"cold {cold_ratio:.2f}x; ru_maxrss {rss_ratio:.2f}x (flat = 1.0x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="250,500,1000", help="organization sizes (accounts), comma-separated")
    parser.add_argument("--users", type=int, default=20, help="IAM users per account, one key each")
    parser.add_argument("--quick", action="store_true", help="a small run: 10,25,50 accounts x 5 users")
    parser.add_argument("--seed-threads", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=None, help="seconds allowed per size")
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.users = "10,25,50", 5

    if args.one_size is not None:
        result = one_size(args.one_size, args.users, args.seed_threads, args.timeout or 3600)
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(result))
        return

    sizes = sorted(int(s) for s in args.sizes.split(","))
    results = []
    for size in sizes:
        # Generous, on two cores: ~12 ms per user to seed and ~25 ms per user for each of the four sweeps.
        timeout = args.timeout or max(600.0, size * args.users * 0.15 + 300)
        result = run_size(size, args.users, args.seed_threads, timeout)
        if result is not None:
            results.append(result)
    if results:
        summary(results)


if __name__ == "__main__":
    main()
