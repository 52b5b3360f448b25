"""Who may ask, and how much: the same rules for every surface.

- `check`: who may ask here. People of other workspaces (Slack Connect, Enterprise Grid teams not
  in WHOSE_KEY_ALLOWED_TEAMS) and guests (unless WHOSE_KEY_ALLOW_GUESTS) are refused, then the
  allowed channels and user groups apply. Guest status and group membership come from Slack,
  cached in Redis; when Slack cannot say, the answer is no (fail closed), saying why.
- `check_admin`: who may see organization-wide views (the report, the Home tab's counts): members
  of WHOSE_KEY_ADMIN_USERGROUPS, after `check`. With none set, nobody in Slack.
- `shared_outside`: whether a conversation is shared beyond this workspace, so an answer there
  goes to the asker privately.
- `charge`: what the request costs against the person's budgets: requests (keys asked about and
  buttons pressed, WHOSE_KEY_RATE_LIMIT a minute) and full searches (WHOSE_KEY_FULL_SEARCH_LIMIT).

Checked in the web before anything is queued (and, for events, before the event is claimed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis import Redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.members import GuestCheck, outside_teams
from core.budget import charge_full_searches, charge_requests, full_search_refusal_text
from core.conversations import is_shared_outside
from core.key_actions import PendingApproval, refusal_for
from core.membership import GroupMembers
from core.settings import Settings

log = logging.getLogger(__name__)

# Refusals that mean "Slack could not tell us", not "no": they must never stop a later retry.
UNCHECKED = frozenset({"membership_unknown", "member_unknown"})

COULD_NOT_CHECK = (
    ":lock: I could not check your {what} with Slack just now, so I cannot answer. Please try again in a minute."
)


@dataclass(frozen=True)
class Refusal:
    """Why a request is not served, in words for the person who asked."""

    # Short code for the audit trail: other_workspace, guest, member_unknown, channel, usergroup,
    # membership_unknown, admins_unset, not_admin, shared_conversation, rate_limit, full_search_budget.
    reason: str
    message: str

    @property
    def unchecked(self) -> bool:
        """True when Slack could not answer the check, so asking again may well succeed."""
        return self.reason in UNCHECKED


RESPONDER_OFF = ":lock: Acting on keys from Slack is turned off here: whose-key only reads."
APPROVALS_NEED_CHANNEL = (
    ":lock: whose-key is set to need a second responder's approval (`WHOSE_KEY_RESPONDER_APPROVALS=2`), "
    "and approvals are collected in the audit channel, which is not set (`WHOSE_KEY_AUDIT_CHANNEL`). "
    "Nothing was changed."
)
APPROVAL_REFUSALS = {
    "own_request": ":no_entry: You asked for this change: another responder must approve it (two-person rule).",
    "approval_expired": ":hourglass: This request waited more than 30 minutes and expired; nothing was changed. "
    "Ask for it again from a fresh answer if it is still needed.",
    "unknown_approval": ":hourglass: whose-key has no such request any more (they are kept for a day).",
}
NOT_A_RESPONDER = (
    ":lock: Only members of whose-key's responder user groups may deactivate keys, and an owner their own. "
    "Nothing was changed. If the key leaked, ask in your security channel."
)


class AccessPolicy:
    def __init__(self, settings: Settings, redis: Redis, client: WebClient) -> None:
        self.settings = settings
        self.redis = redis
        self.client = client
        self.guests = GuestCheck(redis, client)
        self.groups = GroupMembers(redis, client)

    def check(
        self,
        user: str | None,
        channel: str | None,
        *,
        teams: tuple[str, ...] = (),
        home_team: str | None = None,
    ) -> Refusal | None:
        """None when this person may ask here; else the polite refusal. Raises RedisError."""
        return self._workspace(teams, home_team) or self._guest(user) or self._channel(channel) or self._groups(user)

    def check_admin(self, user: str | None) -> Refusal | None:
        """None when this person may see organization-wide views; run after `check`. Raises RedisError."""
        groups = self.settings.admin_usergroups
        if not groups:
            return Refusal(
                "admins_unset",
                ":lock: The organization-wide report is for whose-key's admins, and none are set: an operator "
                "names their user groups in `WHOSE_KEY_ADMIN_USERGROUPS`."
                + (
                    f" The weekly digest goes to <#{self.settings.audit_channel}>."
                    if self.settings.audit_channel
                    else ""
                ),
            )
        names = ", ".join(f"<!subteam^{g}>" for g in sorted(groups))
        return self._member_of(
            user,
            groups,
            Refusal(
                "not_admin",
                f":lock: The organization-wide report is for members of {names}. You can look up any key "
                "with `/whose-key AKIA…`, and your own keys are on my Home tab.",
            ),
        )

    def check_responder(
        self, user: str | None, action: str, *, owner: str | None = None, undo_by: str | None = None
    ) -> Refusal | None:
        """None when this person may take `action` on a key whose owner is `owner` (and whose last
        deactivation by whose-key `undo_by` may undo); run after `check`. Raises RedisError."""
        if not self.settings.responder_enabled:
            return Refusal("responder_off", RESPONDER_OFF)
        if self.settings.responder_approvals > 1 and not self.settings.audit_channel:
            # Fail closed: an operator who asked for two people must never get one.
            return Refusal("approvals_need_channel", APPROVALS_NEED_CHANNEL)
        if not user:
            return Refusal("not_a_responder", NOT_A_RESPONDER)
        if refusal_for(action, user, responder=False, owner=owner) is None or (undo_by and undo_by == user):
            return None
        groups = self.settings.responder_usergroups
        if not groups:
            return Refusal("not_a_responder", NOT_A_RESPONDER)
        return self._member_of(user, groups, Refusal("not_a_responder", NOT_A_RESPONDER))

    def check_approver(self, user: str | None, pending: PendingApproval | None) -> Refusal | None:
        """None when this person may approve `pending` (two-person rule): another responder than the
        one who asked, within the window; run after `check`. Raises RedisError."""
        if not self.settings.responder_enabled:
            return Refusal("responder_off", RESPONDER_OFF)
        if pending is None:
            return Refusal("unknown_approval", APPROVAL_REFUSALS["unknown_approval"])
        reason = pending.refusal_for_approver(user)
        if reason is not None:
            return Refusal(reason, APPROVAL_REFUSALS.get(reason, NOT_A_RESPONDER))
        groups = self.settings.responder_usergroups
        if not groups:
            return Refusal("not_a_responder", NOT_A_RESPONDER)
        return self._member_of(user, groups, Refusal("not_a_responder", NOT_A_RESPONDER))

    def shared_outside(self, channel: str | None) -> bool:
        """True when people of another workspace or organization can read `channel`. Raises RedisError."""
        return bool(channel) and is_shared_outside(self.redis, self.client, str(channel))

    def charge(self, user: str | None, *, requests: int, full_searches: int = 0) -> Refusal | None:
        """Count the request against the person's budgets; the refusal when one is used up."""
        if not user:
            return None
        over = charge_requests(self.redis, user, requests, self.settings.rate_limit)
        if over is not None:
            return Refusal(
                "rate_limit",
                f":hourglass: You have made {over.used} requests (keys and buttons) this minute; the limit is "
                f"{over.limit} per minute. Please try again in {over.retry_after} seconds.",
            )
        over = charge_full_searches(self.redis, user, full_searches, self.settings.full_search_limit)
        if over is not None:
            return Refusal("full_search_budget", full_search_refusal_text(over))
        return None

    def _workspace(self, teams: tuple[str, ...], home_team: str | None) -> Refusal | None:
        outside = outside_teams(teams, home_team, self.settings.allowed_teams)
        if not outside:
            return None
        log.info("request from another workspace refused", extra={"teams": outside, "home_team": home_team})
        return Refusal(
            "other_workspace",
            ":wave: whose-key answers people of the workspace that runs it, and you are joining from another "
            "one, so I cannot look keys up for you. Please ask someone in that workspace.",
        )

    def _guest(self, user: str | None) -> Refusal | None:
        if self.settings.allow_guests or not user:
            return None
        try:
            guest = self.guests.is_guest(user)
        except (SlackApiError, OSError) as exc:
            log.warning("member kind unknown", extra={"error": _slack_error(exc)})
            return Refusal("member_unknown", COULD_NOT_CHECK.format(what="account"))
        if not guest:
            return None
        return Refusal(
            "guest",
            ":wave: whose-key is for full members of this workspace, not guests, so I cannot look keys up "
            "for you. Please ask a member of the team you work with.",
        )

    def _channel(self, channel: str | None) -> Refusal | None:
        allowed = self.settings.allowed_channels
        if not allowed or channel in allowed:
            return None
        where = ", ".join(f"<#{c}>" for c in sorted(allowed))
        return Refusal(
            "channel",
            f":lock: whose-key answers only in {where}. Please ask there"
            + (f", or ask for access in <#{self.settings.audit_channel}>." if self.settings.audit_channel else "."),
        )

    def _groups(self, user: str | None) -> Refusal | None:
        groups = self.settings.allowed_usergroups
        if not groups:
            return None
        names = ", ".join(f"<!subteam^{g}>" for g in sorted(groups))
        return self._member_of(
            user,
            groups,
            Refusal(
                "usergroup",
                f":lock: whose-key is limited to members of {names}. Ask one of its managers to add you "
                "if you need to look up keys.",
            ),
        )

    def _member_of(self, user: str | None, groups: frozenset[str], refusal: Refusal) -> Refusal | None:
        """None when `user` is in one of `groups`, else `refusal`; when Slack cannot say, no (fail closed)."""
        try:
            if user and self.groups.in_any(user, groups):
                return None
        except (SlackApiError, OSError) as exc:
            log.warning("user group membership unknown", extra={"error": _slack_error(exc), "groups": sorted(groups)})
            return Refusal("membership_unknown", COULD_NOT_CHECK.format(what="group membership"))
        return refusal


def _slack_error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__
