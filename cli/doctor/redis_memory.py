"""The doctor's memory check: Redis's used_memory against its maxmemory."""

from __future__ import annotations

from cli.doctor.model import Check, Status
from core.redis_memory import Memory

# Above this share of maxmemory the doctor warns: Redis refuses writes (noeviction) at 100 %.
NEARLY_FULL = 0.9
MEMORY_FIX = (
    "free memory (raise maxmemory, or a larger node) and look at what grew: `redis-cli --bigkeys`; "
    "size it from the README's memory figures"
)


def memory_check(memory: Memory) -> Check:
    """How full Redis is: FAIL when it refuses writes, WARN when nearly full."""
    detail = f"{memory.describe()} (maxmemory-policy {memory.policy})"
    if memory.full:
        return Check("redis", "memory", Status.FAIL, f"Redis is out of memory and refuses writes: {detail}", MEMORY_FIX)
    if memory.limit and memory.used >= NEARLY_FULL * memory.limit:
        return Check("redis", "memory", Status.WARN, f"Redis is nearly full: {detail}", MEMORY_FIX)
    return Check("redis", "memory", Status.OK, detail)
