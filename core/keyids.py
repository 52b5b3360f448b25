"""The grammar of AWS access key IDs: what is well formed, what is not and why, and the offline
decode of the owning account.

Pure functions only: the web app judges input with them at ack time and the workers decode
accounts with them, so nothing here may do I/O.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

KEY_LENGTH = 20
# Access key IDs use the base32 alphabet after the 4-letter prefix.
KEY_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

LONG_TERM_PREFIX = "AKIA"
TEMPORARY_PREFIX = "ASIA"
ACCESS_KEY_PREFIXES = {
    LONG_TERM_PREFIX: "a long-term IAM user access key",
    TEMPORARY_PREFIX: "a temporary access key issued by STS",
}

# Other IAM unique-ID prefixes people paste by mistake, and what they are.
OTHER_ID_PREFIXES = {
    "AIDA": "an IAM user ID",
    "AROA": "an IAM role ID",
    "AGPA": "an IAM group ID",
    "ANPA": "a managed policy ID",
    "ANVA": "a managed policy version ID",
    "AIPA": "an EC2 instance profile ID",
    "APKA": "a CloudFront public key ID",
    "ASCA": "a certificate ID",
    "ABIA": "an STS service bearer token",
    "ACCA": "a context-specific credential",
}

# Characters people type for a base32 letter they misread.
LOOKALIKES = {"0": "O", "1": "I", "8": "B", "9": "G"}

# A whole token that looks like an access key ID, in any case, for finding keys in free text.
KEY_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|akia|asia)[A-Za-z0-9]{8,24}(?![A-Za-z0-9])")


@dataclass(frozen=True)
class KeyProblem:
    """Why a piece of text is not a usable access key ID, with the likely intended key.

    `reason` quotes the text as typed (raw, in `code` marks) so the terminal can show it as is;
    whatever shows it in Slack escapes it first (core.slack_text.escape).
    """

    text: str
    reason: str
    suggestion: str | None = None


def is_access_key_id(text: str) -> bool:
    """True when text is a well-formed AKIA/ASIA access key ID."""
    return len(text) == KEY_LENGTH and text[:4] in ACCESS_KEY_PREFIXES and all(ch in KEY_ALPHABET for ch in text[4:])


def is_temporary(key_id: str) -> bool:
    return key_id.startswith(TEMPORARY_PREFIX)


def check_key_id(text: str) -> KeyProblem | None:
    """Judge one token; None when it is a well-formed access key ID, else what is wrong."""
    if is_access_key_id(text):
        return None
    shown = text if len(text) <= 40 else text[:37] + "..."
    prefix = text[:4].upper()
    if prefix in OTHER_ID_PREFIXES:
        return KeyProblem(
            shown,
            f"`{shown}` is {OTHER_ID_PREFIXES[prefix]}, not an access key ID (access key IDs start with AKIA or ASIA).",
        )
    suggestion = likely_intended(text)
    if prefix not in ACCESS_KEY_PREFIXES:
        # AK1A... is a misread AKIA..., so the suggestion still applies.
        return KeyProblem(
            shown, f"`{shown}` does not start with AKIA or ASIA, so it is not an access key ID.", suggestion
        )
    if len(text) != KEY_LENGTH:
        return KeyProblem(
            shown,
            f"`{shown}` is {len(text)} characters long; access key IDs are exactly {KEY_LENGTH}.",
            suggestion,
        )
    if text != text.upper():
        return KeyProblem(shown, f"`{shown}` has lower-case letters; access key IDs are all upper case.", suggestion)
    bad = [(pos, ch) for pos, ch in enumerate(text, start=1) if pos > 4 and ch not in KEY_ALPHABET]
    details = ", ".join(
        f"`{ch}` at position {pos}" + (f" (probably `{LOOKALIKES[ch]}`)" if ch in LOOKALIKES else "")
        for pos, ch in bad[:5]
    )
    return KeyProblem(
        shown,
        f"`{shown}` has characters that never appear in access key IDs: {details}. "
        "After the prefix they use only A-Z and 2-7.",
        suggestion,
    )


def likely_intended(text: str) -> str | None:
    """The well-formed key the person most likely meant, when a simple correction gives one."""
    fixed = "".join(LOOKALIKES.get(ch, ch) for ch in text.upper())
    return fixed if fixed != text and is_access_key_id(fixed) else None


def account_from_key_id(key_id: str) -> str | None:
    """The 12-digit account encoded in a new-format key ID, or None when it carries none.

    Keys whose fifth character is I or J predate the encoding; ask sts:GetAccessKeyInfo for
    those. There is no checksum, so callers treat the result as a hint to confirm.
    """
    if not is_access_key_id(key_id) or key_id[4] in "IJ":
        return None
    raw = base64.b32decode(key_id[4:])  # 16 base32 characters are exactly 10 bytes
    z = int.from_bytes(raw[:6], "big")
    account = (z & 0x7FFFFFFFFF80) >> 7
    return f"{account:012d}"


def find_key_candidates(text: str) -> list[str]:
    """Every token in free text that looks like an access key ID, in order, without repeats."""
    seen: dict[str, None] = {}
    for match in KEY_CANDIDATE.finditer(text):
        seen.setdefault(match.group(0), None)
    return list(seen)
