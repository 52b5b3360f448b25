"""What whose-key says about each AWS Health risk notice for an access key: a headline, what the
code means, and what to do first. Codes AWS adds later get the general words, with AWS's own
description (quoted by the notice) carrying the specifics. Pure text, no values from outside."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RiskText:
    headline: str  # after the key, e.g. "was found *exposed* in public"
    plain: str  # the same for the plain-text fallback
    meaning: str  # what it means for the owner
    urgent: bool  # rotate now (True) or check first (False)


_TEXTS = {
    "AWS_RISK_CREDENTIALS_EXPOSED": RiskText(
        "was found *exposed* in public",
        "was found exposed in public",
        "AWS found the key, with its secret, somewhere public (a code repository, a paste). Anyone who "
        "copied it can act as this user.",
        True,
    ),
    "AWS_RISK_CREDENTIALS_COMPROMISED": RiskText(
        "is *compromised*",
        "is compromised",
        "AWS has signs that someone other than its owner is using the key.",
        True,
    ),
    "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED": RiskText(
        "may be *compromised*",
        "may be compromised",
        "AWS saw activity with the key that looks like someone else's. It may be benign; treat it as real "
        "until you know.",
        False,
    ),
    "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED": RiskText(
        "may have been *exposed*",
        "may have been exposed",
        "AWS suspects the key and its secret were made public. It may not have been used yet.",
        False,
    ),
    "AWS_RISK_IAM_QUARANTINE": RiskText(
        "was exposed, and AWS *quarantined* its user",
        "was exposed and AWS quarantined its user",
        "AWS attached an `AWSCompromisedKeyQuarantine` policy to the user, which denies the actions an attacker "
        "would try first. Some of your calls may now fail with `AccessDenied`; the policy stays until someone "
        "detaches it.",
        True,
    ),
}

_GENERAL = RiskText(
    "is the subject of an AWS *risk notice*",
    "is the subject of an AWS risk notice",
    "AWS Health reported a risk for this key; its own words are quoted above.",
    True,
)


def risk_text(code: str | None) -> RiskText:
    """The words for a Health risk code; the general ones for a code whose-key does not know."""
    return _TEXTS.get(code or "AWS_RISK_CREDENTIALS_EXPOSED", _GENERAL)
