"""The organization's accounts, listed through Organizations and shared by every worker via Redis.

Lookups never wait for a listing once one exists: a copy older than ACCOUNTS_CACHE_TTL is still
served while one worker refreshes it in the background. Only an account missing from the copy
forces a fresh listing first, so a newly created account is never called "outside the
organization" because of a stale cache.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict
from typing import Any

from redis.exceptions import RedisError

from workers.aws.errors import AwsCallError
from workers.aws.gateway import AwsGateway, get_management_account_id, get_organization_accounts
from workers.cache import JsonCache
from workers.constants import ACCOUNTS_CACHE_KEEP, ACCOUNTS_CACHE_TTL, ACCOUNTS_RECHECK_AFTER
from workers.model import Account

log = logging.getLogger(__name__)

CACHE_NAME = "org-accounts"
META_NAME = "org-accounts-meta"


class Organization:
    def __init__(self, gateway: AwsGateway, cache: JsonCache) -> None:
        self.gateway = gateway
        self.cache = cache
        self._refreshing = threading.Lock()
        # The parsed list, reused while the shared copy's small meta record says it is unchanged:
        # a lookup then reads a few bytes from Redis, not the whole organization.
        self._memo: tuple[float, dict[str, Account]] | None = None

    def accounts(self, *, must_include: str | None = None) -> dict[str, Account]:
        """Accounts by ID. With must_include, an ID missing from a copy that is not brand new
        triggers a fresh listing before the answer."""
        meta = self._meta()
        accounts = self._load(meta)
        age = time.time() - meta["fetched_at"]
        if must_include and must_include not in accounts and age > ACCOUNTS_RECHECK_AFTER:
            accounts = self._load(self.refresh())
        elif age > ACCOUNTS_CACHE_TTL:
            self.refresh_in_background()
        return accounts

    def management_account_id(self) -> str:
        return str(self._meta()["management_account_id"])

    def _meta(self) -> dict[str, Any]:
        meta = self.cache.get(META_NAME)
        return meta if meta is not None else self.refresh()

    def _load(self, meta: dict[str, Any]) -> dict[str, Account]:
        if self._memo is not None and self._memo[0] == meta["fetched_at"]:
            return self._memo[1]
        listed = self.cache.get(CACHE_NAME)
        if listed is None or listed["fetched_at"] != meta["fetched_at"]:
            return self._load(self.refresh())
        accounts = {a["id"]: Account(**a) for a in listed["accounts"]}
        self._memo = (meta["fetched_at"], accounts)
        return accounts

    def refresh(self) -> dict[str, Any]:
        """List the organization now and share the result; returns the new meta record."""
        organizations = self.gateway.hub_client("organizations")
        fetched_at = time.time()
        management_account_id = get_management_account_id(organizations)
        accounts = [asdict(a) for a in get_organization_accounts(organizations)]
        listed = {"fetched_at": fetched_at, "accounts": accounts}
        meta = {"fetched_at": fetched_at, "management_account_id": management_account_id, "count": len(accounts)}
        self.cache.set(CACHE_NAME, listed, ACCOUNTS_CACHE_KEEP)  # the list first: meta points at it
        self.cache.set(META_NAME, meta, ACCOUNTS_CACHE_KEEP)
        return meta

    def warm(self) -> None:
        """Fill the shared copy ahead of the first lookup (on worker start)."""
        try:
            if self.cache.get(META_NAME) is None:
                self.refresh_in_background()
        except RedisError:
            pass  # the worker's own Redis checks will say so

    def refresh_in_background(self) -> None:
        """Refresh from a thread, at most one at a time per worker (and per cluster, by a lock)."""
        if not self._refreshing.acquire(blocking=False):
            return
        try:
            if not self.cache.claim("org-accounts-refresh", ttl=60):
                self._refreshing.release()
                return
        except RedisError:
            self._refreshing.release()
            return

        def run() -> None:
            try:
                self.refresh()
            except (AwsCallError, RedisError) as exc:
                log.warning("organization refresh failed; serving the previous list", extra={"error": str(exc)})
            finally:
                self._refreshing.release()

        threading.Thread(target=run, name="org-refresh", daemon=True).start()
