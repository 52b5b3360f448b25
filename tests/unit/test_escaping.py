"""Nothing from outside can ping, mention or link: every field of an answer, of a key notice and of
an input error, fed with Slack markup, renders as the characters it is; only the mentions and
channel links we build from checked IDs stay live; the terminal shows values as they are."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot import messages
from core.key_events import KeyEvent
from core.parse import parse_command, parse_free_text
from core.slack_text import channel_link, code, escape, mention
from workers.aws.errors import AccountOutcome
from workers.lookup.finding import History, KeyFinding, Suggestion, Unsearched, Verdict
from workers.model import Account, LastUsed, Owner
from workers.render.answer import render_answer
from workers.render.heads_up import render_owner_heads_up
from workers.render.notice import NoticeFacts, render_notice, render_notice_record
from workers.render.terminal import render_terminal

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
KEY = "AKIARZPUZDIKGB2VALC4"  # decodes to account 123456789012
NEAR_KEY = "AKIARZPUZDIKGB2VALC5"
ACCOUNT = Account("123456789012", "prod")
OWNER_ID = "U0OWNER"  # a member ID of the right shape: its mention stays live
ASKER_ID = "U0ASKER"
CHANNEL_ID = "C0HELP"

INJECTIONS = pytest.mark.parametrize(
    "injection",
    ["<!channel>", "<!here>", "<@U0ABCDEF>", "<https://evil.example|click>", "&"],
    ids=["channel", "here", "mention", "link", "ampersand"],
)


def tainted(injection: str) -> str:
    """A value from outside carrying the injection between ordinary characters."""
    return f"x{injection}y"


def sent_by_slack(typed: str) -> str:
    """What Slack hands the app when a person types `typed`: &, < and > escaped."""
    return typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shown_texts(payload: Any) -> Iterator[str]:
    """Every text Slack renders in a payload: the fallback and each text object, at any depth."""
    if isinstance(payload, dict):
        for name, value in payload.items():
            if name == "text" and isinstance(value, str):
                yield value
            else:
                yield from shown_texts(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from shown_texts(item)


# Our own markup, built by mention() and channel_link() from IDs that passed their check.
_OURS = {mention(OWNER_ID), mention(ASKER_ID), channel_link(CHANNEL_ID)}
# An & that does not start one of the three entities Slack documents.
_BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


def assert_inert(payload: dict[str, Any]) -> str:
    """No live markup in anything shown but ours, and no bare &; returns all shown text."""
    texts = list(shown_texts(payload))
    assert texts, "nothing shown"
    for text in texts:
        rest = text
        for ours in _OURS:
            rest = rest.replace(ours, "")
        assert "<" not in rest and ">" not in rest, f"live markup in {text!r}"
        assert not _BARE_AMPERSAND.search(text), f"unescaped & in {text!r}"
    return "\n".join(texts)


FOUND = KeyFinding(
    KEY,
    Verdict.FOUND,
    account=ACCOUNT,
    user_name="deploy-bot",
    user_arn="arn:aws:iam::123456789012:user/deploy-bot",
    status="Inactive",
    created="2024-01-02T03:04:05+00:00",
    last_used=LastUsed("2024-05-06T07:08:09+00:00", "s3", "eu-west-1"),
    owner=Owner(slack_user_id=OWNER_ID, email="owner@example.com", source="slack-user-id"),
    accounts_searched=1,
)
GONE = KeyFinding(KEY, Verdict.GONE, account=ACCOUNT, user_name="deploy-bot", accounts_searched=3)
NOT_FOUND = KeyFinding(KEY, Verdict.NOT_FOUND, accounts_searched=3)
INCOMPLETE = KeyFinding(KEY, Verdict.INCOMPLETE, accounts_searched=2)
DENIED = AccountOutcome.ACCESS_DENIED
HISTORY = History("deleted", "assumed-role/Admin/carol", "2024-05-30T10:00:00+00:00", "203.0.113.9")

# Every value of a KeyFinding that comes from outside (IAM, Organizations, tags, CloudTrail, the
# key index, the finder's AWS details), each put in a report that shows it.
REPORT_FIELDS: dict[str, Callable[[str], KeyFinding]] = {
    "user name": lambda v: replace(FOUND, user_name=v),
    "user arn": lambda v: replace(FOUND, user_arn=v),
    "account name": lambda v: replace(FOUND, account=Account("123456789012", v)),
    "account id": lambda v: replace(FOUND, account=Account(v, "prod")),
    "status": lambda v: replace(FOUND, status=v),
    "created": lambda v: replace(FOUND, created=v),
    "last used service": lambda v: replace(FOUND, last_used=LastUsed("2024-05-06T07:08:09+00:00", v, "eu-west-1")),
    "last used region": lambda v: replace(FOUND, last_used=LastUsed("2024-05-06T07:08:09+00:00", "s3", v)),
    "owner email tag": lambda v: replace(FOUND, owner=Owner(email=v, source="email")),
    "owner slack-user-id tag": lambda v: replace(FOUND, owner=Owner(slack_user_id=v, source="slack-user-id")),
    "history actor": lambda v: replace(GONE, history=(replace(HISTORY, actor=v),)),
    "history source ip": lambda v: replace(GONE, history=(replace(HISTORY, source_ip=v),)),
    "history time": lambda v: replace(GONE, history=(replace(HISTORY, when=v),)),
    "session issuer": lambda v: KeyFinding(
        KEY.replace("AKIA", "ASIA"), Verdict.TEMPORARY, account=ACCOUNT, history=(History("issued", v, "2024-05-30"),)
    ),
    "suggestion user": lambda v: replace(NOT_FOUND, similar=(Suggestion(NEAR_KEY, user_name=v, account="prod"),)),
    "suggestion account": lambda v: replace(NOT_FOUND, similar=(Suggestion(NEAR_KEY, user_name="bot", account=v),)),
    "unreadable account name": lambda v: replace(
        INCOMPLETE, unsearched=(Unsearched(Account("111111111111", v), DENIED, "AccessDenied"),)
    ),
    "unreadable detail": lambda v: replace(
        INCOMPLETE, unsearched=(Unsearched(Account("111111111111", "sandbox"), DENIED, v),)
    ),
    "sole unreadable account": lambda v: KeyFinding(
        KEY,
        Verdict.INCOMPLETE,
        account=ACCOUNT,
        unsearched=(Unsearched(Account("123456789012", v), DENIED, v),),
    ),
    "note": lambda v: replace(GONE, notes=(v,)),
}
REPORT_FIELD = pytest.mark.parametrize("field", list(REPORT_FIELDS))


@REPORT_FIELD
@INJECTIONS
def test_answer_shows_every_outside_field_escaped(field: str, injection: str) -> None:
    """Each outside field of a report shows in the answer as its escaped text, and nothing in it is live."""
    value = tainted(injection)
    shown = assert_inert(render_answer([REPORT_FIELDS[field](value)], NOW, request_id="r1").payload())
    assert escape(value) in shown


@REPORT_FIELD
@INJECTIONS
def test_compact_answer_for_many_keys_is_inert(field: str, injection: str) -> None:
    """With ten keys (the compact form) the tainted field is still never live markup."""
    report = REPORT_FIELDS[field](tainted(injection))
    message = render_answer([report] * 10, NOW, request_id="r1")
    assert len(message.blocks) < 40, "ten keys take the compact form"
    assert_inert(message.payload())


@REPORT_FIELD
@INJECTIONS
def test_owner_heads_up_is_inert(field: str, injection: str) -> None:
    """The "Notify owner" DM shows report values escaped; only the asker, channel and owner mentions live."""
    message = render_owner_heads_up(REPORT_FIELDS[field](tainted(injection)), asker=ASKER_ID, channel=CHANNEL_ID)
    shown = assert_inert(message.payload())
    assert mention(ASKER_ID) in shown and channel_link(CHANNEL_ID) in shown


@pytest.mark.parametrize("asker, channel", [("<!channel>", "<!here>"), ("U0ABC|x", "C0ABC>x"), ("u0lower", "c0lower")])
def test_heads_up_mentions_only_checked_ids(asker: str, channel: str) -> None:
    """An asker or channel that is not a real Slack ID is never turned into a mention or a link."""
    assert_inert(render_owner_heads_up(FOUND, asker=asker, channel=channel).payload())


@REPORT_FIELD
@INJECTIONS
def test_terminal_shows_values_as_they_are(field: str, injection: str) -> None:
    """The terminal answer never shows Slack's escaping: no &lt;, &gt; or &amp; whatever the field holds."""
    out = render_terminal([REPORT_FIELDS[field](tainted(injection))], NOW)
    for entity in ("&lt;", "&gt;", "&amp;"):
        assert entity not in out


def test_terminal_shows_a_tainted_user_name_verbatim() -> None:
    """A user name with markup characters reads in the terminal exactly as IAM holds it."""
    out = render_terminal([replace(FOUND, user_name="a<!channel>&b")], NOW)
    assert "a<!channel>&b" in out


def test_answer_keeps_the_owner_mention_live() -> None:
    """Escaping leaves our own mention of a checked owner ID working."""
    assert mention(OWNER_ID) in assert_inert(render_answer([FOUND], NOW).payload())


@INJECTIONS
@pytest.mark.parametrize("form", ["escaped-by-slack", "as-markup"])
def test_problems_repeated_with_an_answer_are_inert(injection: str, form: str) -> None:
    """Tokens skipped by the parser, repeated with the answer as the job gets them, cannot ping or link."""
    typed = f"{KEY} AK1A{injection}x"
    parsed = parse_command(sent_by_slack(typed) if form == "escaped-by-slack" else typed)
    assert parsed.keys == (KEY,)
    message = render_answer([FOUND], NOW, problems=[p.reason for p in parsed.problems])
    assert_inert(message.payload())


EVENT = KeyEvent(
    "deactivated",
    "123456789012",
    "ev-1",
    key_id=KEY,
    user_name="deploy-bot",
    actor="arn:aws:iam::123456789012:user/alice",
    when="2024-05-31T10:00:00+00:00",
    source_ip="203.0.113.9",
    source="eventbridge",
)
FACTS = NoticeFacts(account_label="prod (123456789012)", user_name="deploy-bot", owner_slack_id=OWNER_ID)
AUDIT_FACTS = replace(FACTS, owner_email="owner@example.com", no_owner_reason="the DM to the owner failed")

# Every field of a KeyEvent and of NoticeFacts, with whether the notice always shows it (some
# show only for some kinds of event).
NOTICE_FIELDS: dict[str, tuple[Callable[[KeyEvent, NoticeFacts, str], tuple[KeyEvent, NoticeFacts]], bool]] = {
    "event key id": (lambda e, f, v: (replace(e, key_id=v), f), False),
    "event account id": (lambda e, f, v: (replace(e, account_id=v), f), False),
    "event user name": (lambda e, f, v: (replace(e, user_name=v), f), False),
    "event actor": (lambda e, f, v: (replace(e, actor=v), f), True),
    "event time": (lambda e, f, v: (replace(e, when=v), f), True),
    "event source ip": (lambda e, f, v: (replace(e, source_ip=v), f), True),
    "event source": (lambda e, f, v: (replace(e, source=v), f), False),
    "event id": (lambda e, f, v: (replace(e, event_id=v), f), False),
    "account label": (lambda e, f, v: (e, replace(f, account_label=v)), True),
    "user name": (lambda e, f, v: (e, replace(f, user_name=v)), True),
    "owner email": (lambda e, f, v: (e, replace(f, owner_email=v)), True),
    "owner slack id": (lambda e, f, v: (e, replace(f, owner_slack_id=v)), True),
    "no-owner reason": (lambda e, f, v: (e, replace(f, no_owner_reason=v)), True),
}
KINDS = pytest.mark.parametrize("kind", ["deactivated", "deleted", "user_deleted", "exposed"])


@pytest.mark.parametrize("field", list(NOTICE_FIELDS))
@INJECTIONS
@KINDS
def test_notice_shows_every_event_field_escaped(field: str, injection: str, kind: str) -> None:
    """Each field of a key event and of its facts shows in the notice escaped; nothing in it is live."""
    change, always_shown = NOTICE_FIELDS[field]
    value = tainted(injection)
    event, facts = change(replace(EVENT, kind=kind), AUDIT_FACTS, value)
    shown = assert_inert(render_notice(event, facts, NOW).payload())
    if always_shown:
        assert escape(value) in shown


@pytest.mark.parametrize("field", list(NOTICE_FIELDS))
@INJECTIONS
@KINDS
def test_notice_audit_record_is_inert(field: str, injection: str, kind: str) -> None:
    """The audit channel's copy of a notice shows event and facts escaped; only the owner's mention lives."""
    change, _ = NOTICE_FIELDS[field]
    event, facts = change(replace(EVENT, kind=kind), FACTS, tainted(injection))
    assert_inert(render_notice_record(event, facts).payload())


def test_notice_names_a_checked_owner_when_the_dm_failed() -> None:
    """When the DM failed, the notice in the audit channel mentions the owner by a live mention."""
    shown = assert_inert(render_notice(EVENT, AUDIT_FACTS, NOW).payload())
    assert mention(OWNER_ID) in shown


def reply_to_command(text: str) -> dict[str, Any]:
    """What the slash command acks with for `text`, as the listener chooses it."""
    parsed = parse_command(text)
    return messages.looking_up(parsed) if parsed.has_work else messages.input_problems(parsed)


def reply_to_mention(text: str) -> dict[str, Any]:
    """What a mention or DM without a usable key gets back."""
    return messages.input_problems(parse_free_text(text))


@INJECTIONS
@pytest.mark.parametrize("form", ["escaped-by-slack", "as-markup"])
@pytest.mark.parametrize(
    "typed",
    ["AK1A{}x", "AKIA{}", "{} AKIAIOSFODNN7EXAMPL", "AKIARZPUZDIKGB2VALC4 AK1A{}x", "aws_access_key_id=AK1A{}"],
    ids=["glued-to-misread-key", "after-prefix", "next-to-short-key", "with-a-good-key", "assignment"],
)
@pytest.mark.parametrize("reply", [reply_to_command, reply_to_mention], ids=["command", "mention"])
def test_input_errors_echo_nothing_live(
    injection: str, form: str, typed: str, reply: Callable[[str], dict[str, Any]]
) -> None:
    """However markup is typed, the ack that repeats the input cannot ping, mention or link."""
    text = typed.format(injection)
    assert_inert(reply(sent_by_slack(text) if form == "escaped-by-slack" else text))


def test_a_token_with_markup_is_named_by_position_never_echoed() -> None:
    """`AK1A&lt;!channel&gt;x` is not key-shaped: the problem names its position and length, not its text."""
    parsed = parse_command("AK1A&lt;!channel&gt;x")
    assert parsed.problems[0].text == "word 1" and "channel" not in parsed.problems[0].reason
    shown = assert_inert(messages.input_problems(parsed))
    assert "Word 1 (15 characters)" in shown and "channel" not in shown


def test_a_key_shaped_near_miss_is_echoed_escaped() -> None:
    """A near miss of a key ID (AK1A…, 20 letters and digits) is shown back as typed, to help fix it."""
    parsed = parse_command("AK1AIOSFODNN7EXAMPLE")
    shown = assert_inert(messages.input_problems(parsed))
    assert code("AK1AIOSFODNN7EXAMPLE") in shown


def test_lookup_ack_lists_keys_and_skips_inertly() -> None:
    """The "looking it up" ack names the keys, and a skipped token full of markup by its position only."""
    parsed = parse_command(f"{KEY} AK1A&lt;!here&gt;&amp;x")
    shown = assert_inert(messages.looking_up(parsed))
    assert code(KEY) in shown and "Word 2" in shown and "here" not in shown


def test_a_mention_of_a_checked_id_stays_live() -> None:
    """mention() and channel_link() keep IDs of the right shape live and show anything else as text."""
    assert mention("U0ABCDEF") == "<@U0ABCDEF>" and mention("W0ABCDEF") == "<@W0ABCDEF>"
    assert channel_link("C0ABCDEF") == "<#C0ABCDEF>" and channel_link("G0ABCDEF") == "<#G0ABCDEF>"
    for not_an_id in ("<!channel>", "U0ABC>x", "U0abc", "D0ABCDEF", "U0ＡＢＣ", ""):
        assert "<" not in mention(not_an_id) and "<" not in channel_link(not_an_id)
