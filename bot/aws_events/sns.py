"""Verify Amazon SNS HTTPS notifications before `POST /aws/events` acts on them.

What is checked, in order (cheap local checks first, so an unauthenticated caller cannot make
us fetch certificates for topics we ignore):

1. the body is JSON with the fields its Type needs (else "malformed ...");
2. TopicArn is one of ours (an empty allow-list refuses everything);
3. SignatureVersion is "2" (SHA256withRSA, PKCS#1 v1.5); version 1 (SHA1) is refused, and
   deploy/ sets SignatureVersion 2 on the topic;
4. Timestamp is at most `max_age_seconds` old and at most 5 minutes in the future;
5. SigningCertURL is https://sns.<the TopicArn's region>.amazonaws.com[.cn]/....pem, nothing
   more or less;
6. the certificate fetched from that URL is in its validity period, has an RSA key and a
   subject CN of sns.amazonaws.com or sns.<region>.amazonaws.com[.cn], and, only when the
   caller hands in `trusted_roots`, chains to one of them;
7. the signature over the AWS-defined string to sign matches.

Trust comes from step 5: the certificate is only ever taken from AWS's own SNS host over
verified HTTPS, which is why no chain check is done by default. There is deliberately no
environment variable or global switch that relaxes any step; tests swap the certificate source
through the constructor and every rule above still runs.

Fetching is what a stranger could make us do, so it is rationed: a URL whose fetch failed is not
fetched again for FAILED_URL_QUIET_SECONDS, and one verifier (one per web process) fetches at most
`max_fetches_per_minute` certificates a minute. Both refuse with SnsRetryLater, which the
endpoint answers with a 503 so SNS delivers again later.

Replays inside the freshness window are not caught here: callers dedupe on `message_id`.
"""

import base64
import binascii
import json
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from core.sns_urls import REGION as _REGION
from core.sns_urls import fetch_https, is_sns_certificate_url

# Subject CNs SNS signing certificates carry: the global name or a regional one.
_SNS_CERTIFICATE_CN = re.compile(rf"sns\.amazonaws\.com|sns\.{_REGION}\.amazonaws\.com(?:\.cn)?")

# Signature versions we accept, and the hash each signs with. Version 1 (SHA1withRSA) is not
# among them: SHA-1 is weak, and our topic opts into version 2 (deploy/events-*.yaml).
_SIGNATURE_HASHES: Mapping[str, Callable[[], hashes.HashAlgorithm]] = {"2": hashes.SHA256}

# Fields of the string to sign, in the order AWS documents; Subject only when present.
_NOTIFICATION_SIGNED_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_SIGNED_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_CONFIRMATION_TYPES = frozenset({"SubscriptionConfirmation", "UnsubscribeConfirmation"})
_MESSAGE_TYPES = frozenset({"Notification"}) | _CONFIRMATION_TYPES

# How far ahead of our clock a Timestamp may be: absorbs clock skew, not a replay window.
_MAX_FUTURE_SKEW_SECONDS = 300
# How many distinct signing certificates one verifier keeps; SNS rotates them rarely.
_CERTIFICATE_CACHE_SIZE = 8
# How long a certificate URL whose fetch failed is not fetched again.
FAILED_URL_QUIET_SECONDS = 60
# How many failed URLs are remembered (the oldest is forgotten first): bounds memory in a flood.
_FAILED_URLS_KEPT = 256
# Certificate fetches one verifier makes in any minute: SNS uses one certificate for months, so a
# handful covers a rotation; more is someone making us fetch.
FETCHES_PER_MINUTE = 6


class SnsVerificationError(Exception):
    """An SNS request was refused; the message is safe to return to the caller."""


class SnsRetryLater(SnsVerificationError):
    """The signing certificate cannot be had right now (fetch failed, or the fetch budget is
    spent): no verdict on the message, which SNS should deliver again later."""


@dataclass(frozen=True)
class SnsMessage:
    """The parts of an SNS HTTP POST body that the bot acts on."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    subscribe_url: str | None
    timestamp: str


class SnsVerifier:
    """Checks that an SNS POST body was signed by SNS, for one of our topics, recently."""

    def __init__(
        self,
        allowed_topics: frozenset[str],
        *,
        fetch_certificate: Callable[[str], bytes] | None = None,
        trusted_roots: Sequence[x509.Certificate] | None = None,
        clock: Callable[[], float] = time.time,
        max_age_seconds: int = 3600,
        max_fetches_per_minute: int = FETCHES_PER_MINUTE,
    ) -> None:
        """Set the topics to accept; `fetch_certificate` and `trusted_roots` exist for tests and pinning."""
        # A bare string would turn "in" into a substring test and accept look-alike ARNs.
        if isinstance(allowed_topics, str):
            raise TypeError("allowed_topics must be a set of topic ARNs, not a string")
        if max_age_seconds <= 0:
            raise ValueError("max_age_seconds must be positive")
        if max_fetches_per_minute <= 0:
            raise ValueError("max_fetches_per_minute must be positive")
        if trusted_roots is not None and not trusted_roots:
            raise ValueError("trusted_roots must not be empty; pass None to skip the chain check")
        self._allowed_topics = frozenset(allowed_topics)
        self._fetch = fetch_certificate or fetch_https
        self._trust_store = Store(list(trusted_roots)) if trusted_roots is not None else None
        self._clock = clock
        self._max_age_seconds = max_age_seconds
        # Per verifier, not module-wide: a certificate injected into one verifier (in tests)
        # must never be served to another that fetches from the network.
        self._certificates: OrderedDict[str, list[x509.Certificate]] = OrderedDict()
        self._failed_at: OrderedDict[str, float] = OrderedDict()
        self._fetched_at: deque[float] = deque()
        self._max_fetches_per_minute = max_fetches_per_minute
        self._lock = threading.Lock()

    def verify(self, body: bytes | str) -> SnsMessage:
        """Return the message if SNS signed it for an allowed topic recently, else raise SnsVerificationError."""
        fields = _load_fields(body)
        message = _message_from_fields(fields)
        self._check_topic(message.topic_arn)
        algorithm = _signature_hash(fields)
        self._check_fresh(message.timestamp)
        certificate_url = _required(fields, "SigningCertURL")
        signature = _decode_signature(_required(fields, "Signature"))
        if not is_sns_certificate_url(certificate_url, message.topic_arn):
            raise SnsVerificationError("untrusted certificate URL")
        public_key = self._signing_key(certificate_url)
        try:
            public_key.verify(signature, _string_to_sign(fields).encode("utf-8"), padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            raise SnsVerificationError("signature does not match") from None
        return message

    def _check_topic(self, topic_arn: str) -> None:
        """Refuse topics we were not configured for."""
        if topic_arn not in self._allowed_topics:
            raise SnsVerificationError("topic not allowed")

    def _check_fresh(self, timestamp: str) -> None:
        """Refuse messages too old (replays) or too far in the future."""
        try:
            sent = datetime.fromisoformat(timestamp)
        except ValueError:
            raise SnsVerificationError("malformed SNS message: bad Timestamp") from None
        if sent.tzinfo is None:
            raise SnsVerificationError("malformed SNS message: Timestamp has no time zone")
        age = self._clock() - sent.timestamp()
        if age > self._max_age_seconds:
            raise SnsVerificationError("timestamp too old")
        if age < -_MAX_FUTURE_SKEW_SECONDS:
            raise SnsVerificationError("timestamp in the future")

    def _signing_key(self, url: str) -> rsa.RSAPublicKey:
        """The RSA key of the certificate at a trusted URL, after the certificate checks."""
        certificates = self._load_certificates(url)
        leaf = certificates[0]
        now = datetime.fromtimestamp(self._clock(), UTC)
        if now < leaf.not_valid_before_utc:
            raise SnsVerificationError("signing certificate not yet valid")
        if now > leaf.not_valid_after_utc:
            raise SnsVerificationError("signing certificate expired")
        common_names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = common_names[0].value if len(common_names) == 1 else None
        if not isinstance(common_name, str) or _SNS_CERTIFICATE_CN.fullmatch(common_name) is None:
            raise SnsVerificationError("signing certificate is not an SNS certificate")
        if self._trust_store is not None:
            verifier = (
                PolicyBuilder().store(self._trust_store).time(now).build_server_verifier(x509.DNSName(common_name))
            )
            try:
                verifier.verify(leaf, certificates[1:])
            except VerificationError:
                raise SnsVerificationError("signing certificate not trusted") from None
        public_key = leaf.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise SnsVerificationError("signing certificate is not an SNS certificate")
        return public_key

    def _load_certificates(self, url: str) -> list[x509.Certificate]:
        """The certificates at a URL (leaf first), fetched once and then kept in a small LRU cache;
        fetched only within the budget, and not again soon after a failure."""
        with self._lock:
            cached = self._certificates.get(url)
            if cached is not None:
                self._certificates.move_to_end(url)
                return cached
            self._take_fetch(url)
        # Fetch outside the lock so one slow fetch does not stall verifies that hit the cache.
        try:
            pem = self._fetch(url)
        except (OSError, ValueError) as exc:
            self._remember_failure(url)
            raise SnsRetryLater("could not fetch signing certificate") from exc
        try:
            certificates = x509.load_pem_x509_certificates(pem)
        except ValueError:
            self._remember_failure(url)
            raise SnsVerificationError("signing certificate is not a PEM certificate") from None
        with self._lock:
            self._certificates[url] = certificates
            self._certificates.move_to_end(url)
            while len(self._certificates) > _CERTIFICATE_CACHE_SIZE:
                self._certificates.popitem(last=False)
        return certificates

    def _take_fetch(self, url: str) -> None:
        """Count one fetch of `url`, or refuse it (called with the lock held)."""
        now = self._clock()
        failed_at = self._failed_at.get(url)
        if failed_at is not None and now - failed_at < FAILED_URL_QUIET_SECONDS:
            raise SnsRetryLater("signing certificate could not be fetched a moment ago")
        while self._fetched_at and now - self._fetched_at[0] >= 60:
            self._fetched_at.popleft()
        if len(self._fetched_at) >= self._max_fetches_per_minute:
            raise SnsRetryLater("too many signing certificate fetches this minute")
        self._fetched_at.append(now)

    def _remember_failure(self, url: str) -> None:
        """Note that `url` failed now, so it is not fetched again for a while."""
        with self._lock:
            self._failed_at[url] = self._clock()
            self._failed_at.move_to_end(url)
            while len(self._failed_at) > _FAILED_URLS_KEPT:
                self._failed_at.popitem(last=False)


def _load_fields(body: bytes | str) -> dict[str, object]:
    """Decode a POST body into its top-level JSON object."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        fields = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise SnsVerificationError("malformed SNS message: not JSON") from None
    if not isinstance(fields, dict):
        raise SnsVerificationError("malformed SNS message: not a JSON object")
    return fields


def _required(fields: Mapping[str, object], name: str) -> str:
    """A field that must be present as a string."""
    value = fields.get(name)
    if not isinstance(value, str):
        raise SnsVerificationError(f"malformed SNS message: missing {name}")
    return value


def _message_from_fields(fields: Mapping[str, object]) -> SnsMessage:
    """Build an SnsMessage, checking the fields its Type needs."""
    message_type = _required(fields, "Type")
    if message_type not in _MESSAGE_TYPES:
        raise SnsVerificationError("malformed SNS message: unknown Type")
    is_confirmation = message_type in _CONFIRMATION_TYPES
    return SnsMessage(
        type=message_type,
        message_id=_required(fields, "MessageId"),
        topic_arn=_required(fields, "TopicArn"),
        message=_required(fields, "Message"),
        subscribe_url=_required(fields, "SubscribeURL") if is_confirmation else None,
        timestamp=_required(fields, "Timestamp"),
    )


def _signature_hash(fields: Mapping[str, object]) -> hashes.HashAlgorithm:
    """The hash a message's SignatureVersion signs with."""
    make_hash = _SIGNATURE_HASHES.get(_required(fields, "SignatureVersion"))
    if make_hash is None:
        raise SnsVerificationError("unsupported signature version")
    return make_hash()


def _decode_signature(value: str) -> bytes:
    """The raw bytes of a base64 Signature field."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SnsVerificationError("malformed SNS message: Signature is not base64") from None


def _string_to_sign(fields: Mapping[str, object]) -> str:
    """The string SNS signed: "Name\\nValue\\n" for each signed field, in AWS's order."""
    is_notification = fields.get("Type") == "Notification"
    names = _NOTIFICATION_SIGNED_FIELDS if is_notification else _CONFIRMATION_SIGNED_FIELDS
    lines = []
    for name in names:
        # AWS signs Subject only when the notification has one; a JSON null counts as absent.
        if name == "Subject" and fields.get(name) is None:
            continue
        lines.append(f"{name}\n{_required(fields, name)}\n")
    return "".join(lines)
