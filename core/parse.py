"""Turn what a person typed into a lookup request, or a clear reason why it is not one.

Pure and total: any text gives a ParsedRequest, never an exception. Secret access keys are
detected here so that they are dropped before anything is logged, stored or echoed.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from enum import Enum
from itertools import accumulate

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

MAX_KEYS_PER_REQUEST = 10
# Problems carried with a request (the rest are counted), and the text read at all: Slack's own
# limit on a message's text. Whatever is longer is cut before it is parsed.
MAX_PROBLEMS = 20
MAX_TEXT = 40_000
# A secret access key is 40 characters; one or two more or fewer (a slip when copying) still is one.
SECRET_LENGTHS = range(38, 43)
# A token longer than this is never shown back, even when it starts like a key ID.
MAX_SHOWN_TOKEN = 28

# 40 characters of the secret-key alphabet (base64 without padding). "=" is not part of it, so
# `name=SECRET` still ends the token where the secret starts.
_SECRET_TOKEN = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{38,42}(?![A-Za-z0-9/+])")
# Any run of 30 or more characters of that alphabet holding "/" or "+" is treated as a secret,
# even glued to a key ID or with characters added or cut: key IDs and words never hold either.
_SECRET_RUN = re.compile(r"[A-Za-z0-9/+]{30,}")
_SECRET_NAME = r"aws_secret_access_key|secretaccesskey|secret_access_key"  # noqa: S105 - names, not a secret
_SECRET_ASSIGNMENT = re.compile(_SECRET_NAME, re.IGNORECASE)
# The name and the value assigned on the same line: the value is secret even when it does not look it.
_SECRET_ASSIGNMENT_VALUE = re.compile(rf"(?:{_SECRET_NAME})[\"']?[ \t]*[:=][ \t]*[\"']?[^\s,;\"'`<>]*", re.IGNORECASE)
# Shorter names are words too ("never paste the secret"): they count only with a value assigned,
# in env (`secret=…`), YAML (`secret_key: …`) or JSON (`"secretKey": "…"`) form.
_SECRET_SHORT_NAME_VALUE = re.compile(
    r"(?<![A-Za-z0-9])(?:secret[_-]?key|secret)[\"']?[ \t]*[:=][ \t]*[\"']?[A-Za-z0-9/+=]{8,}", re.IGNORECASE
)
# JSON escapes (`\/`, `\u002f`) and URL encodings (`%2F`, `%2B`, also encoded twice as `%252F`)
# of the secret alphabet and "=": undone before secrets are looked for, so an escaped or encoded
# secret is one too. Anything else (`%20`, `\n`) is left as typed: it cannot be part of a secret.
_JSON_ESCAPE = re.compile(r"\\(/)|\\u00([0-9A-Fa-f]{2})")
_PERCENT = re.compile(r"%(?:25)?([0-9A-Fa-f]{2})")
_DECODABLE = frozenset(string.ascii_letters + string.digits + "/+=")
# A secret split by spaces or line breaks: up to this many pieces in a row are joined and judged.
_MAX_PIECES = 6
# Pieces that are short plain words (`please`, `Jenkins`) and hold this many letters in all make
# prose, not a split secret: random pieces of the secret alphabet are rarely all small letters,
# and two such short pieces in one secret are rarer still (a long one alone is left to chance).
_WORDLIKE = re.compile(r"[A-Za-z][a-z]{2,6}")
_WORDS_IN_PROSE = 8
_WORD = re.compile(r"\S+")
# A key ID with its secret glued on (copied from a credentials file without the separator).
_KEY_GLUED_TO_SECRET = re.compile(
    r"(?<![A-Za-z0-9/+])((?:AKIA|ASIA)[A-Z2-7]{16})([A-Za-z0-9/+]{38,42})(?![A-Za-z0-9/+])"
)
_PIECE = re.compile(r"[A-Za-z0-9/+]+")
# Slack wraps links and mailto addresses as <target|label> or <target>.
_SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
# Slack sends &, < and > escaped in the text it hands to apps.
_SLACK_ESCAPES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}
_SLACK_ESCAPE = re.compile("|".join(_SLACK_ESCAPES))
# Invisible characters that ride along when a key is copied from a web page or a document.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")
# "&" too: key IDs pasted from a URL's query (`?AccessKeyId=AKIA…&…`).
_SEPARATORS = re.compile(r"[\s,;&]+")
# name=value, name: value (env files, YAML, JSON): the value is the part that can be a key.
_ASSIGNMENT = re.compile(r"[=:]")
_STRIP_CHARS = "\"'`<>()[]{}.:!?*_~\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e"
_HEX = frozenset("0123456789abcdef")
_DIGIT = re.compile(r"[0-9]")
_ALNUM = re.compile(r"[^\W_]")
# A part of a path: a plain word, not a piece of random text.
_PLAIN_PART = re.compile(r"[A-Z]?[a-z0-9]*")


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
    problems_dropped: int = 0  # problems past MAX_PROBLEMS, counted but not carried
    text_cut: bool = False  # the text was longer than MAX_TEXT: only that much was read
    extra: tuple[str, ...] = field(default=())

    @property
    def has_work(self) -> bool:
        return self.action is Action.LOOKUP and bool(self.keys)


def _is_secret_run(run: str) -> bool:
    return len(run) >= 30 and ("/" in run or "+" in run) and not _is_path(run)


def _is_path(token: str) -> bool:
    """A path or URL tail (`services/payments/api/v1/Refund2`): every part between slashes a plain
    word (small letters and digits, or one capital first). A secret's parts mix cases: in a
    million random secrets holding "/", not one has only plain parts."""
    return "/" in token and "+" not in token and all(_PLAIN_PART.fullmatch(part) for part in token.split("/"))


def _looks_random(joined: str) -> bool:
    """Mixed case with a digit: what a random base64 string is and prose or IDs almost never are."""
    return joined != joined.upper() and joined != joined.lower() and _DIGIT.search(joined) is not None


def _mixed(piece: str) -> bool:
    """Upper and lower case, or letters and digits: a piece of a random string, not a plain word."""
    lower, upper, digit = piece != piece.upper(), piece != piece.lower(), _DIGIT.search(piece) is not None
    return (lower and upper and (digit or not piece[:1].isupper() or sum(map(str.isupper, piece)) > 1)) or (
        digit and (lower or upper)
    )


def looks_like_secret(token: str) -> bool:
    """True for a 38-42 character token of the secret alphabet that is not plain letters, or a long
    run of that alphabet holding "/" or "+" (a secret, whole or in part)."""
    if len(token) < 30:  # shorter than any rule below: most words, decided at once
        return False
    if _SECRET_RUN.fullmatch(token) and _is_secret_run(token):
        return True
    if not _SECRET_TOKEN.fullmatch(token) or _is_path(token):
        return False
    # A real secret mixes lower case with digits or symbols; this spares 40-letter words, and
    # 40 lower-case hex digits are a git commit or SHA-1, which a secret practically never is.
    if set(token) <= _HEX:
        return False
    has_lower = any(c.islower() for c in token)
    has_other = any(c.isdigit() or c in "/+" for c in token)
    return (has_lower and has_other) or _random_case(token)


def _random_case(text: str) -> bool:
    """Many capitals and many small letters, as in random text (CamelCase names have few capitals)."""
    return sum(map(str.isupper, text)) >= 10 and sum(map(str.islower, text)) >= 10


def _split_secret(pieces: list[str], joined: str) -> bool:
    """Whether pieces that join to a secret's length are one: random-looking text, with few
    plain words among the pieces, that holds "/" or "+", or whose random-looking pieces (mixed
    case or digits) make up most of it."""
    if not (_looks_random(joined) or _random_case(joined)):
        return False
    if sum(len(p) for p in pieces if _WORDLIKE.fullmatch(p)) >= _WORDS_IN_PROSE:
        return False
    if "/" in joined or "+" in joined:
        return True
    return sum(len(p) for p in pieces if _mixed(p)) >= 30


def _split_secret_spans(text: str) -> list[tuple[int, int]]:
    """Where a secret split by spaces or line breaks lies: runs of up to _MAX_PIECES words, each
    only of the secret alphabet (quotes and commas aside) and none starting like a key ID, that
    joined make 38-42 characters of random-looking text (see _split_secret).

    Linear: a window is read only when its words, as typed, are long enough to make a secret
    (from running totals, so short words cost one comparison each), and then for at most
    _MAX_PIECES words."""
    words = [m.span() for m in _WORD.finditer(text)]
    totals = [0, *accumulate(end - start for start, end in words)]
    shortest, longest = min(SECRET_LENGTHS), max(SECRET_LENGTHS)
    spans: list[tuple[int, int]] = []
    later: dict[int, str | None] = {}  # each word read once as a later piece, whatever window it is in
    for i, (start, end) in enumerate(words):
        stop = min(i + _MAX_PIECES, len(words))
        if totals[stop] - totals[i] < shortest:
            continue  # too short however it is read: the common case, decided at once
        first = _piece(text[start:end], first=True)
        if first is None:
            continue
        pieces = [first]
        for j in range(i + 1, stop):
            if j not in later:
                later[j] = _piece(text[words[j][0] : words[j][1]], first=False)
            piece = later[j]
            if piece is None:
                break
            pieces.append(piece)
            joined = "".join(pieces)
            if len(joined) > longest:
                break
            if len(joined) >= shortest and _split_secret(pieces, joined):
                spans.append((start, words[j][1]))
                break
    return spans


def _piece(word: str, *, first: bool) -> str | None:
    """The word as a piece of a split secret, or None when it cannot be one (empty, outside the
    secret alphabet, or starting like a key ID)."""
    piece = _value_part(word, first=first)
    if not piece or not _PIECE.fullmatch(piece) or piece[:4].upper() in ACCESS_KEY_PREFIXES:
        return None
    return piece


def _decodable(match: re.Match[str], code: str) -> str:
    """The character an escape or encoding stands for when a secret can hold it, else as typed."""
    char = chr(int(code, 16))
    return char if char in _DECODABLE else match.group(0)


def _json_unescaped(match: re.Match[str]) -> str:
    return "/" if match.group(1) else _decodable(match, match.group(2))


def _url_decoded(match: re.Match[str]) -> str:
    return _decodable(match, match.group(1))


def _value_part(word: str, *, first: bool) -> str:
    """A word as a piece of a split secret: quotes and commas aside, and for the first piece only
    what follows a `name=` or `name:` glued to it (`secret=wJalrXUtn FEMI/K7MDENG…`)."""
    word = word.strip(_STRIP_CHARS + ",;")
    if first and ("=" in word or ":" in word):
        word = _ASSIGNMENT.split(word)[-1].strip(_STRIP_CHARS + ",;")
    return word


def _decoded(text: str) -> str:
    """The text with JSON escapes and URL encodings of the secret alphabet undone, so that an
    escaped or encoded secret is seen as one. One pass of each: linear in the text."""
    if "\\" in text:
        text = _JSON_ESCAPE.sub(_json_unescaped, text)
    return _PERCENT.sub(_url_decoded, text) if "%" in text else text


def contains_secret(text: str) -> bool:
    """True when the text carries a secret access key or a secret-key assignment."""
    if _SECRET_ASSIGNMENT.search(text) or _SECRET_SHORT_NAME_VALUE.search(text):
        return True
    if _split_secret_spans(text):
        return True
    if any(_is_secret_run(m.group(0)) for m in _SECRET_RUN.finditer(text)):
        return True
    return any(looks_like_secret(m.group(0)) for m in _SECRET_TOKEN.finditer(text))


def _cut_spans(text: str, spans: list[tuple[int, int]], replacement: str) -> str:
    """The text with the (start, end) spans, in order of start, replaced; spans that overlap are
    cut as one. One join: linear in the text."""
    parts: list[str] = []
    last = 0
    for start, end in spans:
        if start < last:  # overlaps the span before: that cut reaches this one's end too
            last = max(last, end)
            continue
        parts += [text[last:start], replacement]
        last = end
    return "".join(parts) + text[last:] if parts else text


def scrub_secrets(text: str, replacement: str = "[secret removed]") -> str:
    """The text with anything secret-looking replaced, for the rare place text must be kept."""
    # Split secrets first: a name's rule would take only the first piece and leave the rest.
    text = _cut_spans(text, _split_secret_spans(text), replacement)
    text = _SECRET_ASSIGNMENT_VALUE.sub(replacement, text)
    text = _SECRET_ASSIGNMENT.sub(replacement, text)
    text = _SECRET_SHORT_NAME_VALUE.sub(replacement, text)
    text = _SECRET_RUN.sub(lambda m: replacement if _is_secret_run(m.group(0)) else m.group(0), text)
    return _SECRET_TOKEN.sub(lambda m: replacement if looks_like_secret(m.group(0)) else m.group(0), text)


def unwrap_slack_markup(text: str) -> str:
    """Replace Slack's <target|label> link markup by its label (or target), and undo its escaping."""
    text = _SLACK_LINK.sub(lambda m: f" {m.group(2) or m.group(1)} ", text)
    return _SLACK_ESCAPE.sub(lambda m: _SLACK_ESCAPES[m.group(0)], text)


def _without_secrets(text: str) -> tuple[str, bool]:
    """The text with every secret form cut out, and whether there was one (one pass of each rule)."""
    unglued = _KEY_GLUED_TO_SECRET.sub(
        lambda m: m.group(1) + " " if looks_like_secret(m.group(2)) else m.group(0), text
    )
    scrubbed = scrub_secrets(unglued, " ")
    return scrubbed, scrubbed != text


def _prepare(text: str | None) -> tuple[str, bool]:
    """The text with secrets cut out and Slack markup undone, and whether a secret was there."""
    text, secret = _without_secrets(_decoded(_INVISIBLE.sub("", (text or "")[:MAX_TEXT])))
    # Secrets go before the markup is undone (a label must not hide one) and again after (an
    # escaped bracket must not glue one to its neighbours); without markup there is nothing to undo.
    if "<" in text or "&" in text:
        text, again = _without_secrets(unwrap_slack_markup(text))
        secret = secret or again
    return text, secret


def _is_cut(text: str | None) -> bool:
    return text is not None and len(text) > MAX_TEXT


def _normalise_token(token: str) -> str:
    token = token.strip(_STRIP_CHARS)
    if _ASSIGNMENT.search(token):  # aws_access_key_id=AKIA..., aws_access_key_id:AKIA...
        token = _ASSIGNMENT.split(token)[-1].strip(_STRIP_CHARS)
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
    if "@" in token or _ALNUM.search(token) is None:
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
    words = {w.strip(_STRIP_CHARS).lower() for w in raw.split()}
    if not keys and not problems:
        return ParsedRequest(
            Action.FAQ if "faq" in words else Action.HELP, secret_pasted=secret, text_cut=_is_cut(text)
        )
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
