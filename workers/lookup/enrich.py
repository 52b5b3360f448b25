"""Add CloudTrail's "who and when" to a finder's report: who deactivated or deleted the key,
whether its user was deleted too, who issued a temporary key's session.

Never changes the verdict: when CloudTrail cannot be read, the report says so in one note and
keeps everything else.
"""

from __future__ import annotations

from dataclasses import replace

from workers.aws.cloudtrail import CloudTrailReader, TrailAnswer, TrailOutcome
from workers.aws.errors import AwsCallError
from workers.aws.gateway import AwsGateway
from workers.aws.iam_users import get_user
from workers.lookup.finding import History, KeyFinding, Verdict


class Enricher:
    def __init__(self, gateway: AwsGateway, trail: CloudTrailReader) -> None:
        self.gateway = gateway
        self.trail = trail

    def enrich(self, report: KeyFinding) -> KeyFinding:
        if report.account is None:
            return report
        account = report.account.id
        if report.verdict is Verdict.FOUND and (report.status or "").lower() == "inactive":
            return self._with(report, self.trail.who_deactivated_key(account, report.key_id), "deactivated")
        if report.verdict is Verdict.GONE:
            return self._gone(report, account)
        if report.verdict is Verdict.TEMPORARY and not report.notes:  # notes: outside the organization
            return self._with(report, self.trail.who_issued_session(account, report.key_id), "issued")
        return report

    def _gone(self, report: KeyFinding, account: str) -> KeyFinding:
        answer = self.trail.who_deleted_key(account, report.key_id)
        report = self._with(report, answer, "deleted")
        if answer.event is None or not answer.event.user_name:
            return report
        user_name = answer.event.user_name
        try:
            user_exists = get_user(self.gateway.client(account, "iam"), user_name) is not None
        except AwsCallError:
            return replace(report, user_name=user_name)
        report = replace(report, user_name=user_name, user_deleted=not user_exists)
        if user_exists:
            return report
        return self._with(report, self.trail.who_deleted_user(account, user_name), "user_deleted")

    @staticmethod
    def _with(report: KeyFinding, answer: TrailAnswer, action: str) -> KeyFinding:
        if answer.outcome is TrailOutcome.FOUND and answer.event is not None:
            event = answer.event
            actor = event.actor
            if action == "issued" and event.session_issuer:
                actor = event.session_issuer
            history = History(action=action, actor=actor, when=event.event_time, source_ip=event.source_ip)
            return replace(report, history=(*report.history, history))
        if answer.detail:
            return replace(report, notes=(*report.notes, answer.detail))
        if answer.outcome is TrailOutcome.NONE_FOUND and action in ("deleted", "deactivated"):
            note = f"CloudTrail in {report.account.label if report.account else 'that account'} has no record "
            note += f"of who {action} it in the last 90 days."
            return replace(report, notes=(*report.notes, note))
        return report
