"""The Slack double's modals (views.open, views.update) and the view_submission payloads built from
them, over real HTTP through slack_sdk."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from standins import slack_payloads
from standins.slack_double import TRIGGER_LIFETIME_SECONDS, Reply, SlackDouble

TOKEN = "xoxb-double-test"  # noqa: S105 - fake token the double accepts
PRESSER = "U0ANA"


class Clock:
    """A settable clock for the double, so a trigger can age past its lifetime without a test sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def double(clock: Clock) -> Iterator[SlackDouble]:
    """A started double counting trigger ages on the test's clock."""
    with SlackDouble(token=TOKEN, clock=clock) as d:
        yield d


@pytest.fixture
def client(double: SlackDouble) -> WebClient:
    return WebClient(token=TOKEN, base_url=double.base_url)


def modal(title: str = "Deactivate key", **fields: Any) -> dict[str, Any]:
    """A modal like the one "Deactivate key" opens: what will stop working, and a required reason."""
    return {
        "type": "modal",
        "callback_id": "whose_key_deactivate",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Deactivate"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"key": "AKIAEXAMPLE", "account": "111111111111"}),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Anything signing with this key stops."}},
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Why?"},
                "element": {"type": "plain_text_input", "action_id": "reason_text"},
            },
        ],
        **fields,
    }


def refusal(call: Any) -> dict[str, Any]:
    """The ok:false answer a Web API call got (on HTTP 200, as Slack answers)."""
    with pytest.raises(SlackApiError) as caught:
        call()
    assert caught.value.response.status_code == 200
    return dict(caught.value.response.data)


def test_a_fresh_trigger_opens_a_modal_the_double_keeps(double: SlackDouble, client: WebClient) -> None:
    """views.open with a trigger the double issued answers the view with Slack's own fields, and the double keeps it."""
    trigger = double.new_trigger_id(PRESSER)

    view = client.views_open(trigger_id=trigger, view=modal())["view"]

    assert view["id"].startswith("V") and view["hash"] and view["root_view_id"] == view["id"]
    assert (view["team_id"], view["app_id"], view["bot_id"]) == ("T0TEST", "A0WHOSEKEY", "BWHOSEKEY")
    assert view["state"] == {"values": {}} and view["previous_view_id"] is None
    assert view["callback_id"] == "whose_key_deactivate" and view["title"]["text"] == "Deactivate key"
    # Slack gives every block a block_id, so a submission's state can be keyed by them.
    assert all(block.get("block_id") for block in view["blocks"])
    held = double.modal(view["id"])
    assert (held.user_id, held.trigger_id, held.view, held.updates) == (PRESSER, trigger, view, 0)
    assert [m.view_id for m in double.modals(PRESSER)] == [view["id"]] and double.modals("U0OTHER") == []
    assert double.views() == []  # modals are not Home tabs


def test_the_view_may_come_as_json_text_in_a_form(double: SlackDouble, client: WebClient) -> None:
    """A form-encoded views.open with the view as a JSON string (Slack's documented form) opens it too."""
    trigger = double.new_trigger_id(PRESSER)

    response = client.api_call("views.open", data={"trigger_id": trigger, "view": json.dumps(modal())})

    assert response["ok"] is True
    assert double.modal(response["view"]["id"]).private_metadata == modal()["private_metadata"]


def test_a_trigger_opens_one_modal_only(double: SlackDouble, client: WebClient) -> None:
    """A trigger already exchanged is refused with exchanged_trigger_id and opens nothing more."""
    trigger = double.new_trigger_id(PRESSER)
    client.views_open(trigger_id=trigger, view=modal())

    answer = refusal(lambda: client.views_open(trigger_id=trigger, view=modal()))

    assert answer["error"] == "exchanged_trigger_id"
    assert len(double.modals()) == 1


def test_a_trigger_the_double_never_issued_is_refused(double: SlackDouble, client: WebClient) -> None:
    """A made-up trigger (as the payload builders use by default) is invalid_trigger_id; none at all is
    invalid_arguments."""
    made_up = slack_payloads.block_action("x", "y", user_id=PRESSER, channel_id="C0", response_url="u")["trigger_id"]

    unknown = refusal(lambda: client.views_open(trigger_id=made_up, view=modal()))
    missing = refusal(lambda: client.api_call("views.open", json={"view": modal()}))

    assert unknown["error"] == "invalid_trigger_id"
    assert missing["error"] == "invalid_arguments"
    assert double.modals() == []


def test_a_trigger_marked_expired_is_refused(double: SlackDouble, client: WebClient) -> None:
    """expire_trigger ages a trigger past its lifetime: views.open answers expired_trigger_id."""
    trigger = double.new_trigger_id(PRESSER)
    double.expire_trigger(trigger)

    answer = refusal(lambda: client.views_open(trigger_id=trigger, view=modal()))

    assert answer["error"] == "expired_trigger_id"
    assert double.modals() == []
    with pytest.raises(KeyError):
        double.expire_trigger("1.2.not-issued-here")


def test_triggers_expire_after_three_seconds_on_the_doubles_clock(
    double: SlackDouble, client: WebClient, clock: Clock
) -> None:
    """A trigger still opens a modal just inside its three seconds and is expired just past them."""
    in_time, too_late = double.new_trigger_id(PRESSER), double.new_trigger_id(PRESSER)

    clock.now += TRIGGER_LIFETIME_SECONDS - 0.1
    assert client.views_open(trigger_id=in_time, view=modal())["ok"] is True
    clock.now += 0.2
    answer = refusal(lambda: client.views_open(trigger_id=too_late, view=modal()))

    assert TRIGGER_LIFETIME_SECONDS == 3.0
    assert answer["error"] == "expired_trigger_id"


def _blocks(count: int) -> list[dict[str, Any]]:
    return [{"type": "divider"} for _ in range(count)]


@pytest.mark.parametrize(
    ("view", "pointer"),
    [
        # Not a modal: views.publish is for Home tabs.
        ({**modal(), "type": "home"}, "/view/type"),
        # The title is required ...
        ({k: v for k, v in modal().items() if k != "title"}, "missing required field: title [json-pointer:/view]"),
        # ... plain_text ...
        ({**modal(), "title": {"type": "mrkdwn", "text": "*Deactivate*"}}, "/view/title/type"),
        # ... and at most 24 characters.
        (modal("Deactivate this key right now"), "/view/title/text"),
        # A submit button's text has the same limit.
        (modal(submit={"type": "plain_text", "text": "Deactivate it, I am quite sure"}), "/view/submit/text"),
        # Blocks are required, and at most 100.
        ({k: v for k, v in modal().items() if k != "blocks"}, "missing required field: blocks"),
        (modal(blocks=_blocks(101)), "no more than 100 items allowed [json-pointer:/view/blocks]"),
        # An input block needs a submit button to submit it.
        (modal(submit=None), "must define `submit` to use an `input` block in modals"),
        # private_metadata carries at most 3000 characters, callback_id at most 255.
        (modal(private_metadata="x" * 3001), "/view/private_metadata"),
        (modal(callback_id="x" * 256), "/view/callback_id"),
    ],
)
def test_views_slack_would_refuse_are_invalid_arguments(
    double: SlackDouble, client: WebClient, view: dict[str, Any], pointer: str
) -> None:
    """An invalid view answers invalid_arguments with Slack's response_metadata.messages naming the field."""
    answer = refusal(lambda: client.views_open(trigger_id=double.new_trigger_id(PRESSER), view=view))

    assert answer["error"] == "invalid_arguments"
    assert any(pointer in message for message in answer["response_metadata"]["messages"]), answer
    assert double.modals() == []


def test_an_invalid_view_does_not_spend_the_trigger(double: SlackDouble, client: WebClient) -> None:
    """Every problem of a view is listed at once, and the trigger still opens the corrected view."""
    trigger = double.new_trigger_id(PRESSER)
    broken = modal("Deactivate this key right now", private_metadata="x" * 3001)

    answer = refusal(lambda: client.views_open(trigger_id=trigger, view=broken))

    assert len(answer["response_metadata"]["messages"]) == 2
    assert refusal(lambda: client.api_call("views.open", json={"trigger_id": trigger}))["error"] == "invalid_arguments"
    assert client.views_open(trigger_id=trigger, view=modal())["ok"] is True


def test_update_by_view_id_replaces_the_view_with_a_new_hash(double: SlackDouble, client: WebClient) -> None:
    """views.update by view_id, with no hash, replaces the view and answers it with a fresh hash."""
    opened = client.views_open(trigger_id=double.new_trigger_id(PRESSER), view=modal())["view"]

    updated = client.views_update(view_id=opened["id"], view=modal("Key deactivated", private_metadata="done"))["view"]

    assert (updated["id"], updated["root_view_id"]) == (opened["id"], opened["id"])
    assert updated["hash"] != opened["hash"] and updated["title"]["text"] == "Key deactivated"
    held = double.modal(opened["id"])
    assert (held.view, held.updates, held.private_metadata, held.user_id) == (updated, 1, "done", PRESSER)


def test_update_with_a_stale_hash_is_a_hash_conflict(double: SlackDouble, client: WebClient) -> None:
    """The current hash lets an update through; the hash it replaced is then stale: hash_conflict, view unchanged."""
    opened = client.views_open(trigger_id=double.new_trigger_id(PRESSER), view=modal())["view"]
    first = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Deactivating"))["view"]

    answer = refusal(lambda: client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Too late")))

    assert answer["error"] == "hash_conflict"
    assert double.modal(opened["id"]).view == first


def test_update_of_an_unknown_view_is_not_found(double: SlackDouble, client: WebClient) -> None:
    """views.update of a view_id or external_id the double does not hold answers not_found."""
    by_id = refusal(lambda: client.views_update(view_id="VNOSUCHVIEW", view=modal()))
    by_external_id = refusal(lambda: client.views_update(external_id="no-such-view", view=modal()))

    assert (by_id["error"], by_external_id["error"]) == ("not_found", "not_found")


def test_update_by_external_id_and_external_ids_are_unique(double: SlackDouble, client: WebClient) -> None:
    """A modal opened with an external_id can be updated by it; a second modal cannot take the same one."""
    opened = client.views_open(trigger_id=double.new_trigger_id(PRESSER), view=modal(external_id="deactivate-1"))
    taken = refusal(
        lambda: client.views_open(trigger_id=double.new_trigger_id(PRESSER), view=modal(external_id="deactivate-1"))
    )

    updated = client.views_update(external_id="deactivate-1", view=modal("Key deactivated"))["view"]

    assert taken["error"] == "duplicate_external_id"
    assert updated["id"] == opened["view"]["id"] and updated["external_id"] == "deactivate-1"


def test_an_update_is_validated_like_an_open(double: SlackDouble, client: WebClient) -> None:
    """views.update refuses a view Slack would refuse, with the messages, and leaves the held view as it was."""
    opened = client.views_open(trigger_id=double.new_trigger_id(PRESSER), view=modal())["view"]

    answer = refusal(lambda: client.views_update(view_id=opened["id"], view=modal("Deactivate this key right now")))

    assert answer["error"] == "invalid_arguments" and answer["response_metadata"]["messages"]
    assert double.modal(opened["id"]).view == opened


def test_a_submission_built_from_an_opened_view_carries_what_was_typed(double: SlackDouble, client: WebClient) -> None:
    """view_submission from the held view carries the typed reason, the private_metadata, the view's id and hash."""
    view_id = client.views_open(trigger_id=double.new_trigger_id(PRESSER), view=modal())["view"]["id"]
    held = double.modal(view_id).view

    payload = slack_payloads.view_submission(
        held, {"reason": {"reason_text": "pasted in #general"}}, user_id=PRESSER, trigger_id=double.new_trigger_id()
    )

    assert payload["type"] == "view_submission" and payload["response_urls"] == []
    assert payload["user"] == {"id": PRESSER, "username": "asker", "name": "asker", "team_id": "T0TEST"}
    assert (payload["team"]["id"], payload["api_app_id"]) == ("T0TEST", "A0WHOSEKEY")
    submitted = payload["view"]
    assert (submitted["id"], submitted["hash"], submitted["callback_id"]) == (
        view_id,
        held["hash"],
        held["callback_id"],
    )
    assert json.loads(submitted["private_metadata"]) == {"key": "AKIAEXAMPLE", "account": "111111111111"}
    assert submitted["state"]["values"] == {
        "reason": {"reason_text": {"type": "plain_text_input", "value": "pasted in #general"}}
    }
    assert double.modal(view_id).view["state"] == {"values": {}}  # the double's copy is untouched
    # The submission's trigger is fresh: it can open the next modal.
    assert client.views_open(trigger_id=payload["trigger_id"], view=modal())["ok"] is True


def test_a_submission_lists_untyped_inputs_and_forged_values(double: SlackDouble, client: WebClient) -> None:
    """An input nobody typed in is in the state as None, as Slack sends it; values for inputs the view lacks are
    kept, so a test can forge a submission."""
    held = client.views_open(trigger_id=double.new_trigger_id(PRESSER), view=modal())["view"]

    payload = slack_payloads.view_submission(held, {"approve": {"who": "me"}}, user_id="U0MALLORY")

    assert payload["view"]["state"]["values"] == {
        "reason": {"reason_text": {"type": "plain_text_input", "value": None}},
        "approve": {"who": {"type": "plain_text_input", "value": "me"}},
    }
    assert payload["user"]["id"] == "U0MALLORY" and payload["trigger_id"]


def test_a_button_press_carries_a_trigger_that_opens_a_modal(double: SlackDouble, client: WebClient) -> None:
    """block_action with a trigger from new_trigger_id carries it, and the modal it opens is the presser's."""
    press = slack_payloads.block_action(
        "whose_key_deactivate", "AKIAEXAMPLE", user_id=PRESSER, channel_id="C0INCIDENT",
        response_url=double.new_response_url(), trigger_id=double.new_trigger_id(PRESSER),
    )  # fmt: skip

    view = client.views_open(trigger_id=press["trigger_id"], view=modal())["view"]

    assert double.modal(view["id"]).user_id == press["user"]["id"] == PRESSER


def test_wait_for_modal_wakes_when_another_thread_opens_one(double: SlackDouble, client: WebClient) -> None:
    """wait_for_modal blocks until a modal matching the predicate is open and returns it."""
    trigger = double.new_trigger_id(PRESSER)
    threading.Timer(0.2, lambda: client.views_open(trigger_id=trigger, view=modal())).start()

    opened = double.wait_for_modal(lambda m: m.callback_id == "whose_key_deactivate", timeout=30)  # a bound, not a goal

    assert opened.trigger_id == trigger and opened.user_id == PRESSER


def test_wait_for_modal_times_out_naming_the_refused_calls(double: SlackDouble, client: WebClient) -> None:
    """A modal that never opens ends the wait with TimeoutError listing the views.open refusals."""
    refusal(lambda: client.views_open(trigger_id="1.2.made-up", view=modal()))

    with pytest.raises(TimeoutError) as caught:
        double.wait_for_modal(timeout=0.3)

    assert "views.open" in str(caught.value) and "invalid_trigger_id" in str(caught.value)


def test_scripted_replies_apply_to_views_open(double: SlackDouble, client: WebClient) -> None:
    """A scripted views.open answer is given once, opens nothing and leaves the trigger to the next call."""
    double.script("views.open", Reply(200, {"ok": False, "error": "expired_trigger_id"}))
    trigger = double.new_trigger_id(PRESSER)

    assert refusal(lambda: client.views_open(trigger_id=trigger, view=modal()))["error"] == "expired_trigger_id"
    assert double.modals() == []
    assert client.views_open(trigger_id=trigger, view=modal())["ok"] is True
    assert [c.ok for c in double.api_calls("views.open")] == [False, True]
