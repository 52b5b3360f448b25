"""What a worker process builds once and every job shares: settings, Redis, the AWS gateway
(with its cache of assumed-role sessions) and the Slack client.

Built on first use, never at import; jobs run in the worker process itself (SimpleWorker), so
the caches live as long as the worker.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from redis import Redis
from slack_sdk import WebClient

from bot.settings import Settings
from workers.aws import AwsGateway
from workers.cloudtrail import CloudTrailReader
from workers.finder import Finder, build_finder, build_trail
from workers.owners import SlackDirectory
from workers.slack_post import make_web_client
from workers.state import JsonCache, connect


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    gateway: AwsGateway
    slack: WebClient

    @functools.cached_property
    def cache(self) -> JsonCache:
        return JsonCache(self.redis)

    @functools.cached_property
    def trail(self) -> CloudTrailReader:
        return build_trail(self.gateway)

    @functools.cached_property
    def finder(self) -> Finder:
        return build_finder(self.gateway, self.cache, self.trail)

    @functools.cached_property
    def directory(self) -> SlackDirectory:
        return SlackDirectory(self.slack, self.cache)


def build_runtime(settings: Settings) -> Runtime:
    return Runtime(
        settings=settings,
        redis=connect(settings.redis_url),
        gateway=AwsGateway(settings.role_name, settings.external_id),
        slack=make_web_client(settings),
    )


@functools.cache
def get_runtime() -> Runtime:
    """The process's runtime, from the environment (workers validate it at start-up)."""
    return build_runtime(Settings.from_env(require_signing_secret=False))
