"""whose-key's full search of an organization against the naive scan, on a moto server.

    python3 dev.py bench full_search [--accounts 1000] [--users 20] [--quick] [--moto indexed]

A moto server is seeded with `accounts` accounts of `users` IAM users, one access key each (the
seeding time is printed). Then, in this one process, for a key that exists nowhere (every account
is read) and for the last user's key of the last account listed:

- whose-key: `build_finder(AwsGateway(role), MemoryCache()).find(key, deep=True)`, exactly as a
  worker answers `/whose-key KEY deep` (16 accounts at a time, GetAccessKeyLastUsed per account);
- the naive scan: ListUsers (paginated) and ListAccessKeys for every user of every account until
  the key turns up, through the same AwsGateway (the same assumed-role clients) and 16 threads.

Each method starts on a fresh gateway, so its first search pays an AssumeRole per account (cold);
the later ones reuse the cached sessions (warm). Wall time and AWS calls come from untraced runs;
peak memory from one more cold run of each under tracemalloc (which slows Python down), plus the
sampled RSS of this process and its ru_maxrss. Goals: naive/whose-key >= 10x in calls and >= 5x in
time; whose-key <= 2 calls per account plus a constant.

moto's GetAccessKeyLastUsed scans every key of every account on each call, so on stock moto each
of whose-key's calls costs more the bigger the organization (AWS's does not); the moto probe at the
end shows it. `--moto indexed` runs the same benchmark on a moto whose GetAccessKeyLastUsed reads
each account's key table instead (same answers; see bench/big_org.py), to separate that artifact from
whose-key's own costs.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import gc
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import workers.aws.gateway as aws_module  # noqa: E402
from bench.big_org import (  # noqa: E402
    MISSING_KEY_ID,
    ClientBuildTimer,
    IndexedMotoServer,
    cached_clients,
    check_seeded,
    isolate_aws_env,
    moto_pid,
    seed_big_org,
)
from bench.measure import OpCounter, PeakRss, Watchdog, format_ops, maxrss_mb, process_rss_mb, traced_peak  # noqa: E402
from standins.moto_org import MotoServer  # noqa: E402
from workers.aws.gateway import AwsGateway, start_counting_calls  # noqa: E402
from workers.cache import MemoryCache  # noqa: E402
from workers.lookup.finder import SEARCH_CONCURRENCY, Finder, build_finder  # noqa: E402
from workers.model import Account  # noqa: E402

ROLE_NAME = "WhoseKeyReadOnly"


@dataclass
class Run:
    method: str  # whose-key | naive
    case: str  # e.g. "missing key, cold"
    seconds: float
    calls: int
    accounts_read: int
    answer: str
    aws_wait: float = 0.0  # summed seconds spent inside AWS calls (all threads)
    rss_start: float = 0.0
    rss_peak: float = 0.0
    traced_peak: float | None = None
    ops: dict[str, int] = field(default_factory=dict)
    clients_built: int = 0
    client_build_seconds: float = 0.0

    @property
    def per_account(self) -> float:
        return self.calls / self.accounts_read if self.accounts_read else float("nan")


class Contender:
    """One method on its own gateway (fresh sessions), with its calls counted by operation."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.gateway = AwsGateway(ROLE_NAME)
        self.ops = OpCounter().attach(self.gateway.base)
        self.builds = ClientBuildTimer(self.gateway.base)
        self.finder = build_finder(self.gateway, MemoryCache())
        self.accounts: list[Account] = []
        self.reads = 0
        self._reads_lock = threading.Lock()
        # Count the accounts whose-key actually reads (search skips the rest once found).
        look_in = self.finder.look_in

        def counted_look_in(account: Account, key_id: str, hint_user: str | None = None) -> Any:
            with self._reads_lock:
                self.reads += 1
            return look_in(account, key_id, hint_user)

        self.finder.look_in = counted_look_in  # type: ignore[method-assign]

    def warm_listing(self) -> tuple[int, float, dict[str, int]]:
        """List the organization once (as a worker does at start), outside the measured runs."""
        stats = start_counting_calls()
        started = time.perf_counter()
        self.accounts = list(self.finder.org.accounts().values())
        self.gateway.hub_account()
        self.builds.take()
        return stats.calls, time.perf_counter() - started, self.ops.take()

    def search(self, key_id: str) -> tuple[int, str]:
        """(AWS calls, answer) of one full search by this method."""
        if self.method == "whose-key":
            report = self.finder.find(key_id, deep=True)
            answer = report.verdict.value
            if report.user_name:
                answer += f" ({report.user_name})"
            return report.aws_calls, answer
        stats = start_counting_calls()
        found = naive_scan(self.gateway, self.accounts, key_id, self)
        return stats.calls, f"found ({found})" if found else "not found"

    def run(self, case: str, key_id: str, *, traced: bool = False) -> Run:
        gc.collect()
        self.reads = 0
        self.ops.take()
        self.builds.take()
        with PeakRss() as rss:
            if traced:
                with traced_peak() as peak:
                    calls, answer = self.search(key_id)
                seconds, traced_mb = peak.seconds, peak.peak_mb
            else:
                started = time.perf_counter()
                calls, answer = self.search(key_id)
                seconds, traced_mb = time.perf_counter() - started, None
        built, build_seconds = self.builds.take()
        return Run(
            self.method, case, seconds, calls, self.reads, answer, rss_start=rss.start_mb, rss_peak=rss.peak_mb,
            traced_peak=traced_mb, ops=self.ops.take(), clients_built=built, client_build_seconds=build_seconds,
        )  # fmt: skip


def naive_scan(gateway: AwsGateway, accounts: list[Account], key_id: str, contender: Contender) -> str | None:
    """Every user's keys of every account, 16 accounts at a time, stopping once the key is found.
    Like whose-key's answer, a hit also reads the user (GetUser: ARN and owner tags)."""
    found = threading.Event()
    where: list[str] = []

    def scan(account: Account) -> None:
        if found.is_set() or account.status != "ACTIVE":
            return
        with contender._reads_lock:
            contender.reads += 1
        iam = gateway.client(account.id, "iam")
        for page in iam.get_paginator("list_users").paginate():
            for user in page["Users"]:
                if found.is_set():
                    return
                name = user["UserName"]
                for keys in iam.get_paginator("list_access_keys").paginate(UserName=name):
                    if any(k["AccessKeyId"] == key_id for k in keys["AccessKeyMetadata"]):
                        iam.get_user(UserName=name)
                        where.append(f"{name} in {account.id}")
                        found.set()
                        return

    with ThreadPoolExecutor(max_workers=SEARCH_CONCURRENCY, thread_name_prefix="naive") as pool:
        futures = [pool.submit(contextvars.copy_context().run, scan, a) for a in accounts]
        for future in as_completed(futures):
            future.result()
    return where[0] if where else None


def probe_moto(finder: Finder, account: Account, user_name: str, key_id: str, samples: int = 20) -> None:
    """Serial latency of single IAM calls on this server: moto's GetAccessKeyLastUsed scans every
    key of every account, so on moto (not on AWS) it grows with the size of the organization."""
    iam = finder.gateway.client(account.id, "iam")
    probes = {
        "GetAccessKeyLastUsed (missing key)": lambda: _ignore_errors(iam.get_access_key_last_used, MISSING_KEY_ID),
        "GetAccessKeyLastUsed (existing key)": lambda: iam.get_access_key_last_used(AccessKeyId=key_id),
        "ListAccessKeys (one user)": lambda: iam.list_access_keys(UserName=user_name),
        "ListUsers (first page)": lambda: iam.list_users(),
    }
    print("  serial latency of one call on this moto server (p50 of 20):")
    for name, call in probes.items():
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        print(f"    {name:38s} {statistics.median(times) * 1000:7.1f} ms")


def _ignore_errors(fn: Any, key_id: str) -> None:
    with contextlib.suppress(Exception):  # NoSuchEntity is the expected answer
        fn(AccessKeyId=key_id)


def print_table(runs: list[Run]) -> None:
    header = (
        f"  {'case':26s} {'method':9s} {'wall s':>8s} {'AWS calls':>9s} {'accts':>6s} {'calls/acct':>10s} "
        f"{'RSS MB start>peak':>18s} {'py peak MB':>10s}  answer"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for r in runs:
        traced = f"{r.traced_peak:10.1f}" if r.traced_peak is not None else f"{'-':>10s}"
        print(
            f"  {r.case:26s} {r.method:9s} {r.seconds:8.2f} {r.calls:9d} {r.accounts_read:6d} {r.per_account:10.2f} "
            f"{r.rss_start:8.0f}>{r.rss_peak:<9.0f} {traced}  {r.answer}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--users", type=int, default=20, help="IAM users per account, one key each")
    parser.add_argument("--quick", action="store_true", help="a small run: 50 accounts x 5 users")
    parser.add_argument("--seed-threads", type=int, default=8)
    parser.add_argument("--no-memory", action="store_true", help="skip the traced (memory) runs")
    parser.add_argument(
        "--moto", choices=("stock", "indexed"), default="stock",
        help="indexed: GetAccessKeyLastUsed without moto's scan of every key (see bench/big_org.py)",
    )  # fmt: skip
    parser.add_argument("--methods", default="whose-key,naive", help="which to run: whose-key, naive or both")
    parser.add_argument(
        "--max-cached-clients", type=int, default=None,
        help="experiment: override workers.aws.gateway.MAX_CACHED_CLIENTS in this process (default: the code's value)",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args()
    if args.quick:
        args.accounts, args.users = 50, 5
    timeout = args.timeout or (600 if args.quick else 5400)
    methods = [m for m in ("whose-key", "naive") if m in args.methods.split(",")]
    if args.max_cached_clients is not None:
        aws_module.MAX_CACHED_CLIENTS = args.max_cached_clients
    bound = getattr(aws_module, "MAX_CACHED_CLIENTS", None)

    moto = IndexedMotoServer() if args.moto == "indexed" else MotoServer()
    print(f"full search: {args.accounts} accounts x {args.users} users (1 key each), {args.moto} moto server, loopback")
    shown = bound if bound is not None else "(no bound in this version)"
    print(f"  code: workers.aws.gateway.MAX_CACHED_CLIENTS = {shown}")
    with Watchdog(timeout) as watchdog, moto as server:
        watchdog.watch(moto_pid(server))
        seeded = seed_big_org(server, args.accounts, args.users, threads=args.seed_threads, progress=print)
        check_seeded(server, seeded)
        print(
            f"seeding: {seeded.key_count} users+keys in {args.accounts} accounts in {seeded.seconds:.1f}s "
            f"({seeded.calls} API calls, {seeded.calls / seeded.seconds:.0f}/s, {args.seed_threads} threads); "
            f"moto RSS {process_rss_mb(moto_pid(server) or 0):.0f} MB"
        )
        isolate_aws_env(server)

        runs: list[Run] = []
        contenders = {m: Contender(m) for m in methods}
        listing = [contender.warm_listing() for contender in contenders.values()][0]
        accounts = contenders[methods[0]].accounts
        late_account = accounts[-1]
        late_user = seeded.users[late_account.id][-1]
        print(
            f"organization listing (once per worker, not in the runs below): {listing[0]} calls, {listing[1]:.2f}s "
            f"({format_ops(listing[2])})"
        )
        print(f"keys: missing={MISSING_KEY_ID} (no account has it); late={late_user.key_id} "
              f"({late_user.name}, last of {len(accounts)} accounts listed)")  # fmt: skip

        for method in methods:
            contender = contenders[method]
            for case, key_id in (
                ("missing key, cold", MISSING_KEY_ID),
                ("missing key, warm", MISSING_KEY_ID),
                ("late key, warm", late_user.key_id),
            ):
                run = contender.run(case, key_id)
                runs.append(run)
                print(f"  {method:9s} {case:18s} {run.seconds:7.2f}s {run.calls:6d} calls  {format_ops(run.ops)}",
                      flush=True)  # fmt: skip
                if run.clients_built:
                    print(f"  {'':9s} {'':18s} built {run.clients_built} boto3 clients: "
                          f"{run.client_build_seconds:.1f}s, one at a time under the gateway's lock")  # fmt: skip
            print(f"  ru_maxrss after the {method} runs: {maxrss_mb():.0f} MB", flush=True)

        if not args.no_memory:
            print("memory runs (cold, fresh gateway, under tracemalloc: slower, times not comparable):")
            for method in methods:
                contenders[method] = None  # type: ignore[assignment]
                gc.collect()
                fresh = Contender(method)
                fresh.warm_listing()
                run = fresh.run("missing key, cold, traced", MISSING_KEY_ID, traced=True)
                runs.append(run)
                print(f"  {method:9s} tracemalloc peak {run.traced_peak:.1f} MB, RSS {run.rss_start:.0f} -> "
                      f"{run.rss_peak:.0f} MB, {run.seconds:.1f}s", flush=True)  # fmt: skip
                kept = fresh.gateway  # what a worker keeps after the search: sessions and clients
                clients = cached_clients(kept)
                per_account = (run.traced_peak or 0) * 1024 / max(run.accounts_read, 1)
                print(f"  {method:9s} gateway keeps {len(kept._roles)} assumed-role sessions and {clients} boto3 "
                      f"clients afterwards; peak {per_account:.0f} KiB per account searched")  # fmt: skip
                del fresh, kept
                gc.collect()

        probe_moto(contenders_finder(accounts), late_account, late_user.name, late_user.key_id)
        moto_rss = process_rss_mb(moto_pid(server) or 0)

    print()
    print(
        f"results ({args.accounts} accounts x {args.users} users, {args.moto} moto; "
        f"{SEARCH_CONCURRENCY} threads for both methods):"
    )
    print_table(runs)
    print(f"  ru_maxrss of this process: {maxrss_mb():.0f} MB; moto server RSS at the end: {moto_rss:.0f} MB")
    by = {(r.method, r.case): r for r in runs}
    print()
    for case in ("missing key, cold", "missing key, warm", "late key, warm"):
        if len(methods) < 2:
            break
        wk, nv = by[("whose-key", case)], by[("naive", case)]
        print(
            f"  {case:18s}: calls naive/whose-key {nv.calls / wk.calls:6.1f}x (goal >= 10x)   "
            f"time naive/whose-key {nv.seconds / wk.seconds:5.2f}x (goal >= 5x)"
        )
    for case in ("missing key, cold", "missing key, warm", "late key, warm"):
        if "whose-key" not in methods:
            break
        wk = by[("whose-key", case)]
        print(f"  whose-key calls per account, {case:18s}: {wk.per_account:.2f} ({wk.calls} calls / "
              f"{wk.accounts_read} accounts; goal <= 2 + a constant)")  # fmt: skip


def contenders_finder(accounts: list[Account]) -> Finder:
    """A warm finder for the moto probe (its own gateway, so no run above is disturbed)."""
    finder = build_finder(AwsGateway(ROLE_NAME), MemoryCache())
    finder.org.accounts()
    return finder


if __name__ == "__main__":
    main()
