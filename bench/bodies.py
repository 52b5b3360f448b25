"""CPU the web spends on bodies it refuses: unsigned or unauthenticated requests, as anyone on
the internet can send them.

    python3 dev.py bench bodies [--requests 40]

Starts the Procfile's `web` (gunicorn, two workers) against a throwaway Redis, posts each kind of
refused body `--requests` times, one after another, and reads the CPU time (user + system) of
the web's whole process tree from /proc before and after. The figure per request is that
difference divided by the number of requests: it is the server's cost, not the client's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from standins.stack import Stack, http_post  # noqa: E402

TOKEN = "bench-events-token-0123456789"
ENV = {"WHOSE_KEY_EVENTS_TOKEN": TOKEN, "WHOSE_KEY_SWEEP_INTERVAL": "0", "WHOSE_KEY_REPORT_INTERVAL": "0"}
# Just under the old 1 MB limit, so the code before verify-before-parse read and parsed it all.
ONE_MEGABYTE = 1024 * 1024 - 64
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def json_body(size: int) -> bytes:
    """A JSON object of about `size` bytes holding a list of empty lists: the costliest shape to
    parse and walk per byte (about 350 ms per megabyte in the old guard)."""
    head, tail = b'{"type": "event_callback", "blocks": [', b"[]]}"
    return head + b"[]," * ((size - len(head) - len(tail)) // 3) + tail


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                parents[int(entry)] = int(fields[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        fields = _stat_fields(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def measure(root: int, requests: int, url: str, body: bytes, headers: dict[str, str]) -> tuple[float, set[int]]:
    """Server CPU seconds per request, and the statuses seen, for `requests` sequential POSTs."""
    statuses: set[int] = set()
    http_post(url, body, headers)  # warm up the path (imports, first connections)
    time.sleep(0.2)
    before = tree_cpu_seconds(root)
    for _ in range(requests):
        statuses.add(http_post(url, body, headers).status)
    time.sleep(0.2)  # let the workers finish writing answers before reading their CPU
    return (tree_cpu_seconds(root) - before) / requests, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()

    big = json_body(ONE_MEGABYTE)
    small = json_body(64 * 1024)
    cases: list[tuple[str, str, bytes, dict[str, str]]] = [
        ("1 MB unsigned Slack body", "/slack/events", big, {"Content-Type": "application/json"}),
        ("1 MB AWS event body, no token", "/aws/events", big, {"Content-Type": "application/json"}),
        ("64 KB unsigned Slack body", "/slack/events", small, {"Content-Type": "application/json"}),
    ]
    with Stack(extra_env=ENV, seed=False, workers=0) as stack:
        web = next(p for p in stack.processes if p.name.startswith("web"))
        idle_before = tree_cpu_seconds(web.pid)
        time.sleep(1.0)
        idle = tree_cpu_seconds(web.pid) - idle_before
        print(
            f"web CPU per refused request ({args.requests} sequential requests each; idle web {idle * 1000:.0f} ms/s)"
        )
        for label, path, body, headers in cases:
            seconds, statuses = measure(web.pid, args.requests, stack.web_url + path, body, headers)
            print(f"  {label:32s} {len(body):>8d} bytes  {seconds * 1000:7.1f} ms CPU  statuses {sorted(statuses)}")


if __name__ == "__main__":
    main()
