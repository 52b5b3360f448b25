"""Measurement helpers shared by the benchmarks: memory (peak and current RSS, tracemalloc's peak),
AWS calls counted by operation, and a watchdog that bounds a benchmark's run time."""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3


def maxrss_mb() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """This process's current resident set size."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def process_rss_mb(pid: int) -> float:
    """Current RSS of another process (the moto server), from /proc."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


@dataclass
class Traced:
    peak_mb: float = 0.0
    seconds: float = 0.0


@contextlib.contextmanager
def traced_peak() -> Iterator[Traced]:
    """Peak Python allocation (tracemalloc) inside the block, above what was live at its start."""
    result = Traced()
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    started = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result.peak_mb = (peak - base) / 2**20


class PeakRss:
    """Samples the current RSS of this process every `interval` seconds while running."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.start_mb = 0.0
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakRss:
        self.start_mb = self.peak_mb = rss_mb()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())


class OpCounter:
    """AWS API calls by operation name, counted on a gateway's boto3 session (attach it before the
    gateway builds any client: clients copy the session's event hooks when they are built)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def attach(self, session: boto3.Session) -> OpCounter:
        session.events.register("before-call", self._count)
        return self

    def _count(self, model: Any = None, **_: Any) -> None:
        name = getattr(model, "name", "?")
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def take(self) -> dict[str, int]:
        """The counts since the last take, and start again."""
        with self._lock:
            counts, self.counts = self.counts, {}
        return counts


def format_ops(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items(), key=lambda item: -item[1]))


class Watchdog:
    """Bounds a benchmark's run time: at the deadline the main thread gets TimeoutError (so the
    with-blocks stop the servers); if it is still alive `grace` seconds later, the child processes
    registered here are killed and the process exits."""

    def __init__(self, seconds: float, grace: float = 60) -> None:
        self.seconds = seconds
        self.grace = grace
        self.pids: list[int] = []
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Watchdog:
        import signal

        def expired(*_: object) -> None:
            raise TimeoutError(f"benchmark exceeded its {self.seconds:.0f}s limit")

        signal.signal(signal.SIGALRM, expired)
        signal.alarm(max(1, int(self.seconds)))
        self._timer = threading.Timer(self.seconds + self.grace, self._hard_stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def watch(self, pid: int | None) -> None:
        if pid is not None:
            self.pids.append(pid)

    def _hard_stop(self) -> None:
        import signal

        print(f"watchdog: still running {self.grace:.0f}s after the limit; killing children and exiting", flush=True)
        for pid in self.pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        os._exit(3)

    def __exit__(self, *exc: object) -> None:
        import signal

        signal.alarm(0)
        if self._timer is not None:
            self._timer.cancel()
