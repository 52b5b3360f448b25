"""Secret access keys in what people type: found in every form they take when pasted (whole,
split by spaces or line breaks, URL-encoded, JSON-escaped, a little short or long, glued to the
key ID, or assigned to a name), and cut out before anything is logged, stored, queued or echoed.

Pure and linear in the text; core/parse.py calls `without_secrets` before reading any key.
"""

from __future__ import annotations

import re
import string
from itertools import accumulate

from core.keyids import ACCESS_KEY_PREFIXES

# A secret access key is 40 characters; one or two more or fewer (a slip when copying) still is one.
SECRET_LENGTHS = range(38, 43)

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
# name=value, name: value (env files, YAML, JSON): the value is the part that can be a secret.
_ASSIGNMENT = re.compile(r"[=:]")
# Quotes and marks around a token, stripped before it is judged (shared with the parser).
STRIP_CHARS = "\"'`<>()[]{}.:!?*_~\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e"
_HEX = frozenset("0123456789abcdef")
_DIGIT = re.compile(r"[0-9]")
_ALNUM = re.compile(r"[^\W_]")
# A part of a path: a plain word, not a piece of random text.
_PLAIN_PART = re.compile(r"[A-Z]?[a-z0-9]*")


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
    word = word.strip(STRIP_CHARS + ",;")
    if first and ("=" in word or ":" in word):
        word = _ASSIGNMENT.split(word)[-1].strip(STRIP_CHARS + ",;")
    return word


def decoded(text: str) -> str:
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


def without_secrets(text: str) -> tuple[str, bool]:
    """The text with every secret form cut out, and whether there was one (one pass of each rule)."""
    unglued = _KEY_GLUED_TO_SECRET.sub(
        lambda m: m.group(1) + " " if looks_like_secret(m.group(2)) else m.group(0), text
    )
    scrubbed = scrub_secrets(unglued, " ")
    return scrubbed, scrubbed != text
