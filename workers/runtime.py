"""What a worker process builds once and every job shares, as plain data: settings, Redis, the AWS
gateway (with its cache of assumed-role sessions), the organization's account list, the shared
CloudTrail reader, the Slack client, poster and directory, and the JSON cache.

The worker process builds one at start and hands it to every job it runs (see
`workers.process.worker.RuntimeJob`); the CLI and benchmarks build their own. Nothing here is a
module-level cache and nothing here decides anything: jobs build what they need (a finder, a
notifier) from these parts. Jobs run in the worker process itself (SimpleWorker), so the
runtime's caches live as long as the worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis
from slack_sdk import WebClient

from core.redis_keys import WORKER_RETRIES, connect
from core.settings import Settings
from core.slack_client import make_web_client
from workers.aws.cloudtrail import CloudTrailReader
from workers.aws.cloudtrail_rate import RedisRateLimiter
from workers.aws.gateway import AwsGateway
from workers.aws.organization import Organization
from workers.cache import JsonCache
from workers.slack.owners import SlackDirectory
from workers.slack.poster import Poster


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    redis: Redis
    gateway: AwsGateway
    slack: WebClient
    cache: JsonCache
    org: Organization
    trail: CloudTrailReader
    poster: Poster
    directory: SlackDirectory
    # The opt-in responder role's gateway (WHOSE_KEY_RESPONDER_ROLE_NAME); None: whose-key only reads.
    responder: AwsGateway | None = None


def build_trail(gateway: AwsGateway, redis: Redis | None = None) -> CloudTrailReader:
    """One CloudTrail reader per process; with a Redis, its rate limit is shared by every process."""

    def client_for(account: str) -> object:
        return gateway.client(account, "cloudtrail", "us-east-1", single_attempt=True)

    if redis is None:
        return CloudTrailReader(client_for)
    return CloudTrailReader(client_for, limiter=RedisRateLimiter(redis))


def assemble_runtime(settings: Settings, redis: Redis, gateway: AwsGateway, slack: WebClient) -> Runtime:
    """The runtime wired from its connections (tests and benchmarks hand in their own)."""
    cache = JsonCache(redis)
    return Runtime(
        settings=settings,
        redis=redis,
        gateway=gateway,
        slack=slack,
        cache=cache,
        org=Organization(gateway, cache),
        trail=build_trail(gateway, redis),
        poster=Poster(slack, settings, redis),
        directory=SlackDirectory(slack, cache),
        responder=responder_gateway(settings, gateway),
    )


def responder_gateway(settings: Settings, reader: AwsGateway) -> AwsGateway | None:
    """The responder role's own gateway (its own sessions, never the reader's), when opted in."""
    if settings.responder_role_name is None:
        return None
    return AwsGateway(
        settings.responder_role_name, settings.external_id, endpoint_url=reader.endpoint_url, always_assume=True
    )


def build_runtime(settings: Settings) -> Runtime:
    return assemble_runtime(
        settings,
        connect(settings.redis_url, retries=WORKER_RETRIES, retry_timeouts=True),
        AwsGateway(settings.role_name, settings.external_id),
        make_web_client(settings),
    )
