"""Turn what a person typed into a lookup request, or a clear reason why it is not one.

Pure and total: any text gives a ParsedRequest, never an exception. Secret access keys are
detected here so that they are dropped before anything is logged, stored or echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from bot.keyids import KeyProblem, check_key_id, find_key_candidates

MAX_KEYS_PER_REQUEST = 10

# 40 characters of the secret-key alphabet, with the mix of cases and digits real secrets have.
_SECRET_TOKEN = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")
_SECRET_ASSIGNMENT = re.compile(r"aws_secret_access_key|secretaccesskey|secret_access_key", re.IGNORECASE)
# Slack wraps links and mailto addresses as <target|label> or <target>.
_SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_SEPARATORS = re.compile(r"[\s,;]+")
_STRIP_CHARS = "\"'`<>()[]{}.:!?*_~"


class Action(Enum):
    LOOKUP = "lookup"
    HELP = "help"
    FAQ = "faq"


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


def looks_like_secret(token: str) -> bool:
    """True for a 40-character token of the secret alphabet that is not plain letters."""
    if not _SECRET_TOKEN.fullmatch(token):
        return False
    # A real secret mixes lower case with digits or symbols; this spares 40-letter words.
    has_lower = any(c.islower() for c in token)
    has_other = any(c.isdigit() or c in "/+=" for c in token)
    return has_lower and has_other


def contains_secret(text: str) -> bool:
    """True when the text carries a secret access key or a secret-key assignment."""
    if _SECRET_ASSIGNMENT.search(text):
        return True
    return any(looks_like_secret(m.group(0)) for m in _SECRET_TOKEN.finditer(text))


def scrub_secrets(text: str) -> str:
    """The text with anything secret-looking replaced, for the rare place text must be kept."""
    text = _SECRET_TOKEN.sub(lambda m: "[secret removed]" if looks_like_secret(m.group(0)) else m.group(0), text)
    return _SECRET_ASSIGNMENT.sub("[secret removed]", text)


def unwrap_slack_markup(text: str) -> str:
    """Replace Slack's <target|label> link markup by its label (or target)."""
    return _SLACK_LINK.sub(lambda m: f" {m.group(2) or m.group(1)} ", text)


def _normalise_token(token: str) -> str:
    token = token.strip(_STRIP_CHARS)
    if "=" in token:  # aws_access_key_id=AKIA...
        token = token.rsplit("=", 1)[1].strip(_STRIP_CHARS)
    return token


def parse_command(text: str | None) -> ParsedRequest:
    """Parse the text of `/whose-key`: keys, `deep`, `help` or `faq`."""
    raw = text or ""
    secret = contains_secret(raw)
    tokens = [_normalise_token(t) for t in _SEPARATORS.split(unwrap_slack_markup(raw))]
    tokens = [t for t in tokens if t and not looks_like_secret(t)]
    if secret:
        # Drop the assignment's words so nothing near the secret is echoed back.
        tokens = [t for t in tokens if not _SECRET_ASSIGNMENT.search(t)]

    words = {t.lower() for t in tokens}
    if not tokens and not secret:
        return ParsedRequest(Action.HELP)
    if tokens and words <= {"help", "usage", "-h", "--help", "?"}:
        return ParsedRequest(Action.HELP)
    if tokens and words <= {"faq", "faqs"}:
        return ParsedRequest(Action.FAQ)

    deep = "deep" in words
    keys: list[str] = []
    problems: list[KeyProblem] = []
    extra: list[str] = []
    for token in tokens:
        if token.lower() in {"deep", "help", "faq"}:
            continue
        problem = check_key_id(token)
        if problem is None:
            if token not in keys:
                keys.append(token)
        elif len(token) < 12 and token[:4].upper() not in {"AKIA", "ASIA"} and token.isalpha():
            extra.append(token)  # ordinary words around the keys: ignored, not judged
        else:
            problems.append(problem)
    dropped = max(0, len(keys) - MAX_KEYS_PER_REQUEST)
    return ParsedRequest(
        Action.LOOKUP,
        keys=tuple(keys[:MAX_KEYS_PER_REQUEST]),
        problems=tuple(problems),
        deep=deep,
        secret_pasted=secret,
        dropped_for_limit=dropped,
        extra=tuple(extra),
    )


def parse_free_text(text: str | None) -> ParsedRequest:
    """Parse a mention or DM: pick out the key IDs, ignore the prose around them."""
    raw = unwrap_slack_markup(text or "")
    secret = contains_secret(raw)
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
