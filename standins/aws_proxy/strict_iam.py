"""IAM as strict as the real one, where moto is lenient in ways that change the finder's answers.

moto answers iam:GetAccessKeyLastUsed for a key of any account (it searches every account it
holds), and sts:GetAccessKeyInfo names an account only for keys it issued. Real IAM is not
documented either way for a key outside the caller's account: it may answer AccessDenied (an IAM
user has reported a 403 in a similar case) or NoSuchEntity. The strict modes answer as real IAM
might, so the whole suite can run against each:

| mode | a key of another account | a key of this account that does not exist |
| --- | --- | --- |
| `moto` | moto's answer (the owning user, from the other account) | NoSuchEntity |
| `strict` | AccessDenied | AccessDenied |
| `strict-mixed` | AccessDenied | NoSuchEntity |
| `strict-nosuchentity` | NoSuchEntity | NoSuchEntity |

In every strict mode sts:GetAccessKeyInfo answers the account encoded in any well-formed key ID,
whether or not the key ever existed, as STS does.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass

from standins.aws_proxy import wire

MODES = ("moto", "strict", "strict-mixed", "strict-nosuchentity")
# The mode the stand-in runs in unless told (the stack reads WHOSE_KEY_TEST_IAM_MODE).
DEFAULT_MODE = "moto"
_KEY_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


@dataclass(frozen=True)
class Refusal:
    """What strict IAM answers instead of moto: an AWS error code, its HTTP status and message."""

    status: int
    code: str
    message: str


_DENIED = "AccessDenied"
_NO_SUCH_ENTITY = "NoSuchEntity"


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"IAM mode must be one of {', '.join(MODES)}; got {mode!r}")
    return mode


def encoded_account(key_id: str) -> str | None:
    """The account a well-formed AKIA/ASIA key ID encodes (old-format keys included: STS answers for
    those too, and moto's keys all encode their account this way); None when malformed."""
    if len(key_id) != 20 or key_id[:4] not in ("AKIA", "ASIA") or not set(key_id[4:]) <= _KEY_ALPHABET:
        return None
    try:
        raw = base64.b32decode(key_id[4:])
    except binascii.Error:
        return None
    z = int.from_bytes(raw[:6], "big")
    return f"{(z & 0x7FFFFFFFFF80) >> 7:012d}"


def foreign_key_refusal(mode: str, key_id: str, caller_account: str) -> Refusal | None:
    """What GetAccessKeyLastUsed answers, before moto is asked, for a key of another account."""
    if mode == "moto" or encoded_account(key_id) in (None, caller_account):
        return None
    code = _NO_SUCH_ENTITY if mode == "strict-nosuchentity" else _DENIED
    return _refusal(code, key_id, caller_account)


def missing_key_refusal(mode: str, key_id: str, caller_account: str) -> Refusal | None:
    """What GetAccessKeyLastUsed answers, once moto said NoSuchEntity, for a key of this account."""
    if mode != "strict":
        return None  # moto's own NoSuchEntity stands
    return _refusal(_DENIED, key_id, caller_account)


def _refusal(code: str, key_id: str, caller_account: str) -> Refusal:
    if code == _DENIED:
        return Refusal(
            403,
            _DENIED,
            f"User: arn:aws:sts::{caller_account}:assumed-role/caller is not authorized to perform: "
            f"iam:GetAccessKeyLastUsed on resource: access key {key_id}",
        )
    return Refusal(404, _NO_SUCH_ENTITY, f"The Access Key with id {key_id} cannot be found")


def access_key_info(mode: str, key_id: str) -> wire.Answer | None:
    """STS's GetAccessKeyInfo answer in strict modes: the encoded account, for any well-formed key."""
    account = encoded_account(key_id)
    if mode == "moto" or account is None:
        return None
    xml = (
        f'<GetAccessKeyInfoResponse xmlns="{_STS_NAMESPACE}"><GetAccessKeyInfoResult>'
        f"<Account>{account}</Account></GetAccessKeyInfoResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></GetAccessKeyInfoResponse>"
    )
    return 200, [("Content-Type", "text/xml")], xml.encode()
