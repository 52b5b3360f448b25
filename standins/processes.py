"""Child processes of the stand-ins: the one place they are started, waited for and stopped.

Each child runs in a session of its own, so a signal reaches everything it started (gunicorn's
workers, for one) and never the process that started it. Its output goes to a log file, whose tail
is shown when it dies or never becomes ready.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from standins.loopback import LOOPBACK, port_answers

# How long stop() lets a child exit on SIGTERM before it is SIGKILLed.
STOP_GRACE = 10.0
# How long to wait for a SIGKILLed child to be reaped.
KILL_WAIT = 10.0
# How often readiness is polled.
POLL_INTERVAL = 0.05
# How much of a log an error shows.
LOG_TAIL_CHARS = 3000


class ChildExited(RuntimeError):
    """A child died while something waited for it to become ready."""


class ChildProcess:
    """One child process in its own session, its stdout and stderr in a log file.

    With no log_path, the log is a temporary file removed by stop().
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._own_log = log_path is None
        # The file itself is only created by start(), so a child never started leaves nothing behind.
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"whose-key-{name}-{uuid.uuid4().hex}.log"
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> ChildProcess:
        """Start it; a no-op when already started."""
        if self._popen is not None:
            return self
        with self.log_path.open("ab") as log:
            # The child holds its own copy of the descriptor, so ours can close at once.
            self._popen = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def popen(self) -> subprocess.Popen[bytes]:
        if self._popen is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """Its exit status once it has exited (negative: the signal that ended it); None before."""
        return self._popen.poll() if self._popen is not None else None

    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def log(self) -> str:
        """Everything it wrote so far ("" when it wrote nothing, or its log is gone)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        return self.log()[-chars:]

    def wait_for_port(self, port: int, timeout: float, host: str = LOOPBACK) -> None:
        """Wait until host:port accepts connections; fail at once, with its log, if it dies first."""
        what = f"{self.name} to listen on {host}:{port}"
        wait_until(lambda: port_answers(port, host), timeout=timeout, what=what, watching=[self])

    def send_signal(self, sig: int) -> None:
        """Send sig to its whole process group."""
        # It may exit between the check and the signal.
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the group (SIGKILL unless told) and wait for the child to go; its log is kept."""
        if self.alive():
            self.send_signal(sig)
            self.popen.wait(timeout=KILL_WAIT)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM the group, SIGKILL it after grace seconds; then forget it. Safe to call twice."""
        if self.alive():
            self.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
        self._popen = None
        if self._own_log:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> ChildProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def wait_until(ready: Callable[[], bool], *, timeout: float, what: str, watching: Iterable[ChildProcess] = ()) -> None:
    """Poll ready() until it holds.

    Raises ChildExited as soon as a watched child has died, and TimeoutError after timeout seconds;
    both carry the log tails of the children concerned.
    """
    children = list(watching)
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return
        dead = [child for child in children if not child.alive()]
        if dead:
            child = dead[0]
            raise ChildExited(
                f"{child.name} exited (code {child.returncode}) while waiting for {what}:\n{child.log_tail()}"
            )
        if time.monotonic() >= deadline:
            tails = "".join(f"\n--- {child.name} ---\n{child.log_tail()}" for child in children)
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}{tails}")
        time.sleep(POLL_INTERVAL)
