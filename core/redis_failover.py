"""Surviving a managed failover (ElastiCache, MemoryDB, Redis's own FAILOVER).

The primary endpoint's name moves to the promoted replica, but connections already open still
reach the old primary, now a replica: it refuses every write with `READONLY`, including writes
inside a Lua script (a plain `ERR Error running script … -READONLY …`), and it ends commands
blocked on it (BLMOVE, the RQ worker's wait for a job) with `UNBLOCKED`. redis-py's retry
(`retry_on_error`, set by `core.redis_keys.connect`) already drops a connection that failed with
an error it retries and connects again, which reaches the new primary through the moved name.
These connections only name every such refusal as what it is, a `FailoverRefusal`, so that the
retry takes them all. A refused write did not happen, so trying it again is safe. After a
refusal, every other connection of the process made before it is dropped and made again when next
used, so none keeps reading from the old primary.
"""

from __future__ import annotations

from typing import Any, ClassVar

from redis.connection import Connection, SSLConnection
from redis.exceptions import ConnectionError, ReadOnlyError, ResponseError

# How the old primary says "I am a replica now" besides a plain READONLY error reply.
_SCRIPT_READONLY = "-READONLY "
_UNBLOCKED_BY_ROLE_CHANGE = "UNBLOCKED force unblock from blocking operation, instance state changed"


def is_failover_refusal(message: str) -> bool:
    """Whether an error reply means "this server stopped being the primary": try it on the new one."""
    return message.startswith(("READONLY ", _UNBLOCKED_BY_ROLE_CHANGE)) or (
        message.startswith("Error running script") and _SCRIPT_READONLY in message
    )


class FailoverRefusal(ReadOnlyError, ConnectionError):
    """A former primary's refusal. A ReadOnlyError, which redis-py's retry takes, and a
    ConnectionError, so that what waits out an unreachable Redis (RQ's loop waiting for a job, its
    command thread) waits this out too, should the name take longer to move than the retry lasts."""


def as_failover_error(error: ResponseError) -> ResponseError:
    """A replica's refusal as a FailoverRefusal; any other error unchanged."""
    if isinstance(error, FailoverRefusal):
        return error
    if isinstance(error, ReadOnlyError) or is_failover_refusal(str(error)):
        return FailoverRefusal(str(error))
    return error


class _FailoverAware:
    # Failover refusals this process has seen. A connection made before the latest one may still
    # reach the former primary, whose reads lag the new one: it is dropped when next taken from its
    # pool (never in the middle of a WATCH or a pipeline, which hold their connection throughout).
    refusals: ClassVar[int] = 0
    _made_after: int = 0

    def _connected(self) -> bool:
        return getattr(self, "_sock", None) is not None

    def connect(self) -> None:
        if self._connected() and self._made_after != _FailoverAware.refusals:
            self.disconnect()  # type: ignore[attr-defined]
        super().connect()  # type: ignore[misc]

    def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
        if not self._connected():
            self._made_after = _FailoverAware.refusals
        super().connect_check_health(*args, **kwargs)  # type: ignore[misc]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        except ResponseError as error:
            named = as_failover_error(error)
            if isinstance(named, FailoverRefusal):
                _FailoverAware.refusals += 1
            if named is error:
                raise
            raise named from error


class FailoverConnection(_FailoverAware, Connection):
    """A plain TCP connection that names a former primary's refusals (see the module docstring)."""


class FailoverSSLConnection(_FailoverAware, SSLConnection):
    """The same over TLS (`rediss://`)."""


def failover_connection_class(url: str) -> dict[str, type[Connection]]:
    """`connection_class` for a redis:// or rediss:// URL (empty for unix://, left as it is)."""
    if url.startswith("rediss://"):
        return {"connection_class": FailoverSSLConnection}
    if url.startswith("redis://"):
        return {"connection_class": FailoverConnection}
    return {}
