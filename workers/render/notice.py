"""The notice a key's owner gets when the key is deactivated, deleted or exposed: what happened,
when, by whom, what will now fail, and the steps. Pure, like the rest of the rendering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from core.blockkit import Message
from core.key_events import KeyEvent
from workers.render import format_time

_HEADLINES = {
    "deactivated": ":no_entry: The AWS access key `{key}` was *deactivated*.",
    "deleted": ":wastebasket: The AWS access key `{key}` was *deleted*.",
    "user_deleted": ":wastebasket: The IAM user *{user}* was *deleted*, and with it all of its access keys.",
    "exposed": ":rotating_light: AWS found the access key `{key}` *exposed* in public.",
}

_HOW_WE_KNOW = {
    "eventbridge": "from the CloudTrail event",
    "sns": "from the CloudTrail event",
    "health": "from an AWS Health notice",
    "sweep": "from whose-key's periodic check of every account",
}


@dataclass(frozen=True)
class NoticeFacts:
    """What the notice can say beyond the event itself."""

    account_label: str
    user_name: str | None
    owner_slack_id: str | None = None
    owner_email: str | None = None
    no_owner_reason: str | None = None  # set when the notice goes to the audit channel instead


def render_notice(event: KeyEvent, facts: NoticeFacts, now: datetime | None = None) -> Message:
    now = now or datetime.now(UTC)
    key = event.key_id or "?"
    user = facts.user_name or "unknown user"
    headline = _HEADLINES[event.kind].format(key=key, user=user)
    lines = [headline]
    if facts.no_owner_reason:
        lines.insert(0, f":mag: No owner to tell directly: {facts.no_owner_reason}. Posting here instead.")
    details = [f"*Account:* {facts.account_label}", f"*IAM user:* {user}"]
    if event.key_id and event.kind == "user_deleted":
        details.append(f"*Key:* `{event.key_id}`")
    if event.when:
        details.append(f"*When:* {format_time(event.when, now)}")
    if event.actor:
        who = event.actor + (f" from {event.source_ip}" if event.source_ip else "")
        details.append(f"*By:* {who}")
    details.append(f"_Known {_HOW_WE_KNOW.get(event.source, 'from AWS')}._")
    blocks = [
        _section("\n".join(lines)),
        _section("\n".join(details)),
        _section("*What fails now*\n" + _what_fails(event)),
        _section("*What to do*\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(_steps(event, facts), 1))),
    ]
    owner = f" (owner {facts.owner_email})" if facts.no_owner_reason and facts.owner_email else ""
    text = f"{_plain_headline(event, key, user)}: {user} in {facts.account_label}{owner}"
    return Message(text[:3000], blocks)


def _plain_headline(event: KeyEvent, key: str, user: str) -> str:
    return {
        "deactivated": f"AWS access key {key} was deactivated",
        "deleted": f"AWS access key {key} was deleted",
        "user_deleted": f"IAM user {user} was deleted with its keys",
        "exposed": f"AWS found access key {key} exposed",
    }[event.kind]


def _what_fails(event: KeyEvent) -> str:
    if event.kind == "exposed":
        return (
            "Maybe nothing yet, but anyone who found the secret can act as this user. AWS may have attached "
            "the `AWSCompromisedKeyQuarantineV3` policy to the user, which denies risky actions, so some of "
            "your calls may start failing with `AccessDenied`."
        )
    return (
        "Every request signed with this key is now refused: `InvalidAccessKeyId` from S3, "
        "`InvalidClientTokenId` from most other services. Scripts, CI jobs and apps still using it will break."
    )


def _steps(event: KeyEvent, facts: NoticeFacts) -> list[str]:
    user = facts.user_name or "USER_NAME"
    key = event.key_id or "OLD_KEY_ID"
    creds = f"with credentials for account {event.account_id}"
    if event.kind == "exposed":
        return [
            "Treat the secret as public: rotate now, even if you think nothing happened.",
            f"Deactivate the key {creds}: `aws iam update-access-key --user-name {user} --access-key-id {key} "
            "--status Inactive`",
            f"Create a new key: `aws iam create-access-key --user-name {user}` and store the secret safely.",
            "Update every place that used the old key, then check with `aws sts get-caller-identity`.",
            f"Delete the old key: `aws iam delete-access-key --user-name {user} --access-key-id {key}`",
            f"Review CloudTrail in account {event.account_id} for what the key did, and remove the leaked copy.",
        ]
    if event.kind == "user_deleted":
        return [
            f"If the user was deleted on purpose, move whatever ran as *{user}* to another identity "
            "(a role is better than a new long-term key).",
            "Update every place that used its keys, then check with `aws sts get-caller-identity`.",
            f"If it was a mistake, talk to {event.actor or 'your AWS admins'}: a deleted user and its keys "
            "cannot be restored; a new user gets new keys.",
        ]
    steps = [
        f"Create a new key {creds}: `aws iam create-access-key --user-name {user}`, and store the secret safely "
        "(AWS shows it once).",
        f"Update every place that uses `{key}`: env vars, `~/.aws/credentials`, CI secrets, app config.",
        "Verify with `aws sts get-caller-identity` where the new key is used.",
    ]
    if event.kind == "deactivated":
        steps.append(f"Delete the old key: `aws iam delete-access-key --user-name {user} --access-key-id {key}`")
        steps.append(
            f"If the deactivation was a mistake, ask {event.actor or 'whoever did it'} before reactivating: "
            "it may have been a leak or a rotation."
        )
    else:
        steps.append(f"Remove every leftover reference to `{key}`: a deleted key cannot be restored.")
    return steps


def _section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
