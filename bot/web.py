"""The HTTP edge (the Procfile's `web`): Slack's endpoint, AWS's endpoint and /healthz,
served by gunicorn."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from typing import Any

from flask import Flask, Response, jsonify, request
from gunicorn.app.base import BaseApplication
from redis.exceptions import RedisError
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient
from werkzeug.exceptions import HTTPException

from bot.app import create_app
from bot.aws_events.endpoint import AwsEventReceiver
from bot.aws_events.sns import SnsVerifier
from bot.body_guard import (
    AWS_MAX_BODY,
    SLACK_MAX_BODY,
    TOO_LARGE,
    Problem,
    check_aws_request,
    check_slack_request,
)
from core.data_loss import CHECK_EVERY, DataMarker
from core.logs import configure_logging
from core.queue import JobQueue
from core.redis_keys import connect
from core.redis_memory import read_memory
from core.settings import Settings

log = logging.getLogger(__name__)

# A body up to this size is read and dropped before a 413 (see drain_body); a larger one is not.
# Reading costs little CPU (no parsing), and lets an honest client see the answer.
DRAIN_LIMIT = 8 * 1024 * 1024
# The most each guarded path reads; a body announced larger is refused before a byte is read.
BODY_LIMITS = {"/slack/events": SLACK_MAX_BODY, "/aws/events": AWS_MAX_BODY}
# How long a SIGTERMed web process (a rolling restart) lets requests it holds finish before
# gunicorn kills them. Every request only verifies and enqueues, and Slack stops waiting for an ack
# after 3 s: 5 s lets any request Slack still waits for finish, and ends well inside a platform's
# own kill timeout (30 s on Heroku and Kubernetes), instead of gunicorn's default 30 s.
GRACEFUL_TIMEOUT = 5


def create_web_app(settings: Settings, client: WebClient | None = None, sns: SnsVerifier | None = None) -> Flask:
    """The WSGI app. `client` and `sns` exist for tests: a Slack client and an SNS verifier
    whose certificate source they control (every check still runs)."""
    jobs = JobQueue(connect(settings.redis_url))
    slack = SlackRequestHandler(create_app(settings, jobs, client=client))
    aws_events = AwsEventReceiver(settings, jobs, sns)
    web = Flask("whose-key")
    web.config["MAX_CONTENT_LENGTH"] = max(BODY_LIMITS.values())
    tokens = [t for t in (settings.events_token, settings.events_token_previous) if t]
    secret = settings.slack_signing_secret or ""  # none: every Slack request is refused

    def check(path: str, headers: dict[str, str], body: bytes) -> Problem | None:
        if path == "/slack/events":
            return check_slack_request(headers, body, signing_secret=secret, now=time.time())
        return check_aws_request(headers, body, tokens=tokens, sns_topics=settings.sns_topics)

    marker = DataMarker(jobs.redis, "web", settings.audit_channel)
    with contextlib.suppress(RedisError):  # remembered before gunicorn forks, by every web worker
        marker.check()

    @web.before_request
    def look_at_data_marker() -> None:
        # A Redis that lost its data is noticed by a web that serves traffic even if nobody asks
        # /healthz; a Redis that is away is the request's own to answer.
        with contextlib.suppress(RedisError):
            marker.check_every(CHECK_EVERY)  # /healthz always looks

    @web.before_request
    def guard_body() -> tuple[Response, int] | None:
        # Size, then signature or token on the raw bytes, then form: a stranger's body is never
        # parsed, and no body, however malformed, reaches Bolt or the receiver to crash them.
        limit = BODY_LIMITS.get(request.path)
        if limit is None or request.method != "POST":
            return None
        if (request.content_length or 0) > limit:
            problem: Problem | None = TOO_LARGE
            drain_body()
        else:
            # A chunked body has no length to check: read one byte past the limit (werkzeug stops
            # there), and the guard's own size check answers 413 for it.
            request.max_content_length = limit + 1
            problem = check(request.path, {k.lower(): v for k, v in request.headers.items()}, request.get_data())
        if problem is None:
            return None
        reason, status = problem
        if status == 413:
            drain_body()  # a chunked body past the limit: the rest, so the client reads the 413
        log.info("body refused", extra={"path": request.path, "reason": reason, "status": status})
        return jsonify({"error": reason}), status

    @web.post("/aws/events")
    def aws_event() -> tuple[Response, int]:
        body, status = aws_events.handle({k.lower(): v for k, v in request.headers.items()}, request.get_data())
        return jsonify(body), status

    @web.post("/slack/events")
    def slack_events() -> Any:
        try:
            return slack.handle(request)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
            # Listener failures are answered by Bolt's error handler; what escapes Bolt is its own
            # reading of a verified payload of a shape Slack never sends (a null event, say).
            log.warning("slack payload not understood", extra={"error": type(exc).__name__})
            return jsonify({"error": "a payload of a shape Slack does not send"}), 400

    @web.get("/healthz")
    def healthz() -> tuple[Response, int]:
        redis_ok = jobs.healthy()
        if not redis_ok:
            return jsonify({"status": "unavailable", "redis": "unreachable"}), 503
        try:
            memory = read_memory(jobs.redis)
            if memory.full:
                reason = f"Redis is out of memory ({memory.describe()})"
                return jsonify({"status": "unavailable", "redis": "out of memory", "reason": reason}), 503
            marker.check()
        except RedisError as exc:
            return jsonify({"status": "unavailable", "redis": "unreachable", "reason": type(exc).__name__}), 503
        return jsonify({"status": "ok", "redis": "ok"}), 200

    @web.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        # 404, 405, 413 and the like: a short JSON reason instead of werkzeug's HTML page.
        status = error.code or 400
        if status == 413:
            drain_body()
        return jsonify({"error": (error.name or "bad request").lower()}), status

    @web.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response, int]:
        # A bug, not a body: logged with its traceback here, never shown to the caller.
        log.error("request failed", exc_info=error, extra={"path": request.path})
        return jsonify({"error": "internal error"}), 500

    return web


def drain_body() -> None:
    """Read and drop a too-large body (up to DRAIN_LIMIT) before answering 413: a client still
    sending would otherwise get a broken connection instead of the answer that says why."""
    # A chunked body (no length) is read to its end, up to the same cap.
    remaining = DRAIN_LIMIT if request.content_length is None else request.content_length
    if remaining > DRAIN_LIMIT:
        return  # not worth reading: the connection is closed on it
    stream = request.environ["wsgi.input"]
    while remaining > 0:
        chunk = stream.read(min(64 * 1024, remaining))
        if not chunk:
            return
        remaining -= len(chunk)


def create_wsgi_app() -> Flask:
    """For WSGI servers given a factory (`gunicorn 'bot.web:create_wsgi_app()'`)."""
    configure_logging()
    return create_web_app(load_settings_or_exit())


def load_settings_or_exit() -> Settings:
    settings = Settings.for_process("web")
    if not settings.slack_signing_secret:
        # Even with Socket Mode configured, whatever reaches /slack/events must be verified.
        sys.exit("whose-key web: SLACK_SIGNING_SECRET is required for the HTTP endpoint")
    return settings


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return self.application


def main() -> None:
    """Run the web process: check the settings first, then serve with gunicorn."""
    configure_logging()
    settings = load_settings_or_exit()
    app = create_web_app(settings)
    options = {
        "bind": f"0.0.0.0:{settings.port}",
        "workers": int(os.environ.get("WEB_CONCURRENCY", "2")),
        "worker_class": "gthread",
        "threads": 8,
        "timeout": 30,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": 5,
        "accesslog": None,
        "loglevel": "warning",
    }
    log.info("web starting", extra={"settings": repr(settings), "port": settings.port})
    _Gunicorn(app, options).run()


if __name__ == "__main__":
    main()
