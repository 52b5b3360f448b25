"""SNS HTTPS notification verification: signatures, certificate URLs, topics, freshness, confirmation."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bot.aws_events.sns import (
    _CERTIFICATE_CACHE_SIZE,
    SnsMessage,
    SnsVerificationError,
    SnsVerifier,
)
from core.sns_urls import UntrustedSnsUrl, confirm_subscription, fetch_https

NOW = datetime(2025, 3, 14, 12, 0, 0, tzinfo=UTC)
TOPIC = "arn:aws:sns:us-east-1:123456789012:whose-key-events"
OTHER_TOPIC = "arn:aws:sns:us-east-1:123456789012:whose-key-other"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"
SUBSCRIBE_URL = f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37fb"
EVENT = json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "CreateAccessKey"}})


def clock() -> float:
    """The fixed time every verifier in these tests runs at."""
    return NOW.timestamp()


def sns_time(moment: datetime) -> str:
    """A Timestamp the way SNS writes it (milliseconds, Z)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_certificate(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    common_name: str = "sns.amazonaws.com",
    *,
    not_before: datetime = NOW - timedelta(days=30),
    not_after: datetime = NOW + timedelta(days=300),
    issuer: x509.Certificate | None = None,
    issuer_key: rsa.RSAPrivateKey | None = None,
) -> x509.Certificate:
    """A leaf certificate for `key`, self-signed unless an issuer is given."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    signer = issuer_key or key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    if issuer is not None and issuer_key is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def make_root(key: rsa.RSAPrivateKey) -> x509.Certificate:
    """A self-signed CA certificate that can issue SNS-looking leaves."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whose-key test root")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=365))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def pem(*certificates: x509.Certificate) -> bytes:
    """PEM text of one or more certificates, leaf first."""
    return b"".join(certificate.public_bytes(serialization.Encoding.PEM) for certificate in certificates)


def string_to_sign(fields: dict[str, str]) -> str:
    """The string AWS documents as signed, written out independently of the code under test."""
    if fields["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{name}\n{fields[name]}\n" for name in names if name in fields)


def sign(fields: dict[str, str], key: rsa.RSAPrivateKey, version: str = "2") -> dict[str, str]:
    """Fields plus SignatureVersion and a Signature over them, as SNS would send."""
    # Version 1 is SHA1withRSA by AWS's definition; the tests must sign the way SNS does.
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303
    signature = key.sign(string_to_sign(fields).encode("utf-8"), padding.PKCS1v15(), algorithm)
    return {**fields, "SignatureVersion": version, "Signature": base64.b64encode(signature).decode("ascii")}


def notification(**overrides: str) -> dict[str, str]:
    """Unsigned fields of an SNS Notification carrying a CloudTrail event."""
    fields = {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Message": EVENT,
        "Timestamp": sns_time(NOW - timedelta(seconds=5)),
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC}:1",
    }
    return {**fields, **overrides}


def confirmation(message_type: str = "SubscriptionConfirmation", **overrides: str) -> dict[str, str]:
    """Unsigned fields of an SNS SubscriptionConfirmation (or UnsubscribeConfirmation)."""
    fields = {
        "Type": message_type,
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb",
        "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.",
        "SubscribeURL": SUBSCRIBE_URL,
        "Timestamp": sns_time(NOW - timedelta(seconds=5)),
        "SigningCertURL": CERT_URL,
    }
    return {**fields, **overrides}


def body(fields: dict[str, str]) -> bytes:
    """The POST body SNS would send for these fields."""
    return json.dumps(fields).encode("utf-8")


@dataclass
class FakeCertificateSource:
    """Serves test certificates in place of AWS's SNS hosts and records each fetch."""

    certificates: dict[str, bytes]
    fetched: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> bytes:
        """Return the PEM for a URL the test registered; any other fetch is a test failure."""
        self.fetched.append(url)
        if url not in self.certificates:
            raise AssertionError(f"unexpected certificate fetch: {url}")
        return self.certificates[url]


@dataclass
class RecordingOpener:
    """Stands in for the HTTPS GET of a SubscribeURL and records each URL opened."""

    opened: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> bytes:
        """Record the URL and answer like SNS does."""
        self.opened.append(url)
        return b"<ConfirmSubscriptionResponse/>"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    """The RSA key the fake SNS signs with."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    """A self-signed test certificate for that key, CN sns.amazonaws.com."""
    return make_certificate(key)


@pytest.fixture
def source(certificate: x509.Certificate) -> FakeCertificateSource:
    """A certificate source that maps the SNS certificate URL to the test certificate."""
    return FakeCertificateSource({CERT_URL: pem(certificate)})


@pytest.fixture
def verifier(source: FakeCertificateSource) -> SnsVerifier:
    """A verifier for TOPIC and OTHER_TOPIC that gets certificates from the test source."""
    return SnsVerifier(frozenset({TOPIC, OTHER_TOPIC}), fetch_certificate=source, clock=clock)


def refused(verifier: SnsVerifier, fields: dict[str, str]) -> str:
    """The error message verify() raises for these fields (fails the test if it accepts them)."""
    with pytest.raises(SnsVerificationError) as caught:
        verifier.verify(body(fields))
    return str(caught.value)


@pytest.mark.parametrize("subject", [None, "IAM key event"])
def test_signed_notification_verifies(verifier: SnsVerifier, key: rsa.RSAPrivateKey, subject: str | None) -> None:
    """A Notification SNS signed with version 2, with or without Subject, verifies and is returned."""
    fields = notification() if subject is None else notification(Subject=subject)
    message = verifier.verify(body(sign(fields, key)))
    assert message == SnsMessage(
        type="Notification",
        message_id=fields["MessageId"],
        topic_arn=TOPIC,
        message=EVENT,
        subscribe_url=None,
        timestamp=fields["Timestamp"],
    )


@pytest.mark.parametrize("message_type", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_signed_confirmation_verifies(verifier: SnsVerifier, key: rsa.RSAPrivateKey, message_type: str) -> None:
    """A signed Subscription/UnsubscribeConfirmation verifies and carries its SubscribeURL."""
    message = verifier.verify(body(sign(confirmation(message_type), key)).decode("utf-8"))
    assert (message.type, message.subscribe_url, message.topic_arn) == (message_type, SUBSCRIBE_URL, TOPIC)


@pytest.mark.parametrize(
    ("make_fields", "name", "value"),
    [
        # The event itself is what we act on.
        (notification, "Message", EVENT.replace("CreateAccessKey", "DeleteAccessKey")),
        # Another topic we also accept: the topic check passes, so only the signature can catch it.
        (notification, "TopicArn", OTHER_TOPIC),
        (notification, "MessageId", "00000000-0000-0000-0000-000000000000"),
        # Still fresh, so only the signature can catch it.
        (notification, "Timestamp", sns_time(NOW - timedelta(seconds=1))),
        # Adding a Subject the sender never signed changes the string to sign.
        (notification, "Subject", "injected"),
        (confirmation, "Token", "attacker-token"),
        (confirmation, "SubscribeURL", SUBSCRIBE_URL.replace("Token=2336412f37fb", "Token=other")),
    ],
)
@pytest.mark.parametrize("version", ["2"])
def test_tampered_field_fails(
    verifier: SnsVerifier,
    key: rsa.RSAPrivateKey,
    make_fields: Callable[[], dict[str, str]],
    name: str,
    value: str,
    version: str,
) -> None:
    """Changing any signed field after signing makes the signature fail."""
    signed = sign(make_fields(), key, version)
    assert refused(verifier, {**signed, name: value}) == "signature does not match"


def test_tampered_signature_fails(verifier: SnsVerifier, key: rsa.RSAPrivateKey) -> None:
    """A Signature with one bit flipped fails."""
    signed = sign(notification(), key)
    raw = bytearray(base64.b64decode(signed["Signature"]))
    raw[10] ^= 0x01
    signed["Signature"] = base64.b64encode(bytes(raw)).decode("ascii")
    assert refused(verifier, signed) == "signature does not match"


def test_signature_version_swap_fails(verifier: SnsVerifier, key: rsa.RSAPrivateKey) -> None:
    """A version 1 signature relabelled as version 2 fails (the hash is bound to the version)."""
    signed = sign(notification(), key, "1")
    assert refused(verifier, {**signed, "SignatureVersion": "2"}) == "signature does not match"


def test_signature_by_another_key_fails(verifier: SnsVerifier) -> None:
    """A well-formed signature by a key other than the certificate's fails."""
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert refused(verifier, sign(notification(), stranger)) == "signature does not match"


def test_signature_not_base64_is_malformed(verifier: SnsVerifier, key: rsa.RSAPrivateKey) -> None:
    """A Signature that is not base64 is refused as malformed."""
    signed = sign(notification(), key)
    assert refused(verifier, {**signed, "Signature": "not base64!"}).startswith("malformed")


@pytest.mark.parametrize(
    "url",
    [
        # Not an AWS host at all.
        "https://evil.com/SimpleNotificationService-x.pem",
        # Plain http: anyone on the path could swap the certificate.
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        # The SNS name as a subdomain of the attacker's domain.
        "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-x.pem",
        # Userinfo: the real host is evil.com.
        "https://sns.us-east-1.amazonaws.com@evil.com/x.pem",
        "https://sns.us-east-1.amazonaws.com\\@evil.com/x.pem",
        # Ports are not part of any SNS certificate URL.
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-x.pem",
        # S3 virtual-hosted buckets named "sns" would match a looser host pattern.
        "https://sns.s3.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.s3-us-west-2.amazonaws.com/SimpleNotificationService-x.pem",
        # A real SNS host, but not the one of the topic's own region (us-east-1).
        "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com.cn/SimpleNotificationService-x.pem",
        # Other AWS hosts are not SNS.
        "https://s3.amazonaws.com/sns/SimpleNotificationService-x.pem",
        "https://sns.amazonaws.com.cn.evil.com/SimpleNotificationService-x.pem",
        # Not a .pem path, or dressed up with a query, fragment, traversal or whitespace.
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem.txt",
        "https://sns.us-east-1.amazonaws.com/?Action=GetCert&x=.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem?x=1",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem#frag",
        "https://sns.us-east-1.amazonaws.com/../SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem\n",
        " https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        "",
    ],
)
def test_untrusted_certificate_url_fails_without_fetching(
    verifier: SnsVerifier,
    source: FakeCertificateSource,
    certificate: x509.Certificate,
    key: rsa.RSAPrivateKey,
    url: str,
) -> None:
    """A SigningCertURL that is not https://sns.<topic's region>.amazonaws.com/....pem is refused before any fetch."""
    source.certificates[url] = pem(certificate)
    signed = sign(notification(SigningCertURL=url), key)
    assert refused(verifier, signed) == "untrusted certificate URL"
    assert source.fetched == []


@pytest.mark.parametrize(
    ("topic", "url"),
    [
        (
            "arn:aws-us-gov:sns:us-gov-west-1:123456789012:whose-key-events",
            "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-x.pem",
        ),
        (
            "arn:aws-cn:sns:cn-north-1:123456789012:whose-key-events",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem",
        ),
        (
            "arn:aws:sns:ap-southeast-2:123456789012:whose-key-events",
            "https://sns.ap-southeast-2.amazonaws.com/SimpleNotificationService-x.pem",
        ),
    ],
)
def test_regional_certificate_urls_are_accepted(
    source: FakeCertificateSource, certificate: x509.Certificate, key: rsa.RSAPrivateKey, topic: str, url: str
) -> None:
    """GovCloud, China and other regional SNS certificate hosts pass the URL rules for their own topics."""
    source.certificates[url] = pem(certificate)
    verifier = SnsVerifier(frozenset({topic}), fetch_certificate=source, clock=clock)
    verifier.verify(body(sign(notification(SigningCertURL=url, TopicArn=topic), key)))
    assert source.fetched == [url]


def test_topic_not_allowed_fails(verifier: SnsVerifier, key: rsa.RSAPrivateKey, source: FakeCertificateSource) -> None:
    """A correctly signed message for a topic we were not configured for is refused, without a fetch."""
    signed = sign(notification(TopicArn="arn:aws:sns:us-east-1:999999999999:someone-else"), key)
    assert refused(verifier, signed) == "topic not allowed"
    assert source.fetched == []


def test_empty_allow_list_refuses_all(source: FakeCertificateSource, key: rsa.RSAPrivateKey) -> None:
    """With no allowed topics every message is refused."""
    verifier = SnsVerifier(frozenset(), fetch_certificate=source, clock=clock)
    assert refused(verifier, sign(notification(), key)) == "topic not allowed"


def test_topic_allow_list_must_be_a_set() -> None:
    """A bare string is rejected, since "in" on a string would accept look-alike ARNs."""
    with pytest.raises(TypeError):
        SnsVerifier(TOPIC)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sent", "error"),
    [
        # An hour and a second old: past the default max age.
        (NOW - timedelta(seconds=3601), "timestamp too old"),
        (NOW - timedelta(days=30), "timestamp too old"),
        # More than five minutes ahead of our clock.
        (NOW + timedelta(seconds=301), "timestamp in the future"),
    ],
)
def test_stale_or_future_timestamp_fails(
    verifier: SnsVerifier, key: rsa.RSAPrivateKey, sent: datetime, error: str
) -> None:
    """A correctly signed message outside the freshness window is refused as a replay."""
    assert refused(verifier, sign(notification(Timestamp=sns_time(sent)), key)) == error


@pytest.mark.parametrize("sent", [NOW - timedelta(seconds=3599), NOW + timedelta(seconds=299)])
def test_timestamp_inside_window_verifies(verifier: SnsVerifier, key: rsa.RSAPrivateKey, sent: datetime) -> None:
    """Just inside the window (old, or slightly ahead for clock skew) still verifies."""
    verifier.verify(body(sign(notification(Timestamp=sns_time(sent)), key)))


def test_max_age_is_configurable(source: FakeCertificateSource, key: rsa.RSAPrivateKey) -> None:
    """A tighter max_age_seconds refuses what the default would accept."""
    verifier = SnsVerifier(frozenset({TOPIC}), fetch_certificate=source, clock=clock, max_age_seconds=60)
    signed = sign(notification(Timestamp=sns_time(NOW - timedelta(seconds=61))), key)
    assert refused(verifier, signed) == "timestamp too old"


@pytest.mark.parametrize("version", ["1", "3", "0", "", "1.0", " 2"])
def test_unknown_signature_version_fails(verifier: SnsVerifier, key: rsa.RSAPrivateKey, version: str) -> None:
    """Any SignatureVersion other than "2" is refused, version 1 (SHA1) included."""
    signed = sign(notification(), key)
    assert refused(verifier, {**signed, "SignatureVersion": version}) == "unsupported signature version"


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"\xff\xfe\x00",  # not UTF-8
        b"[]",
        b'"Notification"',
        b"{}",
        # Type missing, unknown, or not a string.
        json.dumps({**notification(), "Type": None}).encode(),
        json.dumps(notification(Type="Surprise")).encode(),
        # A required field missing or of the wrong JSON type.
        json.dumps({k: v for k, v in notification().items() if k != "MessageId"}).encode(),
        json.dumps({**notification(), "Message": {"detail": {}}}).encode(),
        json.dumps({k: v for k, v in confirmation().items() if k != "SubscribeURL"}).encode(),
    ],
)
def test_malformed_body_fails(verifier: SnsVerifier, raw: bytes) -> None:
    """Bodies that are not an SNS message are refused as malformed."""
    with pytest.raises(SnsVerificationError, match="^malformed"):
        verifier.verify(raw)


@pytest.mark.parametrize(
    "fields",
    [
        # Signature fields missing.
        {k: v for k, v in notification().items() if k != "SigningCertURL"},
        notification(SignatureVersion="2"),
        # Token is signed for confirmations, so it is required.
        {k: v for k, v in confirmation().items() if k != "Token"} | {"SignatureVersion": "2", "Signature": "AAAA"},
        # A Timestamp we cannot read, or one without a time zone.
        notification(Timestamp="yesterday", SignatureVersion="2", Signature="AAAA"),
        notification(Timestamp="2025-03-14T11:59:00", SignatureVersion="2", Signature="AAAA"),
    ],
)
def test_missing_signature_fields_are_malformed(verifier: SnsVerifier, fields: dict[str, str]) -> None:
    """A message lacking what verification needs is refused as malformed."""
    assert refused(verifier, {"SignatureVersion": "2", **fields}).startswith("malformed")


@pytest.mark.parametrize(
    ("make", "error"),
    [
        # Expired yesterday.
        (lambda k: make_certificate(k, not_after=NOW - timedelta(days=1)), "signing certificate expired"),
        (lambda k: make_certificate(k, not_before=NOW + timedelta(days=1)), "signing certificate not yet valid"),
        # Not an SNS subject, or an SNS name used as a prefix of another domain.
        (lambda k: make_certificate(k, "evil.com"), "signing certificate is not an SNS certificate"),
        (lambda k: make_certificate(k, "sns.amazonaws.com.evil.com"), "signing certificate is not an SNS certificate"),
    ],
)
def test_unacceptable_certificate_fails(
    key: rsa.RSAPrivateKey, make: Callable[[rsa.RSAPrivateKey], x509.Certificate], error: str
) -> None:
    """A certificate from a trusted URL is still refused when expired, not yet valid or not for SNS."""
    source = FakeCertificateSource({CERT_URL: pem(make(key))})
    verifier = SnsVerifier(frozenset({TOPIC}), fetch_certificate=source, clock=clock)
    assert refused(verifier, sign(notification(), key)) == error


@pytest.mark.parametrize("common_name", ["sns.us-east-1.amazonaws.com", "sns.cn-north-1.amazonaws.com.cn"])
def test_regional_certificate_name_verifies(key: rsa.RSAPrivateKey, common_name: str) -> None:
    """Certificates named for a regional SNS host are accepted as well as sns.amazonaws.com."""
    source = FakeCertificateSource({CERT_URL: pem(make_certificate(key, common_name))})
    verifier = SnsVerifier(frozenset({TOPIC}), fetch_certificate=source, clock=clock)
    verifier.verify(body(sign(notification(), key)))


def test_non_rsa_certificate_fails(key: rsa.RSAPrivateKey) -> None:
    """A certificate with a non-RSA key cannot be an SNS signing certificate."""
    ec_key = ec.generate_private_key(ec.SECP256R1())
    source = FakeCertificateSource({CERT_URL: pem(make_certificate(ec_key))})
    verifier = SnsVerifier(frozenset({TOPIC}), fetch_certificate=source, clock=clock)
    assert refused(verifier, sign(notification(), key)) == "signing certificate is not an SNS certificate"


def test_certificate_that_is_not_pem_fails(key: rsa.RSAPrivateKey) -> None:
    """Whatever the URL serves must parse as a PEM certificate."""
    source = FakeCertificateSource({CERT_URL: b"<html>hello</html>"})
    verifier = SnsVerifier(frozenset({TOPIC}), fetch_certificate=source, clock=clock)
    assert refused(verifier, sign(notification(), key)) == "signing certificate is not a PEM certificate"


def test_fetch_failure_is_reported(key: rsa.RSAPrivateKey) -> None:
    """A network error while fetching the certificate refuses the message with a safe error."""

    def unreachable(url: str) -> bytes:
        """Fail like urllib does when the host cannot be reached."""
        raise OSError("connection refused")

    verifier = SnsVerifier(frozenset({TOPIC}), fetch_certificate=unreachable, clock=clock)
    assert refused(verifier, sign(notification(), key)) == "could not fetch signing certificate"


def test_certificate_is_fetched_once_per_url(
    verifier: SnsVerifier, source: FakeCertificateSource, key: rsa.RSAPrivateKey
) -> None:
    """Repeated messages signed with the same certificate cause a single fetch."""
    for _ in range(3):
        verifier.verify(body(sign(notification(), key)))
    assert source.fetched == [CERT_URL]


def test_certificate_cache_is_bounded_lru(source: FakeCertificateSource, key: rsa.RSAPrivateKey) -> None:
    """The cache drops the least recently used certificate, so a flood of certificate URLs cannot grow memory."""
    urls = [CERT_URL.replace(".pem", f"-{n}.pem") for n in range(_CERTIFICATE_CACHE_SIZE + 1)]
    source.certificates.update(dict.fromkeys(urls, source.certificates[CERT_URL]))
    verifier = SnsVerifier(frozenset({TOPIC}), fetch_certificate=source, clock=clock, max_fetches_per_minute=100)
    first, second, *_, newest = urls
    for url in [*urls[:-1], first, newest, first, second]:
        verifier.verify(body(sign(notification(SigningCertURL=url), key)))
    # Using `first` again made `second` the oldest, so `newest` pushed `second` out, not `first`.
    assert source.fetched == [*urls, second]


def test_chain_check_accepts_certificate_from_trusted_root() -> None:
    """With trusted_roots given, a leaf issued by one of them verifies."""
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = make_root(root_key)
    leaf = make_certificate(leaf_key, issuer=root, issuer_key=root_key)
    source = FakeCertificateSource({CERT_URL: pem(leaf)})
    verifier = SnsVerifier(frozenset({TOPIC}), fetch_certificate=source, trusted_roots=[root], clock=clock)
    verifier.verify(body(sign(notification(), leaf_key)))


def test_chain_check_refuses_certificate_from_elsewhere(certificate: x509.Certificate, key: rsa.RSAPrivateKey) -> None:
    """With trusted_roots given, a self-signed SNS-named certificate is refused."""
    root = make_root(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    source = FakeCertificateSource({CERT_URL: pem(certificate)})
    verifier = SnsVerifier(frozenset({TOPIC}), fetch_certificate=source, trusted_roots=[root], clock=clock)
    assert refused(verifier, sign(notification(), key)) == "signing certificate not trusted"


def test_empty_trusted_roots_is_an_error() -> None:
    """An empty trusted_roots is a configuration mistake, not a way to skip the chain check."""
    with pytest.raises(ValueError, match="trusted_roots"):
        SnsVerifier(frozenset({TOPIC}), trusted_roots=[])


def test_confirm_subscription_job_code_opens_subscribe_url(verifier: SnsVerifier, key: rsa.RSAPrivateKey) -> None:
    """Confirming a verified SubscriptionConfirmation GETs exactly its SubscribeURL."""
    opener = RecordingOpener()
    message = verifier.verify(body(sign(confirmation(), key)))
    confirm_subscription(message.subscribe_url or "", message.topic_arn, frozenset({TOPIC}), open_url=opener)
    assert opener.opened == [SUBSCRIBE_URL]


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.com/?Action=ConfirmSubscription&Token=x",
        "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
        "https://sns.us-east-1.amazonaws.com.evil.com/?Action=ConfirmSubscription&Token=x",
        "https://sns.us-east-1.amazonaws.com@evil.com/?Action=ConfirmSubscription&Token=x",
        "https://sns.us-east-1.amazonaws.com:8443/?Action=ConfirmSubscription&Token=x",
        # An SNS host, but an action other than confirming.
        f"https://sns.us-east-1.amazonaws.com/?Action=DeleteTopic&TopicArn={TOPIC}",
        f"https://sns.us-east-1.amazonaws.com/other?Action=ConfirmSubscription&TopicArn={TOPIC}",
    ],
)
def test_confirm_subscription_job_code_refuses_non_sns_url(
    verifier: SnsVerifier, key: rsa.RSAPrivateKey, url: str
) -> None:
    """A SubscribeURL that is not an https SNS ConfirmSubscription URL is never opened, even when signed."""
    opener = RecordingOpener()
    message = verifier.verify(body(sign(confirmation(SubscribeURL=url), key)))
    with pytest.raises(UntrustedSnsUrl, match="not an SNS ConfirmSubscription URL"):
        confirm_subscription(message.subscribe_url or "", message.topic_arn, frozenset({TOPIC}), open_url=opener)
    assert opener.opened == []


def test_confirm_subscription_job_code_refuses_unknown_topic(verifier: SnsVerifier) -> None:
    """A confirmation for a foreign topic that reached the job unverified is not confirmed."""
    foreign = "arn:aws:sns:us-east-1:999999999999:someone-else"
    subscribe_url = confirmation(TopicArn=foreign)["SubscribeURL"]
    with pytest.raises(UntrustedSnsUrl, match="topic not allowed"):
        confirm_subscription(subscribe_url, foreign, frozenset({TOPIC}), open_url=lambda u: pytest.fail("open"))


def test_confirm_subscription_job_code_reports_open_failure(verifier: SnsVerifier, key: rsa.RSAPrivateKey) -> None:
    """A network error while confirming propagates, so the job fails and RQ retries it."""

    def unreachable(url: str) -> bytes:
        """Fail like urllib does when the host cannot be reached."""
        raise OSError("timed out")

    message = verifier.verify(body(sign(confirmation(), key)))
    with pytest.raises(OSError, match="timed out"):
        confirm_subscription(message.subscribe_url or "", message.topic_arn, frozenset({TOPIC}), open_url=unreachable)


@pytest.fixture
def loopback_certificate_server(certificate: x509.Certificate) -> Iterator[tuple[int, list[str]]]:
    """A real HTTP server on 127.0.0.1 that would hand out the test certificate, recording requests."""
    requests: list[str] = []
    served = pem(certificate)

    class Handler(BaseHTTPRequestHandler):
        """Serve the test certificate for any path."""

        def do_GET(self) -> None:
            """Record the request and reply with the PEM."""
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(served)))
            self.end_headers()
            self.wfile.write(served)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], requests
    finally:
        server.shutdown()
        server.server_close()


def test_default_verifier_refuses_test_certificate_host(
    loopback_certificate_server: tuple[int, list[str]], key: rsa.RSAPrivateKey
) -> None:
    """Without injection, a certificate URL on any non-SNS host is refused and never fetched."""
    port, requests = loopback_certificate_server
    verifier = SnsVerifier(frozenset({TOPIC}), clock=clock)
    for url in [
        f"http://127.0.0.1:{port}/SimpleNotificationService-test.pem",
        f"https://127.0.0.1:{port}/SimpleNotificationService-test.pem",
        f"https://localhost:{port}/SimpleNotificationService-test.pem",
        f"https://sns.us-east-1.amazonaws.com@127.0.0.1:{port}/SimpleNotificationService-test.pem",
    ]:
        assert refused(verifier, sign(notification(SigningCertURL=url), key)) == "untrusted certificate URL"
    assert requests == []


def test_default_fetcher_refuses_plain_http(loopback_certificate_server: tuple[int, list[str]]) -> None:
    """The default network fetcher never speaks plain http, even if handed such a URL."""
    port, requests = loopback_certificate_server
    with pytest.raises(ValueError, match="https"):
        fetch_https(f"http://127.0.0.1:{port}/SimpleNotificationService-test.pem")
    assert requests == []
