"""Turn what a person typed into a lookup request, or a clear reason why it is not one.

Pure and total: any text gives a ParsedRequest, never an exception. Secret access keys are
detected here so that they are dropped before anything is logged, stored or echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from core.keyids import ACCESS_KEY_PREFIXES, KeyProblem, check_key_id, find_key_candidates

MAX_KEYS_PER_REQUEST = 10

# 40 characters of the secret-key alphabet (base64 without padding). "=" is not part of it, so
# `name=SECRET` still ends the token where the secret starts.
_SECRET_TOKEN = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")
# Any run of 30 or more characters of that alphabet holding "/" or "+" is treated as a secret,
# even glued to a key ID or with characters added or cut: key IDs and words never hold either.
_SECRET_RUN = re.compile(r"[A-Za-z0-9/+]{30,}")
_SECRET_NAME = r"aws_secret_access_key|secretaccesskey|secret_access_key"  # noqa: S105 - names, not a secret
_SECRET_ASSIGNMENT = re.compile(_SECRET_NAME, re.IGNORECASE)
# The name and the value assigned on the same line: the value is secret even when it does not look it.
_SECRET_ASSIGNMENT_VALUE = re.compile(rf"(?:{_SECRET_NAME})[\"']?[ \t]*[:=][ \t]*[\"']?[^\s,;\"'`<>]*", re.IGNORECASE)
# Slack wraps links and mailto addresses as <target|label> or <target>.
_SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
# Slack sends &, < and > escaped in the text it hands to apps.
_SLACK_ESCAPES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}
_SLACK_ESCAPE = re.compile("|".join(_SLACK_ESCAPES))
# Invisible characters that ride along when a key is copied from a web page or a document.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")
_SEPARATORS = re.compile(r"[\s,;]+")
# name=value, name: value (env files, YAML, JSON): the value is the part that can be a key.
_ASSIGNMENT = re.compile(r"[=:]")
_STRIP_CHARS = "\"'`<>()[]{}.:!?*_~\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e"
_HEX = frozenset("0123456789abcdef")


# What people type to ask for usage.
HELP_WORDS = frozenset({"help", "usage", "-h", "--help", "?"})


class Action(Enum):
    LOOKUP = "lookup"
    HELP = "help"
    FAQ = "faq"
    REPORT = "report"


@dataclass(frozen=True)
class ParsedRequest:
    action: Action
    keys: tuple[str, ...] = ()
    problems: tuple[KeyProblem, ...] = ()
    deep: bool = False
    secret_pasted: bool = False
    dropped_for_limit: int = 0
    extra: tuple[str, ...] = field(default=())

    @property
    def has_work(self) -> bool:
        return self.action is Action.LOOKUP and bool(self.keys)


def _is_secret_run(run: str) -> bool:
    return len(run) >= 30 and ("/" in run or "+" in run)


def looks_like_secret(token: str) -> bool:
    """True for a 40-character token of the secret alphabet that is not plain letters, or a long
    run of that alphabet holding "/" or "+" (a secret, whole or in part)."""
    if _SECRET_RUN.fullmatch(token) and _is_secret_run(token):
        return True
    if not _SECRET_TOKEN.fullmatch(token):
        return False
    # A real secret mixes lower case with digits or symbols; this spares 40-letter words, and
    # 40 lower-case hex digits are a git commit or SHA-1, which a secret practically never is.
    if set(token) <= _HEX:
        return False
    has_lower = any(c.islower() for c in token)
    has_other = any(c.isdigit() or c in "/+" for c in token)
    return has_lower and has_other


def contains_secret(text: str) -> bool:
    """True when the text carries a secret access key or a secret-key assignment."""
    if _SECRET_ASSIGNMENT.search(text):
        return True
    if any(_is_secret_run(m.group(0)) for m in _SECRET_RUN.finditer(text)):
        return True
    return any(looks_like_secret(m.group(0)) for m in _SECRET_TOKEN.finditer(text))


def scrub_secrets(text: str, replacement: str = "[secret removed]") -> str:
    """The text with anything secret-looking replaced, for the rare place text must be kept."""
    text = _SECRET_ASSIGNMENT_VALUE.sub(replacement, text)
    text = _SECRET_ASSIGNMENT.sub(replacement, text)
    text = _SECRET_RUN.sub(lambda m: replacement if _is_secret_run(m.group(0)) else m.group(0), text)
    return _SECRET_TOKEN.sub(lambda m: replacement if looks_like_secret(m.group(0)) else m.group(0), text)


def unwrap_slack_markup(text: str) -> str:
    """Replace Slack's <target|label> link markup by its label (or target), and undo its escaping."""
    text = _SLACK_LINK.sub(lambda m: f" {m.group(2) or m.group(1)} ", text)
    return _SLACK_ESCAPE.sub(lambda m: _SLACK_ESCAPES[m.group(0)], text)


def _prepare(text: str | None) -> tuple[str, bool]:
    """The text with secrets cut out and Slack markup undone, and whether a secret was there."""
    text = _INVISIBLE.sub("", text or "")
    secret = contains_secret(text)
    # Secrets go before the markup is undone (a label must not hide one) and again after (an
    # escaped bracket must not glue one to its neighbours).
    text = unwrap_slack_markup(scrub_secrets(text, " "))
    if contains_secret(text):
        secret = True
        text = scrub_secrets(text, " ")
    return text, secret


def _normalise_token(token: str) -> str:
    token = token.strip(_STRIP_CHARS)
    if _ASSIGNMENT.search(token):  # aws_access_key_id=AKIA..., aws_access_key_id:AKIA...
        token = _ASSIGNMENT.split(token)[-1].strip(_STRIP_CHARS)
    return token


def _is_ordinary_word(token: str) -> bool:
    """Words around the keys (prose, config names, emails, mentions): ignored, not judged."""
    if token[:4].upper() in ACCESS_KEY_PREFIXES:
        return False
    if "@" in token or not any(ch.isalnum() for ch in token):
        return True
    letters = token.replace("_", "").replace("-", "")
    return letters.isalpha() and (len(token) < 12 or letters != token)


def parse_command(text: str | None) -> ParsedRequest:
    """Parse the text of `/whose-key`: keys, `deep`, `help`, `faq` or `report`."""
    cleaned, secret = _prepare(text)
    tokens = [_normalise_token(t) for t in _SEPARATORS.split(cleaned)]
    if any(looks_like_secret(t) for t in tokens):  # one only unwrapping the token revealed
        secret = True
    tokens = [t for t in tokens if t and not looks_like_secret(t)]

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
    for token in tokens:
        if token.lower() in {"deep", "help", "faq"}:
            continue
        problem = check_key_id(token)
        if problem is None:
            keys.setdefault(token)
        elif _is_ordinary_word(token):
            extra.append(token)
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
        extra=tuple(extra),
    )


def parse_free_text(text: str | None) -> ParsedRequest:
    """Parse a mention or DM: pick out the key IDs, ignore the prose around them."""
    raw, secret = _prepare(text)
    keys: list[str] = []
    problems: list[KeyProblem] = []
    for candidate in find_key_candidates(raw):
        problem = check_key_id(candidate)
        if problem is None:
            keys.append(candidate)
        else:
            problems.append(problem)
    words = {w.strip(_STRIP_CHARS).lower() for w in raw.split()}
    if not keys and not problems:
        return ParsedRequest(Action.FAQ if "faq" in words else Action.HELP, secret_pasted=secret)
    dropped = max(0, len(keys) - MAX_KEYS_PER_REQUEST)
    return ParsedRequest(
        Action.LOOKUP,
        keys=tuple(keys[:MAX_KEYS_PER_REQUEST]),
        problems=tuple(problems),
        deep="deep" in words,
        secret_pasted=secret,
        dropped_for_limit=dropped,
    )
