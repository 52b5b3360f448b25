"""Turn what a person typed into a lookup request, or a clear reason why it is not one.

Pure and total: any text gives a ParsedRequest, never an exception. Secret access keys are cut
out first (core/secrets.py), so that none is logged, stored or echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from core.keyids import (
    ACCESS_KEY_PREFIXES,
    KEY_LENGTH,
    OTHER_ID_PREFIXES,
    KeyProblem,
    check_key_id,
    find_key_candidates,
    is_access_key_id,
    likely_intended,
)
from core.secrets import STRIP_CHARS, decoded, looks_like_secret, without_secrets

MAX_KEYS_PER_REQUEST = 10
# Problems carried with a request (the rest are counted), and the text read at all: Slack's own
# limit on a message's text. Whatever is longer is cut before it is parsed.
MAX_PROBLEMS = 20
MAX_TEXT = 40_000
# A token longer than this is never shown back, even when it starts like a key ID.
MAX_SHOWN_TOKEN = 28

# Slack wraps links and mailto addresses as <target|label> or <target>.
_SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
# Slack sends &, < and > escaped in the text it hands to apps.
_SLACK_ESCAPES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}
_SLACK_ESCAPE = re.compile("|".join(_SLACK_ESCAPES))
# A letter or digit (of any script): a token holding none is punctuation, not a word.
_ALPHANUMERIC = re.compile(r"[^\W_]")
# Invisible characters that ride along when a key is copied from a web page or a document.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")
# "&" too: key IDs pasted from a URL's query (`?AccessKeyId=AKIA…&…`).
_SEPARATORS = re.compile(r"[\s,;&]+")
# name=value, name: value (env files, YAML, JSON): the value is the part that can be a key.
_ASSIGNMENT = re.compile(r"[=:]")


# What people type to ask for usage.
HELP_WORDS = frozenset({"help", "usage", "-h", "--help", "?"})


class Action(Enum):
    LOOKUP = "lookup"
    HELP = "help"
    FAQ = "faq"
    REPORT = "report"
    MY_KEYS = "my_keys"  # mentions and DMs: the asker's own keys (they are on the Home tab)


@dataclass(frozen=True)
class ParsedRequest:
    action: Action
    keys: tuple[str, ...] = ()
    problems: tuple[KeyProblem, ...] = ()
    deep: bool = False
    secret_pasted: bool = False
    dropped_for_limit: int = 0
    problems_dropped: int = 0  # problems past MAX_PROBLEMS, counted but not carried
    text_cut: bool = False  # the text was longer than MAX_TEXT: only that much was read
    extra: tuple[str, ...] = field(default=())

    @property
    def has_work(self) -> bool:
        return self.action is Action.LOOKUP and bool(self.keys)


def unwrap_slack_markup(text: str) -> str:
    """Replace Slack's <target|label> link markup by its label (or target), and undo its escaping."""
    text = _SLACK_LINK.sub(lambda m: f" {m.group(2) or m.group(1)} ", text)
    return _SLACK_ESCAPE.sub(lambda m: _SLACK_ESCAPES[m.group(0)], text)


def _prepare(text: str | None) -> tuple[str, bool]:
    """The text with secrets cut out and Slack markup undone, and whether a secret was there."""
    text, secret = without_secrets(decoded(_INVISIBLE.sub("", (text or "")[:MAX_TEXT])))
    # Secrets go before the markup is undone (a label must not hide one) and again after (an
    # escaped bracket must not glue one to its neighbours); without markup there is nothing to undo.
    if "<" in text or "&" in text:
        text, again = without_secrets(unwrap_slack_markup(text))
        secret = secret or again
    return text, secret


def _is_cut(text: str | None) -> bool:
    return text is not None and len(text) > MAX_TEXT


def _normalise_token(token: str) -> str:
    token = token.strip(STRIP_CHARS)
    if _ASSIGNMENT.search(token):  # aws_access_key_id=AKIA..., aws_access_key_id:AKIA...
        token = _ASSIGNMENT.split(token)[-1].strip(STRIP_CHARS)
    return token


def is_key_shaped(token: str) -> bool:
    """A token that can be shown back as typed: short, letters and digits only, and starting like
    a key ID or another IAM ID (or a misread of one). Anything else could be part of a secret."""
    if len(token) > MAX_SHOWN_TOKEN or not token.isascii() or not token.isalnum():
        return False
    prefix = token[:4].upper()
    return prefix in ACCESS_KEY_PREFIXES or prefix in OTHER_ID_PREFIXES or likely_intended(token) is not None


def judged(token: str, position: int) -> KeyProblem | None:
    """What is wrong with a token (None: a well-formed key ID), naming a token that is not
    key-shaped by its position and length only, never by its text."""
    problem = check_key_id(token)
    if problem is None or is_key_shaped(token):
        return problem
    return KeyProblem(
        f"word {position}",
        f"Word {position} ({len(token)} character{'' if len(token) == 1 else 's'}): {_kind(token)}. Access key IDs "
        f"start with AKIA or ASIA and are {KEY_LENGTH} characters of A-Z and 2-7.",
    )


def _kind(token: str) -> str:
    """What kind of token it is, in words that give away nothing of its text."""
    if not token.isascii() or not token.isalnum():
        return "it holds symbols no key ID has"
    if len(token) < KEY_LENGTH:
        return "too short for a key ID"
    if len(token) > KEY_LENGTH:
        return "too long for a key ID"
    return "it does not start with AKIA or ASIA"


def _is_ordinary_word(token: str) -> bool:
    """Words around the keys (prose, config names, emails, mentions): ignored, not judged."""
    if token[:4].upper() in ACCESS_KEY_PREFIXES:
        return False
    if len(token) < 12 and token.isalpha():  # most words, decided at once
        return True
    if "@" in token or _ALPHANUMERIC.search(token) is None:
        return True
    letters = token.replace("_", "").replace("-", "")
    return letters.isalpha() and (len(token) < 12 or letters != token)


def parse_command(text: str | None) -> ParsedRequest:
    """Parse the text of `/whose-key`: keys, `deep`, `help`, `faq` or `report`."""
    cleaned, secret = _prepare(text)
    tokens = [_normalise_token(t) for t in _SEPARATORS.split(cleaned)]
    revealed = [t for t in tokens if looks_like_secret(t)]  # ones only unwrapping the token revealed
    secret = secret or bool(revealed)
    tokens = [t for t in tokens if t and not (revealed and looks_like_secret(t))]

    words = {t.lower() for t in tokens}
    # A pasted secret always gets an answer that warns about it, so it never reads as help.
    if not secret:
        if not tokens or words <= HELP_WORDS:
            return ParsedRequest(Action.HELP)
        if words <= {"faq", "faqs"}:
            return ParsedRequest(Action.FAQ)
        if words == {"report"}:
            return ParsedRequest(Action.REPORT)

    deep = "deep" in words
    # Dicts as ordered sets: a long paste of distinct tokens is deduplicated in linear time.
    keys: dict[str, None] = {}
    problems: dict[KeyProblem, None] = {}
    extra: list[str] = []
    beyond = 0  # problems past the cap: counted, never judged in detail
    for position, token in enumerate(tokens, start=1):
        if token.lower() in {"deep", "help", "faq"}:
            continue
        if _is_ordinary_word(token):  # never a key ID (those start with AKIA or ASIA): not judged
            extra.append(token)
            continue
        if len(problems) >= MAX_PROBLEMS and not is_access_key_id(token):
            beyond += 1
            continue
        problem = judged(token, position)
        if problem is None:
            keys.setdefault(token)
        else:
            problems.setdefault(problem)
    if not keys and not problems and not secret:
        return ParsedRequest(Action.HELP)  # nothing key-like was typed: say how to use it
    dropped = max(0, len(keys) - MAX_KEYS_PER_REQUEST)
    return ParsedRequest(
        Action.LOOKUP,
        keys=tuple(keys)[:MAX_KEYS_PER_REQUEST],
        problems=tuple(problems),
        deep=deep,
        secret_pasted=secret,
        dropped_for_limit=dropped,
        problems_dropped=beyond,
        text_cut=_is_cut(text),
        extra=tuple(extra),
    )


# Free text without a key that still asks something (the agent view's suggested prompts send
# these): the error itself means the FAQ, and a few short phrases ask for the asker's own keys
# or the organization's key hygiene. Only these words may appear, so prose never turns into one.
_FAQ_WORDS = frozenset({"faq", "faqs", "invalidaccesskeyid"})
_MY_KEYS_WORDS = frozenset(
    {"my", "mine", "key", "keys", "access", "aws", "show", "list", "me", "what", "which", "are", "do", "i", "own",
     "have", "please", "all"}
)  # fmt: skip
_REPORT_WORDS = frozenset(
    {"key", "keys", "hygiene", "report", "the", "show", "me", "organization", "organisation", "org", "weekly",
     "please", "access", "aws"}
)  # fmt: skip


def _free_text_action(words: set[str], secret: bool) -> Action:
    """What a mention or DM without a key asks for (words lower-cased, mentions of people ignored)."""
    words = {w for w in words if w and not w.startswith("@")}
    if secret:
        return Action.HELP  # the answer must warn about the secret, whatever else was asked
    if words & _FAQ_WORDS:
        return Action.FAQ
    if words <= _MY_KEYS_WORDS and words & {"my", "mine", "own"} and words & {"key", "keys", "mine"}:
        return Action.MY_KEYS
    if words <= _REPORT_WORDS and words & {"hygiene", "report"}:
        return Action.REPORT
    return Action.HELP


def parse_free_text(text: str | None) -> ParsedRequest:
    """Parse a mention or DM: pick out the key IDs, ignore the prose around them."""
    raw, secret = _prepare(text)
    keys: list[str] = []
    problems: list[KeyProblem] = []
    beyond = 0
    for position, candidate in enumerate(find_key_candidates(raw), start=1):
        if len(problems) >= MAX_PROBLEMS and not is_access_key_id(candidate):
            beyond += 1
            continue
        problem = judged(candidate, position)
        if problem is None:
            keys.append(candidate)
        else:
            problems.append(problem)
    words = {w.strip(STRIP_CHARS).lower() for w in raw.split()}
    if not keys and not problems:
        return ParsedRequest(_free_text_action(words, secret), secret_pasted=secret, text_cut=_is_cut(text))
    dropped = max(0, len(keys) - MAX_KEYS_PER_REQUEST)
    return ParsedRequest(
        Action.LOOKUP,
        keys=tuple(keys[:MAX_KEYS_PER_REQUEST]),
        problems=tuple(problems),
        deep="deep" in words,
        secret_pasted=secret,
        dropped_for_limit=dropped,
        problems_dropped=beyond,
        text_cut=_is_cut(text),
    )
