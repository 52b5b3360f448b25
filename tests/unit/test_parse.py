"""Parsing what people type: key IDs judged and extracted, secrets never kept, and any text
whatsoever turned into a request or a clear reason, never an exception."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.keyids import (
    KeyProblem,
    account_from_key_id,
    check_key_id,
    find_key_candidates,
    is_access_key_id,
    likely_intended,
)
from core.parse import (
    Action,
    ParsedRequest,
    parse_command,
    parse_free_text,
    unwrap_slack_markup,
)
from core.secrets import contains_secret, looks_like_secret, scrub_secrets

KEY = "AKIARZPUZDIKGB2VALC4"  # new format: decodes to account 123456789012
OLD_KEY = "AKIAIOSFODNN7EXAMPLE"  # old format (fifth character I): no account encoded
TEMP_KEY = "ASIARZPUZDIKGB2VALC4"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example secret
MAX_KEYS = 10


def key_number(n: int) -> str:
    """The nth of a family of distinct well-formed AKIA keys."""
    return "AKIA" + base64.b32encode(n.to_bytes(10, "big")).decode()


def assert_secret_absent(parsed: ParsedRequest, secret: str) -> None:
    """Neither the secret nor any 12-character piece of it survives anywhere in the request."""
    texts = [repr(parsed), *parsed.keys, *parsed.extra]
    for problem in parsed.problems:
        texts += [problem.text, problem.reason, problem.suggestion or ""]
    everything = "\n".join(texts)
    assert secret not in everything
    pieces = {secret[i : i + 12] for i in range(len(secret) - 11)}
    leaked = [piece for piece in pieces if piece in everything]
    assert not leaked, f"pieces of the secret leaked: {leaked}"


# ---------------------------------------------------------------------------------------------
# check_key_id: one token judged, with the reason and the likely intended key


@pytest.mark.parametrize(
    ("text", "reason_has", "suggestion"),
    [
        # one character short
        ("AKIAIOSFODNN7EXAMPL", "19 characters long", None),
        # one character too many
        ("AKIAIOSFODNN7EXAMPLEX", "21 characters long", None),
        # only the prefix
        ("AKIA", "4 characters long", None),
        # an IAM user's unique ID, not a key
        ("AIDAJQABLZS4A3QDU576Q", "IAM user ID", None),
        # an IAM role's unique ID
        ("AROAJQABLZS4A3QDU576Q", "IAM role ID", None),
        # a managed policy's ID
        ("ANPAJQABLZS4A3QDU576Q", "managed policy ID", None),
        # an IAM group's ID
        ("AGPAJQABLZS4A3QDU576Q", "IAM group ID", None),
        # an instance profile's ID
        ("AIPAJQABLZS4A3QDU576Q", "instance profile ID", None),
        # zero typed for the letter O, at 1-based position 6
        ("AKIAI0SFODNN7EXAMPLE", "`0` at position 6 (probably `O`)", OLD_KEY),
        # one typed for the letter I, at position 5
        ("AKIA1OSFODNN7EXAMPLE", "`1` at position 5 (probably `I`)", OLD_KEY),
        # eight typed for the letter B, at position 13
        ("AKIAIOSFODNN8EXAMPLE", "`8` at position 13 (probably `B`)", "AKIAIOSFODNNBEXAMPLE"),
        # two misread characters, both named
        ("AKIAI0SFODNN7EXAMP1E", "`1` at position 19 (probably `I`)", "AKIAIOSFODNN7EXAMPIE"),
        # a character with no likely letter: named, no suggestion
        ("AKIAIOSF-DNN7EXAMPLE", "`-` at position 9", None),
        # all lower case: the upper-case key is suggested
        ("akiaiosfodnn7example", "lower-case", OLD_KEY),
        # lower case in the middle only
        ("AKIAiosfodnn7EXAMPLE", "lower-case", OLD_KEY),
        # not a key prefix at all
        ("ABCDIOSFODNN7EXAMPLE", "does not start with AKIA or ASIA", None),
        # a misread prefix (AK1A): still points at the intended key
        ("AK1AIOSFODNN7EXAMPLE", "does not start with AKIA or ASIA", OLD_KEY),
    ],
)
def test_check_key_id_explains_what_is_wrong(text: str, reason_has: str, suggestion: str | None) -> None:
    """A malformed token gets a reason naming what is wrong, and the key it most likely meant."""
    problem = check_key_id(text)
    assert isinstance(problem, KeyProblem)
    assert reason_has in problem.reason
    assert problem.text == text
    assert problem.suggestion == suggestion
    if suggestion is not None:
        assert is_access_key_id(suggestion)


@pytest.mark.parametrize(
    "key",
    [
        KEY,  # new-format long-term key
        OLD_KEY,  # old-format long-term key
        TEMP_KEY,  # temporary STS key
    ],
)
def test_check_key_id_accepts_well_formed_keys(key: str) -> None:
    """A well-formed AKIA/ASIA key has no problem and needs no correction."""
    assert check_key_id(key) is None
    assert is_access_key_id(key)
    assert likely_intended(key) is None


def test_check_key_id_shortens_long_tokens() -> None:
    """A very long token is shown cut short, so a pasted blob is not echoed whole."""
    problem = check_key_id("AKIA" + "B" * 200)
    assert problem is not None
    assert len(problem.text) <= 40
    assert "204 characters long" in problem.reason


# ---------------------------------------------------------------------------------------------
# account_from_key_id: the offline decode


@pytest.mark.parametrize(
    ("key", "account"),
    [
        # AWS's documented example of the encoding
        (KEY, "123456789012"),
        # temporary keys carry the account the same way
        (TEMP_KEY, "123456789012"),
        # old format, fifth character I: no account encoded
        (OLD_KEY, None),
        # old format, fifth character J
        ("AKIAJOSFODNN7EXAMPLE", None),
        # malformed keys decode to nothing rather than to a wrong account
        ("AKIARZPUZDIKGB2VALC", None),
        ("akiarzpuzdikgb2valc4", None),
        ("", None),
    ],
)
def test_account_from_key_id(key: str, account: str | None) -> None:
    """New-format keys decode to their 12-digit account; old-format and malformed ones to None."""
    assert account_from_key_id(key) == account


# ---------------------------------------------------------------------------------------------
# parse_command: what `/whose-key ...` asks for


@pytest.mark.parametrize(
    ("text", "action", "deep"),
    [
        # no text at all
        (None, Action.HELP, False),
        # empty text
        ("", Action.HELP, False),
        # only blanks
        ("   \n\t ", Action.HELP, False),
        # asking for help, in any case and spelling
        ("help", Action.HELP, False),
        ("  HELP ", Action.HELP, False),
        ("--help", Action.HELP, False),
        ("usage", Action.HELP, False),
        # the FAQ
        ("faq", Action.FAQ, False),
        ("FAQ", Action.FAQ, False),
        # `deep` with no key: nothing to look up, so usage
        ("deep", Action.HELP, False),
        # plain words and no key: usage, not an empty lookup
        ("who owns this", Action.HELP, False),
        # a key and `deep`
        (f"{KEY} deep", Action.LOOKUP, True),
        # `deep` first, upper case
        (f"DEEP {KEY}", Action.LOOKUP, True),
        # a key next to `help` is still looked up
        (f"help {KEY}", Action.LOOKUP, False),
    ],
)
def test_parse_command_action(text: str | None, action: Action, deep: bool) -> None:
    """The command's words choose help, the FAQ or a lookup, and `deep` widens the search."""
    parsed = parse_command(text)
    assert parsed.action is action
    assert parsed.deep is deep
    if action is not Action.LOOKUP:
        assert parsed.keys == ()
        assert not parsed.has_work


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        # the bare key
        (KEY, (KEY,)),
        # surrounded by blanks
        (f"   {KEY}  \n", (KEY,)),
        # double quotes
        (f'"{KEY}"', (KEY,)),
        # single quotes
        (f"'{KEY}'", (KEY,)),
        # curly quotes, as macOS and Slack type them
        (f"\u201c{KEY}\u201d", (KEY,)),
        # inline code
        (f"`{KEY}`", (KEY,)),
        # a code block
        (f"```{KEY}```", (KEY,)),
        # a code block over several lines
        (f"```\n{KEY}\n```", (KEY,)),
        # angle brackets, which Slack turns into link markup
        (f"<{KEY}>", (KEY,)),
        # angle brackets as Slack actually sends them: escaped
        (f"&lt;{KEY}&gt;", (KEY,)),
        # Slack's auto-link markup around the key
        (f"<http://{KEY}|{KEY}>", (KEY,)),
        # an email Slack turned into a mailto link: not a key, not a problem
        (f"{KEY} <mailto:x@y.z|x@y.z>", (KEY,)),
        # a user mention next to the key
        (f"<@U0OWNER> {KEY}", (KEY,)),
        # bold, italics and sentence punctuation
        (f"*{KEY}*, _{OLD_KEY}_.", (KEY, OLD_KEY)),
        # a zero-width space picked up when copying from a web page
        (f"{KEY}\u200b", (KEY,)),
        # an env-style assignment
        (f"aws_access_key_id={KEY}", (KEY,)),
        # an export line with quotes
        (f'export AWS_ACCESS_KEY_ID="{KEY}"', (KEY,)),
        # the credentials-file line, spaces around `=`
        (f"aws_access_key_id = {KEY}", (KEY,)),
        # YAML, with and without a space after the colon
        (f"aws_access_key_id: {KEY}", (KEY,)),
        (f"aws_access_key_id:{KEY}", (KEY,)),
        # several keys separated by spaces
        (f"{KEY} {OLD_KEY} {TEMP_KEY}", (KEY, OLD_KEY, TEMP_KEY)),
        # by commas, with or without spaces
        (f"{KEY},{OLD_KEY}, {TEMP_KEY}", (KEY, OLD_KEY, TEMP_KEY)),
        # by newlines
        (f"{KEY}\n{OLD_KEY}\r\n{TEMP_KEY}", (KEY, OLD_KEY, TEMP_KEY)),
        # by semicolons and tabs
        (f"{KEY};{OLD_KEY}\t{TEMP_KEY}", (KEY, OLD_KEY, TEMP_KEY)),
        # the same key twice collapses to one, first order kept
        (f"{KEY} {OLD_KEY} {KEY}", (KEY, OLD_KEY)),
        # the same key in different wrappings is still one key
        (f'`{KEY}` "{KEY}" <{KEY}>', (KEY,)),
        # prose around the key is ignored
        (f"please check {KEY} thanks", (KEY,)),
    ],
)
def test_parse_command_extracts_keys(text: str, keys: tuple[str, ...]) -> None:
    """Keys are found through quotes, code, Slack markup and assignments, in order, once each."""
    parsed = parse_command(text)
    assert parsed.action is Action.LOOKUP
    assert parsed.keys == keys
    assert parsed.problems == ()
    assert not parsed.secret_pasted
    assert parsed.has_work


@pytest.mark.parametrize(
    ("text", "keys", "reason_has"),
    [
        # a key and a one-character-short one
        (f"{KEY} AKIAIOSFODNN7EXAMPL", (KEY,), "19 characters long"),
        # only a role ID: nothing to look up, the reason says what it is
        ("AROAJQABLZS4A3QDU576Q", (), "IAM role ID"),
        # a user ID next to a key
        (f"AIDAJQABLZS4A3QDU576Q {KEY}", (KEY,), "IAM user ID"),
        # a policy ID
        ("ANPAJQABLZS4A3QDU576Q", (), "managed policy ID"),
        # a misread digit, with its position and the letter meant
        ("AKIAI0SFODNN7EXAMPLE", (), "`0` at position 6 (probably `O`)"),
        # a key typed in lower case
        ("akiaiosfodnn7example", (), "lower-case"),
        # a quoted bad key is judged without its quotes
        ('"AKIAIOSFODNN7EXAMPL"', (), "`AKIAIOSFODNN7EXAMPL` is 19 characters long"),
    ],
)
def test_parse_command_reports_problems(text: str, keys: tuple[str, ...], reason_has: str) -> None:
    """Tokens that are meant as keys but are not get a precise reason; good keys still go through."""
    parsed = parse_command(text)
    assert parsed.action is Action.LOOKUP
    assert parsed.keys == keys
    assert len(parsed.problems) == 1
    assert reason_has in parsed.problems[0].reason


def test_parse_command_lower_case_key_suggests_upper_case() -> None:
    """A key typed in lower case is not looked up, but the upper-case key is suggested."""
    parsed = parse_command(OLD_KEY.lower())
    assert parsed.keys == ()
    assert parsed.problems[0].suggestion == OLD_KEY


def test_parse_command_repeated_problem_reported_once() -> None:
    """The same bad token typed twice is reported once."""
    parsed = parse_command("AKIA1234 AKIA1234")
    assert [p.text for p in parsed.problems] == ["AKIA1234"]


def test_parse_command_credentials_file_paste() -> None:
    """A pasted credentials file gives its key, flags the secret, and complains about nothing else."""
    text = f"[default]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n"
    parsed = parse_command(text)
    assert parsed.keys == (KEY,)
    assert parsed.secret_pasted
    assert parsed.problems == ()
    assert_secret_absent(parsed, SECRET)


def test_parse_command_limits_keys_per_request() -> None:
    """More than ten distinct keys: the first ten are kept and the rest counted as dropped."""
    keys = [key_number(n) for n in range(13)]
    parsed = parse_command(" ".join(keys + keys[:3]))  # repeats do not count against the limit
    assert parsed.keys == tuple(keys[:MAX_KEYS])
    assert parsed.dropped_for_limit == 3


def test_parse_command_exactly_ten_keys_drops_none() -> None:
    """Ten keys is within the limit: none dropped."""
    keys = [key_number(n) for n in range(MAX_KEYS)]
    parsed = parse_command(",".join(keys))
    assert parsed.keys == tuple(keys)
    assert parsed.dropped_for_limit == 0


# ---------------------------------------------------------------------------------------------
# Secrets: detected, flagged, and never kept


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        # the secret alone
        (SECRET, ()),
        # the secret after the key
        (f"{KEY} {SECRET}", (KEY,)),
        # key and secret joined by a colon, as some tools print them
        (f"{KEY}:{SECRET}", (KEY,)),
        # key and secret as a CSV row from the console download
        (f"Access key ID,Secret access key\n{KEY},{SECRET}", (KEY,)),
        # the credentials-file assignment
        (f"aws_secret_access_key = {SECRET}", ()),
        # an env assignment with no spaces
        (f"AWS_SECRET_ACCESS_KEY={SECRET} {KEY}", (KEY,)),
        # an assignment under another name
        (f"secret={SECRET} {KEY}", (KEY,)),
        # the JSON printed by `aws iam create-access-key`
        (f'{{"AccessKeyId": "{KEY}", "SecretAccessKey": "{SECRET}"}}', (KEY,)),
        # in quotes and code
        (f'"{SECRET}" `{KEY}`', (KEY,)),
        # escaped by Slack
        (f"&lt;{SECRET}&gt; {KEY}", (KEY,)),
        # hidden in a link label
        (f"<http://example.com|{SECRET}> {KEY}", (KEY,)),
        # after `help`: must not be answered with plain usage and no warning
        (f"help {SECRET}", ()),
        # after `faq`
        (f"faq {SECRET}", ()),
    ],
)
def test_parse_command_secret_flagged_and_dropped(text: str, keys: tuple[str, ...]) -> None:
    """A pasted secret sets secret_pasted, the keys still go through, and the secret is nowhere in the result."""
    parsed = parse_command(text)
    assert parsed.action is Action.LOOKUP
    assert parsed.secret_pasted
    assert parsed.keys == keys
    assert_secret_absent(parsed, SECRET)


def test_parse_command_secret_assignment_value_dropped_even_if_unusual() -> None:
    """Whatever is assigned to a secret-key name is dropped, even when it does not look like a secret."""
    value = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGH"  # upper case only: not secret-shaped
    parsed = parse_command(f"aws_secret_access_key = {value} {KEY}")
    assert parsed.secret_pasted
    assert parsed.keys == (KEY,)
    assert_secret_absent(parsed, value)


@pytest.mark.parametrize(
    ("token", "secret"),
    [
        # AWS's example secret
        (SECRET, True),
        # a 40-letter word in capitals is not a secret
        ("A" * 40, False),
        # a git commit hash is not a secret
        ("3f2a9c1d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b", False),
        # part of a secret (39 characters holding "/") is still treated as one
        (SECRET[:-1], True),
        # a secret one character short, without "/" or "+", is still one (a slip when copying)
        ("wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKE12", True),
        # 30 characters are too short to be a slip of a secret, and hold no "/" or "+"
        ("wJalrXUtnFEMIK7MDENGbPxRfiCYEX", False),
        # an access key ID is not a secret
        (KEY, False),
    ],
)
def test_looks_like_secret(token: str, secret: bool) -> None:
    """40-character tokens shaped like AWS secrets, and long runs holding "/" or "+", count as secrets."""
    assert looks_like_secret(token) is secret
    assert contains_secret(f"see {token} here") is secret


def test_scrub_secrets_removes_secret_and_assigned_value() -> None:
    """scrub_secrets removes secret tokens and whatever is assigned to a secret-key name."""
    text = f"id {KEY} secret {SECRET}; aws_secret_access_key=notsecretlooking"
    scrubbed = scrub_secrets(text)
    assert SECRET not in scrubbed
    assert "notsecretlooking" not in scrubbed
    assert KEY in scrubbed


@pytest.mark.parametrize(
    ("text", "unwrapped"),
    [
        # a link with a label becomes the label
        ("<http://example.com|example.com>", "example.com"),
        # a link without a label becomes the target
        ("<http://example.com>", "http://example.com"),
        # a mailto link becomes the address
        ("<mailto:x@y.z|x@y.z>", "x@y.z"),
        # Slack's escapes are undone
        ("&lt;a &amp; b&gt;", "<a & b>"),
    ],
)
def test_unwrap_slack_markup(text: str, unwrapped: str) -> None:
    """Slack link markup becomes its visible text, and Slack's escaping is undone."""
    assert unwrap_slack_markup(text).strip() == unwrapped


# ---------------------------------------------------------------------------------------------
# parse_free_text: mentions and DMs


@pytest.mark.parametrize(
    ("text", "action", "keys"),
    [
        # a key in a sentence
        (f"hey who owns {KEY} ? it's failing in prod", Action.LOOKUP, (KEY,)),
        # after the bot's mention, with trailing punctuation
        (f"<@U0WHOSEKEY> whose is {KEY}?", Action.LOOKUP, (KEY,)),
        # two keys in prose, one repeated
        (f"{KEY} and {TEMP_KEY}, also {KEY} again", Action.LOOKUP, (KEY, TEMP_KEY)),
        # inside inline code
        (f"the app uses `{OLD_KEY}` and gets InvalidAccessKeyId", Action.LOOKUP, (OLD_KEY,)),
        # escaped brackets from Slack
        (f"key: &lt;{KEY}&gt;", Action.LOOKUP, (KEY,)),
        # no key at all: usage
        ("hey, can you help me?", Action.HELP, ()),
        # the word AKIA alone is no key
        ("what is an AKIA key anyway", Action.HELP, ()),
        # asking for the FAQ
        ("<@U0WHOSEKEY> faq", Action.FAQ, ()),
        # empty and missing text
        ("", Action.HELP, ()),
        (None, Action.HELP, ()),
    ],
)
def test_parse_free_text(text: str | None, action: Action, keys: tuple[str, ...]) -> None:
    """Keys are picked out of prose; with none, the answer is usage (or the FAQ when asked)."""
    parsed = parse_free_text(text)
    assert parsed.action is action
    assert parsed.keys == keys


def test_parse_free_text_reports_typo_with_suggestion() -> None:
    """A mistyped key in prose is a problem with the likely intended key."""
    parsed = parse_free_text("why does AKIAI0SFODNN7EXAMPLE fail?")
    assert parsed.action is Action.LOOKUP
    assert parsed.keys == ()
    assert parsed.problems[0].suggestion == OLD_KEY


def test_parse_free_text_secret_flagged_and_dropped() -> None:
    """A secret in a mention is flagged and appears nowhere in the request."""
    parsed = parse_free_text(f"my key is {KEY} and the secret is {SECRET}, deep please")
    assert parsed.keys == (KEY,)
    assert parsed.secret_pasted
    assert parsed.deep
    assert_secret_absent(parsed, SECRET)


def test_parse_free_text_secret_alone_still_flagged() -> None:
    """A secret with no key in a mention still sets secret_pasted, so the warning can be given."""
    parsed = parse_free_text(f"is this ok <{SECRET}|link>")
    assert parsed.secret_pasted
    assert_secret_absent(parsed, SECRET)


def test_find_key_candidates_in_order_without_repeats() -> None:
    """Candidates come in the order typed, once each, including malformed ones."""
    text = f"{KEY} x akiaiosfodnn7example {KEY} ASIA12345678"
    assert find_key_candidates(text) == [KEY, "akiaiosfodnn7example", "ASIA12345678"]


# ---------------------------------------------------------------------------------------------
# Properties: any text at all


SECRET_ALPHABET = string.ascii_letters + string.digits + "/+"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@st.composite
def secrets(draw: st.DrawFn) -> str:
    """40 characters shaped like an AWS secret: mixed case with a digit or symbol."""
    body = draw(st.lists(st.sampled_from(SECRET_ALPHABET), min_size=38, max_size=38))
    body.append(draw(st.sampled_from("ghijklmnopqrstuvwxyz")))  # lower case, and never all hex
    body.append(draw(st.sampled_from("0123456789/+")))
    return "".join(draw(st.permutations(body)))


valid_keys = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["AKIA", "ASIA"]),
    st.text(BASE32, min_size=16, max_size=16),
)
near_keys = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["AKIA", "ASIA", "akia", "AIDA", "AROA", "ANPA", "AGPA", "AK1A", ""]),
    st.text(BASE32 + "0189abcxyz-_", min_size=0, max_size=24),
)
punctuation = st.sampled_from(
    ['"', "'", "`", "```", "<", ">", "(", ")", "[", "]", "...", "?", "!", ",", ";", "=", ":", "*", "_", "~"]
    + ["\u201c", "\u201d", "|", "&", "&lt;", "&gt;", "&amp;", "\u200b", "help", "faq", "deep", "usage"]
)
markup = st.one_of(
    st.builds(lambda k: f"<http://{k}|{k}>", valid_keys | near_keys),
    st.builds(lambda k: f"<{k}>", valid_keys | near_keys),
    st.builds(lambda k: f"&lt;{k}&gt;", valid_keys),
    st.just("<mailto:x@y.z|x@y.z>"),
    st.just("<@U0OWNER>"),
    st.just("<#C0CHANNEL|general>"),
    st.just("<!here>"),
    st.builds(lambda k: f"aws_access_key_id={k}", valid_keys | near_keys),
    st.builds(lambda k: f"`{k}`", valid_keys | near_keys),
)
SEPARATORS = [" ", "  ", "\n", "\t", ",", ", ", ";", " \u201c", "\u201d "]


@st.composite
def messy_messages(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Text mixing keys, near-keys, punctuation, Slack markup, secrets and unicode; and its secrets."""
    planted: list[str] = []

    def with_secret(template: str) -> st.SearchStrategy[str]:
        def plant(secret: str) -> str:
            planted.append(secret)
            return template.format(secret)

        return secrets().map(plant)

    piece = st.one_of(
        valid_keys,
        near_keys,
        punctuation,
        markup,
        st.text(max_size=12),
        with_secret("{}"),
        with_secret("aws_secret_access_key = {}"),
        with_secret("AWS_SECRET_ACCESS_KEY={}"),
        with_secret('"SecretAccessKey": "{}"'),
        with_secret("<http://example.com|{}>"),
        st.builds(lambda k, s: f"{k}:{s}", valid_keys, with_secret("{}")),
    )
    pieces = draw(st.lists(piece, max_size=30))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(pieces), max_size=len(pieces)))
    text = "".join(p + s for p, s in zip(pieces, seps, strict=True))
    return text, planted


def assert_well_formed(parsed: ParsedRequest) -> None:
    """The invariants every parse result keeps."""
    assert isinstance(parsed, ParsedRequest)
    if parsed.action is Action.LOOKUP:
        assert parsed.keys or parsed.problems or parsed.secret_pasted, "a lookup with nothing and no reason"
    else:  # help, an FAQ, the report or "my keys" (free text such as "mine"): never with keys
        assert parsed.keys == ()
        if parsed.secret_pasted:
            assert parsed.action is Action.HELP, "the answer to a pasted secret is the warning"
    assert all(is_access_key_id(key) for key in parsed.keys)
    assert len(set(parsed.keys)) == len(parsed.keys)
    assert len(parsed.keys) <= MAX_KEYS
    assert parsed.dropped_for_limit >= 0
    assert all(isinstance(p, KeyProblem) and p.reason for p in parsed.problems)


@given(st.text())
def test_parse_command_total_on_any_text(text: str) -> None:
    """parse_command never raises and always returns a well-formed request for any text."""
    assert_well_formed(parse_command(text))


@given(st.text())
def test_parse_free_text_total_on_any_text(text: str) -> None:
    """parse_free_text never raises and always returns a well-formed request for any text."""
    assert_well_formed(parse_free_text(text))


@given(messy_messages())
def test_parse_command_messy_messages(message: tuple[str, list[str]]) -> None:
    """On messy text, parse_command keeps its invariants, flags every secret and repeats none."""
    text, planted = message
    parsed = parse_command(text)
    assert_well_formed(parsed)
    if planted:
        assert parsed.secret_pasted
        assert parsed.action is Action.LOOKUP
    for secret in planted:
        assert secret not in repr(parsed)


@given(messy_messages())
def test_parse_free_text_messy_messages(message: tuple[str, list[str]]) -> None:
    """On messy text, parse_free_text keeps its invariants, flags every secret and repeats none."""
    text, planted = message
    parsed = parse_free_text(text)
    assert_well_formed(parsed)
    if planted:
        assert parsed.secret_pasted
    for secret in planted:
        assert secret not in repr(parsed)


@given(st.one_of(st.text(), valid_keys, near_keys))
def test_check_key_id_total(text: str) -> None:
    """check_key_id never raises, and returns None exactly for well-formed access key IDs."""
    problem = check_key_id(text)
    assert (problem is None) == is_access_key_id(text)
    if problem is not None:
        assert problem.reason
        assert problem.suggestion is None or is_access_key_id(problem.suggestion)


@given(valid_keys)
def test_every_well_formed_key_is_found_alone(key: str) -> None:
    """Any well-formed key typed alone is looked up as is, by the command and in free text."""
    assert parse_command(key).keys == (key,)
    assert parse_free_text(key).keys == (key,)


SPLIT_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    "typed",
    [
        # split by a space, as in the issue
        f"{KEY} wJalrXUtnFEMI/K7MDENG/ bPxRfiCYEXAMPLEKEY",
        # split by a line break
        f"{KEY}\nwJalrXUtnFEMI/K7MDENG/bPx\nRfiCYEXAMPLEKEY",
        # split in three pieces
        f"{KEY} wJalrXUtn FEMI/K7MDENG/ bPxRfiCYEXAMPLEKEY",
        # URL-encoded slashes
        f"{KEY} wJalrXUtnFEMI%2FK7MDENG%2FbPxRfiCYEXAMPLEKEY",
        # JSON-escaped slashes
        f'{{"AccessKeyId": "{KEY}", "Key": "wJalrXUtnFEMI\\/K7MDENG\\/bPxRfiCYEXAMPLEKEY"}}',
        # JSON unicode escapes
        f"{KEY} wJalrXUtnFEMI\\u002fK7MDENG\\u002FbPxRfiCYEXAMPLEKEY",
        # one character short, two long
        f"{KEY} {SPLIT_SECRET[:-1]}",
        f"{KEY} {SPLIT_SECRET}x9",
        # after a name, in =, : and JSON forms, even when the value does not look like a secret
        f"{KEY} secret=abcdefgh12345678",
        f"{KEY} secret_key: abcdefgh12345678",
        f'{{"aws_access_key_id": "{KEY}", "SecretAccessKey": "notreallyrandom"}}',
        f'{{"secretKey": "abcdefgh12345678", "id": "{KEY}"}}',
        f"{KEY} AWS_SECRET_ACCESS_KEY=abc",
        # a split secret without "/" or "+": two random-looking pieces
        f"{KEY} wJalrXUtnFEMIK7MDENGb PxRfiCYEXAMPLEKEY9q",
    ],
)
def test_secrets_in_every_form_are_caught_and_dropped(typed: str) -> None:
    """A secret split, encoded, escaped, slightly short or long, or named is caught; no piece reaches the request."""
    for parsed in (parse_command(typed), parse_free_text(typed)):
        assert parsed.secret_pasted, typed
        assert parsed.keys == (KEY,)
        carried = repr(parsed)
        for piece in ("wJalrXUtn", "bPxRfiCY", "abcdefgh1234", "notreallyrandom", "PxRfiCYEXAMPLE"):
            assert piece not in carried, (typed, piece)


@pytest.mark.parametrize(
    "typed",
    [
        # prose around a key: words glued together are not a secret
        f"please check {KEY} it fails in the deploy pipeline since yesterday afternoon",
        # "secret" as a word, not an assignment
        f"never paste the secret of {KEY} here",
        # a path and a key
        f"{KEY} fails in services/payments/api",
        # two key IDs side by side
        f"{KEY} {KEY[:-1]}Q",
    ],
)
def test_ordinary_text_is_not_taken_for_a_secret(typed: str) -> None:
    """Prose, the word "secret", paths and key IDs next to each other are not secrets."""
    assert not parse_command(typed).secret_pasted and not parse_free_text(typed).secret_pasted


def test_a_token_that_is_not_key_shaped_is_named_by_position() -> None:
    """Bad input is listed by position and length unless it is shaped like a key ID."""
    parsed = parse_command(f"{KEY} hunter2-password! AKIA123")
    texts = [p.text for p in parsed.problems]
    assert "word 2" in texts and "AKIA123" in texts
    assert "hunter2" not in repr(parsed.problems)


def test_problems_and_text_are_capped() -> None:
    """At most 20 problems are carried (the rest counted), and text past Slack's limit is not read."""
    parsed = parse_command(" ".join(f"AKIA{n:04d}" for n in range(50)))
    assert len(parsed.problems) == 20 and parsed.problems_dropped == 30
    long = "x " * 30_000 + KEY
    assert KEY not in parse_command(long).keys  # beyond 40,000 characters


# ---------------------------------------------------------------------------------------------
# Secrets in every form (issue 21): split, encoded, escaped, a slip long or short, named

# A second secret, with "+" and no "/".
PLUS_SECRET = "Xk3+9fQmZ2LrT8vB1nW6yH4cJ0dS7aE5uP2gR+Mo"


def _pieces(secret: str, *sizes: int) -> list[str]:
    """The secret cut in pieces of the given sizes (the last takes the rest)."""
    out, at = [], 0
    for size in sizes:
        out.append(secret[at : at + size])
        at += size
    return [*out, secret[at:]]


@pytest.mark.parametrize(
    ("typed", "secret"),
    [
        # split in five pieces across lines and spaces
        (f"{KEY}\n" + " ".join(_pieces(SECRET, 8, 8, 8, 8)), SECRET),
        # split in six pieces, as a narrow terminal wraps it
        (f"{KEY}\n" + "\n".join(_pieces(SECRET, 7, 7, 7, 7, 6)), SECRET),
        # split by a Windows line break
        (f"{KEY}\r\n{SECRET[:22]}\r\n{SECRET[22:]}", SECRET),
        # split by a tab
        (f"{KEY}\t{SECRET[:15]}\t{SECRET[15:]}", SECRET),
        # a name glued to the first piece of a split secret
        (f"{KEY} secret={SECRET[:7]} {SECRET[7:]}", SECRET),
        # URL-encoded twice (%252F)
        (f"{KEY} {SECRET.replace('/', '%252F')}", SECRET),
        # every character URL-encoded
        (f"{KEY} " + "".join(f"%{ord(c):02X}" for c in SECRET), SECRET),
        # "+" URL-encoded, in lower case
        (f"{KEY} {PLUS_SECRET.replace('+', '%2b')}", PLUS_SECRET),
        # one short and split by a space
        (f"{KEY} {PLUS_SECRET[:20]} {PLUS_SECRET[20:-1]}", PLUS_SECRET),
        # two long and split by a line break
        (f"{KEY}\nQ{PLUS_SECRET[:25]}\n{PLUS_SECRET[25:]}z", PLUS_SECRET),
        # `name = value` with spaces around the sign
        (f"{KEY} secret = {SECRET}", SECRET),
        # `name : value` in YAML with a space before the colon
        (f"aws_access_key_id: {KEY}\naws_secret_access_key : {SECRET}", SECRET),
        # JSON with spaces around the colon
        (f'{{"id" : "{KEY}", "secret" : "{SECRET}"}}', SECRET),
        # JSON under secret_key, JSON-escaped
        (f'{{"id": "{KEY}", "secret_key": "{SECRET.replace("/", chr(92) + "/")}"}}', SECRET),
        # in a URL's query, with the key ID before it
        (f"https://x.example/?AccessKeyId={KEY}&SecretAccessKey={SECRET.replace('/', '%2F')}&n=1", SECRET),
    ],
)
def test_more_secret_forms_are_caught_and_leave_no_piece(typed: str, secret: str) -> None:
    """Each form is flagged by both parsers, the key ID still looked up, and no 12-character piece kept."""
    for parsed in (parse_command(typed), parse_free_text(typed)):
        assert parsed.secret_pasted, typed
        assert parsed.keys == (KEY,), typed
        assert_secret_absent(parsed, secret)


@pytest.mark.parametrize(
    "typed",
    [
        # a long path with digits and capitals
        f"{KEY} fails in services/payments/api/v1/handlers/Refund2",
        # a URL's tail, 38 characters of the secret alphabet with slashes
        f"{KEY} see github.com/acme/whosekey/blob/main/core/parse",
        # prose with a slash, a digit and capitals, long enough to join to 40 characters
        f"please check the CI/CD job Deploy2 for the team {KEY}",
    ],
)
def test_paths_and_prose_are_not_taken_for_split_secrets(typed: str) -> None:
    """Paths and sentences made of plain words are not secrets, however their words join."""
    assert not parse_command(typed).secret_pasted and not parse_free_text(typed).secret_pasted


def test_two_split_secrets_in_a_row_are_both_cut() -> None:
    """Split secrets side by side (windows that overlap) are cut as one, leaving no piece of either."""
    typed = f"{KEY} {SECRET[:20]} {SECRET[20:]} {PLUS_SECRET[:20]} {PLUS_SECRET[20:]}"
    parsed = parse_command(typed)
    assert parsed.secret_pasted and parsed.keys == (KEY,)
    assert_secret_absent(parsed, SECRET)
    assert_secret_absent(parsed, PLUS_SECRET)


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        # a symbol inside (the closing "!" is read as punctuation): could be a password, so only its
        # length and kind are said
        ("hunter2-password!", "16 characters): it holds symbols no key ID has"),
        # short letters and digits
        ("x1y2z3", "6 characters): too short for a key ID"),
        # long letters and digits, short of a secret's length
        ("Zq9" * 12, "36 characters): too long for a key ID"),
        # the right length, the wrong start
        ("BCDEFGHIJKLMNOPQRSTU", "20 characters): it does not start with AKIA or ASIA"),
    ],
)
def test_a_token_not_shaped_like_a_key_is_named_by_position_and_kind(token: str, kind: str) -> None:
    """The problem says which word it was and what kind, never its text."""
    parsed = parse_command(f"{KEY} {token}")
    assert parsed.keys == (KEY,)
    (problem,) = parsed.problems
    assert problem.text == "word 2"
    assert problem.reason.startswith(f"Word 2 ({kind}.")
    assert token not in problem.reason and token not in repr(parsed)


@pytest.mark.parametrize(
    "token",
    [
        # too short, but a key ID's start: useful to show
        "AKIA123",
        # a digit for a letter (a misread), with the likely intended key
        "AK1ARZPUZDIKGB2VALC4",
        # lower case
        KEY.lower(),
        # another IAM ID
        "AIDAJQABLZS4A3QDU576Q",
    ],
)
def test_a_key_shaped_token_is_shown_as_typed(token: str) -> None:
    """Near-misses of a key ID are safe and useful to show: the problem quotes them."""
    (problem,) = parse_command(f"{KEY} {token}").problems
    assert token in problem.reason


@pytest.mark.parametrize("parse", [parse_command, parse_free_text])
def test_text_past_slacks_limit_is_cut_and_said(parse: object) -> None:
    """Text past 40,000 characters is not read, and the request says it was cut."""
    parsed = parse(f"{KEY} " + "x " * 25_000)  # type: ignore[operator]
    assert parsed.text_cut and parsed.keys == (KEY,)
    assert not parse(f"{KEY} x").text_cut  # type: ignore[operator]


def test_the_reply_says_when_keys_problems_or_text_were_cut() -> None:
    """The immediate reply counts problems past the cap, keys past ten, and says the text was cut."""
    from bot.messages import looking_up

    typed = " ".join(key_number(n) for n in range(12)) + " " + " ".join(f"AKIA{n:04d}" for n in range(25))
    parsed = parse_command(typed + " " + "x " * 20_000)
    assert len(parsed.keys) == 10 and parsed.dropped_for_limit == 2
    assert len(parsed.problems) == 20 and parsed.problems_dropped == 5
    text = looking_up(parsed)["text"]
    assert "2 more were left out" in text
    assert "…and 15 more" in text  # 10 shown of 20 carried, and 5 past the cap
    assert "first 40,000 characters" in text
