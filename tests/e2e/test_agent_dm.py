"""The DM in Slack's agent view, end to end on the real web, worker and socket processes: the
prompts a person gets on opening it (the key-hygiene one for admins only, none for whoever may not
ask), a status line while a lookup runs (updated as a held full search progresses, cleared by the
answer, and by a failed post too), a title per thread, assistant errors that never cost the answer,
and plain DMs, with no assistant call at all, for an app without the agent view."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from redis import Redis

from bot.scopes import AGENT_VIEW_SCOPE, BOT_SCOPES
from core.agent_view import KEY_HYGIENE, SAMPLE_KEY, WAITING_STATUS, prompts_for
from standins import slack_payloads
from standins.aws_proxy import Fault
from standins.slack_double import AssistantThread, RecordedCall, Reply, set_member
from standins.socket_mode import EVENTS_API
from standins.stack import Stack
from tests.e2e.env import TEST_ENV
from tests.support.waiting import wait_for_audit, wait_for_queues_drained, wait_until

ADMINS = "S0AGADMIN"
ADMIN = "U0AGADMIN"
MEMBER = "U0AGMEMBR"
GUEST = "U0AGGUEST"
# Enough budget for every question this module asks (several full searches by one person), and two
# processes for full searches, so a second one is taken while the first is held (and told to wait).
ROOMY = {"WHOSE_KEY_RATE_LIMIT": "1000", "WHOSE_KEY_FULL_SEARCH_LIMIT": "1000", "WHOSE_KEY_WORKERS": "2"}
SEARCHING = re.compile(r"^is searching every account: \d+ of \d+ done…$")


@pytest.fixture(scope="module")
def agent() -> Iterator[Stack]:
    """whose-key with the agent view (its token holds assistant:write), an admin group and a guest,
    serving Slack over HTTP and over Socket Mode."""
    with Stack(extra_env={**TEST_ENV, **ROOMY, "WHOSE_KEY_ADMIN_USERGROUPS": ADMINS}, socket=True) as running:
        running.slack.set_usergroup(ADMINS, [ADMIN])
        set_member(running.slack, GUEST, restricted=True)
        yield running


@pytest.fixture(scope="module")
def plain() -> Iterator[Stack]:
    """whose-key installed without the agent view: its token lacks assistant:write."""
    stack = Stack(extra_env={**TEST_ENV, **ROOMY})
    stack.slack.scopes = tuple(scope for scope in BOT_SCOPES if scope != AGENT_VIEW_SCOPE)
    with stack as running:
        yield running


def redis_of(stack: Stack) -> Redis:
    return Redis.from_url(stack.redis.url)


def key_of(stack: Stack, account: str = "acme-prod", user: str = "deploy-bot") -> str:
    assert stack.org is not None
    return stack.org.key(account, user)


def dm_of(user: str) -> str:
    """The DM channel the Slack double gives a member and the app (D + the member ID's tail)."""
    return "D" + user[1:]


def open_dm(stack: Stack, user: str, *, socket: bool = False, **event: str) -> str:
    """`user` opens their DM with the app (the Messages tab); its channel ID."""
    channel = dm_of(user)
    stack.slack.add_channel(channel)  # Slack knows the DM it announces
    opened = {**slack_payloads.app_home_opened(user_id=user, channel_id=channel), **event}
    if socket:
        assert stack.socket_mode is not None
        stack.socket_mode.wait_for_ack(stack.socket_mode.send(EVENTS_API, slack_payloads.event_callback(opened)))
    else:
        assert stack.event(opened).status == 200
    return channel


def dm(user: str, channel: str, ts: str, text: str) -> dict[str, str]:
    """The message.im event of `user` typing `text` in the DM `channel`, at `ts`."""
    return {"type": "message", "channel_type": "im", "user": user, "text": text, "ts": ts, "channel": channel,
            "event_ts": ts}  # fmt: skip


def ask(stack: Stack, user: str, text: str) -> AssistantThread:
    """`user` types `text` in a new thread of the agent view: their message is the thread's root."""
    thread = stack.slack.new_assistant_thread(user)
    assert stack.event(dm(user, thread.channel_id, thread.thread_ts, text)).status == 200
    return thread


def wait_for_post(stack: Stack, channel: str, marker: str) -> RecordedCall:
    """whose-key's message in `channel` that holds `marker`, once Slack took it."""

    def found() -> RecordedCall | None:
        posts = [c for c in stack.slack.api_calls("chat.postMessage") if c.ok and c.body.get("channel") == channel]
        return next((c for c in posts if marker in json.dumps(c.body)), None)

    return wait_until(found, what=f"a message holding {marker!r} in {channel}", timeout=60)


def replies_in(stack: Stack, thread: AssistantThread) -> list[RecordedCall]:
    return [
        c
        for c in stack.slack.api_calls("chat.postMessage")
        if c.ok and c.body.get("channel") == thread.channel_id and c.body.get("thread_ts") == thread.thread_ts
    ]


def answer_in(stack: Stack, thread: AssistantThread, marker: str) -> str:
    """The text of whose-key's reply in the thread that holds `marker`, once it is there."""

    def found() -> str | None:
        texts = [json.dumps(c.body) for c in replies_in(stack, thread)]
        return next((t for t in texts if marker in t), None)

    return wait_until(found, what=f"a reply holding {marker!r} in {thread}", timeout=60)


def hold_iam(stack: Stack, key: str, account: str) -> Fault:
    """Hold IAM's answer about `key` in its own account (the rest of a full search goes on)."""
    assert stack.org is not None
    held_in = stack.org.accounts[account]
    return stack.aws.hold("GetAccessKeyLastUsed", lambda params: params.get("AccessKeyId") == key, account=held_in)


def assistant_calls(stack: Stack, channel: str) -> list[RecordedCall]:
    return [c for c in stack.slack.calls if c.name.startswith("assistant.") and c.args.get("channel_id") == channel]


# -- opening the DM: the prompts ----------------------------------------------------------------------


def test_opening_the_dm_offers_the_prompts_of_the_dm_itself(agent: Stack) -> None:
    """A member who opens the DM gets three prompts, set for the DM itself (no thread_ts: the agent
    view drops prompts sent for a thread), the key-hygiene one not among them."""
    channel = open_dm(agent, MEMBER)

    prompts = agent.slack.wait_for_suggested_prompts(channel, timeout=30)

    assert [(p.title, p.message) for p in prompts.prompts] == [(p.title, p.message) for p in prompts_for(admin=False)]
    assert KEY_HYGIENE.title not in [p.title for p in prompts.prompts]
    assert SAMPLE_KEY in prompts.prompts[0].message
    calls = [c for c in assistant_calls(agent, channel) if c.name == "assistant.threads.setSuggestedPrompts"]
    assert calls and all("thread_ts" not in c.args for c in calls)


def test_an_admin_gets_the_key_hygiene_prompt_too_over_socket_mode(agent: Stack) -> None:
    """An admin opening the DM, delivered over Socket Mode this time, also gets "Key hygiene"."""
    channel = open_dm(agent, ADMIN, socket=True)

    prompts = agent.slack.wait_for_suggested_prompts(channel, predicate=lambda p: len(p.prompts) == 4, timeout=30)

    assert [p.title for p in prompts.prompts][-1] == KEY_HYGIENE.title


def test_a_thread_of_the_older_assistant_view_gets_the_prompts_in_the_thread(agent: Stack) -> None:
    """An app still on `assistant_view` gets assistant_thread_started per thread: the prompts go there."""
    thread = agent.slack.new_assistant_thread(MEMBER, context_channel_id="C0INCIDENT")
    started = slack_payloads.assistant_thread_started(
        user_id=MEMBER, channel_id=thread.channel_id, thread_ts=thread.thread_ts, context_channel_id="C0INCIDENT"
    )
    assert agent.event(started).status == 200

    prompts = agent.slack.wait_for_suggested_prompts(thread.channel_id, thread.thread_ts, timeout=30)

    assert len(prompts.prompts) == 3


@pytest.mark.parametrize(
    ("user", "event", "reason"),
    [(GUEST, {}, "guest"), ("U0AGOTHER", {"user_team": "T0ELSEWHR"}, "other_workspace")],
    ids=["guest", "other-workspace"],
)
def test_whoever_may_not_ask_gets_no_prompts(agent: Stack, user: str, event: dict[str, str], reason: str) -> None:
    """A guest, or someone of another workspace, opening the DM is refused like any DM (audited)
    and gets no prompts: once the queues have drained, nothing was set in their DM."""
    channel = open_dm(agent, user, **event)

    wait_for_audit(redis_of(agent), "refused", user=user, reason=reason, surface="dm")
    wait_for_queues_drained(redis_of(agent))
    assert assistant_calls(agent, channel) == []


# -- each prompt is answered --------------------------------------------------------------------------


def test_the_sample_key_prompt_gets_a_lookup_of_that_key(agent: Stack) -> None:
    """ "Look up a key" sends a question with AWS's example key ID, which gets a real lookup's answer."""
    thread = ask(agent, MEMBER, prompts_for(admin=False)[0].message)

    assert "Whose key is" not in answer_in(agent, thread, SAMPLE_KEY), "the answer, not the question echoed"


def test_my_keys_points_at_the_home_tab(agent: Stack) -> None:
    """ "My keys" is answered with a link to the asker's Home tab, where their own keys are."""
    thread = ask(agent, MEMBER, prompts_for(admin=False)[1].message)

    assert "slack://app?team=T0TEST&id=A0WHOSEKEY&tab=home|Home tab" in answer_in(agent, thread, "Home tab")


def test_the_invalid_access_key_id_question_gets_the_faq(agent: Stack) -> None:
    """ "Why do I get InvalidAccessKeyId?" gets the FAQ, in the thread."""
    thread = ask(agent, MEMBER, prompts_for(admin=False)[2].message)

    answer_in(agent, thread, "common questions")


def test_key_hygiene_is_the_report_for_an_admin_and_a_refusal_for_others(agent: Stack) -> None:
    """The admin's "Key hygiene" prompt gets the organization's report; a member sending the same
    words gets the refusal that says who may see it."""
    asked = ask(agent, ADMIN, KEY_HYGIENE.message)
    refused = ask(agent, MEMBER, KEY_HYGIENE.message)

    assert "access keys" in answer_in(agent, asked, "Key hygiene")
    answer_in(agent, refused, "organization-wide report is for members of")


# -- while a lookup runs: status and title ------------------------------------------------------------


def test_a_lookup_says_what_it_does_names_the_thread_and_the_answer_clears_it(agent: Stack) -> None:
    """A key asked in the DM shows "is looking up <key>…" at once (the web sets it before the job is
    queued), the thread is titled with the key, and the answer, a reply in the thread, clears it."""
    key = key_of(agent)
    thread = ask(agent, MEMBER, f"whose is {key}?")

    answer_in(agent, thread, "user/deploy-bot")
    history = agent.slack.wait_for_status_cleared(thread.channel_id, thread.thread_ts, timeout=30)

    assert history == [f"is looking up {key}…", ""]
    assert agent.slack.wait_for_thread_title(thread.channel_id, thread.thread_ts, timeout=30) == f"Whose key is {key}?"
    assert agent.slack.thread_status(thread.channel_id, thread.thread_ts) is None


def test_a_slow_full_search_shows_its_progress_until_the_answer(agent: Stack) -> None:
    """A `deep` search held at IAM in the key's own account: the status counts the accounts searched
    meanwhile ("is searching every account: 6 of 7 done…"), and once IAM answers, the answer clears it."""
    key = key_of(agent, "acme-data", "etl")
    held = hold_iam(agent, key, "acme-data")
    try:
        thread = ask(agent, MEMBER, f"{key} deep")
        status = agent.slack.wait_for_status(
            thread.channel_id, thread.thread_ts, lambda s: bool(SEARCHING.match(s.status)), timeout=60
        )
        assert held.hits > 0 and not replies_in(agent, thread), "still searching: no answer yet"
    finally:
        agent.aws.remove(held)

    answer_in(agent, thread, "user/etl")
    history = agent.slack.wait_for_status_cleared(thread.channel_id, thread.thread_ts, timeout=30)
    # The web's first status, the worker's once the search has its turn, its progress, then the answer.
    assert history[:2] == [f"is looking up {key}…", "is searching every account…"]
    assert status.status in history and history[-1] == ""
    assert agent.slack.thread_title(thread.channel_id, thread.thread_ts) == f"Whose key is {key}?"


def test_a_search_waiting_for_a_slot_says_so_in_the_status(agent: Stack) -> None:
    """A person's second `deep` search while their first is held waits its turn: the thread says so
    in a message and then in its status; both are answered once the first is released."""
    first, second = key_of(agent, "acme-data", "etl"), key_of(agent, "acme-prod", "alice")
    held = hold_iam(agent, first, "acme-data")
    try:
        holder = ask(agent, "U0AGWAITS", f"{first} deep")
        wait_until(lambda: held.hits > 0, what="the first search to be held at IAM", timeout=60)
        waiting = ask(agent, "U0AGWAITS", f"{second} deep")
        agent.slack.wait_for_status(
            waiting.channel_id, waiting.thread_ts, lambda s: s.status == WAITING_STATUS, timeout=60
        )
    finally:
        agent.aws.remove(held)

    answer_in(agent, holder, "user/etl")
    answer_in(agent, waiting, "user/alice")
    assert agent.slack.wait_for_status_cleared(waiting.channel_id, waiting.thread_ts, timeout=30)[-1] == ""


# -- assistant errors never cost the answer -----------------------------------------------------------


def test_refused_and_rate_limited_assistant_calls_never_cost_the_answer(agent: Stack) -> None:
    """setStatus answered 429 (Retry-After: ten minutes, never waited out) and setTitle answered
    invalid_thread_ts: the lookup is answered in the thread all the same."""
    wait_for_queues_drained(redis_of(agent))  # nothing of earlier tests left to take the scripted answers
    agent.slack.script(
        "assistant.threads.setStatus", Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "600"})
    )
    agent.slack.script("assistant.threads.setTitle", Reply(200, {"ok": False, "error": "invalid_thread_ts"}))
    thread = ask(agent, MEMBER, key_of(agent, "acme-prod", "deploy-bot"))

    answer_in(agent, thread, "user/deploy-bot")

    calls = [c for c in assistant_calls(agent, thread.channel_id) if c.args.get("thread_ts") == thread.thread_ts]
    assert [c.status for c in calls if c.name == "assistant.threads.setStatus"][0] == 429
    assert agent.slack.thread_title(thread.channel_id, thread.thread_ts) is None


def test_a_dm_slack_knows_no_thread_of_is_answered_all_the_same(agent: Stack) -> None:
    """A DM whose thread Slack refuses (channel_not_found for every assistant call) is answered."""
    assert agent.event(dm(MEMBER, "D0UNKNOWN1", "1700009000.000100", key_of(agent, "acme-data", "etl"))).status == 200

    wait_for_post(agent, "D0UNKNOWN1", "user/etl")
    refusals = [c.response for c in assistant_calls(agent, "D0UNKNOWN1")]
    assert refusals and all(isinstance(r, dict) and r.get("error") == "channel_not_found" for r in refusals)


def test_an_answer_slack_refuses_still_clears_the_status(agent: Stack) -> None:
    """The answer's post refused once (no reply, so Slack would leave the status): whose-key clears it
    itself, with an empty status, and the job's retry answers."""
    key = key_of(agent, "acme-prod", "deploy-bot")
    wait_for_queues_drained(redis_of(agent))  # no earlier post (the audit channel's) takes the refusal
    agent.slack.script("chat.postMessage", Reply(200, {"ok": False, "error": "internal_error"}))
    thread = ask(agent, MEMBER, key)

    answer_in(agent, thread, "user/deploy-bot")

    assert agent.slack.status_history(thread.channel_id, thread.thread_ts) == [f"is looking up {key}…", ""]
    sent = [c.args["status"] for c in assistant_calls(agent, thread.channel_id)
            if c.name.endswith("setStatus") and c.args.get("thread_ts") == thread.thread_ts]  # fmt: skip
    assert sent[-1] == "", "cleared by whose-key, not by the answer (which came after)"


# -- without the agent view ---------------------------------------------------------------------------


def test_without_the_agent_view_a_dm_is_answered_as_before_with_no_assistant_call(plain: Stack) -> None:
    """An app installed without the agent view: opening the DM sets no prompts, and a key sent in the
    DM is answered in the DM itself (not in a thread), with no assistant.threads call at all."""
    channel = open_dm(plain, MEMBER)
    assert plain.event(dm(MEMBER, channel, "1700009100.000100", f"whose is {key_of(plain)}")).status == 200

    wait_for_post(plain, channel, "user/deploy-bot")
    wait_for_queues_drained(redis_of(plain))
    assert [c for c in plain.slack.calls if c.name.startswith("assistant.")] == []
    (answer,) = [c for c in plain.slack.api_calls("chat.postMessage") if c.body.get("channel") == channel]
    assert "thread_ts" not in answer.body
