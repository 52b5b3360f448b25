"""The sweep spread over RQ workers: sweep time with 1, 2 and 4 background worker processes,
memory per worker process, Redis memory per 10,000 keys, and lookups during a sweep against idle.

    python3 dev.py bench sweep_fanout [--sizes 100,200] [--workers 1,2,4] [--users 20] [--latency 0.075]
                                      [--sweeps 2]   # a second sweep with nothing changed
                                      [--flood]      # then two `deep` requests of one person

AWS answers through the loopback fault proxy with `--latency` seconds added to every call (IAM
from a region takes 50-100 ms), so the figures measure the design rather than moto's CPU. The
moto server answers GetAccessKeyLastUsed from an index (bench/big_org.py), as AWS's cost does
not grow with the organization. For each size: one seeded organization; for each worker count,
a fresh `python -m workers` pool (WHOSE_KEY_WORKERS=N plus its lookup process) runs one sweep
(cold: each process assumes the roles it needs) while a lookup is asked every LOOKUP_EVERY s.
Each run also prints how many of the machine's cores were busy: moto, the proxy, Redis and the
workers share them, and a run with all of them busy measured the machine, not the design.

With --flood, once the sweeps are done the same pool takes a flood: one person sends two `deep`
requests of 3 keys each (keys no account holds, so each reads every account), then another person
asks plain lookups, one every LOOKUP_EVERY s, until both floods are answered: their p50/p99 against
idle, and how long the floods took.

Very large accounts (read in batches of WHOSE_KEY_SWEEP_BATCH_USERS users, one job each):
    python3 dev.py bench sweep_fanout --sizes 2 --users 1000 --workers 1,2
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.big_org import IndexedMotoServer, isolate_aws_env, seed_big_org  # noqa: E402
from bench.measure import process_rss_mb  # noqa: E402
from bench.stats import percentile  # noqa: E402

BOT_TOKEN = "xoxb-bench-token"  # only ever valid at the loopback Slack double
AUDIT_CHANNEL = "C0AUDIT01"
# Every call the sweep and a lookup make; each waits --latency seconds at the proxy.
SLOWED = (
    "AssumeRole", "ListUsers", "ListAccessKeys", "ListUserTags", "GetAccessKeyLastUsed", "GetUser",
    "GetAccessKeyInfo", "ListAccounts", "DescribeOrganization", "GetCallerIdentity",
)  # fmt: skip
LOOKUP_EVERY = 1.0
IDLE_LOOKUPS = 20
# Keys of the right shape that no account holds: a `deep` search for one reads every account.
FLOOD_KEYS = tuple(f"AKIAZZZZZZZZZZZZZZZ{letter}" for letter in "ABCDEF")
FLOODER = "U0FLOODER"


def lookup_seconds(redis: Any, slack: Any, key_id: str) -> float:
    from core.contract import Destination, LookupRequest
    from core.queue import JobQueue, new_request_id

    url = slack.new_response_url()
    request = LookupRequest(new_request_id(), (key_id,), Destination(response_url=url), asked_by="U0BENCH")
    started = time.time()
    JobQueue(redis).enqueue(request)
    return float(slack.wait_for_hook(url, timeout=60)[0].at - started)


def flood(redis: Any, slack: Any, key_id: str) -> dict[str, Any]:
    """Two `deep` requests of one person, as the web hands them on (search lane), then another
    person's plain lookups until both are answered."""
    from core.contract import Destination, LookupRequest
    from core.jobs import SEARCH_LANE
    from core.queue import JobQueue, new_request_id
    from workers.slack.delivery import already_delivered

    started = time.time()
    floods = []
    for keys in (FLOOD_KEYS[:3], FLOOD_KEYS[3:]):
        request = LookupRequest(
            new_request_id(),
            keys,
            Destination(response_url=slack.new_response_url()),
            asked_by=FLOODER,
            surface="command",
            deep=True,
            lane=SEARCH_LANE,
        )
        JobQueue(redis).enqueue(request)
        floods.append(request.request_id)
    during: list[float] = []
    answered: dict[str, float] = {}
    while len(answered) < len(floods):
        during.append(lookup_seconds(redis, slack, key_id))
        for request_id in floods:
            if request_id not in answered and already_delivered(redis, request_id):
                answered[request_id] = time.time() - started
        time.sleep(LOOKUP_EVERY)
    return {"during": during, "floods": sorted(answered.values())}


def cpu_times() -> tuple[float, float]:
    """(busy, total) CPU time of the whole machine so far, from /proc/stat (0, 0 elsewhere)."""
    try:
        fields = [float(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def cores_busy(before: tuple[float, float], after: tuple[float, float]) -> float:
    """How many of the machine's cores were busy on average between two cpu_times() readings."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total * (os.cpu_count() or 1) if total else float("nan")


def start_pool(env: dict[str, str], workers: int, redis: Any) -> subprocess.Popen[bytes]:
    from rq import Worker

    pool = subprocess.Popen(
        [sys.executable, "-m", "workers"],
        env={**env, "WHOSE_KEY_WORKERS": str(workers)},
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while len(Worker.all(connection=redis)) < workers + 1:
        if time.monotonic() > deadline or pool.poll() is not None:
            raise RuntimeError("the worker pool did not start")
        time.sleep(0.2)
    return pool


def stop_pool(pool: subprocess.Popen[bytes], redis: Any) -> None:
    from rq import Worker

    os.killpg(pool.pid, signal.SIGTERM)
    pool.wait(timeout=60)
    deadline = time.monotonic() + 30
    while Worker.all(connection=redis) and time.monotonic() < deadline:
        time.sleep(0.2)


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) one process has used so far, from /proc (0 when it is gone)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / ticks


def worker_cpu_seconds(redis: Any) -> float:
    """CPU time the pool's RQ worker processes have used so far."""
    from rq import Worker

    return sum(process_cpu_seconds(worker.pid) for worker in Worker.all(connection=redis) if worker.pid)


def others_cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU time so far of the stand-ins sharing the machine: moto, Redis, and this process (the
    AWS latency proxy and the Slack double run in its threads)."""
    return {name: process_cpu_seconds(pid) for name, pid in pids.items()}


def one_run(
    env: dict[str, str],
    redis: Any,
    slack: Any,
    workers: int,
    key_id: str,
    stop_after: float | None = None,
    sweeps: int = 1,
    standin_pids: dict[str, int] | None = None,
    with_flood: bool = False,
) -> list[dict[str, Any]]:
    """`sweeps` sweeps one after another with a fresh pool (the second finds nothing changed); with
    stop_after, figures after that many seconds if one has not finished (a partial run)."""
    pool = start_pool(env, workers, redis)
    try:
        lookup_seconds(redis, slack, key_id)  # warm the lookup process (account list, role session)
        idle = [lookup_seconds(redis, slack, key_id) for _ in range(IDLE_LOOKUPS)]
        runs = []
        for number in range(1, sweeps + 1):
            run = one_sweep(redis, slack, key_id, stop_after, standin_pids or {})
            runs.append({**run, "workers": workers, "idle": idle, "sweep": number})
        if with_flood:
            flooded = flood(redis, slack, key_id)
            print(
                f"  flood, {workers} worker(s): two `deep` requests of {len(FLOOD_KEYS) // 2} keys answered after "
                f"{', '.join(f'{t:.1f}s' for t in flooded['floods'])}; another person's lookups meanwhile "
                f"p50 {percentile(flooded['during'], 50):.2f}s p99 {percentile(flooded['during'], 99):.2f}s "
                f"(n={len(flooded['during'])}) against idle p50 {percentile(idle, 50):.2f}s "
                f"p99 {percentile(idle, 99):.2f}s",
                flush=True,
            )
    finally:
        stop_pool(pool, redis)
    return runs


def one_sweep(
    redis: Any, slack: Any, key_id: str, stop_after: float | None, standin_pids: dict[str, int]
) -> dict[str, Any]:
    from rq import Worker

    from core.contract import SweepRequest
    from core.queue import JobQueue
    from workers.sweep.state import SweepProgress

    memory_before = int(redis.info("memory")["used_memory"])
    cpu_before = cpu_times()
    workers_cpu_before = worker_cpu_seconds(redis)
    others_before = others_cpu_seconds(standin_pids)
    sweep_id = JobQueue(redis).enqueue(SweepRequest(requested_by="bench"))
    progress = SweepProgress(redis)
    during: list[float] = []
    rss_peak: dict[int, float] = {}
    done = threading.Event()

    def sample_rss() -> None:
        while not done.wait(0.5):
            for worker in Worker.all(connection=redis):
                if worker.pid:
                    rss_peak[worker.pid] = max(rss_peak.get(worker.pid, 0.0), process_rss_mb(worker.pid))

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    deadline = time.monotonic() + stop_after if stop_after else None
    while True:
        report = progress.summary(sweep_id)
        if report is not None and (report.finished or (deadline and time.monotonic() > deadline and report.done)):
            break
        if report is not None and report.done:
            during.append(lookup_seconds(redis, slack, key_id))
        time.sleep(LOOKUP_EVERY)
    done.set()
    cpu_after = cpu_times()
    workers_cpu = worker_cpu_seconds(redis) - workers_cpu_before
    others_after = others_cpu_seconds(standin_pids)
    others_cpu = {name: others_after[name] - others_before[name] for name in standin_pids}
    sampler.join()
    memory_after = int(redis.info("memory")["used_memory"])
    return {
        "seconds": report.seconds,
        "done": report.done,
        "accounts": report.accounts,
        "keys": report.keys,
        "aws_calls": report.aws_calls,
        "unreadable": len(report.unreadable),
        "during": during,
        "rss_mb": sorted(rss_peak.values()),
        "redis_bytes": memory_after - memory_before,
        "worker_cpu": workers_cpu,
        "others_cpu": others_cpu,
        # Everything (moto, the proxy, Redis, the workers) shares this machine: near all of its
        # cores busy means the run measured the machine, not the design.
        "cores_busy": cores_busy(cpu_before, cpu_after),
    }


def one_size(
    accounts: int,
    users: int,
    worker_counts: list[int],
    latency: float,
    stop_after: float | None = None,
    sweeps: int = 1,
    with_flood: bool = False,
) -> list[dict[str, Any]]:
    from redis import Redis

    from standins.aws_proxy import AwsFaultProxy
    from standins.redis_server import RedisServer
    from standins.slack_double import SlackDouble

    results = []
    with RedisServer() as redis_server, IndexedMotoServer() as moto, SlackDouble(token=BOT_TOKEN) as slack:
        seeded = seed_big_org(moto, accounts, users, progress=print)
        print(f"seeded {accounts} accounts x {users} users in {seeded.seconds:.0f}s", flush=True)
        proxy = AwsFaultProxy(moto.url, default_account=seeded.management_account_id).start()
        for action in SLOWED:
            proxy.slow(action, None, latency)
        isolate_aws_env(moto)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WHOSE_KEY_"))}
        env.update(
            {
                "AWS_ENDPOINT_URL": proxy.url,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_API_URL": slack.base_url,
                "REDIS_URL": redis_server.url,
                "WHOSE_KEY_SWEEP_INTERVAL": "0",
                # No weekly digest: once a sweep has finished, the next pool would draw its chart
                # (matplotlib, +45 MB) in a background worker and blur the sweep's memory figure.
                "WHOSE_KEY_REPORT_INTERVAL": "0",
                "WHOSE_KEY_AUDIT_CHANNEL": AUDIT_CHANNEL,
            }
        )
        redis = Redis.from_url(redis_server.url)
        key_id = seeded.users[seeded.account_ids[-1]][0].key_id
        try:
            for workers in worker_counts:
                standin_pids = {"moto": moto.pid, "redis": redis_server.pid, "proxy and Slack double": os.getpid()}
                for result in one_run(env, redis, slack, workers, key_id, stop_after, sweeps, standin_pids, with_flood):
                    result["size"] = accounts
                    print_run(result)
                    results.append(result)
        finally:
            proxy.stop()
    return results


def partial_note(r: dict[str, Any]) -> str:
    """For a sweep measured before it finished (--stop-after): how far it got."""
    if r["done"] >= r["accounts"]:
        return ""
    return f" (stopped: {r['done']} of {r['accounts']} accounts done, {r['seconds'] / r['done']:.3f}s per account)"


def print_run(r: dict[str, Any]) -> None:
    idle, during = r["idle"], r["during"]
    done = max(r["done"], 1)
    print(
        f"  {r['accounts']} accounts, {r['keys']} keys, {r['workers']} worker(s), sweep #{r['sweep']}: "
        f"{r['seconds']:.1f}s, {done / max(r['seconds'], 1e-9):.1f} accounts/s, "
        f"{r['aws_calls'] / done:.1f} AWS calls and {r['worker_cpu'] / done * 1000:.0f} ms of worker CPU per account"
        + (
            f" (stopped: {r['done']} accounts done, {r['seconds'] / r['done']:.3f}s each)"
            if r["done"] < r["accounts"]
            else ""
        )
        + ", "
        f"{r['aws_calls']} AWS calls; worker RSS peak {', '.join(f'{m:.0f}' for m in r['rss_mb'])} MB; "
        f"Redis +{r['redis_bytes'] / 2**20:.1f} MB ({r['redis_bytes'] / max(r['keys'], 1) * 10_000 / 2**20:.1f} MB "
        f"per 10,000 keys); lookups idle p50 {percentile(idle, 50):.2f}s p99 {percentile(idle, 99):.2f}s, "
        f"during the sweep p50 {percentile(during, 50) if during else float('nan'):.2f}s "
        f"p99 {percentile(during, 99) if during else float('nan'):.2f}s (n={len(during)}); "
        f"CPU busy {r['cores_busy']:.1f} of {os.cpu_count()} cores",
        flush=True,
    )
    seconds = max(r["seconds"], 1e-9)
    shares = {"workers": r["worker_cpu"], **r["others_cpu"]}
    print(
        "    who used the cores (CPU s, cores on average): "
        + "; ".join(f"{name} {cpu:.0f}s ({cpu / seconds:.2f})" for name, cpu in shares.items()),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,200", help="organization sizes (accounts), comma-separated")
    parser.add_argument("--workers", default="1,2,4", help="background worker processes to try, comma-separated")
    parser.add_argument("--users", type=int, default=20, help="IAM users per account, one key each")
    parser.add_argument("--latency", type=float, default=0.075, help="seconds added to every AWS call")
    parser.add_argument(
        "--sweeps", type=int, default=1, help="sweeps one after another per pool (2: a second with nothing changed)"
    )
    parser.add_argument("--stop-after", type=float, help="seconds after which an unfinished sweep is measured as is")
    parser.add_argument("--flood", action="store_true", help="after the sweeps, a `deep` flood of one person")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    everything = []
    for size in sorted(int(s) for s in args.sizes.split(",")):
        print(f"--- {size} accounts x {args.users} users, {args.latency * 1000:.0f} ms per AWS call ---", flush=True)
        everything.extend(one_size(size, args.users, counts, args.latency, args.stop_after, args.sweeps, args.flood))
    print("\nsummary:")
    for size in sorted({r["size"] for r in everything}):
        runs = [r for r in everything if r["size"] == size]
        base = next((r for r in runs if r["workers"] == 1), runs[0])
        for r in runs:
            print(
                f"  {size:6d} accounts  {r['workers']} workers  sweep #{r['sweep']}  "
                f"{r['seconds']:7.1f}s{partial_note(r)}  "
                f"{r['aws_calls'] / max(r['done'], 1):.1f} calls/account  speed-up "
                f"{base['seconds'] / r['seconds']:.2f}x  max worker RSS {max(r['rss_mb'] or [0]):.0f} MB  "
                f"lookup p99 idle {percentile(r['idle'], 99):.2f}s / during {percentile(r['during'], 99):.2f}s  "
                f"CPU {r['cores_busy']:.1f}/{os.cpu_count()} cores"
            )


if __name__ == "__main__":
    main()
