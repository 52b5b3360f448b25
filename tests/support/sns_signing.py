"""Sign SNS messages as Amazon SNS does, with a test key and a self-signed certificate, for the
end-to-end tests of `/aws/events`."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:whose-key-events"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-e2etest.pem"


class SnsSigner:
    def __init__(self) -> None:
        self.fetched: list[str] = []  # every certificate URL the verifier asked for, in order
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.now(UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )

    def fetch_certificate(self, url: str) -> bytes:
        """The certificate source handed to the verifier: serves only the one SNS URL, and
        records every fetch (what the test's "certificate server" was asked for)."""
        self.fetched.append(url)
        if url != CERT_URL:
            raise OSError(f"no certificate at {url}")
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def notification(self, message: str, *, version: str = "2", cert_url: str = CERT_URL) -> dict[str, str]:
        fields = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": TOPIC_ARN,
            "Message": message,
            "Timestamp": _now(),
            "SigningCertURL": cert_url,
        }
        return self._sign(fields, ["Message", "MessageId", "Timestamp", "TopicArn", "Type"], version)

    def subscription_confirmation(self) -> dict[str, str]:
        fields = {
            "Type": "SubscriptionConfirmation",
            "MessageId": str(uuid.uuid4()),
            "Token": "2336412f37fb687f5d51e6e2425f004a",
            "TopicArn": TOPIC_ARN,
            "Message": f"You have chosen to subscribe to the topic {TOPIC_ARN}.",
            "SubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}"
            "&Token=2336412f37fb687f5d51e6e2425f004a",
            "Timestamp": _now(),
            "SigningCertURL": CERT_URL,
        }
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        return self._sign(fields, names, "2")

    def _sign(self, fields: dict[str, str], names: list[str], version: str) -> dict[str, str]:
        text = "".join(f"{name}\n{fields[name]}\n" for name in names)
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - SNS v1 is SHA1
        signature = self.key.sign(text.encode(), padding.PKCS1v15(), algorithm)
        return {**fields, "SignatureVersion": version, "Signature": base64.b64encode(signature).decode()}


def _now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
