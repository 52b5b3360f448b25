"""Tunable numbers of the workers, each with what it means."""

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

# The deactivation sweep. In-process (`whose-key sweep --local`): accounts read at once.
SWEEP_CONCURRENCY = 8
# IAM calls in flight at once in one account (its users are read in parallel, this many at a
# time): IAM's request rate is per account, so this, not the number of workers, bounds it.
ACCOUNT_CONCURRENCY = 4
# The sweep's fan-out: one job reads SWEEP_CHUNK_ACCOUNTS accounts, ACCOUNTS_IN_FLIGHT of them side
# by side, so one background process keeps up to ACCOUNTS_IN_FLIGHT x ACCOUNT_CONCURRENCY IAM
# calls in flight (a worker mostly waits on the network). A killed worker costs at most one chunk.
ACCOUNTS_IN_FLIGHT = 8
SWEEP_CHUNK_ACCOUNTS = 16
# AssumeRole calls started per second across every worker, so the first sweep of thousands of
# accounts spreads its role sessions over time instead of bursting them at once.
ASSUME_PER_SECOND = 20
