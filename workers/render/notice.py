"""The notice of a key's change of state (deactivated, deleted, its user deleted, exposed): what
happened, when, by whom, what will now fail, and the steps; and the one-line record of it for the
audit channel. Every field of the event and of the facts comes from outside and is escaped."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from core.blockkit import MAX_FALLBACK, Message, clip, context, section
from core.key_events import KeyEvent
from core.slack_text import code, escape, mention
from workers.render.common import format_time
from workers.render.risk import risk_text

_HEADLINES = {
    "deactivated": ":no_entry: The AWS access key {key} was *deactivated*.",
    "reactivated": ":arrow_forward: The AWS access key {key} was *reactivated*.",
    "deleted": ":wastebasket: The AWS access key {key} was *deleted*.",
    "user_deleted": ":wastebasket: The IAM user *{user}* was *deleted*, and with it all of its access keys.",
    "exposed": ":rotating_light: The AWS access key {key} {risk}.",
}

_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

# How much of AWS Health's free text a notice quotes (it is AWS's; the Health console has all of it).
MAX_QUOTE = 1500
MAX_QUOTE_LINES = 20

_PLAIN_HEADLINES = {
    "deactivated": "AWS access key {key} was deactivated",
    "reactivated": "AWS access key {key} was reactivated",
    "deleted": "AWS access key {key} was deleted",
    "user_deleted": "IAM user {user} was deleted with its keys",
    "exposed": "AWS access key {key} {risk}",
}

# Where the notice's facts come from. Events are claims until IAM (and, for a deletion, whose-key's
# record of the key or CloudTrail) confirms them; who, when and where stay labelled as the event's
# claim unless read from CloudTrail. The sweep reads IAM itself.
_HOW_WE_KNOW = {
    "eventbridge": "from the CloudTrail event; IAM in the account confirms the change",
    "sns": "from the CloudTrail event (through SNS); IAM in the account confirms the change",
    "health": "from an AWS Health notice; IAM in the account confirms the key is there",
    "sweep": "from whose-key's periodic check of every account's keys in IAM",
    "whose-key": "whose-key made this change through its responder role and read it back from IAM",
}


@dataclass(frozen=True)
class NoticeFacts:
    """What the notice can say beyond the event itself. Plain text: the renderer escapes it."""

    account_label: str
    user_name: str | None
    owner_slack_id: str | None = None
    owner_email: str | None = None
    no_owner_reason: str | None = None  # set when the notice goes to the audit channel instead


def render_notice(event: KeyEvent, facts: NoticeFacts, now: datetime | None = None) -> Message:
    """The notice for the key's owner (or the audit channel, when no owner can be told)."""
    now = now or datetime.now(UTC)
    key = event.key_id or "?"
    user = escape(facts.user_name or "unknown user")
    account = escape(facts.account_label)
    risk = risk_text(event.risk_code)
    lines = [_HEADLINES[event.kind].format(key=code(key), user=user, risk=risk.headline)]
    if facts.no_owner_reason:
        lines.insert(0, f":mag: No owner to tell directly: {escape(facts.no_owner_reason)}. Posting here instead.")
    details = [f"*Account:* {account}", f"*IAM user:* {user}"]
    if facts.no_owner_reason and (facts.owner_slack_id or facts.owner_email):
        details.append(f"*Owner:* {_owner(facts)}")
    if event.key_id and event.kind == "user_deleted":
        details.append(f"*Key:* {code(event.key_id)}")
    claim = _claim_label(event)
    if event.when:
        details.append(f"*When:* {claim}{escape(format_time(event.when, now))}")
    if event.actor:
        source = f" from {escape(event.source_ip)}" if event.source_ip else ""
        details.append(f"*By:* {claim}{_actor(event)}{source}")
    if event.risk_code:
        details.append(f"*AWS Health code:* {code(event.risk_code)}")
    details.append(f"_Known {_HOW_WE_KNOW.get(event.source, 'from AWS')}._")
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(_steps(event, facts), 1))
    blocks = [section("\n".join(lines)), section("\n".join(details))]
    if event.description and event.source == "whose-key":
        blocks.append(section("*Why* (as they gave it)\n" + quote(event.description)))
    elif event.description:
        blocks.append(section("*What AWS says* (quoted from its Health notice)\n" + quote(event.description)))
    blocks += [
        section(
            ("*What it means*\n" if event.kind in ("exposed", "reactivated") else "*What fails now*\n")
            + _what_fails(event)
        ),
        section("*What to do*\n" + steps),
    ]
    headline = _PLAIN_HEADLINES[event.kind].format(key=escape(key), user=user, risk=risk.plain)
    owner = f" (owner {escape(facts.owner_email)})" if facts.no_owner_reason and facts.owner_email else ""
    return Message(clip(f"{headline}: {user} in {account}{owner}", MAX_FALLBACK), blocks)


def quote(text: str, limit: int = MAX_QUOTE) -> str:
    """Outside text as a block quote: clipped, escaped, every line quoted, so it cannot end the quote."""
    lines = clip(text.strip(), limit).splitlines() or [""]
    return "\n".join("> " + escape(line) for line in lines[:MAX_QUOTE_LINES])


def _actor(event: KeyEvent) -> str:
    """Who made the change: a Slack mention when whose-key made it for a person, else the ARN."""
    actor = event.actor or ""
    if event.source == "whose-key" and _SLACK_ID.match(actor):
        return f"{mention(actor)} with whose-key"
    return escape(actor)


def _claim_label(event: KeyEvent) -> str:
    """Who, when and where read from CloudTrail stand as facts; from an event, as its claim."""
    if event.from_trail or event.source == "sweep":
        return ""
    return "_the event says_ "


def render_notice_record(event: KeyEvent, facts: NoticeFacts) -> Message:
    """The audit channel's one-line copy of a notice that went to the owner."""
    owner = mention(facts.owner_slack_id) if facts.owner_slack_id else "the owner"
    what = code(event.key_id or facts.user_name or "?")
    user = escape(facts.user_name or "unknown user")
    by = f" by {_claim_label(event)}{_actor(event)}" if event.actor else ""
    text = (
        f":memo: Told {owner} that {what} ({user} in {escape(facts.account_label)}) "
        f"was {event.kind.replace('_', ' ')}{by}"
    )
    return Message(clip(text, MAX_FALLBACK), [context(text)])


def _owner(facts: NoticeFacts) -> str:
    named = [mention(facts.owner_slack_id)] if facts.owner_slack_id else []
    named += [escape(facts.owner_email)] if facts.owner_email else []
    return ", ".join(named)


def _what_fails(event: KeyEvent) -> str:
    if event.kind == "reactivated":
        return "Requests signed with this key are accepted again, from wherever it is still configured."
    if event.kind == "exposed":
        risk = risk_text(event.risk_code)
        if event.risk_code == "AWS_RISK_IAM_QUARANTINE":
            return risk.meaning
        return (
            f"{risk.meaning} AWS may also attach the `AWSCompromisedKeyQuarantineV3` policy to the user, which "
            "denies risky actions, so some of your calls may start failing with `AccessDenied`."
        )
    return (
        "Every request signed with this key is now refused: `InvalidAccessKeyId` from S3, "
        "`InvalidClientTokenId` from most other services. Scripts, CI jobs and apps still using it will break."
    )


def replacement_steps(user: str, key: str, account_id: str) -> list[str]:
    """Putting a new key where an old one was: create, update, verify (the caller adds what to do
    with the old one)."""
    creds = f"with credentials for account {escape(account_id)}"
    return [
        f"Create a new key {creds}: {code(f'aws iam create-access-key --user-name {user}')}, and store the secret "
        "safely (AWS shows it once).",
        f"Update every place that uses {code(key)}: env vars, `~/.aws/credentials`, CI secrets, app config.",
        "Verify with `aws sts get-caller-identity` where the new key is used.",
    ]


def _steps(event: KeyEvent, facts: NoticeFacts) -> list[str]:
    """The fix steps; commands are built from the raw values and escaped whole by `code`."""
    user = facts.user_name or "USER_NAME"
    key = event.key_id or "OLD_KEY_ID"
    account = escape(event.account_id)
    creds = f"with credentials for account {account}"
    actor = _actor(event) if event.actor else None
    if event.kind == "exposed":
        risk = risk_text(event.risk_code)
        first = (
            "Treat the secret as public: rotate now, even if you think nothing happened."
            if risk.urgent
            else f"Look in CloudTrail in account {account} for calls with this key you do not recognise; "
            "unless you are sure they are all yours, rotate now."
        )
        steps = [
            first,
            f"Deactivate the key {creds}: "
            + code(f"aws iam update-access-key --user-name {user} --access-key-id {key} --status Inactive"),
            f"Create a new key: {code(f'aws iam create-access-key --user-name {user}')} and store the secret safely.",
            "Update every place that used the old key, then check with `aws sts get-caller-identity`.",
            "Delete the old key: " + code(f"aws iam delete-access-key --user-name {user} --access-key-id {key}"),
            f"Review CloudTrail in account {account} for what the key did, and remove the leaked copy.",
        ]
        if event.risk_code == "AWS_RISK_IAM_QUARANTINE":
            steps.append(
                "Once the key is rotated and CloudTrail reviewed, detach the quarantine policy: "
                + code(f"aws iam detach-user-policy --user-name {user} --policy-arn POLICY_ARN")
                + " (its ARN is in "
                + code(f"aws iam list-attached-user-policies --user-name {user}")
                + ")."
            )
        return steps
    if event.kind == "reactivated":
        return [
            "Nothing to do if you use the key: it works as before.",
            f"If it was deactivated because it leaked, rotate it anyway: create a new key {creds}, update "
            f"every place that uses {code(key)}, then delete the old one.",
        ]
    if event.kind == "user_deleted":
        return [
            f"If the user was deleted on purpose, move whatever ran as *{escape(user)}* to another identity "
            "(a role is better than a new long-term key).",
            "Update every place that used its keys, then check with `aws sts get-caller-identity`.",
            f"If it was a mistake, talk to {actor or 'your AWS admins'}: a deleted user and its keys "
            "cannot be restored; a new user gets new keys.",
        ]
    steps = replacement_steps(user, key, event.account_id)
    if event.kind == "deactivated":
        steps.append(
            "Delete the old key: " + code(f"aws iam delete-access-key --user-name {user} --access-key-id {key}")
        )
        steps.append(
            f"If the deactivation was a mistake, ask {actor or 'whoever did it'} before reactivating: "
            "it may have been a leak or a rotation."
        )
    else:
        steps.append(f"Remove every leftover reference to {code(key)}: a deleted key cannot be restored.")
    return steps
