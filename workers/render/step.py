"""What the Workflow Builder step hands back for a finding, as a pure function: the outputs of
functions.completeSuccess (core/step.py StepOutputs), or the plain reason of functions.completeError
when whose-key cannot say whose the key is (some accounts could not be searched).

Every value from outside (IAM user and account names, tags, details) is escaped with
core.slack_text.escape, as in every Slack message: a later step may put it in one.
"""

from __future__ import annotations

from core.slack_text import escape, is_member_id
from core.step import LEAKED_NOTE, StepOutputs, StepResult, StepStatus, one_line, plain
from workers.lookup.finding import KeyFinding, Verdict
from workers.render.common import SLACK_FALLBACK, suggestion_text, verdict_line

# The accounts named in an incomplete search's reason; the rest are counted.
MAX_UNSEARCHED_NAMED = 3

STATUS_OF_VERDICT = {
    Verdict.GONE: StepStatus.GONE,
    Verdict.NOT_FOUND: StepStatus.NOT_FOUND,
    Verdict.OUTSIDE_ORG: StepStatus.OUTSIDE,
    Verdict.TEMPORARY: StepStatus.TEMPORARY,
}


def step_result(report: KeyFinding, *, secret_pasted: bool = False) -> StepResult:
    """The completion for one finding: outputs for every verdict but an incomplete search."""
    if report.verdict is Verdict.INCOMPLETE:
        return StepResult.failed(incomplete_reason(report), "incomplete")
    return StepResult.answered(step_outputs(report, secret_pasted=secret_pasted))


def step_outputs(report: KeyFinding, *, secret_pasted: bool = False) -> StepOutputs:
    """The outputs for a verdict other than incomplete."""
    found = report.verdict is Verdict.FOUND
    owner = report.owner.slack_user_id if found else None
    return StepOutputs(
        status=status_of(report),
        summary=summary_of(report, secret_pasted=secret_pasted),
        owner_user_id=owner if owner and is_member_id(owner) else None,
        iam_user=escape(report.user_name) if report.user_name else "",
        account_id=escape(report.account.id) if report.account else "",
        account_name=escape(report.account.name) if report.account and report.account.name else "",
    )


def status_of(report: KeyFinding) -> StepStatus:
    if report.verdict is Verdict.FOUND:
        # IAM knows Active and Inactive; anything but Active cannot sign a request.
        return StepStatus.ACTIVE if report.status == "Active" else StepStatus.INACTIVE
    return STATUS_OF_VERDICT[report.verdict]


def summary_of(report: KeyFinding, *, secret_pasted: bool = False) -> str:
    """One line of plain text: the answer's own verdict sentence, "did you mean", the secret note."""
    line = verdict_line(report, SLACK_FALLBACK)
    if report.verdict is not Verdict.FOUND and report.similar:
        line += " Did you mean " + " or ".join(suggestion_text(s, SLACK_FALLBACK) for s in report.similar[:2]) + "?"
    if secret_pasted:
        line += LEAKED_NOTE
    return one_line(line)


def incomplete_reason(report: KeyFinding) -> str:
    """Why the step cannot answer yet, and which accounts could not be searched, in plain words."""
    reason = verdict_line(report, SLACK_FALLBACK)
    if report.accounts_searched or len(report.unsearched) != 1:
        named = "; ".join(
            f"{escape(u.account.label)}: {escape(u.detail)}" for u in report.unsearched[:MAX_UNSEARCHED_NAMED]
        )
        more = len(report.unsearched) - MAX_UNSEARCHED_NAMED
        reason += f" Could not search {named}" + (f"; and {more} more" if more > 0 else "") + "."
    for note in report.notes:
        reason += f" {escape(plain(note))}"
    return one_line(reason + " Nothing is known about the key yet: run the workflow again later.")
