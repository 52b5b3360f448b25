"""Several threads doing one thing at the same moment: how tests prove that a Redis step is atomic."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def race(n: int, attempt: Callable[[], T]) -> list[T]:
    """Run `attempt` in n threads released at the same moment; their results, in finishing order."""
    start = threading.Barrier(n)
    results: list[T] = []
    lock = threading.Lock()

    def one() -> None:
        start.wait()
        result = attempt()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == n, "a racing thread did not finish"
    return results
