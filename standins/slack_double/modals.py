"""Modals: views.open and views.update open and replace modals only with a trigger_id the double issued
(`new_trigger_id()`), once, within three seconds. Submissions are built by slack_payloads."""

from __future__ import annotations

import copy
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from standins.slack_double.base import DoubleCore
from standins.slack_double.modal_rules import _modal_from_args
from standins.slack_double.records import ModalView, RecordedCall, _Trigger
from standins.slack_double.refusals import _SlackError


class Modals(DoubleCore):
    """Trigger IDs and the modals opened with them."""

    # -- modals (views.open, views.update; submissions are built by slack_payloads) --------------

    def _init_modals(self) -> None:
        """State and methods for trigger IDs and the modals opened with them."""
        self._triggers: dict[str, _Trigger] = {}
        self._trigger_numbers = itertools.count(1)
        self._modal_numbers = itertools.count(1)
        self._modals: dict[str, ModalView] = {}  # view_id -> modal, in the order they were opened
        self._methods.update({"views.open": self._views_open, "views.update": self._views_update})

    def new_trigger_id(self, user_id: str | None = None) -> str:
        """A trigger_id as Slack puts in an interaction payload (of user_id's press): views.open takes it once,
        within the trigger lifetime counted on the double's clock."""
        with self._lock:
            number = next(self._trigger_numbers)
            # Slack's shape, e.g. 12345.98765.abcd2358fdea; the number keeps it unique, the hex unguessable.
            trigger_id = f"{number}.{int(time.time())}.{uuid.uuid4().hex[:24]}"
            self._triggers[trigger_id] = _Trigger(issued_at=self._clock(), user_id=user_id)
        return trigger_id

    def expire_trigger(self, trigger_id: str) -> None:
        """Age a trigger the double issued past its lifetime, so views.open answers expired_trigger_id."""
        with self._lock:
            if trigger_id not in self._triggers:
                raise KeyError(f"trigger {trigger_id!r} was not issued by this double")
            self._triggers[trigger_id].issued_at = self._clock() - self._trigger_lifetime - 1.0

    def modals(self, user_id: str | None = None) -> list[ModalView]:
        """Modals opened with views.open (as last updated), optionally only one member's, oldest first."""
        with self._lock:
            return [_copy_modal(m) for m in self._modals.values() if user_id is None or m.user_id == user_id]

    def modal(self, view_id: str) -> ModalView:
        """One open modal by its view ID; KeyError when the double holds none by that ID."""
        with self._lock:
            return _copy_modal(self._modals[view_id])

    def wait_for_modal(self, predicate: Callable[[ModalView], bool] | None = None, timeout: float = 15.0) -> ModalView:
        """Block until an open modal satisfies predicate (any modal when None) and return the newest that does."""
        found: list[ModalView] = []

        def opened(_calls: list[RecordedCall]) -> bool:
            # Handlers change the modals before the call is recorded, and recording wakes the waiters.
            found[:] = [m for m in self.modals() if predicate is None or predicate(m)]
            return bool(found)

        self.wait_for(opened, timeout)
        return found[-1]

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """Exchange a trigger the double issued for a modal, validated as Slack validates it."""
        # Slack takes an interactivity_pointer in place of a trigger_id; the double issues both alike.
        trigger_id = str(args.get("trigger_id") or args.get("interactivity_pointer") or "")
        if not trigger_id:
            raise _SlackError("invalid_arguments", ["[ERROR] missing required field: trigger_id"])
        view = _modal_from_args(args)
        with self._lock:
            trigger = self._triggers.get(trigger_id)
            if trigger is None:
                raise _SlackError("invalid_trigger_id")
            if trigger.used:
                raise _SlackError("exchanged_trigger_id")
            if self._clock() - trigger.issued_at > self._trigger_lifetime:
                raise _SlackError("expired_trigger_id")
            external_id = str(view.get("external_id") or "")
            if external_id and self._modal_by_external_id(external_id) is not None:
                raise _SlackError("duplicate_external_id")
            trigger.used = True
            view_id = f"VM{next(self._modal_numbers):07d}"
            answered = self._answered_view(view, view_id, root_view_id=view_id, external_id=external_id)
            self._modals[view_id] = ModalView(view_id, trigger.user_id, trigger_id, answered)
            return {"view": copy.deepcopy(answered)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """Replace an open modal's view, found by view_id or external_id, guarded by its hash when one is given."""
        view_id, external_id = str(args.get("view_id") or ""), str(args.get("external_id") or "")
        if bool(view_id) == bool(external_id):
            raise _SlackError("invalid_arguments", ["[ERROR] exactly one of view_id or external_id is required"])
        view = _modal_from_args(args)
        with self._lock:
            current = self._modals.get(view_id) if view_id else self._modal_by_external_id(external_id)
            if current is None:
                raise _SlackError("not_found")
            offered_hash = args.get("hash")
            if offered_hash and offered_hash != current.hash:
                raise _SlackError("hash_conflict")
            # A view that names no external_id keeps the one it was found by.
            new_external_id = str(view.get("external_id") or current.external_id)
            holder = self._modal_by_external_id(new_external_id) if new_external_id else None
            if holder is not None and holder.view_id != current.view_id:
                raise _SlackError("duplicate_external_id")
            answered = self._answered_view(
                view, current.view_id, root_view_id=str(current.view["root_view_id"]), external_id=new_external_id
            )
            self._modals[current.view_id] = replace(current, view=answered, updates=current.updates + 1)
            return {"view": copy.deepcopy(answered)}

    def _modal_by_external_id(self, external_id: str) -> ModalView | None:
        """The open modal with this external_id, if any (caller holds the lock)."""
        return next((m for m in self._modals.values() if m.external_id == external_id), None)

    def _answered_view(
        self, view: dict[str, Any], view_id: str, *, root_view_id: str, external_id: str
    ) -> dict[str, Any]:
        """The view object as Slack answers views.open and views.update: the app's fields plus Slack's own."""
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": _with_block_ids(view["blocks"]),
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
            "external_id": external_id,
            # Nobody has typed yet; slack_payloads.view_submission fills in what a person types.
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "title": view["title"],
            "close": view.get("close"),
            "submit": view.get("submit"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "previous_view_id": None,
            "root_view_id": root_view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }


def _copy_modal(modal: ModalView) -> ModalView:
    """A copy a test may change without changing what the double holds."""
    return replace(modal, view=copy.deepcopy(modal.view))


def _with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The blocks as Slack hands them back: every block with a block_id, every input element with an action_id
    (Slack makes up the missing ones, and a submission's state is keyed by them)."""
    out = copy.deepcopy(blocks)
    for block in out:
        block.setdefault("block_id", uuid.uuid4().hex[:5])
        element = block.get("element")
        if block.get("type") == "input" and isinstance(element, dict):
            element.setdefault("action_id", uuid.uuid4().hex[:5])
    return out
