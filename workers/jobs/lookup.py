"""The lookup job: find each key, render the answer, post it once."""

from __future__ import annotations

import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from rq.job import Job

from workers.aws import AwsCallError
from workers.render import Message, render_answer, render_failure
from workers.report import KeyReport
from workers.runtime import Runtime, get_runtime
from workers.slack_post import DeliveryError, Destination, Poster
from workers.state import key

log = logging.getLogger(__name__)

# Keys of one request are looked up side by side; each may fan out further inside.
KEY_CONCURRENCY = 5
ANSWERED_TTL = 24 * 3600


@dataclass(frozen=True)
class LookupRequest:
    """The JSON-safe arguments of a lookup job."""

    request_id: str
    keys: tuple[str, ...]
    destination: Destination
    asked_by: str | None = None
    deep: bool = False
    secret_pasted: bool = False
    problems: tuple[str, ...] = field(default=())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LookupRequest:
        return cls(
            request_id=str(data["request_id"]),
            keys=tuple(data["keys"]),
            destination=Destination.from_dict(data.get("destination", {})),
            asked_by=data.get("asked_by"),
            deep=bool(data.get("deep", False)),
            secret_pasted=bool(data.get("secret_pasted", False)),
            problems=tuple(data.get("problems", ())),
        )


def lookup_keys(request: dict[str, Any]) -> dict[str, Any]:
    """RQ job: answer one request. Safe to run again: an answered request is not posted twice."""
    runtime = get_runtime()
    req = LookupRequest.from_dict(request)
    answered_key = key("answered", req.request_id)
    if runtime.redis.exists(answered_key):
        log.info("request already answered", extra={"request_id": req.request_id})
        return {"request_id": req.request_id, "skipped": "already answered"}

    reports: list[KeyReport] = []
    try:
        reports = find_all(runtime, req)
        message = render_answer(reports, secret_exposed=req.secret_pasted, problems=req.problems)
    except AwsCallError as exc:
        message = render_failure(req.keys, f"the AWS Organization could not be read: {exc.detail}.")
    deliver(runtime, req, message)
    outcome = [r.verdict.value for r in reports] or ["aws_error"]
    log.info(
        "lookup answered",
        extra={"request_id": req.request_id, "asked_by": req.asked_by, "keys": list(req.keys), "outcome": outcome},
    )
    return {
        "request_id": req.request_id,
        "reports": [r.to_dict() for r in reports],
        "aws_calls": sum(r.aws_calls for r in reports),
        "aws_seconds": sum(r.aws_seconds for r in reports),
    }


def find_all(runtime: Runtime, req: LookupRequest) -> list[KeyReport]:
    """Every key's report, in the order asked, looked up in parallel."""

    def find(key_id: str) -> KeyReport:
        report = runtime.finder.find(key_id, deep=req.deep)
        return replace(report, owner=runtime.directory.resolve(report.owner))

    if len(req.keys) == 1:
        return [find(req.keys[0])]
    with ThreadPoolExecutor(max_workers=min(KEY_CONCURRENCY, len(req.keys))) as pool:
        return list(pool.map(lambda k: contextvars.copy_context().run(find, k), req.keys))


def deliver(runtime: Runtime, req: LookupRequest, message: Message) -> None:
    """Post once; the mark makes a retried job skip what was already delivered."""
    Poster(runtime.slack, runtime.settings).post(req.destination, message.payload())
    runtime.redis.set(key("answered", req.request_id), "1", ex=ANSWERED_TTL)


def report_failure(job: Job, connection: Any, exc_type: type, exc: BaseException, tb: Any) -> None:
    """RQ failure callback: when no retry is left, tell the person instead of going silent."""
    if job.retries_left:
        return  # RQ will run it again
    request = job.args[0] if job.args else None
    if not isinstance(request, dict):
        return
    runtime = get_runtime()
    req = LookupRequest.from_dict(request)
    if runtime.redis.exists(key("answered", req.request_id)):
        return
    reason = (
        "Slack did not accept the answer"
        if isinstance(exc, DeliveryError)
        else "something failed on my side after several tries"
    )
    message = render_failure(req.keys, f"{reason} (reference `{req.request_id}`). Please try again in a minute.")
    try:
        deliver(runtime, req, message)
    except DeliveryError:
        log.error("could not tell the user about a failed lookup", extra={"request_id": req.request_id})
