"""What a worker process builds once and every job shares: settings, Redis, the AWS gateway
(with its cache of assumed-role sessions) and the Slack client.

The worker process builds one at start and hands it to every job it runs (see
`workers.process.worker.RuntimeJob`); the CLI and benchmarks build their own. Nothing here is a
module-level cache: jobs run in the worker process itself (SimpleWorker), so the runtime's
caches live as long as the worker.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from redis import Redis
from slack_sdk import WebClient

from core.redis_keys import connect
from core.settings import Settings
from core.slack_client import make_web_client
from workers.aws.cloudtrail import CloudTrailReader
from workers.aws.gateway import AwsGateway
from workers.cache import JsonCache
from workers.lookup.finder import Finder, build_finder, build_trail
from workers.lookup.owners import SlackDirectory


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
        return build_trail(self.gateway, self.redis)

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
