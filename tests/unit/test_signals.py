"""core/signals.py: a SIGTERM the kernel hands to another thread still runs the main thread's
handler while the main thread is blocked in a system call that nothing else would interrupt."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from tests.support.signals import needs_tgkill, other_threads, signal_one_thread

# A process whose main thread blocks for good in a read from a pipe nobody writes to, with one
# other thread; its SIGTERM handler says so and exits. Without the relay ("none") it never does.
BLOCKED_MAIN = textwrap.dedent(
    """
    import os, signal, sys, threading
    from core.signals import relay_signals_to_main_thread
    if sys.argv[1] == "relay":
        relay_signals_to_main_thread()
    def stop(signum, frame):
        print("handled in", threading.current_thread().name, flush=True)
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=threading.Event().wait, name="bystander", daemon=True).start()
    read_end, _ = os.pipe()
    print("blocked", flush=True)
    os.read(read_end, 1)
    """
)


def blocked_process(mode: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", BLOCKED_MAIN, mode], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "blocked"
    return process


@needs_tgkill
def test_a_sigterm_caught_by_another_thread_reaches_a_blocked_main_thread() -> None:
    process = blocked_process("relay")
    try:
        signal_one_thread(process.pid, other_threads(process.pid)[0], signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert process.stdout is not None and process.stdout.read().strip() == "handled in MainThread"
    finally:
        process.kill()
