"""The organization's accounts, listed through Organizations and cached in Redis."""

from __future__ import annotations

from dataclasses import asdict

from workers.aws import AwsGateway, get_management_account_id, get_organization_accounts
from workers.constants import ACCOUNTS_CACHE_TTL
from workers.report import Account
from workers.state import JsonCache


class Organization:
    """Accounts by ID and the management account, from a cache shared by every worker."""

    def __init__(self, gateway: AwsGateway, cache: JsonCache) -> None:
        self.gateway = gateway
        self.cache = cache

    def accounts(self) -> dict[str, Account]:
        accounts = self.cache.get_or_compute(
            "org-accounts",
            ACCOUNTS_CACHE_TTL,
            lambda: list(get_organization_accounts(self.gateway.hub_client("organizations"))),
            lambda items: [asdict(a) for a in items],
            lambda data: [Account(**a) for a in data],
        )
        return {a.id: a for a in accounts}

    def management_account_id(self) -> str:
        return self.cache.get_or_compute(  # type: ignore[no-any-return]
            "org-management-account",
            ACCOUNTS_CACHE_TTL,
            lambda: get_management_account_id(self.gateway.hub_client("organizations")),
            lambda value: value,
            str,
        )
