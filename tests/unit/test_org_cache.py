"""The organization's account list (workers/aws/organization.py), shared by every worker through a real Redis:
listed once, served without waiting while a stale copy is refreshed in the background, and
listed again first when an account is missing from a copy that is not brand new.

The cache reads the wall clock itself, so a copy is made old by storing it with an older
`fetched_at`, exactly as a worker that listed the organization that long ago would have.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from standins.loopback import free_port
from tests.support.moto_world import ACCOUNTS_PAGE, MotoWorld
from workers.aws.errors import AwsCallError
from workers.aws.organization import CACHE_NAME, META_NAME, Organization
from workers.cache import JsonCache
from workers.constants import ACCOUNTS_CACHE_KEEP, ACCOUNTS_CACHE_TTL, ACCOUNTS_RECHECK_AFTER

FOREIGN = "999988887777"  # an account outside the organization
LISTING = "organizations:ListAccounts"
REFRESH_THREAD = "org-refresh"


@pytest.fixture
def aws() -> Iterator[MotoWorld]:
    """An organization in moto of the management account and acme-prod."""
    with MotoWorld() as world:
        world.add_account("acme-prod")
        yield world


@pytest.fixture
def cache(redis: Redis) -> JsonCache:
    return JsonCache(redis)


@pytest.fixture(autouse=True)
def no_refresh_outlives_its_test() -> Iterator[None]:
    """Join background refreshes, so none writes into the next test's Redis."""
    yield
    join_refreshes()


def join_refreshes() -> None:
    """Wait for every background refresh running now to finish."""
    for thread in threading.enumerate():
        if thread.name == REFRESH_THREAD:
            thread.join(timeout=10)
            assert not thread.is_alive(), "a background refresh did not finish"


def worker(aws: MotoWorld, cache: JsonCache) -> Organization:
    """The organization as one worker process holds it."""
    return Organization(aws.gateway, cache)


def listings(aws: MotoWorld) -> int:
    """How many times the organization was listed: one ListAccounts call each, as it fits in one page."""
    assert len(aws.accounts) <= ACCOUNTS_PAGE
    return aws.accounts[aws.management_id].calls.count(LISTING)


def age_shared_copy(cache: JsonCache, seconds: float) -> None:
    """Make the shared copy look as if it was listed `seconds` ago."""
    listed: dict[str, Any] | None = cache.get(CACHE_NAME)
    meta: dict[str, Any] | None = cache.get(META_NAME)
    assert listed is not None and meta is not None, "nothing listed yet"
    fetched_at = time.time() - seconds
    cache.set(CACHE_NAME, {**listed, "fetched_at": fetched_at}, ACCOUNTS_CACHE_KEEP)
    cache.set(META_NAME, {**meta, "fetched_at": fetched_at}, ACCOUNTS_CACHE_KEEP)


def test_first_lookup_lists_once_and_every_worker_shares_it(aws: MotoWorld, cache: JsonCache) -> None:
    """The first lookup lists the organization; later lookups, on this worker or another, reuse the copy."""
    first = worker(aws, cache).accounts()
    prod = aws.ids["acme-prod"]
    assert set(first) == {aws.management_id, prod} and first[prod].name == "acme-prod"
    other = worker(aws, cache)
    for _ in range(3):
        assert other.accounts() == first
    assert listings(aws) == 1
    assert other.management_account_id() == aws.management_id


def test_stale_copy_is_served_at_once_while_one_refresh_runs_in_the_background(
    aws: MotoWorld, cache: JsonCache
) -> None:
    """Past ACCOUNTS_CACHE_TTL the old copy is answered without waiting, and a background listing replaces it."""
    org = worker(aws, cache)
    org.accounts()
    new = aws.add_account("acme-new")  # created after the first listing
    age_shared_copy(cache, ACCOUNTS_CACHE_TTL + 1)
    release = aws.hold(aws.management_id, "ListAccounts")  # the refresh cannot finish until released

    assert new not in org.accounts()  # answered while the listing is still held: nobody waited
    aws.wait_for_calls(aws.management_id, LISTING, count=2)
    release.set()
    join_refreshes()

    assert new in org.accounts()
    assert new in worker(aws, cache).accounts()
    assert listings(aws) == 2


def test_one_background_refresh_per_cluster(aws: MotoWorld, cache: JsonCache) -> None:
    """Workers seeing the same stale copy start one listing between them (a lock per worker, a claim in Redis)."""
    first, second = worker(aws, cache), worker(aws, cache)
    first.accounts()
    age_shared_copy(cache, ACCOUNTS_CACHE_TTL + 1)
    release = aws.hold(aws.management_id, "ListAccounts")
    first.accounts()
    first.accounts()  # this worker's refresh is still running: no second one
    second.accounts()  # another worker: the cluster's claim is taken (a refresh it started would be running now)
    release.set()
    join_refreshes()
    assert listings(aws) == 2


def test_missing_account_in_an_older_copy_is_listed_before_answering(aws: MotoWorld, cache: JsonCache) -> None:
    """An account missing from a copy older than ACCOUNTS_RECHECK_AFTER forces a fresh listing first."""
    org = worker(aws, cache)
    org.accounts()
    new = aws.add_account("acme-new")  # created after the first listing
    age_shared_copy(cache, ACCOUNTS_RECHECK_AFTER + 1)
    assert new in org.accounts(must_include=new)
    assert listings(aws) == 2


def test_missing_account_in_a_brand_new_copy_is_not_listed_again(aws: MotoWorld, cache: JsonCache) -> None:
    """A foreign account missing from a copy younger than ACCOUNTS_RECHECK_AFTER does not relist each lookup."""
    org = worker(aws, cache)
    org.accounts()
    for _ in range(3):
        assert FOREIGN not in org.accounts(must_include=FOREIGN)
    assert listings(aws) == 1


def test_failed_background_refresh_keeps_serving_the_previous_copy(aws: MotoWorld, cache: JsonCache) -> None:
    """When the background listing fails, lookups keep the old copy instead of failing."""
    org = worker(aws, cache)
    before = org.accounts()
    age_shared_copy(cache, ACCOUNTS_CACHE_TTL + 1)
    aws.fail(aws.management_id, "ListAccounts", "TooManyRequestsException")
    assert org.accounts() == before
    aws.wait_for_calls(aws.management_id, LISTING, count=2)
    join_refreshes()
    assert org.accounts() == before


def test_first_listing_failing_raises(aws: MotoWorld, cache: JsonCache) -> None:
    """With no copy to serve, an unreadable organization raises the classified error."""
    aws.fail(aws.management_id, "ListAccounts", "AccessDeniedException")
    with pytest.raises(AwsCallError):
        worker(aws, cache).accounts()


def test_lost_list_is_listed_again(aws: MotoWorld, cache: JsonCache, redis: Redis) -> None:
    """If the list entry is gone while its meta record remains, the next lookup lists again."""
    worker(aws, cache).accounts()
    redis.delete(*[k for k in redis.scan_iter("whose-key:cache:*") if k.decode().endswith(":" + CACHE_NAME)])
    assert aws.ids["acme-prod"] in worker(aws, cache).accounts()
    assert listings(aws) == 2


def test_warm_fills_the_copy_ahead_of_the_first_lookup(aws: MotoWorld, cache: JsonCache) -> None:
    """warm() (on worker start) lists in the background, so the first lookup finds a copy."""
    org = worker(aws, cache)
    org.warm()
    aws.wait_for_calls(aws.management_id, LISTING)
    join_refreshes()
    meta = cache.get(META_NAME)
    assert meta is not None and meta["count"] == 2
    assert aws.ids["acme-prod"] in org.accounts()
    assert listings(aws) == 1


def test_redis_away_does_not_stop_warm_or_a_background_refresh(aws: MotoWorld) -> None:
    """With Redis unreachable, warm() and a background refresh return quietly and list nothing."""
    # Nothing listens on the port; no retries, so the refusal comes at once.
    away = JsonCache(Redis(port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)))
    org = worker(aws, away)
    org.warm()
    org.refresh_in_background()
    assert listings(aws) == 0
