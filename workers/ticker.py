"""Something done every few seconds beside a piece of work, for as long as the work runs (a job's
heartbeat, a lease's renewal)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def ticking(every: float, tick: Callable[[], bool | None], *, name: str) -> Iterator[None]:
    """Call `tick` every `every` seconds in a daemon thread until the block ends, or until `tick`
    returns False. `tick` handles its own failures: an exception ends the ticking."""
    done = threading.Event()

    def run() -> None:
        while not done.wait(every):
            if tick() is False:
                return

    ticker = threading.Thread(target=run, name=name, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join(timeout=1)
