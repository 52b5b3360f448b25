"""Who may act on a key, the undo window, and the reason kept free of secrets (core/key_actions.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import pytest
from redis import Redis

from core.blockkit import APPROVE_ACTION
from core.contract import KeyActionRequest
from core.key_actions import (
    APPROVAL_WINDOW,
    DEACTIVATE,
    EXPIRED,
    QUARANTINE,
    REACTIVATE,
    UNDO_WINDOW,
    DoneChange,
    PendingApproval,
    approval_holder,
    claim_approval,
    clean_reason,
    refusal_for,
)
from workers.render.respond import render_approval_request
from workers.respond.approvals import needs_approval

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("action", "user", "responder", "owner", "allowed"),
    [
        (DEACTIVATE, "U1", True, None, True),  # a responder, any key
        (QUARANTINE, "U1", True, "U2", True),
        (DEACTIVATE, "U2", False, "U2", True),  # the owner, their own key
        (QUARANTINE, "U2", False, "U2", False),  # quarantine is for responders only
        (REACTIVATE, "U2", False, "U2", False),  # the undo is decided by whose-key's record
        (DEACTIVATE, "U3", False, "U2", False),  # anyone else
        (DEACTIVATE, None, True, None, False),  # nobody named
    ],
)
def test_who_may_act(action: str, user: str | None, responder: bool, owner: str | None, allowed: bool) -> None:
    assert (refusal_for(action, user, responder=responder, owner=owner) is None) is allowed


def test_the_undo_is_for_the_person_who_deactivated_within_the_window() -> None:
    done = DoneChange("AKIAIOSFODNN7EXAMPLE", "Inactive", "U1", "leak", at=1000.0)
    assert done.undoable_by("U1", now=1000.0 + UNDO_WINDOW)
    assert not done.undoable_by("U1", now=1000.0 + UNDO_WINDOW + 1)
    assert not done.undoable_by("U2", now=1001.0)
    assert not DoneChange("AKIAIOSFODNN7EXAMPLE", "Active", "U1", "undo", at=1000.0).undoable_by("U1", now=1001.0)


@pytest.mark.parametrize("typed", [f"leaked {SECRET} in CI", f"leaked%20{SECRET.replace('/', '%2F')}", SECRET])
def test_a_pasted_secret_never_reaches_the_reason(typed: str) -> None:
    reason = clean_reason(typed)
    assert reason is None or all(piece not in reason for piece in SECRET.split("/"))


def test_the_reason_is_trimmed_and_required() -> None:
    assert clean_reason("  found in   a gist \n") == "found in a gist"
    assert clean_reason("   ") is None and clean_reason(None) is None


# -- the two-person rule ------------------------------------------------------------------------

ASKED = KeyActionRequest("VM1", DEACTIVATE, "AKIAIOSFODNN7EXAMPLE", "123456789012", "deploy-bot", "U1", "leak")


def pending(asked_at: float = 1000.0) -> PendingApproval:
    return PendingApproval("VM1", ASKED, asked_at, "acme-prod (123456789012)")


@pytest.mark.parametrize(
    ("approver", "now", "refusal"),
    [
        ("U2", 1000.0 + APPROVAL_WINDOW, None),  # another person, within the window
        ("U1", 1001.0, "own_request"),  # the requester
        ("U2", 1000.0 + APPROVAL_WINDOW + 1, "approval_expired"),
        (None, 1001.0, "no_user"),
    ],
)
def test_who_may_approve(approver: str | None, now: float, refusal: str | None) -> None:
    assert pending().refusal_for_approver(approver, now=now) == refusal


def test_an_approval_is_taken_once_and_a_retried_ask_keeps_its_first_time(redis: Redis) -> None:
    assert pending(1000.0).save(redis, first=True)
    assert not pending(2000.0).save(redis, first=True)  # a retried job: the window does not restart
    stored = PendingApproval.load(redis, "VM1")
    assert stored is not None and stored.asked_at == 1000.0 and stored.request == ASKED
    assert approval_holder(redis, "VM1") is None
    assert claim_approval(redis, "VM1", "U2")
    assert not claim_approval(redis, "VM1", "U3")
    assert not claim_approval(redis, "VM1", EXPIRED)  # approved first: it cannot expire any more
    assert approval_holder(redis, "VM1") == "U2"


@pytest.mark.parametrize(
    ("approvals", "action", "owner", "approved_by", "needed"),
    [
        (1, DEACTIVATE, None, None, False),  # one responder is enough
        (2, DEACTIVATE, None, None, True),
        (2, QUARANTINE, "U1", None, True),  # an owner may not quarantine alone
        (2, REACTIVATE, None, None, True),  # nor undo alone
        (2, DEACTIVATE, "U1", None, False),  # the owner deactivating their own key
        (2, DEACTIVATE, None, "U2", False),  # approved already
    ],
)
def test_when_a_second_responder_is_needed(
    approvals: int, action: str, owner: str | None, approved_by: str | None, needed: bool
) -> None:
    runtime = SimpleNamespace(settings=SimpleNamespace(responder_approvals=approvals))
    req = replace(ASKED, action=action, approved_by=approved_by)
    assert needs_approval(runtime, req, owner) is needed  # type: ignore[arg-type]


def test_the_approval_request_escapes_what_others_wrote() -> None:
    hostile = replace(ASKED, user_name="<!channel>", reason="*urgent* <@U9> <!here>")
    text = json.dumps(render_approval_request(replace(pending(), request=hostile)).payload())
    assert "<!channel>" not in text and "<!here>" not in text and "<@U9>" not in text
    assert "&lt;!channel&gt;" in text and APPROVE_ACTION in text
