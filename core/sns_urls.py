"""SNS URLs we may fetch, and the one fetcher that does: used by the web to get signing
certificates and by the worker to confirm a subscription, so both run the same checked code."""

from __future__ import annotations

import re
import ssl
import urllib.parse
import urllib.request
from collections.abc import Callable
from email.message import Message
from typing import IO

# An AWS region name as it appears in SNS hostnames: us-east-1, us-gov-west-1, cn-north-1.
# Stricter than "[a-z0-9-]+" on purpose: that would also match S3 virtual-hosted bucket hosts
# such as sns.s3.amazonaws.com or sns.s3-us-west-2.amazonaws.com, where anyone owning a bucket
# named "sns" could serve a certificate of their own.
REGION = r"[a-z]{2,4}(?:-[a-z]+)+-[0-9]+"
# The only hosts SNS signing certificates and subscription URLs may come from.
SNS_HOST = re.compile(rf"sns\.{REGION}\.amazonaws\.com(?:\.cn)?")
# An SNS topic ARN: partition, region, account, name (a FIFO topic's ends in .fifo).
_TOPIC_ARN = re.compile(rf"arn:(aws|aws-cn|aws-us-gov):sns:({REGION}):[0-9]{{12}}:[A-Za-z0-9_-]{{1,256}}(?:\.fifo)?")
# Certificate paths as SNS publishes them (SimpleNotificationService-<hash>.pem); no "..", no escapes.
_CERTIFICATE_PATH = re.compile(r"/(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*/)*[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.pem")
# Network limits for the default fetcher: never hold a web worker for long or read unbounded data.
_FETCH_TIMEOUT_SECONDS = 5
_MAX_FETCH_BYTES = 64 * 1024


class UntrustedSnsUrl(ValueError):
    """A URL that is not SNS's own, or a topic we were not configured for."""


def certificate_host_for(topic_arn: str) -> str | None:
    """The one host a topic's signing certificates come from: SNS in the topic's own region (in
    China's partition, under amazonaws.com.cn). None for what is not an SNS topic ARN."""
    match = _TOPIC_ARN.fullmatch(topic_arn)
    if match is None:
        return None
    partition, region = match.groups()
    # A region of another partition (arn:aws:sns:cn-north-1:...) names no real topic.
    if region.startswith("cn-") != (partition == "aws-cn") or region.startswith("us-gov-") != (
        partition == "aws-us-gov"
    ):
        return None
    return f"sns.{region}.amazonaws.com" + (".cn" if partition == "aws-cn" else "")


def is_sns_certificate_url(url: str, topic_arn: str) -> bool:
    """Whether a SigningCertURL points at a .pem file, over plain https, on the SNS host of the
    topic's own region: a message for a us-east-1 topic never makes us fetch from elsewhere."""
    parts = split_sns_url(url)
    return (
        parts is not None
        and parts.netloc == certificate_host_for(topic_arn)
        and not parts.query
        and _CERTIFICATE_PATH.fullmatch(parts.path) is not None
    )


def is_sns_subscribe_url(url: str) -> bool:
    """Whether a SubscribeURL is an SNS ConfirmSubscription call over plain https."""
    parts = split_sns_url(url)
    if parts is None or parts.path != "/":
        return False
    # Only the confirming GET, so a signed message cannot make us call any other SNS action.
    return urllib.parse.parse_qs(parts.query).get("Action") == ["ConfirmSubscription"]


def confirm_subscription(
    subscribe_url: str,
    topic_arn: str,
    allowed_topics: frozenset[str],
    open_url: Callable[[str], bytes] | None = None,
) -> None:
    """GET the SubscribeURL of a verified SubscriptionConfirmation, when it is SNS's own
    ConfirmSubscription URL for a topic we accept. Raises UntrustedSnsUrl, or OSError/ValueError
    when SNS cannot be reached (the job retries those)."""
    if topic_arn not in allowed_topics:
        raise UntrustedSnsUrl("topic not allowed")
    if not is_sns_subscribe_url(subscribe_url):
        raise UntrustedSnsUrl("not an SNS ConfirmSubscription URL")
    (open_url or fetch_https)(subscribe_url)


def split_sns_url(url: str) -> urllib.parse.SplitResult | None:
    """The parts of an https URL whose whole authority is an SNS host, else None."""
    if url != url.strip() or any(not char.isprintable() for char in url):
        return None
    parts = urllib.parse.urlsplit(url)
    # The authority must be the bare host: no userinfo ("sns...@evil.com"), no port, nothing else.
    if parts.scheme != "https" or parts.fragment or SNS_HOST.fullmatch(parts.netloc) is None:
        return None
    return parts


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Fail on redirects, so a fetch only ever reaches the URL that passed our checks."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        """Return no follow-up request, which makes urllib raise the 3xx as an HTTPError."""
        return None


def fetch_https(url: str) -> bytes:
    """GET an https URL with certificate checks, a short timeout, no redirects and a size cap."""
    if urllib.parse.urlsplit(url).scheme != "https":
        raise ValueError("only https URLs are fetched")
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ssl.create_default_context()), _RefuseRedirects()
    )
    with opener.open(url, timeout=_FETCH_TIMEOUT_SECONDS) as response:
        body: bytes = response.read(_MAX_FETCH_BYTES + 1)
    if len(body) > _MAX_FETCH_BYTES:
        raise ValueError("response too large")
    return body
