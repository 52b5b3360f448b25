"""A lookup, answered: find each key, render the answer, post it once, keep it for its buttons."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError

from core import logs
from core.agent_view import WAITING_STATUS, searching_status
from core.audit import audit
from core.blockkit import Message, context
from core.contract import Destination, LookupRequest
from core.jobs import SEARCH_LANE
from core.queue import JobQueue
from core.redis_keys import ANSWER, ANSWER_REPORTS, redis_key
from core.slack_text import channel_link, escape, mention
from workers.answers.search_lane import SearchTurn, too_busy_text
from workers.answers.wait_notice import WaitNotice
from workers.aws.errors import AwsCallError
from workers.lookup.finder import ProgressCallback, finder_for
from workers.lookup.finding import KeyFinding, Verdict
from workers.lookup.full_search import MAX_WAIT, RETRY_EVERY, FullSearchGate, HandOff
from workers.lookup.key_index import remember, similar_keys
from workers.render.answer import render_answer, render_failure
from workers.respond.offers import deactivatable, keep_offers
from workers.runtime import Runtime
from workers.slack.agent_thread import AgentThread
from workers.slack.delivery import already_delivered, deliver_once
from workers.slack.poster import DeliveryError
from workers.slack.progress import SearchProgress

log = logging.getLogger(__name__)

# Keys of one request are looked up side by side; each may fan out further inside.
KEY_CONCURRENCY = 5
WORKING_REACTION = "mag"


def answer_lookup(runtime: Runtime, req: LookupRequest) -> dict[str, Any]:
    """Answer one request. Safe to run again: an answered request is not posted twice.

    On the lookup lane a key that needs a full search moves the request to the search lane
    (workers/answers/search_lane.py); there it runs once it has its turn."""
    logs.request_id.set(req.request_id)
    agent = agent_thread(runtime, req)
    if already_delivered(runtime.redis, req.request_id):
        log.info("request already answered", extra={"request_id": req.request_id})
        if agent is not None:
            agent.clear()  # whatever an earlier run left showing; nothing is posted now
        return {"request_id": req.request_id, "skipped": "already answered"}
    if req.lane == SEARCH_LANE:
        return answer_on_search_lane(runtime, req, agent)
    if agent is not None:
        agent.name_thread()  # the web showed the first status ("is looking up AKIA…")
    try:
        return answer_with(runtime, req, search_gate(runtime, req, hand_off=True), agent)
    except HandOff:
        JobQueue(runtime.redis).enqueue(replace(req, lane=SEARCH_LANE))
        audit(runtime.redis, "lookup_moved_to_search_lane", request_id=req.request_id, user=req.asked_by)
        return {"request_id": req.request_id, "moved": SEARCH_LANE}


def answer_on_search_lane(runtime: Runtime, req: LookupRequest, agent: AgentThread | None = None) -> dict[str, Any]:
    """Answer with full searches once the request has its turn; until then, come back later."""
    turn = SearchTurn(runtime, req)
    busy = turn.take()
    if busy is None:
        try:
            show_status(agent, req, searching_status())
            return answer_with(runtime, req, search_gate(runtime, req), agent)
        finally:
            turn.release()
    now = time.time()
    since = req.waiting_since or now
    if now - since < MAX_WAIT:
        WaitNotice(runtime, req)(busy.message)
        # After the notice, which Slack takes as the end of the status; each turn asked for renews it.
        show_status(agent, req, WAITING_STATUS)
        JobQueue(runtime.redis).enqueue_in(RETRY_EVERY, replace(req, attempt=req.attempt + 1, waiting_since=since))
        return {"request_id": req.request_id, "waiting": busy.reason, "attempt": req.attempt}
    audit(runtime.redis, "refused", user=req.asked_by, reason="full_search_busy", request_id=req.request_id)
    return answer_with(runtime, req, search_gate(runtime, req, refusal=too_busy_text(now - since)), agent)


def agent_thread(runtime: Runtime, req: LookupRequest) -> AgentThread | None:
    """The agent view's thread the request was asked in (DMs with the agent view), else None."""
    if req.agent_thread is None:
        return None
    return AgentThread(runtime.slack, req.agent_thread, req.keys)


def show_status(agent: AgentThread | None, req: LookupRequest, status: str) -> None:
    """A search-lane status; the request's first job (a `deep` one starts here) names the thread too."""
    if agent is None:
        return
    agent.show(status)
    if req.deep and req.attempt == 0:
        agent.name_thread()


def finish_status(agent: AgentThread | None, destination: Destination, posted: bool) -> None:
    """Clear the status unless the answer just went into the thread as a reply (Slack clears it then)."""
    if agent is None:
        return
    thread = agent.thread
    replied = posted and not destination.ephemeral and not destination.response_url
    if not (replied and destination.channel == thread.channel and destination.thread_ts == thread.ts):
        agent.clear()


def search_gate(runtime: Runtime, req: LookupRequest, **mode: Any) -> FullSearchGate:
    return FullSearchGate(
        runtime.redis,
        runtime.settings,
        user=req.asked_by,
        request_id=req.request_id,
        # The web charged a `deep` request when it took it; other full searches are charged here.
        charged_at_edge=req.deep,
        **mode,
    )


def answer_with(
    runtime: Runtime, req: LookupRequest, gate: FullSearchGate, agent: AgentThread | None = None
) -> dict[str, Any]:
    """Find every key (full searches as `gate` allows), post the answer once, keep it, audit it."""
    started = time.perf_counter()
    reports: list[KeyFinding] = []
    mark_working(runtime, req, add=True)
    # Progress only for a single key: interleaved updates for several would confuse more than help.
    # In the agent view it is the thread's status line: a progress message would end the status.
    messages: SearchProgress | None = None
    progress: ProgressCallback | None = None
    if len(req.keys) == 1:
        if agent is not None:
            progress = agent.progress
        else:
            progress = messages = SearchProgress(runtime.poster, req.destination, req.keys[0])
    try:
        with agent.searching() if agent is not None else contextlib.nullcontext():
            reports = find_all(runtime, req, gate, progress)
        offers = deactivatable(runtime, req.asked_by, reports)
        keep_offers(runtime, req.request_id, offers)
        message = render_answer(
            reports,
            secret_exposed=req.secret_pasted,
            problems=req.problems,
            request_id=req.request_id,
            deactivatable=tuple(offers),
        )
    except AwsCallError as exc:
        message = render_failure(req.keys, f"the AWS Organization could not be read: {exc.detail}.")
    keep_answer(runtime, req.request_id, message, reports)
    # After progress updates on a response_url, the answer takes the last update's place.
    replace_update = messages is not None and messages.shown and bool(req.destination.response_url)
    if agent is not None:
        agent.stop()  # no status call may follow the answer
    try:
        posted = deliver_once(runtime.poster, req.request_id, req.destination, message, replace_original=replace_update)
    except DeliveryError:
        finish_status(agent, req.destination, posted=False)
        raise
    finish_status(agent, req.destination, posted)
    if messages is not None:
        messages.finish()
    mark_working(runtime, req, add=False)
    outcome = [r.verdict.value for r in reports] or ["aws_error"]
    audit(
        runtime.redis,
        "lookup_answered",
        request_id=req.request_id,
        user=req.asked_by,
        channel=req.asked_in,
        surface=req.surface,
        keys=list(req.keys),
        outcome=outcome,
    )
    post_audit_record(runtime, req, reports, outcome)
    return {
        "request_id": req.request_id,
        "reports": [r.to_dict() for r in reports],
        "aws_calls": sum(r.aws_calls for r in reports),
        "aws_seconds": sum(r.aws_seconds for r in reports),
        # From taking the request to the answer delivered and audited: less aws_seconds, the
        # lookup's own time (bench/lookup.py).
        "seconds": round(time.perf_counter() - started, 4),
    }


def post_audit_record(runtime: Runtime, req: LookupRequest, reports: list[KeyFinding], outcome: list[str]) -> None:
    """One compact line per lookup in the audit channel, when there is one."""
    channel = runtime.settings.audit_channel
    if not channel:
        return
    who = mention(req.asked_by) if req.asked_by else "someone"
    where = f" in {channel_link(req.asked_in)}" if req.asked_in and req.asked_in[0] in "CG" else f" via {req.surface}"
    found = {r.key_id: r for r in reports}
    parts = []
    for key_id, verdict in zip(req.keys, outcome, strict=False):
        report = found.get(key_id)
        owner = ""
        if report and report.user_name and report.account:
            owner = f" → {escape(report.user_name)} in {escape(report.account.label)}"
        parts.append(f"`{key_id}` {verdict}{owner}")
    text = f":memo: {who} looked up " + ", ".join(parts) + where
    try:
        deliver_once(
            runtime.poster,
            f"audit-{req.request_id}",
            Destination(channel=channel, ephemeral=False),
            Message(text[:3000], [context(text)]),
        )
    except DeliveryError:
        log.warning("audit record not posted to the audit channel", extra={"request_id": req.request_id})


def keep_answer(runtime: Runtime, request_id: str, message: Message, reports: list[KeyFinding]) -> None:
    """Keep the rendered answer and its reports a day, for the Share and Notify-owner buttons."""
    with runtime.redis.pipeline() as pipe:
        pipe.set(redis_key(ANSWER, request_id), json.dumps(message.payload()), ex=ANSWER.seconds)
        pipe.set(redis_key(ANSWER_REPORTS, request_id), json.dumps(notify_reports(reports)), ex=ANSWER.seconds)
        pipe.execute()


def notify_reports(reports: list[KeyFinding]) -> list[dict[str, Any]]:
    """What "Notify owner" needs of an answer: the keys that have an owner on Slack, without the
    per-account detail of what could not be searched (thousands of accounts, in a full search)."""
    return [replace(r, unsearched=(), similar=()).to_dict() for r in reports if r.owner.slack_user_id]


def mark_working(runtime: Runtime, req: LookupRequest, *, add: bool) -> None:
    """A reaction on the asker's message while the lookup runs (mentions and DMs)."""
    if req.working_on is None:
        return
    channel, ts = req.working_on.channel, req.working_on.ts
    try:
        if add:
            runtime.slack.reactions_add(channel=channel, timestamp=ts, name=WORKING_REACTION)
        else:
            runtime.slack.reactions_remove(channel=channel, timestamp=ts, name=WORKING_REACTION)
    except (SlackApiError, OSError) as exc:
        # Cosmetic: the answer matters, a missing reaction (or already_reacted on a retry) does not.
        log.info("reaction not changed", extra={"error": str(getattr(exc, "response", {}).get("error", exc))})


def find_all(
    runtime: Runtime, req: LookupRequest, gate: FullSearchGate, progress: ProgressCallback | None = None
) -> list[KeyFinding]:
    """Every key's report, in the order asked: side by side on the lookup lane, one full search
    after another on the search lane (the request holds one turn)."""
    finder = finder_for(runtime)

    def find(key_id: str) -> KeyFinding:
        report = finder.find(key_id, deep=req.deep, on_progress=progress, gate=gate)
        if report.verdict is Verdict.FOUND:
            remember(runtime.redis, report)
            return replace(report, owner=runtime.directory.resolve(report.owner))
        if report.verdict is not Verdict.TEMPORARY:
            # A mistyped key often decodes to another account or to nothing: offer the near ones.
            return replace(report, similar=tuple(similar_keys(runtime.redis, key_id)))
        return report

    if len(req.keys) == 1 or req.lane == SEARCH_LANE:
        return [find(key_id) for key_id in req.keys]
    with ThreadPoolExecutor(max_workers=min(KEY_CONCURRENCY, len(req.keys))) as pool:
        # Contexts copied here, in the job's thread, so the request ID reaches the pool's log lines.
        tasks = [pool.submit(contextvars.copy_context().run, find, key_id) for key_id in req.keys]
        return [task.result() for task in tasks]


def tell_failure(runtime: Runtime, req: LookupRequest, exc: BaseException) -> None:
    """The lookup failed for good: tell the person instead of going silent."""
    logs.request_id.set(req.request_id)
    agent = agent_thread(runtime, req)
    if already_delivered(runtime.redis, req.request_id):
        finish_status(agent, req.destination, posted=False)
        return
    reason = (
        "Slack did not accept the answer"
        if isinstance(exc, DeliveryError)
        else "something failed on my side after several tries"
    )
    message = render_failure(req.keys, f"{reason} (reference `{req.request_id}`). Please try again in a minute.")
    try:
        posted = deliver_once(runtime.poster, req.request_id, req.destination, message)
    except DeliveryError:
        posted = False
        log.error("could not tell the user about a failed lookup", extra={"request_id": req.request_id})
    finish_status(agent, req.destination, posted)
