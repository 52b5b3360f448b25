"""What the Slack and terminal renderers share: the verdict sentence, the fact rows, times, and
`Markup`, the one place that decides how a value from outside is written for each."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from core.slack_text import code, escape, is_member_id, mention
from workers.lookup.finding import History, KeyFinding, Suggestion, Verdict
from workers.model import Account, LastUsed, Owner


@dataclass(frozen=True)
class Markup:
    """How values are written: for Slack (every value from outside escaped) or for a terminal
    (as it is), with mrkdwn marks (bold, code, mentions) or without."""

    slack: bool
    marks: bool

    def value(self, text: object) -> str:
        """A value from outside (a name, an ARN, a tag, an event field)."""
        return escape(text) if self.slack else str(text)

    def code(self, text: object) -> str:
        return code(text) if self.slack and self.marks else self.value(text)

    def bold(self, text: object) -> str:
        return f"*{self.value(text)}*" if self.marks else self.value(text)

    def owner(self, owner: Owner) -> str:
        """The key's owner: a Slack mention when the ID checks out, else the email."""
        if self.slack and self.marks:
            if owner.slack_user_id:
                return mention(owner.slack_user_id)
            return self.value(owner.email) if owner.email else "no owner tag"
        if owner.slack_user_id and owner.email:
            return f"{self.value(owner.email)} (Slack {self.value(owner.slack_user_id)})"
        return self.value(owner.slack_user_id or owner.email or "no owner tag")


# Block Kit mrkdwn; the plain `text` fallback of a Slack message; a terminal.
SLACK = Markup(slack=True, marks=True)
SLACK_FALLBACK = Markup(slack=True, marks=False)
TERMINAL = Markup(slack=False, marks=False)


def verdict_line(report: KeyFinding, markup: Markup) -> str:
    """The one sentence that answers "whose key is it?"."""
    key = markup.code(report.key_id)
    account = markup.value(report.account.label) if report.account else "an unknown account"
    match report.verdict:
        case Verdict.FOUND:
            who = "IAM user " + (markup.bold(report.user_name) if report.user_name else "an unknown user")
            owner_part = f", owner {markup.owner(report.owner)}" if report.owner.known else ", no owner tag"
            status = f" Status: {markup.value(report.status)}." if report.status else ""
            return f"{key} belongs to {who} in {account}{owner_part}.{status}"
        case Verdict.OUTSIDE_ORG:
            named = f"account {account}" if report.account else "an account we cannot name"
            return f"{key} belongs to {named}, which is not one of this organization's accounts."
        case Verdict.GONE:
            if any(h.action in ("deleted", "user_deleted") for h in report.history):
                return f"{key} was issued in {account} but no longer exists there: it was deleted."
            return (
                f"{key} names {account} but does not exist there now: the key or its user was deleted, "
                "or the key ID is mistyped."
            )
        case Verdict.NOT_FOUND:
            if not report.accounts_searched:
                return f"{key} was not found in this organization."
            plural = "s" if report.accounts_searched != 1 else ""
            return f"{key} was not found in any of the {report.accounts_searched} account{plural} searched."
        case Verdict.TEMPORARY:
            return f"{key} is a temporary STS credential from {account}; no IAM user owns it."
        case Verdict.INCOMPLETE:
            count = len(report.unsearched)
            if not report.accounts_searched and count == 1:
                where = report.unsearched[0]
                return (
                    f"{key} belongs to {markup.value(where.account.label)}, which could not be read "
                    f"({markup.value(where.detail)}), so whose-key cannot say whose it is yet."
                )
            return (
                f"{key} was not found in the {report.accounts_searched} accounts searched, but "
                f"{count} account{'s' if count != 1 else ''} could not be searched, so this is not a final answer."
            )
    return f"{key}: no answer"  # pragma: no cover - every verdict is matched above


def format_time(iso: str | None, now: datetime) -> str:
    """An ISO 8601 time as `YYYY-MM-DD HH:MM UTC (n days ago)`; text that is no time comes back as is."""
    if not iso:
        return "never"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    days = (now - moment).days
    ago = "today" if days <= 0 else ("yesterday" if days == 1 else f"{days} days ago")
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({ago})"


def fact_rows(report: KeyFinding, now: datetime, markup: Markup) -> list[tuple[str, str]]:
    """Label/value pairs for what is known about the key, in reading order, values written by `markup`."""
    value = markup.value
    rows: list[tuple[str, str]] = []
    if report.account:
        rows.append(("Account", value(report.account.label) + (" (management)" if report.management_account else "")))
    if report.user_name:
        rows.append(("IAM user", value(report.user_name)))
    if report.status:
        rows.append(("Status", value(report.status)))
    if report.verdict is Verdict.FOUND:
        rows.append(("Owner", markup.owner(report.owner)))
        rows.append(("Created", value(format_time(report.created, now))))
        used = report.last_used
        if used and used.date:
            where = " ".join(part for part in (used.service, used.region and f"in {used.region}") if part)
            rows.append(("Last used", value(format_time(used.date, now) + (f", {where}" if where else ""))))
        else:
            rows.append(("Last used", "never"))
    for event in report.history:
        rows.append((_HISTORY_LABELS.get(event.action) or value(event.action), _history_value(event, now, markup)))
    if report.user_arn:
        rows.append(("ARN", value(report.user_arn)))
    if report.verdict in (Verdict.NOT_FOUND, Verdict.GONE, Verdict.INCOMPLETE) and report.accounts_searched:
        rows.append(("Accounts searched", str(report.accounts_searched)))
    return rows


_HISTORY_LABELS = {
    "deactivated": "Deactivated",
    "deleted": "Deleted",
    "user_deleted": "User deleted",
    "issued": "Session of",
}


def _history_value(event: History, now: datetime, markup: Markup) -> str:
    when = markup.value(format_time(event.when, now))
    if event.action == "issued":
        return f"{markup.value(event.actor)} (seen {when})"
    source = f" from {markup.value(event.source_ip)}" if event.source_ip else ""
    return f"{when} by {markup.value(event.actor)}{source}"


def suggestion_text(suggestion: Suggestion, markup: Markup) -> str:
    """A "did you mean" key with whose it is and where, when known."""
    whose = " in ".join(markup.value(part) for part in (suggestion.user_name, suggestion.account) if part)
    shown = markup.code(suggestion.key_id)
    return f"{shown} ({whose})" if whose else shown


def escaped_report(report: KeyFinding) -> KeyFinding:
    """The report with every value from outside escaped for Slack and an owner ID kept only when it
    checks out: for mrkdwn that other modules write from a report (the diagnosis), so nothing in it
    can ping, mention or link. Never render values from it a second time: they would show `&amp;`."""
    owner = report.owner
    return replace(
        report,
        key_id=escape(report.key_id),
        account=_escaped_account(report.account) if report.account else None,
        user_name=_escaped(report.user_name),
        user_arn=_escaped(report.user_arn),
        status=_escaped(report.status),
        created=_escaped(report.created),
        last_used=_escaped_use(report.last_used) if report.last_used else None,
        owner=replace(
            owner,
            slack_user_id=owner.slack_user_id if owner.slack_user_id and is_member_id(owner.slack_user_id) else None,
            email=_escaped(owner.email),
        ),
        unsearched=tuple(
            replace(u, account=_escaped_account(u.account), detail=escape(u.detail)) for u in report.unsearched
        ),
        notes=tuple(escape(note) for note in report.notes),
        similar=tuple(Suggestion(escape(s.key_id), _escaped(s.user_name), _escaped(s.account)) for s in report.similar),
        history=tuple(
            History(escape(h.action), escape(h.actor), escape(h.when), _escaped(h.source_ip)) for h in report.history
        ),
    )


def _escaped(value: str | None) -> str | None:
    return escape(value) if value is not None else None


def _escaped_account(account: Account) -> Account:
    return replace(account, id=escape(account.id), name=_escaped(account.name), status=escape(account.status))


def _escaped_use(used: LastUsed) -> LastUsed:
    return LastUsed(_escaped(used.date), _escaped(used.service), _escaped(used.region))
