"""Who may act on a key, the undo window, and the reason kept free of secrets (core/key_actions.py)."""

from __future__ import annotations

import pytest

from core.key_actions import (
    DEACTIVATE,
    QUARANTINE,
    REACTIVATE,
    UNDO_WINDOW,
    DoneChange,
    clean_reason,
    refusal_for,
)

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
