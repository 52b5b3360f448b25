"""Every setting of whose-key, read from the environment in this one place."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlparse

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
# What redis-py takes for ssl_cert_reqs in a rediss:// URL: verify the server's certificate or not.
_CERT_REQS = ("required", "optional", "none")
DEFAULT_ROLE_NAME = "WhoseKeyReadOnly"
DEFAULT_SWEEP_INTERVAL = 3600
# The key-hygiene digest to the audit channel: weekly.
DEFAULT_REPORT_INTERVAL = 7 * 24 * 3600
# Keys one person may look up per minute; generous for humans, a brake on scripts.
DEFAULT_RATE_LIMIT = 30
# Worker processes that take background work (sweeps, notices), beside the one that serves only
# lookups and buttons; see the README for sizing.
DEFAULT_WORKERS = 1
# Pending key notices (Slack down, say) are tried again this often, and given up after this long.
DEFAULT_NOTICE_RETRY_INTERVAL = 60
DEFAULT_NOTICE_MAX_AGE = 24 * 3600
# The sweep reads an account with more IAM users than this in batches of this many, one job each.
DEFAULT_SWEEP_BATCH_USERS = 250
# Full searches (every account read) one person may start per minute.
DEFAULT_FULL_SEARCH_LIMIT = 10
# Full searches running at once across the workspace: each fans out to many AWS calls.
DEFAULT_FULL_SEARCH_CONCURRENCY = 4
# One "Notify owner" DM per owner and key an hour, across every answer and person who presses.
DEFAULT_NOTIFY_COOLDOWN = 3600
# One responder acts alone; 2: a second responder approves first (the two-person rule).
DEFAULT_RESPONDER_APPROVALS = 1
# A key this many days old earns its owner a rotation nudge, and one more at twice that; 0: none.
DEFAULT_ROTATION_DAYS = 90
# Hosts where plain http:// to the Slack API is allowed: nothing leaves the machine.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_USERGROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
# Workspace (T…) or Enterprise Grid organization (E…) IDs.
_TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,}$")
_SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[\w-]{1,256}$")
# IAM role names: letters, digits and +=,.@_- up to 64 characters.
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str
    slack_signing_secret: str | None
    slack_app_token: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    redis_url: str = DEFAULT_REDIS_URL
    port: int = 3000
    role_name: str = DEFAULT_ROLE_NAME
    external_id: str | None = None
    events_token: str | None = None
    # The token being rotated out: accepted too until the hub's connection has the new one.
    events_token_previous: str | None = None
    allowed_channels: frozenset[str] = field(default_factory=frozenset)
    allowed_usergroups: frozenset[str] = field(default_factory=frozenset)
    # Members of these user groups see organization-wide views (the report, the Home tab's counts).
    admin_usergroups: frozenset[str] = field(default_factory=frozenset)
    audit_channel: str | None = None
    sweep_interval: int = DEFAULT_SWEEP_INTERVAL
    sweep_batch_users: int = DEFAULT_SWEEP_BATCH_USERS
    report_interval: int = DEFAULT_REPORT_INTERVAL
    sns_topics: frozenset[str] = field(default_factory=frozenset)
    rate_limit: int = DEFAULT_RATE_LIMIT
    workers: int = DEFAULT_WORKERS
    notice_retry_interval: int = DEFAULT_NOTICE_RETRY_INTERVAL
    notice_max_age: int = DEFAULT_NOTICE_MAX_AGE
    full_search_limit: int = DEFAULT_FULL_SEARCH_LIMIT
    full_search_concurrency: int = DEFAULT_FULL_SEARCH_CONCURRENCY
    allowed_teams: frozenset[str] = field(default_factory=frozenset)
    allow_guests: bool = False
    # Seconds before the same key's owner may be notified again through "Notify owner".
    notify_cooldown: int = DEFAULT_NOTIFY_COOLDOWN
    # The opt-in write role (iam:UpdateAccessKey, the quarantine policies only); None: whose-key
    # only reads, and no Deactivate button is shown anywhere.
    responder_role_name: str | None = None
    # Members of these user groups may deactivate or quarantine any key; empty: nobody (owners
    # may still deactivate their own keys when the role is set).
    responder_usergroups: frozenset[str] = field(default_factory=frozenset)
    responder_approvals: int = DEFAULT_RESPONDER_APPROVALS
    # Key age (days) that earns the owner a rotation nudge (and twice that, a final one); 0: none.
    rotation_days: int = DEFAULT_ROTATION_DAYS

    @property
    def responder_enabled(self) -> bool:
        return self.responder_role_name is not None

    @property
    def responder_buttons(self) -> bool:
        """Whether to offer Deactivate/Quarantine: the role is set, and under the two-person rule
        there is an audit channel to collect the second responder's approval in (without one it
        fails closed: nothing is offered and presses are refused)."""
        return self.responder_enabled and (self.responder_approvals == 1 or self.audit_channel is not None)

    def __repr__(self) -> str:
        # Secrets never reach a log line, not even through a debug repr.
        return (
            f"Settings(slack_api_url={self.slack_api_url!r}, redis_url={_redact_url(self.redis_url)!r}, "
            f"port={self.port}, role_name={self.role_name!r}, socket_mode={self.slack_app_token is not None}, "
            f"allowed_channels={sorted(self.allowed_channels)}, "
            f"allowed_usergroups={sorted(self.allowed_usergroups)}, "
            f"admin_usergroups={sorted(self.admin_usergroups)}, notify_cooldown={self.notify_cooldown}, "
            f"audit_channel={self.audit_channel!r}, sweep_interval={self.sweep_interval}, "
            f"sweep_batch_users={self.sweep_batch_users}, "
            f"report_interval={self.report_interval}, workers={self.workers}, "
            f"notice_retry_interval={self.notice_retry_interval}, notice_max_age={self.notice_max_age}, "
            f"rate_limit={self.rate_limit}, full_search_limit={self.full_search_limit}, "
            f"full_search_concurrency={self.full_search_concurrency}, "
            f"allowed_teams={sorted(self.allowed_teams)}, allow_guests={self.allow_guests}, "
            f"responder_role_name={self.responder_role_name!r}, "
            f"responder_usergroups={sorted(self.responder_usergroups)}, "
            f"responder_approvals={self.responder_approvals}, rotation_days={self.rotation_days})"
        )

    __str__ = __repr__

    @classmethod
    def for_process(cls, process: str, *, require_signing_secret: bool = True) -> Settings:
        """A process's settings from its environment; a bad one stops it with one line naming it."""
        try:
            return cls.from_env(require_signing_secret=require_signing_secret)
        except SettingsError as exc:
            sys.exit(f"whose-key {process}: {exc}")

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        require_slack: bool = True,
        require_signing_secret: bool = True,
    ) -> Settings:
        """Read and check every variable; raise SettingsError naming the first bad one."""
        env = os.environ if environ is None else environ
        get = _Reader(env)

        bot_token = get.text("SLACK_BOT_TOKEN")
        if require_slack and not bot_token:
            raise SettingsError("SLACK_BOT_TOKEN is required (the bot token, xoxb-...)")
        if bot_token and not bot_token.startswith("xox"):
            raise SettingsError("SLACK_BOT_TOKEN does not look like a Slack token (xoxb-...)")

        app_token = get.text("SLACK_APP_TOKEN")
        if app_token and not app_token.startswith("xapp-"):
            raise SettingsError("SLACK_APP_TOKEN does not look like an app-level token (xapp-...)")

        signing_secret = get.text("SLACK_SIGNING_SECRET")
        if require_slack and require_signing_secret and not app_token and not signing_secret:
            raise SettingsError(
                "SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
            )

        return cls(
            slack_bot_token=bot_token or "",
            slack_signing_secret=signing_secret,
            slack_app_token=app_token,
            slack_api_url=get.slack_api_url("SLACK_API_URL", DEFAULT_SLACK_API_URL),
            redis_url=get.redis_url("REDIS_URL", DEFAULT_REDIS_URL),
            port=get.integer("PORT", 3000, minimum=1, maximum=65535),
            role_name=get.matching("WHOSE_KEY_ROLE_NAME", DEFAULT_ROLE_NAME, _ROLE_NAME, "an IAM role name"),
            external_id=get.text("WHOSE_KEY_EXTERNAL_ID"),
            events_token=get.text("WHOSE_KEY_EVENTS_TOKEN"),
            events_token_previous=get.text("WHOSE_KEY_EVENTS_TOKEN_PREVIOUS"),
            allowed_channels=get.id_list("WHOSE_KEY_ALLOWED_CHANNELS", _CHANNEL_ID, "channel IDs like C0123ABCD"),
            allowed_usergroups=get.id_list(
                "WHOSE_KEY_ALLOWED_USERGROUPS", _USERGROUP_ID, "user group IDs like S0123ABCD"
            ),
            admin_usergroups=get.id_list("WHOSE_KEY_ADMIN_USERGROUPS", _USERGROUP_ID, "user group IDs like S0123ABCD"),
            audit_channel=get.text("WHOSE_KEY_AUDIT_CHANNEL"),
            sweep_interval=get.integer("WHOSE_KEY_SWEEP_INTERVAL", DEFAULT_SWEEP_INTERVAL, minimum=0),
            sweep_batch_users=get.integer(
                "WHOSE_KEY_SWEEP_BATCH_USERS", DEFAULT_SWEEP_BATCH_USERS, minimum=1, maximum=5000
            ),
            report_interval=get.integer("WHOSE_KEY_REPORT_INTERVAL", DEFAULT_REPORT_INTERVAL, minimum=0),
            sns_topics=get.id_list("WHOSE_KEY_SNS_TOPICS", _SNS_TOPIC_ARN, "SNS topic ARNs"),
            rate_limit=get.integer("WHOSE_KEY_RATE_LIMIT", DEFAULT_RATE_LIMIT, minimum=0),
            workers=get.integer("WHOSE_KEY_WORKERS", DEFAULT_WORKERS, minimum=1, maximum=64),
            notice_retry_interval=get.integer(
                "WHOSE_KEY_NOTICE_RETRY_INTERVAL", DEFAULT_NOTICE_RETRY_INTERVAL, minimum=1
            ),
            notice_max_age=get.integer("WHOSE_KEY_NOTICE_MAX_AGE", DEFAULT_NOTICE_MAX_AGE, minimum=60),
            full_search_limit=get.integer("WHOSE_KEY_FULL_SEARCH_LIMIT", DEFAULT_FULL_SEARCH_LIMIT, minimum=0),
            full_search_concurrency=get.integer(
                "WHOSE_KEY_FULL_SEARCH_CONCURRENCY", DEFAULT_FULL_SEARCH_CONCURRENCY, minimum=0
            ),
            allowed_teams=get.id_list("WHOSE_KEY_ALLOWED_TEAMS", _TEAM_ID, "team IDs like T0123ABCD or E0123ABCD"),
            allow_guests=get.flag("WHOSE_KEY_ALLOW_GUESTS", default=False),
            notify_cooldown=get.integer("WHOSE_KEY_NOTIFY_COOLDOWN", DEFAULT_NOTIFY_COOLDOWN, minimum=60),
            responder_role_name=get.optional_matching("WHOSE_KEY_RESPONDER_ROLE_NAME", _ROLE_NAME, "an IAM role name"),
            responder_usergroups=get.id_list(
                "WHOSE_KEY_RESPONDER_USERGROUPS", _USERGROUP_ID, "user group IDs like S0123ABCD"
            ),
            responder_approvals=get.integer(
                "WHOSE_KEY_RESPONDER_APPROVALS", DEFAULT_RESPONDER_APPROVALS, minimum=1, maximum=2
            ),
            rotation_days=get.integer("WHOSE_KEY_ROTATION_DAYS", DEFAULT_ROTATION_DAYS, minimum=0, maximum=3650),
        )

    @property
    def slack_api_origin(self) -> str:
        """scheme://host[:port] of the Slack Web API, to recognise its response URLs."""
        parsed = urlparse(self.slack_api_url)
        return f"{parsed.scheme}://{parsed.netloc}"


class _Reader:
    """Typed getters over an environment mapping; each raises SettingsError naming the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def integer(self, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            raise SettingsError(f"{name} must be {bounds}, got {value}")
        return value

    def url(self, name: str, default: str, schemes: tuple[str, ...]) -> str:
        raw = self.text(name) or default
        parsed = urlparse(raw)
        if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
            raise SettingsError(f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
        return raw

    def redis_url(self, name: str, default: str) -> str:
        """A redis://, rediss:// or unix:// URL whose TLS options (redis-py reads ssl_* from the
        query) are ones a connection can use: only with rediss://, and a CA file that exists."""
        raw = self.url(name, default, ("redis", "rediss", "unix"))
        parsed = urlparse(raw)
        options = dict(parse_qsl(parsed.query))
        tls = sorted(option for option in options if option.startswith("ssl_"))
        if tls and parsed.scheme != "rediss":
            raise SettingsError(f"{name} sets {', '.join(tls)} but is not TLS: start it with rediss://")
        if options.get("ssl_cert_reqs", "required") not in _CERT_REQS:
            raise SettingsError(f"{name}'s ssl_cert_reqs must be one of {', '.join(_CERT_REQS)}")
        ca = options.get("ssl_ca_certs")
        if ca is not None and not os.path.isfile(ca):
            raise SettingsError(f"{name}'s ssl_ca_certs names no file here: {ca}")
        return raw

    def slack_api_url(self, name: str, default: str) -> str:
        """An https URL; plain http only to loopback (a local stand-in), where nothing is on the wire."""
        raw = self.url(name, default, ("http", "https"))
        parsed = urlparse(raw)
        if parsed.scheme != "https" and (parsed.hostname or "") not in LOOPBACK_HOSTS:
            raise SettingsError(f"{name} must use https:// (plain http:// is allowed only to 127.0.0.1 or localhost)")
        return raw

    def flag(self, name: str, *, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        value = raw.lower()
        if value in {"1", "true", "yes", "on"}:
            return True
        if value in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{name} must be true or false, got {raw!r}")

    def matching(self, name: str, default: str, pattern: re.Pattern[str], what: str) -> str:
        raw = self.text(name) or default
        if not pattern.match(raw):
            raise SettingsError(f"{name} must be {what}, got {raw!r}")
        return raw

    def optional_matching(self, name: str, pattern: re.Pattern[str], what: str) -> str | None:
        """Unset stays None (the feature is off); set, it must match."""
        raw = self.text(name)
        if raw is not None and not pattern.match(raw):
            raise SettingsError(f"{name} must be {what}, got {raw!r}")
        return raw

    def id_list(self, name: str, pattern: re.Pattern[str], what: str) -> frozenset[str]:
        raw = self.text(name) or ""
        items = [item.strip() for item in raw.split(",") if item.strip()]
        for item in items:
            if not pattern.match(item):
                raise SettingsError(f"{name} must be a comma list of {what}, got {item!r}")
        return frozenset(items)


def _redact_url(url: str) -> str:
    return redact_url(url)


def redact_url(url: str) -> str:
    """The URL with its secrets replaced by ***: a password (`redis://:pw@host`, `user:pw@host`), a
    bare `redis://token@host` user (a password too), and secret query parameters (`?password=`)."""
    parsed = urlparse(url)
    if "@" in parsed.netloc:
        credentials, host = parsed.netloc.rsplit("@", 1)
        user = credentials.split(":", 1)[0] if ":" in credentials else ""
        hidden = f"{user}:***" if ":" in credentials and user else "***"
        parsed = parsed._replace(netloc=f"{hidden}@{host}")
    if parsed.query:
        pairs = parse_qsl(parsed.query, keep_blank_values=True)
        query = "&".join(f"{name}={'***' if _is_secret(name) else value}" for name, value in pairs)
        parsed = parsed._replace(query=query)
    return parsed.geturl()


def url_secrets(url: str) -> list[str]:
    """The secret parts of a URL (password, bare token user, secret query values), to mask in text."""
    parsed = urlparse(url)
    found = []
    if "@" in parsed.netloc:
        credentials = parsed.netloc.rsplit("@", 1)[0]
        found.append(credentials.split(":", 1)[1] if ":" in credentials else credentials)
    found += [value for name, value in parse_qsl(parsed.query, keep_blank_values=True) if _is_secret(name)]
    return [secret for secret in found if secret]


def _is_secret(name: str) -> bool:
    return any(word in name.lower() for word in ("pass", "token", "secret", "auth", "key"))
