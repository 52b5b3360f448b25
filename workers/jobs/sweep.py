"""The sweep job, and telling the audit channel about accounts it could not read."""

from __future__ import annotations

import logging
from typing import Any

from rq import get_current_job

from core.blockkit import Message, section
from core.contract import Destination, SweepRequest, from_json
from core.slack_text import escape
from workers.jobs.delivery import deliver_once
from workers.notifier import Notifier
from workers.runtime import Runtime
from workers.sweep import Sweeper, SweepReport

log = logging.getLogger(__name__)


def run_sweep(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """RQ job: one sweep of every account. Its job ID names the run, so a retry notifies nothing twice."""
    request = from_json(SweepRequest, args)
    log.info("sweep starting", extra={"requested_by": request.requested_by})
    job = get_current_job()
    # Notices Slack did not take before get another chance first, whatever the sweep finds.
    Notifier(runtime).retry_pending()
    report = Sweeper(runtime).run(job.id if job else None)
    report_unreadable(runtime, report)
    return report.to_dict()


def report_unreadable(runtime: Runtime, report: SweepReport) -> None:
    """Accounts the sweep could not read are a blind spot: say so where operators look."""
    if not report.unreadable or not runtime.settings.audit_channel:
        return
    lines = [f"• {escape(r.account.label)}: {escape(r.detail)}" for r in report.unreadable[:20]]
    if len(report.unreadable) > 20:
        lines.append(f"• …and {len(report.unreadable) - 20} more")
    text = (
        f":warning: The key sweep could not read {len(report.unreadable)} of {report.accounts} accounts, "
        "so deactivated or deleted keys there go unnoticed until it can:\n" + "\n".join(lines) +
        "\nRun `whose-key doctor` for the fix."
    )  # fmt: skip
    destination = Destination(channel=runtime.settings.audit_channel, ephemeral=False)
    deliver_once(runtime, f"sweep-unreadable-{report.sweep_id}", destination, Message(text[:3000], [section(text)]))
