"""Redis's memory as whose-key cares about it: full (writes refused with OOM) or not, read from
`INFO memory`, for /healthz and the doctor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis import Redis


@dataclass(frozen=True)
class Memory:
    used: int  # used_memory, bytes
    limit: int  # maxmemory, bytes; 0 = no limit
    policy: str  # maxmemory_policy

    @property
    def full(self) -> bool:
        """True when Redis refuses writes for memory (with noeviction; other policies evict instead)."""
        return self.limit > 0 and self.used >= self.limit and self.policy == "noeviction"

    def describe(self) -> str:
        limit = human(self.limit) if self.limit else "no limit"
        return f"used_memory {human(self.used)} of maxmemory {limit}"


def read_memory(redis: Redis) -> Memory:
    """What `INFO memory` says. Raises RedisError."""
    info: dict[str, Any] = redis.info("memory")
    return Memory(
        used=int(info.get("used_memory", 0)),
        limit=int(info.get("maxmemory", 0)),
        policy=str(info.get("maxmemory_policy", "noeviction")),
    )


def human(size: int) -> str:
    """Bytes as Redis's own `*_human` fields write them (1.50M)."""
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.2f}{unit}"
    return f"{size}B"
