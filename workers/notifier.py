"""Tell a key's owner that the key was deactivated, deleted or exposed: once per change of state,
whether the real-time event or the sweep sees it first."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from core.audit import audit
from core.contract import Destination
from core.key_events import KeyEvent
from workers.aws import AwsCallError, get_key_last_used, get_user
from workers.cloudtrail import TrailAnswer, TrailOutcome
from workers.jobs.delivery import deliver_once
from workers.key_index import index_entry
from workers.owners import owner_from_tags
from workers.render.notice import NoticeFacts, render_notice, render_notice_record
from workers.report import Owner
from workers.runtime import Runtime
from workers.slack_post import DeliveryError
from workers.transitions import Change, KeyStates

log = logging.getLogger(__name__)

# The state each kind of event moves a key to; None: not a key state (a one-off notice).
_STATE_OF = {"deactivated": "Inactive", "reactivated": "Active", "deleted": "Deleted"}


class Notifier:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.states = KeyStates(runtime.redis)

    def handle(self, event: KeyEvent, cause: str | None = None) -> dict[str, Any]:
        """Record what the event says and notify when it is news; returns what was done."""
        cause = cause or f"event-{event.event_id}"
        state = _STATE_OF.get(event.kind)
        if state is not None and event.key_id:
            change = self.states.record(event.key_id, state, cause)
            # An event is a real transition even when the key was never seen before.
            news = change.is_news or (change is Change.FIRST_SEEN and event.source != "sweep")
            if event.kind == "reactivated" or not news:
                return {"notified": False, "reason": "no change" if not news else "reactivation"}
        elif not self.states.claim_once(f"{event.kind}:{event.account_id}:{event.key_id or event.user_name}:{cause}"):
            return {"notified": False, "reason": "already notified"}
        # "news": a change to tell, whether or not a notice could be sent (the sweep counts both).
        return {**self.notify(event, cause), "news": True}

    def notify(self, event: KeyEvent, cause: str) -> dict[str, Any]:
        event = self._with_actor(event)
        facts = self._facts(event)
        message = render_notice(event, facts)
        delivery_id = f"notice-{event.kind}-{event.key_id or event.user_name}-{cause}"
        if facts.owner_slack_id and not facts.no_owner_reason:
            destination, recipient = Destination(channel=facts.owner_slack_id, ephemeral=False), "owner"
        elif self.runtime.settings.audit_channel:
            destination, recipient = Destination(channel=self.runtime.settings.audit_channel, ephemeral=False), "audit"
        else:
            log.error(
                "key notice has nowhere to go: no owner and WHOSE_KEY_AUDIT_CHANNEL unset",
                extra={"key": event.key_id, "kind": event.kind, "reason": facts.no_owner_reason},
            )
            return {"notified": False, "reason": "no owner and no audit channel"}
        try:
            deliver_once(self.runtime, delivery_id, destination, message)
        except DeliveryError:
            if recipient == "owner" and self.runtime.settings.audit_channel:
                # The DM failed (user gone from Slack?): the audit channel still hears of it.
                # The notice names the owner itself; the reason is plain text, escaped when rendered.
                fallback = replace(facts, no_owner_reason="the DM to the owner failed")
                to_audit = Destination(channel=self.runtime.settings.audit_channel, ephemeral=False)
                deliver_once(self.runtime, delivery_id, to_audit, render_notice(event, fallback))
                recipient = "audit"
            else:
                raise
        audit(
            self.runtime.redis,
            "notice_sent",
            key=event.key_id,
            kind=event.kind,
            account=event.account_id,
            user=facts.user_name,
            to=facts.owner_slack_id if recipient == "owner" else recipient,
            source=event.source,
        )
        if recipient == "owner" and self.runtime.settings.audit_channel:
            self._audit_record(event, facts, delivery_id)
        return {"notified": True, "to": recipient}

    def _audit_record(self, event: KeyEvent, facts: NoticeFacts, delivery_id: str) -> None:
        """A one-line copy for the audit channel of a notice that went to the owner."""
        audit_channel = Destination(channel=self.runtime.settings.audit_channel, ephemeral=False)
        try:
            deliver_once(self.runtime, f"audit-{delivery_id}", audit_channel, render_notice_record(event, facts))
        except DeliveryError:
            log.warning("audit record not posted to the audit channel", extra={"key": event.key_id})

    def _with_actor(self, event: KeyEvent) -> KeyEvent:
        """The sweep knows what changed, not who did it: CloudTrail may say."""
        if event.actor or not event.key_id:
            return event
        trail = self.runtime.trail
        answer: TrailAnswer
        if event.kind == "deactivated":
            answer = trail.who_deactivated_key(event.account_id, event.key_id)
        elif event.kind == "deleted":
            answer = trail.who_deleted_key(event.account_id, event.key_id)
        else:
            return event
        if answer.outcome is TrailOutcome.FOUND and answer.event is not None:
            return replace(
                event,
                actor=answer.event.actor,
                when=answer.event.event_time,
                source_ip=answer.event.source_ip,
                user_name=event.user_name or answer.event.user_name,
            )
        return event

    def _facts(self, event: KeyEvent) -> NoticeFacts:
        accounts = self._accounts()
        account = accounts.get(event.account_id)
        label = account if account else event.account_id
        user_name = event.user_name or self._user_of_key(event)
        owner, reason = self._owner(event, user_name)
        owner = self.runtime.directory.resolve(owner)
        if owner.known and not owner.slack_user_id and not reason:
            reason = f"the owner's email {owner.email} does not match a Slack member"
        return NoticeFacts(
            account_label=label,
            user_name=user_name,
            owner_slack_id=owner.slack_user_id,
            owner_email=owner.email,
            no_owner_reason=reason,
        )

    def _accounts(self) -> dict[str, str]:
        try:
            return {a.id: a.label for a in self.runtime.finder.org.accounts().values()}
        except AwsCallError:
            return {}

    def _user_of_key(self, event: KeyEvent) -> str | None:
        if event.key_id is None:
            return None
        entry = index_entry(self.runtime.redis, event.key_id)
        if entry and entry.get("user"):
            return entry["user"]
        try:
            found = get_key_last_used(self.runtime.gateway.client(event.account_id, "iam"), event.key_id)
        except AwsCallError:
            return None
        return found.user_name if found else None

    def _owner(self, event: KeyEvent, user_name: str | None) -> tuple[Owner, str | None]:
        """The owner from the user's tags, else from the key index; with why when there is none."""
        remembered = index_entry(self.runtime.redis, event.key_id) if event.key_id else None
        from_index = Owner(
            slack_user_id=(remembered or {}).get("owner_slack_id"), email=(remembered or {}).get("owner_email")
        )
        if user_name is None:
            return from_index, None if from_index.known else "the key's IAM user could not be determined"
        try:
            user = get_user(self.runtime.gateway.client(event.account_id, "iam"), user_name)
        except AwsCallError as exc:
            return from_index, None if from_index.known else f"the IAM user could not be read ({exc.detail})"
        if user is None:
            reason = f"the IAM user {user_name} was deleted, so its owner tags are gone"
            return from_index, None if from_index.known else reason
        owner = owner_from_tags(user.tags)
        if owner.known:
            return owner, None
        if from_index.known:
            return from_index, None
        return owner, f"the IAM user {user_name} has no slack-user-id, email or owner tag"
