"""A primary and its replica, and a managed failover between them, as ElastiCache or MemoryDB run
one: writes paused on the primary until the replica has caught up, the replica promoted, the old
primary made the new one's replica, then the endpoint's name (a `TcpForwarder`) moved to it.

Connections already open stay with the old primary, which now refuses writes (READONLY) and ends
blocked commands (UNBLOCKED): what the clients must get over on their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis import Redis

from standins.loopback import LOOPBACK
from standins.redis_server import RedisServer
from standins.tcp_forwarder import TcpForwarder

# How long a replica may take to sync with its primary, or to catch up with its writes.
SYNC_TIMEOUT = 30.0
# Writes are paused at most this long if the failover itself fails half way (ms).
PAUSE_MS = 10_000
POLL = 0.02


def _admin(server: RedisServer) -> Redis:
    return Redis(host=LOOPBACK, port=server.port, socket_timeout=5)


def _replication(server: RedisServer) -> dict[str, object]:
    info: dict[str, object] = _admin(server).info("replication")
    return info


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + SYNC_TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {SYNC_TIMEOUT:g}s: {what}")
        time.sleep(POLL)


def replicate(replica: RedisServer, primary: RedisServer) -> None:
    """Make `replica` a replica of `primary` and wait until it has synced."""
    _admin(replica).replicaof(LOOPBACK, primary.port)
    _until(lambda: _replication(replica).get("master_link_status") == "up", f"{replica.port} to sync")


def fail_over(
    old: RedisServer, new: RedisServer, endpoint: TcpForwarder, *, drop: bool = False, move: bool = True
) -> None:
    """Promote `new` (old's replica), make `old` its replica, and point `endpoint` at `new`.
    `drop` resets the connections open through the endpoint as well (the old node went away);
    `move=False` leaves the endpoint to the caller, as a name slow to move does."""
    old_admin, new_admin = _admin(old), _admin(new)
    old_admin.execute_command("CLIENT", "PAUSE", PAUSE_MS, "WRITE")
    try:
        offset = int(str(_replication(old)["master_repl_offset"]))
        _until(lambda: int(str(_replication(new)["slave_repl_offset"])) >= offset, "the replica to catch up")
        new_admin.replicaof("NO", "ONE")
        old_admin.replicaof(LOOPBACK, new.port)
    finally:
        old_admin.execute_command("CLIENT", "UNPAUSE")
    if move:
        endpoint.point_at(new.port, drop=drop)
