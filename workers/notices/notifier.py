"""Tell a key's owner that the key was deactivated, deleted or exposed: once per change of state,
whether the real-time event or the sweep sees it first, and never lost.

An event from outside is only a claim: IAM, whose-key's memory of the key or CloudTrail confirms it
first (workers/notices/confirm.py); the sweep's own observations come from IAM already. The user
named is the one whose-key saw in IAM, and who did it comes from CloudTrail or is labelled a claim.

The notice is recorded as pending in the same step as the
state change, delivered, then forgotten; one Slack did not take waits for the periodic retry."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from core.audit import audit
from core.blockkit import Message
from core.contract import Destination
from core.jobs import safe_job_id
from core.key_actions import KeyOffer, deactivate_button, offer_ref, quarantine_button, remember_offer
from core.key_events import KeyEvent
from workers.aws.cloudtrail import TrailAnswer, TrailOutcome
from workers.aws.errors import AwsCallError
from workers.aws.iam_keys import get_key_user
from workers.aws.iam_users import get_user
from workers.lookup.key_index import index_entry
from workers.model import Owner
from workers.notices.confirm import confirm
from workers.notices.pending import PendingNotices
from workers.notices.transitions import Change, KeyStates
from workers.render.notice import NoticeFacts, render_notice, render_notice_record
from workers.runtime import Runtime
from workers.slack.delivery import deliver_once
from workers.slack.owners import owner_from_tags
from workers.slack.poster import DeliveryError

log = logging.getLogger(__name__)

# Where a change was seen by whose-key itself, in IAM: the sweep, and its own responder actions.
OWN_SOURCES = ("sweep", "whose-key")
# The state each kind of event moves a key to; None: not a key state (a one-off notice).
_STATE_OF = {"deactivated": "Inactive", "reactivated": "Active", "deleted": "Deleted"}


class Notifier:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.states = KeyStates(runtime.redis)
        self.pending = PendingNotices(runtime.redis, runtime.settings.notice_max_age)

    def handle(self, event: KeyEvent, cause: str | None = None) -> dict[str, Any]:
        """Confirm the event with IAM (the sweep's own are confirmed), record the change with its
        notice as pending, and deliver it when it is news; returns what was done.

        Raises workers.notices.confirm.ConfirmationUnavailable when IAM cannot be asked (the job retries).
        """
        cause = cause or event.dedupe_id or f"event-{event.event_id}"
        # The sweep's observations and whose-key's own changes (read back from IAM) are facts already.
        if event.source not in OWN_SOURCES:
            verdict = confirm(self.runtime, event)
            if not verdict.confirmed:
                audit(
                    self.runtime.redis,
                    "aws_event_dropped",
                    reason=verdict.reason,
                    detail=verdict.detail,
                    kind=event.kind,
                    key=event.key_id,
                    user=event.user_name,
                    account=event.account_id,
                    event_id=event.event_id,
                    source=event.source,
                )
                return {"notified": False, "reason": verdict.reason, "detail": verdict.detail}
            event = verdict.event
        draft = self.pending.draft(event, cause)
        state = _STATE_OF.get(event.kind)
        if state is not None and event.key_id:
            # A reactivation is told only when whose-key made it (an undo): its owner heard of
            # the deactivation from whose-key too. Anyone else's reactivation needs no notice.
            untold = event.kind == "reactivated" and event.source != "whose-key"
            # An event is a real transition even when the key was never seen before.
            from_event = event.source != "sweep"  # whose-key's own change is a transition too
            change = self.states.record(
                event.key_id, state, cause, None if untold else draft, first_sighting_is_news=from_event
            )
            news = change.is_news or (change is Change.FIRST_SEEN and from_event)
            if untold or not news:
                return {"notified": False, "reason": "reactivation" if news else "no change"}
        elif not self.states.claim_once(self._once_name(event, cause), draft):
            # Claimed before: by a copy of this notice, or by this very job before it was retried.
            outcome = self.deliver(draft.notice_id)
            return outcome if outcome.get("notified") else {"notified": False, "reason": "already notified"}
        # "news": a change to tell, whether or not a notice could be sent (the sweep counts both).
        return {**self.deliver(draft.notice_id), "news": True}

    @staticmethod
    def _once_name(event: KeyEvent, cause: str) -> str:
        """The claim of a one-off notice: copies of one Health notice share their cause."""
        return f"{event.kind}:{event.account_id}:{event.key_id or event.user_name}:{cause}"

    def deliver(self, notice_id: str) -> dict[str, Any]:
        """Deliver one pending notice (once, whoever calls); on failure it stays pending until the
        give-up age, then it is dropped and audited."""
        if not self.pending.lock(notice_id):
            return {"notified": False, "pending": True, "reason": "being delivered by another worker"}
        try:
            notice = self.pending.get(notice_id)
            if notice is None:
                return {"notified": False, "reason": "already delivered"}
            try:
                outcome = self.notify(notice.event, notice.cause)
            except DeliveryError as exc:
                if self.pending.failed(notice, self.runtime.settings.notice_retry_interval):
                    log.warning(
                        "key notice not delivered; it stays pending",
                        extra={"notice": notice_id, "attempts": notice.attempts + 1, "error": str(exc)},
                    )
                    return {"notified": False, "pending": True, "reason": str(exc)}
                self.pending.done(notice_id)
                audit(
                    self.runtime.redis,
                    "notice_abandoned",
                    notice=notice_id,
                    key=notice.event.key_id,
                    kind=notice.event.kind,
                    account=notice.event.account_id,
                    attempts=notice.attempts + 1,
                    error=str(exc),
                )
                return {"notified": False, "reason": "given up", "abandoned": True}
            self.pending.done(notice_id)
            return outcome
        finally:
            self.pending.unlock(notice_id)

    def retry_pending(self) -> dict[str, Any]:
        """Try every pending notice that is due; returns counts."""
        due = self.pending.due()
        outcomes = [self.deliver(notice_id) for notice_id in due]
        return {
            "due": len(due),
            "delivered": sum(1 for o in outcomes if o.get("notified")),
            "abandoned": sum(1 for o in outcomes if o.get("abandoned")),
            "still_pending": self.pending.count(),
        }

    def notify(self, event: KeyEvent, cause: str) -> dict[str, Any]:
        event = self._with_actor(event)
        facts = self._facts(event)
        delivery_id = f"notice-{event.kind}-{event.key_id or event.user_name}-{cause}"
        message = self._with_deactivate_button(render_notice(event, facts), event, facts, delivery_id)
        if event.source == "whose-key" and facts.owner_slack_id and facts.owner_slack_id == event.actor:
            return self._own_change(event, facts, delivery_id)
        if facts.owner_slack_id and not facts.no_owner_reason:
            destination, recipient = Destination(channel=facts.owner_slack_id, ephemeral=False), "owner"
        elif self.runtime.settings.audit_channel:
            destination, recipient = Destination(channel=self.runtime.settings.audit_channel, ephemeral=False), "audit"
        else:
            log.error(
                "key notice has nowhere to go: no owner and WHOSE_KEY_AUDIT_CHANNEL unset",
                extra={"key": event.key_id, "kind": event.kind, "reason": facts.no_owner_reason},
            )
            audit(
                self.runtime.redis,
                "notice_undeliverable",
                key=event.key_id,
                kind=event.kind,
                reason=facts.no_owner_reason,
            )
            return {"notified": False, "reason": "no owner and no audit channel"}
        try:
            deliver_once(self.runtime.poster, delivery_id, destination, message)
        except DeliveryError as exc:
            # Slack down: the notice stays pending for the owner. Slack refusing the DM (user gone,
            # DMs closed): the audit channel is told instead.
            if recipient == "owner" and self.runtime.settings.audit_channel and not exc.transient:
                # The DM failed (user gone from Slack?): the audit channel still hears of it.
                # The notice names the owner itself; the reason is plain text, escaped when rendered.
                fallback = replace(facts, no_owner_reason="the DM to the owner failed")
                to_audit = Destination(channel=self.runtime.settings.audit_channel, ephemeral=False)
                deliver_once(self.runtime.poster, delivery_id, to_audit, render_notice(event, fallback))
                recipient = "audit"
            else:
                raise
        self._audit_sent(event, facts, facts.owner_slack_id if recipient == "owner" else recipient)
        if recipient == "owner" and self.runtime.settings.audit_channel:
            self._audit_record(event, facts, delivery_id)
        return {"notified": True, "to": recipient}

    def _audit_sent(self, event: KeyEvent, facts: NoticeFacts, to: str | None) -> None:
        audit(
            self.runtime.redis,
            "notice_sent",
            key=event.key_id,
            kind=event.kind,
            account=event.account_id,
            user=facts.user_name,
            to=to,
            source=event.source,
        )

    def _own_change(self, event: KeyEvent, facts: NoticeFacts, delivery_id: str) -> dict[str, Any]:
        """The owner changed their own key through whose-key: whose-key's answer to them carries the
        steps, so a notice would be their second DM about it. The audit channel still hears of it."""
        self._audit_sent(event, facts, "actor")
        if self.runtime.settings.audit_channel:
            self._audit_record(event, facts, delivery_id)
        return {"notified": True, "to": "actor"}

    def _with_deactivate_button(
        self, message: Message, event: KeyEvent, facts: NoticeFacts, delivery_id: str
    ) -> Message:
        """An exposed key's notice offers Deactivate (the opt-in responder role): to its owner in
        the DM, and in the audit channel, where only responders' presses are taken."""
        if event.kind != "exposed" or not self.runtime.settings.responder_buttons:
            return message
        if not event.key_id or not facts.user_name:
            return message
        ref = offer_ref(safe_job_id(delivery_id), event.key_id)
        offer = KeyOffer(event.key_id, event.account_id, facts.user_name, None, facts.owner_slack_id)
        remember_offer(self.runtime.redis, ref, offer)
        # Quarantine is for responders only; the owner's DM offers what the owner may do.
        elements = [deactivate_button(ref)] + ([quarantine_button(ref)] if delivery_id.startswith("audit-") else [])
        return Message(message.text, [*message.blocks, {"type": "actions", "elements": elements}])

    def _audit_record(self, event: KeyEvent, facts: NoticeFacts, delivery_id: str) -> None:
        """A one-line copy for the audit channel of a notice that went to the owner."""
        audit_channel = Destination(channel=self.runtime.settings.audit_channel, ephemeral=False)
        record = self._with_deactivate_button(render_notice_record(event, facts), event, facts, f"audit-{delivery_id}")
        try:
            deliver_once(self.runtime.poster, f"audit-{delivery_id}", audit_channel, record)
        except DeliveryError:
            log.warning("audit record not posted to the audit channel", extra={"key": event.key_id})

    def _with_actor(self, event: KeyEvent) -> KeyEvent:
        """Who, when and from where, from CloudTrail's own record of the change when it can be read;
        otherwise the event's fields stay, and the notice labels them as the event's claim."""
        if event.from_trail or not event.key_id:
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
                from_trail=True,
            )
        return event

    def _facts(self, event: KeyEvent) -> NoticeFacts:
        accounts = self._accounts()
        account = accounts.get(event.account_id)
        label = account if account else event.account_id
        remembered = index_entry(self.runtime.redis, event.key_id) if event.key_id else None
        # A deleted key's user is what IAM showed before (the index), over what the event says.
        known_user = (remembered or {}).get("user") if event.kind == "deleted" else None
        user_name = known_user or event.user_name or self._user_of_key(event)
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
            return {a.id: a.label for a in self.runtime.org.accounts().values()}
        except AwsCallError:
            return {}

    def _user_of_key(self, event: KeyEvent) -> str | None:
        if event.key_id is None:
            return None
        entry = index_entry(self.runtime.redis, event.key_id)
        if entry and entry.get("user"):
            return entry["user"]
        try:
            return get_key_user(self.runtime.gateway.client(event.account_id, "iam"), event.key_id)
        except AwsCallError:
            return None

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
