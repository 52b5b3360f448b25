"""Every Redis key whose-key writes: its name, how long it lives, and what it holds.

One place, so an operator can read what is in their Redis and a developer can see whether a new
piece of state already has a home. RQ's own keys (`rq:*`) are RQ's and not listed here.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from redis import Redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError
from redis.retry import Retry

from core.redis_failover import failover_connection_class

# Every key whose-key writes starts with this, so operators can scope ACLs and SCANs to it.
PREFIX = "whose-key:"

DAY = 24 * 3600


@dataclass(frozen=True)
class RedisName:
    """One family of keys: `whose-key:<stem>:<parts…>`."""

    stem: str
    ttl: int | None  # seconds; None where the writer sets it (given with the name) or nothing expires
    holds: str

    @property
    def seconds(self) -> int:
        """The fixed time to live, for names that have one."""
        if self.ttl is None:
            raise ValueError(f"{self.stem} keys have no fixed time to live")
        return self.ttl


# -- the edge (bot/) ------------------------------------------------------------------------------
# Set of a Slack user group's members, so access checks do not call Slack on every request.
USERGROUP_MEMBERS = RedisName("usergroup", 300, "members of an allowed or admin user group (set)")
# Keys one person asked about in one minute window (counter), for the per-person rate limit.
RATE_COUNTER = RedisName("rate", 120, "keys asked about by one person in one minute")
# Full searches one person started in one minute window (counter), for the full-search budget.
FULL_SEARCH_COUNTER = RedisName("full-searches", 120, "full searches started by one person in one minute")
# Whether a member is a guest (restricted or ultra-restricted), from users.info.
MEMBER_KIND = RedisName("member-kind", 600, "'guest' or 'member' for one Slack user")
# Whether a conversation is shared with another workspace or organization (conversations.info).
CONVERSATION_KIND = RedisName("conversation-kind", 600, "'shared' or 'internal' for one channel or DM")
# An Events API event ID claimed by the first delivery; Slack retries within about an hour.
EVENT_CLAIM = RedisName("event", 2 * 3600, "an Events API or AWS event already taken")

# -- answers and delivery (workers/) ---------------------------------------------------------------
# A rendered answer, kept for "Share in channel".
ANSWER = RedisName("answer", DAY, "a rendered answer (JSON)")
# The key reports behind an answer, kept for "Notify owner".
ANSWER_REPORTS = RedisName("reports", DAY, "the key reports of an answer (JSON)")
# Marks a delivery done, so a retried job never posts the same answer twice.
DELIVERED = RedisName("answered", DAY, "a delivery that Slack took")
# Who had a key's owner notified, and when (JSON): one DM per owner and key per cooldown
# (WHOSE_KEY_NOTIFY_COOLDOWN), across every answer and person.
OWNER_NOTIFIED = RedisName("owner-notified", None, "who had a key's owner notified, and when; TTL = the cooldown")
# Who shared an answer in its channel, and when (JSON), so an answer is shared once.
ANSWER_SHARED = RedisName("shared", DAY, "who shared an answer in the channel, and when")
# Posts made to one response_url (only a hash of the URL is stored): Slack takes 5 in 30 minutes.
RESPONSE_URL_USES = RedisName("response-url-uses", 30 * 60, "posts made to one response_url")

# -- AWS knowledge ---------------------------------------------------------------------------------
# JSON cache entries (organization accounts, email -> Slack member); each writer sets its TTL.
CACHE = RedisName("cache", None, "a cached JSON value; TTL set per entry")
# One-off claims ("only one worker refreshes the account list"); TTL set per claim.
CLAIM = RedisName("claim", None, "a short claim taken by one process")
# Every key ID seen, with its user and account, for "did you mean" and notices (hash, no TTL).
KEY_INDEX = RedisName("key-index", 180 * DAY, "key ID -> user, account and owner (hash); TTL renewed by each write")
# CloudTrail LookupEvents' rate limit (2 a second per account and region), shared by every worker
# (hash): when the next slot is free and when the last calls were sent (ms, Redis clock). Lives
# one window (1.25 s) past the last slot claimed or call sent.
CLOUDTRAIL_RATE = RedisName("cloudtrail-rate", None, "LookupEvents slots and sends of an account and region")

# -- the deactivation watch ------------------------------------------------------------------------
# A key's last known state and what reported it ("Inactive|<event or sweep>").
KEY_STATE = RedisName("key-state", 180 * DAY, "a key's last known state")
# A one-off notice already sent (an exposure, say).
NOTICE_SENT = RedisName("notice", 180 * DAY, "a one-off notice already claimed")
# Notices recorded with their state change and not yet delivered (sorted set: notice ID -> when
# to try next). Each notice's event and cause wait in a PENDING_NOTICE record beside it.
# Its TTL, the give-up age + 1 hour, is renewed by every add.
PENDING_NOTICES = RedisName("pending-notices", None, "undelivered notices by next try (zset); TTL give-up age + 1 h")
# One undelivered notice (hash: the event as JSON, its cause, first recorded, attempts). The writer
# sets a TTL a little past the give-up age, so even a forgotten record goes away.
PENDING_NOTICE = RedisName("pending-notice", None, "one undelivered notice (hash); TTL just past the give-up age")
# Held by the one process delivering a notice, so two retriers never post it twice at once.
NOTICE_DELIVERY_LOCK = RedisName("notice-delivery", 120, "a notice being delivered right now")
# Taken by the worker that enqueues the periodic retry of pending notices; lives one interval.
NOTICE_RETRY_SLOT = RedisName("notice-retry-slot", None, "the current retry interval's slot; TTL = the interval")
# One account's keys as the last sweep saw them (hash of key ID -> JSON); replaced by each sweep.
SNAPSHOT = RedisName("snapshot", 30 * DAY, "one account's keys as last swept (hash)")
# Taken by the worker that enqueues the periodic sweep; lives one sweep interval.
SWEEP_SLOT = RedisName("sweep-slot", None, "the current sweep interval's slot; TTL = the interval")
# What the last finished sweep saw (JSON: sweep_id, finished_at, accounts, keys, unreadable).
SWEEP_LAST = RedisName("sweep-last", 30 * DAY, "a summary of the last finished sweep (JSON)")
# Held by the running sweep (value: its ID) and renewed as it goes: one sweep at a time.
SWEEP_LOCK = RedisName("sweep-lock", 300, "the running sweep's ID; renewed while it runs")
# One sweep's progress and counts (hash: total, done, keys, notified, started_at, …).
SWEEP_STATE = RedisName("sweep", 2 * DAY, "one sweep's progress and counts (hash)")
# Accounts one sweep has finished (set): a retried account job is counted once.
SWEEP_DONE = RedisName("sweep-done", 2 * DAY, "accounts one sweep has finished (set)")
# Accounts one sweep could not read (list of JSON: account, label, outcome, detail).
SWEEP_UNREADABLE = RedisName("sweep-unreadable", 2 * DAY, "accounts one sweep could not read (list)")
# A very large account read in batches in one sweep (hash: batches, the users of each, AWS calls,
# why it could not be read), the batches read (set) and the keys they found (hash key ID -> JSON).
SWEEP_BATCHES = RedisName("sweep-batches", 2 * DAY, "a large account's batch plan in one sweep (hash)")
SWEEP_BATCHES_DONE = RedisName("sweep-batches-done", 2 * DAY, "a large account's batches read (set)")
SWEEP_BATCH_KEYS = RedisName("sweep-batch-keys", 2 * DAY, "keys a large account's batches found (hash)")
# AssumeRole calls started in one second, cluster-wide (counter), to spread them over time.
ASSUME_RATE = RedisName("assume-rate", 5, "AssumeRole calls started in one second")
# The audit trail (stream), trimmed to about AUDIT_MAXLEN entries instead of expiring.
AUDIT = RedisName("audit", 365 * DAY, "the audit trail (stream, trimmed by length; TTL renewed by each record)")

# -- key hygiene (reports, digest, Home tab) ----------------------------------------------------
# Taken by the worker that posts the periodic digest; lives one report interval.
REPORT_SLOT = RedisName("report-slot", None, "the current digest interval's slot; TTL = the interval")
# Slack members who opened the Home tab, whose view each sweep refreshes (set).
# The key-hygiene report as of the last sweep, rendered once per sweep for `/whose-key report`.
REPORT_CACHE = RedisName("report", 2 * DAY, "the key-hygiene report as of the last sweep (rendered message, JSON)")
HOME_VIEWERS = RedisName("home-viewers", 90 * DAY, "Home tab viewers, refreshed after sweeps (zset by last open)")
# "This key's owner has left" already told to the audit channel, per key and departed owner.
DEPARTURE_TOLD = RedisName("departed", 365 * DAY, "a departed owner's key already announced")
# Full searches running now (sorted set of holder -> lease expiry), the workspace-wide semaphore.
SEARCH_SLOTS = RedisName("search-slots", 600, "full searches running now (sorted set: holder -> lease end)")
# The full search one person has running (the request ID): one at a time per person.
SEARCH_PERSON = RedisName("search-person", 360, "the full search one person has running (request ID)")

# -- acting on keys (the opt-in responder role) ---------------------------------------------------
# A key a Deactivate button was offered for, as whose-key read it from IAM: what the web shows in
# the modal and checks the presser against. The worker reads IAM again before it acts.
KEY_OFFER = RedisName("key-offer", DAY, "a key a Deactivate button was offered for (JSON)")
# A key whose-key itself just deactivated or reactivated (who, why, when): undo, and the watch
# knowing the change was its own.
KEY_ACTION_DONE = RedisName("key-action", DAY, "a change whose-key made to a key, for undo (JSON)")
# A key action waiting for a second responder (the two-person rule), and who took it (approved,
# or `expired`). Kept a day so a late press is told what became of it.
KEY_APPROVAL = RedisName("key-approval", DAY, "a key action waiting for a second responder's approval (JSON)")

# -- rotation nudges (WHOSE_KEY_ROTATION_DAYS) -------------------------------------------------------
# One key's nudge at one threshold (`warn`: the rotation age, `final`: twice it) taken by one
# delivery (its ID): once per key and threshold across the cluster. Renewed by every sweep that
# still sees the key active past it, so it lasts as long as the key does.
NUDGE_SENT = RedisName("nudge", 180 * DAY, "a key's nudge at one threshold, taken by one delivery; renewed by sweeps")
# The key a nudge's buttons were offered for, and to whom (JSON): what the web checks a press against.
NUDGE_OFFER = RedisName("nudge-offer", 30 * DAY, "a key a nudge's buttons were offered for, and to whom (JSON)")
# A key's nudges snoozed by its owner (hash: by, until); it lives as long as the snooze.
NUDGE_SNOOZE = RedisName("nudge-snooze", 30 * DAY, "a key's rotation nudges snoozed by its owner (hash)")
# Keys their owners said they rotated, checked against the next sweep (hash "<account>|<key>" -> JSON).
ROTATION_CLAIMS = RedisName("rotation-claims", 30 * DAY, "keys owners say they rotated, for the next sweep (hash)")
# One sweep's nudges, one entry per owner (list of JSON), sent by a chain of paced jobs.
NUDGE_PLAN = RedisName("nudge-plan", 2 * DAY, "one sweep's rotation nudges, one entry per owner (list)")
# When the next nudge DM may go, cluster-wide (ms, Redis clock); lives a few seconds past it.
NUDGE_PACE = RedisName("nudge-pace", None, "when the next rotation-nudge DM may go (ms); TTL just past it")

# -- operations ------------------------------------------------------------------------------------
# Written, read back and deleted by `whose-key doctor` to prove Redis takes writes.
DOCTOR_PROBE = RedisName("doctor", 60, "a doctor's write probe")
# A random value written by the first process to start, remembered by every process: gone (or
# changed) while a process remembers it means Redis lost its data (core/data_loss.py). Renewed by
# every check, so it outlives any running cluster.
DATA_MARKER = RedisName("marker", 365 * DAY, "the data marker: gone means Redis lost whose-key's data")
# The processes that noticed one data loss (set, by the lost marker's value); the first to join
# tells the audit channel.
DATA_LOSS_SEEN = RedisName("data-loss", 7 * DAY, "processes that noticed one data loss (set)")
# Set when a data loss is noticed ("pending"), then taken by the first sweep to finish after it
# (its ID): that sweep's baseline tells no departed owner and sends no rotation nudge again.
DATA_LOSS_BASELINE = RedisName("data-loss-baseline", 7 * DAY, "the sweep taking the baseline after a data loss")

ALL_NAMES: tuple[RedisName, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, RedisName))


def redis_key(name: RedisName, *parts: str) -> str:
    """The full Redis key for one member of a family, e.g. redis_key(ANSWER, request_id)."""
    return PREFIX + ":".join((name.stem, *parts))


# A command that failed with a reset, a timeout or a replica's READONLY is tried again this many
# times on a new connection, waiting up to 0.2 s, 0.4 s, then 0.5 s (random below that) between
# tries: about 2 s at most, inside Slack's 3 s ack; a failover's name usually moves within it.
RETRIES = 5
# Workers answer nobody within 3 s: they wait out a name that is slow to move (about 14 s at most)
# instead of failing the job they are running.
WORKER_RETRIES = 30
RETRY_BACKOFF = 0.1
_TIMEOUTS = (TimeoutError, socket.timeout)
RETRY_BACKOFF_CAP = 0.5


def connect(url: str, *, retries: int = RETRIES, retry_timeouts: bool = False) -> Redis:
    """A Redis client that fails fast instead of hanging when Redis is away, and follows a failover:
    a connection refused as a replica's (READONLY) or reset is dropped and made again, within
    redis-py's retry (core/redis_failover.py). Timeouts are retried only with retry_timeouts (the
    workers): each try can take the full connect timeout, and the web must answer Slack within 3 s
    even when Redis is unreachable."""
    return Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
        retry=Retry(
            ExponentialWithJitterBackoff(base=RETRY_BACKOFF, cap=RETRY_BACKOFF_CAP),
            retries,
            supported_errors=(
                ReadOnlyError,
                ConnectionError,
                *((TimeoutError, socket.timeout) if retry_timeouts else ()),
            ),
        ),
        **failover_connection_class(url),
    )
