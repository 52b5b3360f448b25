"""The rotation nudge an owner gets after a sweep: each key that reached the rotation age (or twice
it, the final reminder), each key they said they rotated that IAM still has active, the buttons
(Snooze 30 days, I rotated it) and the rotation steps. One message per owner, within Slack's
block limit; every value from AWS escaped."""

from __future__ import annotations

from datetime import UTC, datetime

from core.blockkit import MAX_FALLBACK, Block, Message, clip, context, fit, section
from core.nudges import FINAL, SNOOZE_DAYS, STILL_ACTIVE, nudge_buttons, nudge_ref
from core.slack_text import code, escape
from workers.hygiene.records import parse_time
from workers.hygiene.rotation import NudgeKey, OwnerNudge
from workers.hygiene.wording import ROTATION_STEPS, day, when
from workers.render.notice import replacement_steps


def render_nudge(nudge: OwnerNudge, now: datetime, rotation_days: int) -> Message:
    """The DM for one owner; buttons on every key named (their offers are kept by the sender)."""
    keys = nudge.keys
    due = [k for k in keys if k.reason != STILL_ACTIVE]
    total = len(due) + nudge.more
    blocks: list[Block] = [section(_headline(keys, total, now))]
    for index, key in enumerate(keys):
        blocks.append(section(_key_text(key, now, rotation_days)))
        blocks.append(nudge_buttons(nudge_ref(key.account_id, key.key_id), index))
    if nudge.more:
        blocks.append(
            context(
                f"…and {nudge.more} more of your keys are past the rotation age: they are on whose-key's *Home* tab."
            )
        )
    blocks.append(section("*Rotating a key without breaking anything*\n" + _steps(keys)))
    blocks.append(
        context(
            f"whose-key reminds you once when a key is {rotation_days} days old and once more at "
            f"{2 * rotation_days}. *Snooze {SNOOZE_DAYS} days* holds a key's reminders; *I rotated it* "
            "has the next sweep check IAM, and tells you if the old key is still active."
        )
    )
    return Message(_fallback(keys, nudge.more, now), fit(blocks))


def _headline(keys: tuple[NudgeKey, ...], due: int, now: datetime) -> str:
    if due == 1 and len(keys) == 1:
        key = keys[0]
        age = _age(key, now)
        if key.reason == FINAL:
            return f":rotating_light: *Last reminder:* your AWS access key {code(key.key_id)} is *{age} days old*."
        return (
            f":arrows_counterclockwise: Your AWS access key {code(key.key_id)} is *{age} days old*: time to rotate it."
        )
    if due:
        return f":arrows_counterclockwise: *{due} of your AWS access keys are due for rotation.*"
    if len(keys) == 1:
        return ":warning: *A key you said you rotated is still active.*"
    return f":warning: *{len(keys)} keys you said you rotated are still active.*"


def _key_text(key: NudgeKey, now: datetime, rotation_days: int) -> str:
    where = f"IAM user *{escape(key.user_name or '?')}* in {escape(key.account_label)}"
    created = parse_time(key.created)
    if key.reason == STILL_ACTIVE:
        said = datetime.fromtimestamp(key.pressed_at, UTC) if key.pressed_at else None
        return (
            f":warning: {code(key.key_id)} ({where}): you said you rotated it"
            + (f" on {when(said)}" if said else "")
            + ", but IAM still has it *Active* at the last sweep. Once nothing uses it any more, deactivate it, "
            "then delete it."
        )
    age = _age(key, now)
    if key.reason == FINAL:
        return (
            f":rotating_light: {code(key.key_id)} ({where})\nCreated {day(created)}: *{age} days ago*, more than "
            f"twice the rotation age of {rotation_days} days. This is the last reminder about it."
        )
    return (
        f":key: {code(key.key_id)} ({where})\nCreated {day(created)}: *{age} days ago*, past the rotation age of "
        f"{rotation_days} days."
    )


def _steps(keys: tuple[NudgeKey, ...]) -> str:
    """The steps for this one key (with its user and account), or the general ones for several."""
    if len(keys) == 1 and keys[0].user_name:
        key = keys[0]
        steps = [*replacement_steps(key.user_name or "", key.key_id, key.account_id), *ROTATION_STEPS[2:]]
    else:
        steps = list(ROTATION_STEPS)
    return "\n".join(f"{n}. {step}" for n, step in enumerate(steps, 1))


def _fallback(keys: tuple[NudgeKey, ...], more: int, now: datetime) -> str:
    """What a notification shows: each key, its user, account and age, or that it is still active."""
    parts = []
    for key in keys:
        if key.reason == STILL_ACTIVE:
            parts.append(f"{key.key_id} ({key.user_name or '?'} in {key.account_label}) is still active")
        else:
            parts.append(f"{key.key_id} ({key.user_name or '?'} in {key.account_label}, {_age(key, now)} days old)")
    text = "AWS access keys to rotate: " + "; ".join(parts) + (f"; and {more} more" if more else "")
    return clip(escape(text), MAX_FALLBACK)


def _age(key: NudgeKey, now: datetime) -> str:
    created = parse_time(key.created)
    return "?" if created is None else str(max(0, (now - created).days))
