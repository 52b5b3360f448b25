"""Key hygiene, published: the report for a person, the digest, the Home tab, and what follows a
sweep (departed owners, Home tabs refreshed). The RQ entry points are in workers/jobs/hygiene.py.

A Home tab's Deactivate buttons (the opt-in responder role) are kept as offers here, before the
view that carries them is published, so a press finds its offer at once.

All of them read the sweep's snapshots from Redis (no AWS call) in one streaming pass each. The
report a person asks for is rendered once per sweep, after it, and served from Redis.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError

from core.audit import audit
from core.blockkit import Message
from core.contract import AfterSweep, HomeRequest, ReportRequest
from core.data_loss import is_baseline_after_loss
from core.key_actions import remember_offer
from core.membership import GroupMembers
from core.redis_keys import HOME_VIEWERS, REPORT_CACHE, redis_key
from workers.hygiene.departures import DepartureChecker
from workers.hygiene.digest import post_digest
from workers.hygiene.home import HomeCollector, Viewer, home_offers, home_ref, render_home, render_refused_home
from workers.hygiene.notices import DepartureNotices
from workers.hygiene.nudge_plan import NudgePlanner
from workers.hygiene.reader import iter_records, read_sweep_summary
from workers.hygiene.records import KeyRecord
from workers.hygiene.summary import HygieneSummary, summarize
from workers.hygiene.summary_message import render_report
from workers.runtime import Runtime
from workers.slack.delivery import deliver_once

log = logging.getLogger(__name__)

# A member's email (to match keys tagged with it) is looked up once a day.
MEMBER_EMAIL_TTL = 24 * 3600


def current_report(runtime: Runtime, records: Iterable[KeyRecord] | None = None) -> HygieneSummary:
    """The report over every snapshot, with departed owners checked in Slack."""
    return summarize(
        iter_records(runtime.redis) if records is None else records,
        datetime.now(UTC),
        departed=DepartureChecker(runtime.slack, runtime.cache),
        sweep=read_sweep_summary(runtime.redis),
    )


def send_report(runtime: Runtime, request: ReportRequest) -> dict[str, Any]:
    """The report to the person who asked (as of the last sweep, rendered once per sweep), or the
    digest (with its chart) to the audit channel."""
    if request.destination is None:
        report = current_report(runtime)
        posted = post_digest(runtime, report, f"digest-{request.request_id}")
        audit(runtime.redis, "digest_posted" if posted else "digest_skipped", requested_by=request.requested_by)
        return {"keys": report.keys, "digest": True}
    cached = runtime.redis.get(redis_key(REPORT_CACHE))
    if cached is not None:
        stored = json.loads(cached)
        message = Message(str(stored.get("text", "")), list(stored.get("blocks", [])))
    else:  # no sweep has finished since the cache was lost: build it once, for everyone after
        message = keep_report(runtime, current_report(runtime))
    deliver_once(runtime.poster, f"report-{request.request_id}", request.destination, message)
    return {"digest": False, "cached": cached is not None}


def keep_report(runtime: Runtime, report: HygieneSummary) -> Message:
    """Render the report once and keep it for every `/whose-key report` until the next sweep."""
    message = render_report(report)
    runtime.redis.set(redis_key(REPORT_CACHE), json.dumps(message.payload()), ex=REPORT_CACHE.seconds)
    return message


def publish_home(runtime: Runtime, request: HomeRequest) -> dict[str, Any]:
    """Publish the Home tab of a member who opened it, and refresh it after each sweep from now on.

    A member the web refused sees only why; nothing of the organization is read for them.
    """
    if request.refusal is not None:
        runtime.redis.zrem(redis_key(HOME_VIEWERS), request.user)  # no refresh after sweeps either
        runtime.slack.views_publish(user_id=request.user, view=render_refused_home(request.refusal))
        return {"user": request.user, "refused": True}
    runtime.redis.zadd(redis_key(HOME_VIEWERS), {request.user: time.time()})
    runtime.redis.expire(redis_key(HOME_VIEWERS), HOME_VIEWERS.seconds)
    viewer = Viewer(request.user, member_email(runtime, request.user), admin=request.admin)
    collector = HomeCollector([viewer])
    report = summarize(
        collector.tap(iter_records(runtime.redis)), datetime.now(UTC), sweep=read_sweep_summary(runtime.redis)
    )
    runtime.slack.views_publish(user_id=viewer.user_id, view=home_view(runtime, viewer, report))
    return {"user": viewer.user_id, "keys": viewer.total, "admin": viewer.admin}


def home_view(runtime: Runtime, viewer: Viewer, report: HygieneSummary) -> dict[str, Any]:
    """The viewer's Home tab; with the responder role on, their own active keys carry Deactivate,
    each offer kept first (for KEY_OFFER's day, renewed at every open of the tab and every sweep)."""
    offers = home_offers(viewer) if runtime.settings.responder_buttons else {}
    if offers:
        with runtime.redis.pipeline(transaction=False) as pipe:
            for key_id, offer in offers.items():
                remember_offer(pipe, home_ref(viewer, key_id), offer)
            pipe.execute()
    return render_home(viewer, report, offers)


def after_sweep(runtime: Runtime, request: AfterSweep) -> dict[str, Any]:
    """After each sweep: announce departed owners' active keys, plan the owners' rotation nudges
    (sent by a chain of paced jobs), refresh open Home tabs.

    One pass over the snapshots feeds the organization's counts, the departures, the nudges and
    every viewer's own keys.
    """
    now = datetime.now(UTC)
    admins = AdminCheck(runtime)
    viewers = [
        Viewer(user, member_email(runtime, user), admin=admins.is_admin(user)) for user in recent_viewers(runtime)
    ]
    collector = HomeCollector(viewers)
    records: Iterable[KeyRecord] = collector.tap(iter_records(runtime.redis))
    channel = runtime.settings.audit_channel
    departed = DepartureChecker(runtime.slack, runtime.cache)
    notices = DepartureNotices(runtime, departed, now) if channel else None
    if notices is not None:
        records = notices.tap(records)
    planner = NudgePlanner(runtime, request.sweep_id, now, departed)
    if planner.enabled:
        records = planner.tap(records)
    report = summarize(records, now, departed=departed, sweep=read_sweep_summary(runtime.redis))
    keep_report(runtime, report)
    # The baseline after a data loss finds again what was told before it: marked told, not re-sent.
    quiet = is_baseline_after_loss(runtime.redis, request.sweep_id)
    if notices is not None and channel and not quiet:
        notices.post(channel)
    nudges = planner.plan(send=not quiet) if planner.enabled else None
    refreshed = 0
    for viewer in viewers:
        try:
            runtime.slack.views_publish(user_id=viewer.user_id, view=home_view(runtime, viewer, report))
            refreshed += 1
        except SlackApiError as exc:  # one member's tab must not keep the others stale
            log.warning("home tab not refreshed", extra={"user": viewer.user_id, "error": exc.response.get("error")})
    return {
        "sweep_id": request.sweep_id,
        "keys": report.keys,
        "departed_announced": notices.count if notices else 0,
        "homes_refreshed": refreshed,
        "nudges": nudges.to_dict() if nudges is not None else None,
    }


def recent_viewers(runtime: Runtime) -> list[str]:
    """Members who opened the Home tab within HOME_VIEWERS' lifetime (older ones are dropped)."""
    name = redis_key(HOME_VIEWERS)
    runtime.redis.zremrangebyscore(name, 0, time.time() - HOME_VIEWERS.seconds)
    return [m.decode() if isinstance(m, bytes) else str(m) for m, _ in runtime.redis.zscan_iter(name)]


class AdminCheck:
    """Whether a Home tab viewer may see the organization's counts, for the refresh after a sweep
    (the web checks at each open). When Slack cannot say, the counts are left out."""

    def __init__(self, runtime: Runtime) -> None:
        self.groups = runtime.settings.admin_usergroups
        self.members = GroupMembers(runtime.redis, runtime.slack)

    def is_admin(self, user: str) -> bool:
        if not self.groups:
            return False
        try:
            return self.members.in_any(user, self.groups)
        except (SlackApiError, OSError):
            log.warning("admin group membership unknown; counts left out", extra={"user": user})
            return False


def member_email(runtime: Runtime, user_id: str) -> str | None:
    """The member's email from users.info (cached), to match keys whose owner tag is an email."""
    name = "member-email:" + user_id
    cached = runtime.cache.get(name)
    if isinstance(cached, str):
        return cached or None
    try:
        profile = (runtime.slack.users_info(user=user_id).get("user") or {}).get("profile") or {}
    except (SlackApiError, OSError):
        return None  # keys tagged with the member ID still show
    email = str(profile.get("email") or "")
    runtime.cache.set(name, email, MEMBER_EMAIL_TTL)
    return email or None
