"""The one table of jobs: for each job-argument type, the job that takes it and how it runs.

Each row says, once: the arguments' type (from `core.contract`), the job function (a dotted path
the worker resolves; the function takes the worker's runtime and the decoded arguments), the
queue, the timeout, the retries, the failure callback, and the "once" policy: the job ID made
from the arguments. A job with an ID is enqueued at most once while RQ keeps it (waiting,
running, or finished within its result or failure TTL), checked and enqueued in one atomic
Redis step (RQ's unique enqueue), so two web processes racing with the same request, press,
event or sweep enqueue it once. A job without an ID (None) is enqueued every time it is asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.contract import (
    AfterSweep,
    AgentPrompts,
    ApprovalExpiry,
    FaqPress,
    HomeRequest,
    KeyActionRequest,
    LookupRequest,
    NoticeRetry,
    NotifyPress,
    NudgeBatch,
    Reply,
    ReportRequest,
    SharePress,
    SnsConfirmation,
    StepRun,
    SweepAccount,
    SweepChunk,
    SweepFinish,
    SweepRequest,
    SweepUserBatch,
    from_json,
)
from core.key_events import KeyEvent

# Queue names. Lookups, buttons and Home tabs are interactive: people wait for them, and they
# never wait behind sweeps or notices.
LOOKUP_QUEUE = "whose-key-lookups"
# Full searches (every account read): someone waits for them, but they take minutes, so they have
# a lane of their own that the pool's interactive process never serves.
SEARCH_QUEUE = "whose-key-searches"
BACKGROUND_QUEUE = "whose-key-background"
SEARCH_LANE = "search"
# In the order a worker serves them.
QUEUES = (LOOKUP_QUEUE, SEARCH_QUEUE, BACKGROUND_QUEUE)
# What the pool's interactive process serves: it never takes background work, so a lookup
# always finds a free process however long a sweep runs.
INTERACTIVE_QUEUES = (LOOKUP_QUEUE,)

# Retries: (how many, seconds before each). Someone waits for interactive jobs: the first retry
# at once (a worker died or Slack hiccuped), the second after a pause. Nobody waits for
# background jobs, so they back off further.
INTERACTIVE_RETRY = (2, (0, 5))
BACKGROUND_RETRY = (3, (5, 30, 120))
# A sweep's account and batch jobs: retried at once when their worker dies, then later.
FAN_OUT_RETRY = (3, (0, 10, 60))

# Timeouts (seconds). A lookup, even a full search of thousands of accounts, takes minutes at most.
LOOKUP_TIMEOUT = 300
# Posting a prepared message takes seconds even with Slack's retries.
QUICK_TIMEOUT = 60
KEY_EVENT_TIMEOUT = 120
SNS_CONFIRM_TIMEOUT = 30
# Reports and after-sweep work stream every snapshot: minutes at most, even for huge organizations.
HYGIENE_TIMEOUT = 30 * 60
# The sweep's coordinator only lists the accounts and enqueues one job per account.
SWEEP_TIMEOUT = 600
# One account's (or batch's) job: minutes even for thousands of users.
SWEEP_ACCOUNT_TIMEOUT = 1800
# A few paced rotation-nudge DMs (about a second apart), each with Slack's own retries.
NUDGE_TIMEOUT = 300
# Retrying pending notices: each waits at most a few Slack timeouts.
NOTICE_RETRY_TIMEOUT = 600

# Job results are kept for benchmarks and debugging (and, with them, the "once" of a job ID),
# failures longer for operators.
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600


def safe_job_id(text: str) -> str:
    """RQ job IDs allow letters, digits, - and _ only."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)


@dataclass(frozen=True)
class JobSpec:
    """How one kind of job runs; `job_id` is its once-policy (None: a new job every time)."""

    args: type
    func: str
    queue: str
    timeout: int
    retry: tuple[int, tuple[int, ...]] | None
    job_id: Callable[[Any], str] | None
    on_failure: str | None = None
    # A description shows in RQ's dashboards; it must never carry what people typed.
    describe: Callable[[Any], str] | None = None
    # An account already started finishes before new ones start (a large account's next batch).
    at_front: bool = False
    # When the queue depends on the arguments (a person's report is interactive, the digest not).
    queue_for: Callable[[Any], str] | None = None

    def queue_of(self, args: Any) -> str:
        return self.queue_for(args) if self.queue_for is not None else self.queue

    def id_of(self, args: Any) -> str | None:
        return safe_job_id(self.job_id(args)) if self.job_id is not None else None


def _interactive(args: type, func: str, job_id: Callable[[Any], str], **more: Any) -> JobSpec:
    """A job someone waits for: the lookup queue, a quick post, retried at once then soon."""
    return JobSpec(args, func, LOOKUP_QUEUE, more.pop("timeout", QUICK_TIMEOUT), INTERACTIVE_RETRY, job_id, **more)


def _background(args: type, func: str, timeout: int, job_id: Callable[[Any], str] | None, **more: Any) -> JobSpec:
    """A job nobody waits for: the background queue, backing off further between retries."""
    return JobSpec(args, func, BACKGROUND_QUEUE, timeout, more.pop("retry", BACKGROUND_RETRY), job_id, **more)


def _lookup_id(request: LookupRequest) -> str:
    """One job per request on the lookup lane; one per turn it waits for on the search lane."""
    if request.lane == SEARCH_LANE:
        return f"search-{request.request_id}-{request.attempt}"
    return f"lookup-{request.request_id}"


def _press_id(press: Any) -> str:
    return f"action-{press.delivery_id}"


def _step_id(run: StepRun) -> str:
    """One job per function execution on the lookup lane (a redelivered event adds none); one per
    turn it waits for on the search lane."""
    if run.lane == SEARCH_LANE:
        return f"step-search-{run.function_execution_id}-{run.attempt}"
    return f"step-{run.function_execution_id}"


JOBS: tuple[JobSpec, ...] = (
    _interactive(LookupRequest, "workers.jobs.lookup.lookup_keys", _lookup_id,
                 timeout=LOOKUP_TIMEOUT, on_failure="workers.jobs.lookup.report_failure",
                 describe=lambda r: f"lookup {len(r.keys)} key(s) for {r.asked_by}",
                 queue_for=lambda r: SEARCH_QUEUE if r.lane == SEARCH_LANE else LOOKUP_QUEUE),
    _interactive(SharePress, "workers.jobs.buttons.share_answer", _press_id),
    _interactive(FaqPress, "workers.jobs.buttons.show_faq", _press_id),
    _interactive(NotifyPress, "workers.jobs.buttons.notify_owner", _press_id),
    _interactive(Reply, "workers.jobs.buttons.post_reply", lambda r: f"reply-{r.delivery_id}"),
    # The agent view's prompts, set when a member opens the DM: once per app_home_opened event.
    _interactive(AgentPrompts, "workers.jobs.agent_dm.suggest_prompts", lambda p: f"prompts-{p.event_id or p.user}"),
    # A change to a key, once per submission; someone waits for it, and IAM answers in seconds.
    # Its function is its capability's own (no workers.jobs entry): that one more module would
    # make the import chain through the notifier longer than the layout allows.
    _interactive(KeyActionRequest, "workers.respond.act.act_on_key", lambda a: f"key-action-{a.delivery_id}",
                 describe=lambda a: f"{a.action} a key for {a.actor}"),
    # Run by a worker's scheduler when the two-person rule's window is over.
    _background(ApprovalExpiry, "workers.respond.approvals.expire_approval", QUICK_TIMEOUT,
                lambda e: f"approval-expiry-{e.approval_id}"),
    _interactive(HomeRequest, "workers.jobs.hygiene.publish_home", lambda h: f"home-{h.event_id or h.user}"),
    # A Workflow Builder step run: found like a lookup, completed once (functions.complete*).
    _interactive(StepRun, "workers.jobs.step.run_step", _step_id,
                 timeout=LOOKUP_TIMEOUT, on_failure="workers.jobs.step.step_failed",
                 describe=lambda s: f"workflow step for {s.user}",
                 queue_for=lambda s: SEARCH_QUEUE if s.lane == SEARCH_LANE else LOOKUP_QUEUE),
    # Reports run on the background lane: a person's is served from the copy rendered after the last
    # sweep, so it goes to the front (it takes milliseconds), never ahead of a plain lookup.
    _background(ReportRequest, "workers.jobs.hygiene.send_report", HYGIENE_TIMEOUT,
                lambda r: f"report-{r.request_id}", retry=INTERACTIVE_RETRY, at_front=True),
    _background(KeyEvent, "workers.jobs.key_events.handle_key_event", KEY_EVENT_TIMEOUT,
                lambda e: f"event-{e.dedupe_id or e.event_id}"),
    # An SNS subscription confirmation carries no ID of its own; confirming twice is harmless.
    _background(SnsConfirmation, "workers.jobs.key_events.confirm_sns_subscription", SNS_CONFIRM_TIMEOUT, None),
    _background(SweepRequest, "workers.jobs.sweep.run_sweep", SWEEP_TIMEOUT, lambda s: s.sweep_id,
                retry=(2, (5, 30))),
    _background(SweepAccount, "workers.jobs.sweep.sweep_account", SWEEP_ACCOUNT_TIMEOUT,
                lambda a: f"{a.sweep_id}-{a.account_id}", retry=FAN_OUT_RETRY,
                on_failure="workers.jobs.sweep.account_job_failed", describe=lambda a: f"sweep {a.account_id}"),
    _background(SweepChunk, "workers.jobs.sweep.sweep_chunk", SWEEP_ACCOUNT_TIMEOUT,
                lambda c: f"{c.sweep_id}-chunk-{c.accounts[0].account_id if c.accounts else 'none'}",
                retry=FAN_OUT_RETRY, on_failure="workers.jobs.sweep.chunk_job_failed",
                describe=lambda c: f"sweep {len(c.accounts)} accounts"),
    _background(SweepUserBatch, "workers.jobs.sweep.sweep_user_batch", SWEEP_ACCOUNT_TIMEOUT,
                lambda b: f"{b.sweep_id}-{b.account_id}-users-{b.batch}", retry=FAN_OUT_RETRY,
                on_failure="workers.jobs.sweep.user_batch_failed",
                describe=lambda b: f"sweep {b.account_id} users #{b.batch}", at_front=True),
    _background(SweepFinish, "workers.jobs.sweep.finish_sweep", QUICK_TIMEOUT, lambda f: f"{f.sweep_id}-finish"),
    _background(AfterSweep, "workers.jobs.hygiene.after_sweep", HYGIENE_TIMEOUT, lambda a: f"after-sweep-{a.sweep_id}"),
    # A sweep's rotation nudges: a chain of short jobs, each sending a few owners' DMs at the paced
    # rate and enqueueing the next; the last failure of one gives its claims back (next sweep).
    _background(NudgeBatch, "workers.jobs.hygiene.send_nudges", NUDGE_TIMEOUT,
                lambda b: f"nudges-{b.sweep_id}-{b.start}-{b.turn}", on_failure="workers.jobs.hygiene.nudges_failed"),
    # The schedule already claims one retry per interval for the whole cluster.
    _background(NoticeRetry, "workers.jobs.notices.retry_pending_notices", NOTICE_RETRY_TIMEOUT, None, retry=None),
)  # fmt: skip

_BY_ARGS = {spec.args: spec for spec in JOBS}
_BY_FUNC = {spec.func: spec for spec in JOBS}


def spec_for(args: Any) -> JobSpec:
    """The row for these job arguments (their exact type)."""
    try:
        return _BY_ARGS[type(args)]
    except KeyError:
        raise TypeError(f"no job takes {type(args).__name__}") from None


def spec_for_function(func_name: str) -> JobSpec:
    """The row of the job function `func_name` (as RQ stores it)."""
    try:
        return _BY_FUNC[func_name]
    except KeyError:
        raise LookupError(f"{func_name} is not a whose-key job") from None


def decode_arguments(func_name: str, data: Any) -> Any:
    """A job's stored arguments as the type its row names (job arguments are data, not trust)."""
    return from_json(spec_for_function(func_name).args, data)
