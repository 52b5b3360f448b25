"""Signals reach the main thread's handlers promptly, whichever thread the kernel hands them to.

Python runs a signal's handler in the main thread only, between two bytecodes. The kernel may
deliver a process's SIGTERM to any of its threads (a heartbeat, a Redis listener); the main
thread then learns of it only when its current system call returns. In an RQ worker that call
can be a job's read from AWS or a blocking wait on Redis, so a rolling restart's SIGTERM would
wait until the kill timeout instead of starting the warm shutdown at once.

The fix uses the interpreter's own wakeup pipe (`signal.set_wakeup_fd`), which gets one byte per
caught signal from whatever thread caught it. A small relay thread reads that pipe and sends the
main thread a harmless NUDGE of its own (`signal.pthread_kill`). That interrupts the main thread's
system call, and the interpreter then runs every pending handler once. The original signal's
handler is never run twice, so a second SIGTERM (RQ's cold shutdown) is never faked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

# Caught only to interrupt the main thread; ignored by default, so nothing else relies on it.
# (POSIX only: where it does not exist, there is no relay.)
NUDGE: int | None = getattr(signal, "SIGURG", None)


def relay_signals_to_main_thread() -> None:
    """Install the relay (from the main thread, once per process; POSIX only, else a no-op)."""
    nudge = NUDGE
    if nudge is None or threading.current_thread() is not threading.main_thread():
        return
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.signal(nudge, lambda _signum, _frame: None)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    main = threading.get_ident()

    def relay() -> None:
        while caught := os.read(read_end, 64):
            if any(number != nudge for number in caught):  # a nudge's own byte: nothing to relay
                with contextlib.suppress(ProcessLookupError):
                    signal.pthread_kill(main, nudge)

    threading.Thread(target=relay, name="signal-relay", daemon=True).start()
