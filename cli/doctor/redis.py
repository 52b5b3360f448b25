"""The Redis checks: web and worker can write, read and delete, and queued jobs are never evicted."""

from __future__ import annotations

import uuid

from redis.exceptions import OutOfMemoryError, RedisError, ResponseError

from cli.doctor.model import Check, Status, not_checked
from cli.doctor.redact import redact_text, redact_url
from cli.doctor.redis_memory import memory_check
from cli.doctor.redis_tls import tls_problem
from core.redis_keys import DOCTOR_PROBE, connect, redis_key
from core.redis_memory import read_memory
from core.settings import Settings


def redis_checks(settings: Settings, bad: frozenset[str]) -> list[Check]:
    """Ping, write a probe key, read it back, delete it; then the eviction policy."""
    if "REDIS_URL" in bad:
        return [not_checked("redis", "connection", "REDIS_URL")]
    where = redact_url(settings.redis_url)
    redis = connect(settings.redis_url)
    try:
        redis.ping()
        # Read before the probe: a full Redis refuses the probe's write, and this says why.
        memory = read_memory(redis)
        probe, marker = redis_key(DOCTOR_PROBE, uuid.uuid4().hex), uuid.uuid4().hex
        # The TTL cleans up after a doctor that dies between the write and the delete.
        redis.set(probe, marker, ex=DOCTOR_PROBE.seconds)
        read_back = redis.get(probe)
        redis.delete(probe)
        server = redis.info("server")
        policy = memory.policy
    except OutOfMemoryError:
        return [memory_check(memory)]
    except ResponseError as exc:
        readonly = "READONLY" in str(exc)
        return [
            Check(
                "redis",
                "connection",
                Status.FAIL,
                f"Redis at {where} refused a command ({'read-only replica' if readonly else type(exc).__name__})",
                "point REDIS_URL at the primary, not a replica"
                if readonly
                else "whose-key needs a plain Redis (5 or newer) where it may SET, GET, DEL and INFO",
            )
        ]
    except RedisError as exc:
        tls = tls_problem(settings.redis_url, exc)
        if tls is not None:
            return [tls]
        return [
            Check(
                "redis",
                "connection",
                Status.FAIL,
                f"could not use Redis at {where}: {redact_text(str(exc), settings.redis_url)}",
                "start Redis or point REDIS_URL at one that web and worker can reach "
                "(redis://[:password@]host:6379/0); check the password and any firewall",
            )
        ]
    finally:
        redis.close()
    if read_back != marker.encode():
        return [
            Check(
                "redis",
                "connection",
                Status.FAIL,
                f"Redis at {where} did not give back what was written",
                "use a plain Redis (not a cache that drops writes) for REDIS_URL",
            )
        ]
    checks = [
        Check(
            "redis",
            "connection",
            Status.OK,
            f"Redis {server.get('redis_version', '?')} at {where}: ping, write, read and delete work",
        ),
        memory_check(memory),
    ]
    if policy != "noeviction":
        checks.append(
            Check(
                "redis",
                "eviction policy",
                Status.WARN,
                f"maxmemory-policy is {policy}: under memory pressure Redis may drop queued lookups",
                "set maxmemory-policy noeviction on this Redis (RQ's queues must not be evicted)",
            )
        )
    return checks
