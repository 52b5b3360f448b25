"""The Home tab: the keys the viewer owns (through the owner tags), how owner tags work, and for
admins the organization's counts. Never anyone else's keys one by one. With the opt-in responder
role, each of the viewer's own active keys carries a Deactivate button (the owner may deactivate
their own key; the web and the worker check that again when it is pressed).

`HomeCollector` picks each viewer's keys out of the one stream of records that also feeds the
organization's summary, so refreshing every viewer's tab after a sweep reads the snapshots once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.blockkit import Block, context, section
from core.key_actions import KeyOffer, deactivate_button, offer_ref
from core.slack_text import code, escape
from workers.hygiene.records import STALE_DAYS, KeyRecord
from workers.hygiene.summary import HygieneSummary
from workers.hygiene.wording import ROTATION_STEPS, day, flag_reasons, last_use, when

# Keys shown on one person's tab (two blocks each; a Home view takes 100 blocks).
HOME_KEYS_SHOWN = 30


@dataclass
class Viewer:
    """One person whose tab is being built, and their keys found so far."""

    user_id: str
    email: str | None = None
    keys: list[KeyRecord] = field(default_factory=list)
    total: int = 0
    # Members of WHOSE_KEY_ADMIN_USERGROUPS also see the organization's counts.
    admin: bool = False

    def owns(self, record: KeyRecord) -> bool:
        if record.owner_slack_id:
            return record.owner_slack_id == self.user_id
        return bool(self.email and record.owner_email and record.owner_email.lower() == self.email.lower())


class HomeCollector:
    """Taps a stream of records, keeping each viewer's own keys (at most HOME_KEYS_SHOWN each)."""

    def __init__(self, viewers: Iterable[Viewer]) -> None:
        self.by_id: dict[str, Viewer] = {}
        self.by_email: dict[str, Viewer] = {}
        for viewer in viewers:
            self.by_id[viewer.user_id] = viewer
            if viewer.email:
                self.by_email[viewer.email.lower()] = viewer

    def tap(self, records: Iterable[KeyRecord]) -> Iterator[KeyRecord]:
        for record in records:
            viewer = self._viewer_of(record)
            if viewer is not None:
                viewer.total += 1
                if len(viewer.keys) < HOME_KEYS_SHOWN:
                    viewer.keys.append(record)
            yield record

    def _viewer_of(self, record: KeyRecord) -> Viewer | None:
        if record.owner_slack_id:
            return self.by_id.get(record.owner_slack_id)
        if record.owner_email:
            return self.by_email.get(record.owner_email.lower())
        return None


def home_ref(viewer: Viewer, key_id: str) -> str:
    """The value of the Deactivate button on `viewer`'s Home tab for `key_id` (its KeyOffer's name)."""
    return offer_ref(f"home-{viewer.user_id}", key_id)


def home_offers(viewer: Viewer) -> dict[str, KeyOffer]:
    """The viewer's shown keys that get a Deactivate button, by key ID: the active ones they own
    (by member ID or email tag), offered to them as the owner. The caller keeps them (and only
    when the responder role is on); render_home is given their key IDs."""
    return {
        record.key_id: KeyOffer(record.key_id, record.account_id, record.user, record.account_name, viewer.user_id)
        for record in viewer.keys
        if record.active and record.user and viewer.owns(record)
    }


def render_home(viewer: Viewer, report: HygieneSummary, deactivatable: Collection[str] = ()) -> dict[str, Any]:
    """The Home tab view for one viewer; the keys in `deactivatable` (home_offers, kept) carry a
    Deactivate button."""
    now = report.generated_at
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": "Your AWS access keys"}}]
    if viewer.total:
        flagged = sum(1 for record in viewer.keys if flag_reasons(record, now))
        summary = f"The IAM users tagged with you own *{viewer.total}* access keys."
        if flagged:
            summary += f" *{flagged}* of them want rotating or removing (older than {STALE_DAYS} days, or unused)."
        blocks.append(section(summary))
        shown = sorted(viewer.keys, key=lambda r: (not flag_reasons(r, now), r.account_id, r.key_id))
        for index, record in enumerate(shown):
            # The button is the section's accessory (no extra block), its action ID distinct per key
            # (Slack wants that; the listener takes any `-N` suffix).
            button = None
            if record.key_id in deactivatable:
                button = deactivate_button(home_ref(viewer, record.key_id), index=index)
            blocks.extend(_key_blocks(record, now, button))
        if viewer.total > len(viewer.keys):
            blocks.append(context(f"…and {viewer.total - len(viewer.keys)} more; ask an operator for the CSV export."))
        if flagged:
            steps = "\n".join(f"{n}. {step}" for n, step in enumerate(ROTATION_STEPS, 1))
            blocks.append(section("*Rotating a key without breaking anything*\n" + steps))
    else:
        blocks.append(section(no_keys_text()))
    if viewer.admin:
        blocks.append({"type": "divider"})
        blocks.append(section("*Across the organization*\n" + org_text(report)))
    blocks.append(context(_freshness(report)))
    return {"type": "home", "blocks": blocks[:100]}


def render_refused_home(refusal: str) -> dict[str, Any]:
    """The Home tab of someone whose-key does not serve: why, and nothing more."""
    return {
        "type": "home",
        "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "whose-key"}}, section(refusal)],
    }


def _key_blocks(record: KeyRecord, now: datetime, button: Block | None = None) -> list[Block]:
    age = record.age_days(now)
    reasons = flag_reasons(record, now)
    mark = ":warning: " if reasons else ""
    text = (
        f"{mark}{code(record.key_id)}  *{escape(record.status)}*\n"
        f"IAM user {escape(record.user or '?')} in {escape(record.account_label)}\n"
        f"Created {day(record.created)} ({age if age is not None else '?'} days ago), "
        f"last used {escape(last_use(record))}"
    )
    blocks = [section(text) if button is None else {**section(text), "accessory": button}]
    if reasons:
        blocks.append(context(":arrows_counterclockwise: Rotate it: " + " and ".join(reasons) + "."))
    return blocks


def no_keys_text() -> str:
    return (
        "No access key is tagged with you. whose-key finds a key's owner through tags on its IAM "
        "user:\n"
        "• `slack-user-id` = your Slack member ID (your profile → ⋮ → *Copy member ID*), or\n"
        "• `email` (or `owner`) = the email address of your Slack account.\n"
        "Tag the IAM users you look after; their keys show up here after the next sweep."
    )


def org_text(report: HygieneSummary) -> str:
    return (
        f"• {report.keys:,} access keys in {report.accounts:,} accounts: {report.active:,} active, "
        f"{report.inactive:,} inactive\n"
        f"• {report.unused.total:,} not used for {STALE_DAYS} days or more, {report.never_used:,} never used\n"
        f"• {report.ownerless.total:,} without an owner tag"
    )


def _freshness(report: HygieneSummary) -> str:
    if report.sweep is None:
        return "No sweep has finished yet."
    return f"As of the sweep that finished {when(report.sweep.finished_at)}. Updated after every sweep."
