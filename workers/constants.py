"""Tunable numbers of the workers, each with what it means."""

# Queue names. Lookups are interactive and never wait behind sweeps or notices.
LOOKUP_QUEUE = "whose-key-lookups"
BACKGROUND_QUEUE = "whose-key-background"
QUEUES = (LOOKUP_QUEUE, BACKGROUND_QUEUE)

# Prefix of every Redis key whose-key writes, so operators can see and scope them.
REDIS_PREFIX = "whose-key:"

# AWS client behaviour: botocore "standard" retries back off on throttling; timeouts are per call.
AWS_MAX_ATTEMPTS = 4
AWS_CONNECT_TIMEOUT = 3
AWS_READ_TIMEOUT = 8
AWS_MAX_POOL = 32

# AWS clients for member accounts kept per worker (most recently used); ~0.5 MB each.
MAX_CACHED_CLIENTS = 200

# Assumed-role sessions: lifetime asked of STS, and how long before expiry they are renewed.
ROLE_SESSION_NAME = "whose-key"
SESSION_DURATION = 3600
SESSION_REFRESH_MARGIN = 300

# The organization's account list changes rarely. After ACCOUNTS_CACHE_TTL a worker refreshes it
# in the background; a copy is kept ACCOUNTS_CACHE_KEEP so lookups never wait for a listing; an
# account missing from a copy older than ACCOUNTS_RECHECK_AFTER forces a fresh listing.
ACCOUNTS_CACHE_TTL = 300
ACCOUNTS_CACHE_KEEP = 7 * 24 * 3600
ACCOUNTS_RECHECK_AFTER = 60
# Email -> Slack member ID rarely changes.
SLACK_USER_CACHE_TTL = 24 * 3600

# A lookup job: at most this long, retried this many times (e.g. when its worker dies).
LOOKUP_JOB_TIMEOUT = 300
LOOKUP_RETRIES = 2
# The first retry at once (a worker died or Slack hiccuped), the second after a pause.
LOOKUP_RETRY_INTERVALS = [0, 5]
# How long answered-marks last: longer than any retry can come.
ANSWERED_MARK_TTL = 24 * 3600
# Job results are kept for benchmarks and debugging, then dropped.
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600

# The deactivation sweep: how long one may run, and accounts read at once.
SWEEP_JOB_TIMEOUT = 3 * 3600
SWEEP_CONCURRENCY = 16
# Each key's last known state (Active/Inactive/Deleted) is kept this long after it last changed.
KEY_STATE_TTL = 180 * 24 * 3600
