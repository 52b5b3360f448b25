"""Which keys of an answer get a Deactivate button, for whom: active keys whose-key found, offered
to responders and to each key's owner, only when the responder role is set. Each offer is kept
(core.key_actions.KeyOffer) so the web can name the key in the modal and refuse anyone else."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.errors import SlackApiError

from core.key_actions import KeyOffer, offer_ref, remember_offer
from core.membership import GroupMembers
from workers.lookup.finding import KeyFinding, Verdict
from workers.runtime import Runtime


def deactivatable(runtime: Runtime, asker: str | None, reports: Sequence[KeyFinding]) -> dict[str, KeyOffer]:
    """The keys `asker` may deactivate, by key ID (empty when the feature is off)."""
    settings = runtime.settings
    if not settings.responder_buttons or not asker:
        return {}
    candidates = [
        r for r in reports if r.verdict is Verdict.FOUND and r.status == "Active" and r.account and r.user_name
    ]
    if not candidates:
        return {}
    responder = is_responder(runtime, asker)
    return {
        r.key_id: KeyOffer(r.key_id, r.account.id, r.user_name, r.account.name, r.owner.slack_user_id)
        for r in candidates
        if r.account and r.user_name and (responder or r.owner.slack_user_id == asker)
    }


def is_responder(runtime: Runtime, user: str) -> bool:
    """A member of WHOSE_KEY_RESPONDER_USERGROUPS; False when Slack cannot say (no button then)."""
    groups = runtime.settings.responder_usergroups
    if not groups:
        return False
    try:
        return GroupMembers(runtime.redis, runtime.slack).in_any(user, groups)
    except (SlackApiError, OSError):
        return False


def keep_offers(runtime: Runtime, origin: str, offers: dict[str, KeyOffer]) -> None:
    for key_id, offer in offers.items():
        remember_offer(runtime.redis, offer_ref(origin, key_id), offer)
