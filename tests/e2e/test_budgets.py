"""What a request costs, end to end: the per-person budget of full searches (charged by the web
for `deep`, by the worker for a key its own account does not hold), the workspace-wide
semaphore that makes further full searches wait and say so, and buttons metered and once-only."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from redis import Redis

from core.audit import recent
from core.blockkit import NOTIFY_ACTION, SHARE_ACTION
from core.redis_keys import FULL_SEARCH_COUNTER, RATE_COUNTER
from standins.stack import HttpResult, Stack
from tests.e2e.env import TEST_ENV
from tests.support.budget_windows import Burst, in_one_window
from workers.lookup.full_search import POLL_INTERVAL as SLOT_POLL_INTERVAL

CONCURRENCY = 1
RATE_LIMIT = 40
# What the person is told when their full search waits for a slot (workers/answers/wait_notice.py).
WAITING = "full searches are running across the workspace"


@pytest.fixture(scope="module")
def metered() -> Iterator[Stack]:
    """A bot with the default full-search budget (10 a minute) and one full search at a time."""
    env = {
        **TEST_ENV,
        "WHOSE_KEY_FULL_SEARCH_CONCURRENCY": str(CONCURRENCY),
        "WHOSE_KEY_RATE_LIMIT": str(RATE_LIMIT),
    }
    with Stack(extra_env=env, workers=2) as running:
        yield running


def redis_of(stack: Stack) -> Redis:
    return Redis.from_url(stack.redis.url)


def key_of(stack: Stack, account: str = "acme-prod", user: str = "deploy-bot", status: str = "Active") -> str:
    assert stack.org is not None
    return stack.org.key(account, user, status)


def answer_on(stack: Stack, url: str, marker: str = "Owner", count: int = 1) -> list[dict]:
    """The posts to a response_url once `count` of them carry marker."""
    posts = stack.slack.wait_for(
        lambda calls: (
            sum(marker in json.dumps(c.body) for c in calls if c.kind == "hook" and url.endswith(c.name)) >= count
        ),
        timeout=60,
    )
    return [c.body for c in posts if c.kind == "hook" and url.endswith(c.name)]


def test_default_budget_is_ten_full_searches_a_minute(metered: Stack) -> None:
    """One person starts 10 `deep` searches a minute; the 11th is refused at once, saying when to retry."""
    key_id = key_of(metered)

    def burst(attempt: Burst) -> list[str]:
        asker, other = attempt.person("U0DEEP"), attempt.person("U0DEEPX")
        replies = [metered.slash_command(f"{key_id} deep", user_id=asker)[0].json()["text"] for _ in range(11)]
        # Someone else (in the same window) is not held to this person's budget.
        return [*replies, metered.slash_command(f"{key_id} deep", user_id=other)[0].json()["text"]]

    *replies, others = in_one_window(redis_of(metered), FULL_SEARCH_COUNTER, burst)
    started = sum("Looking up" in text for text in replies)
    assert started == 10
    refusal = replies[-1]
    wait = re.search(r"try again in (\d+) seconds", refusal)
    assert wait and 1 <= int(wait.group(1)) <= 60
    print(f"\nfull-search budget: {started} deep searches started, the 11th refused (retry in {wait.group(1)} s)")
    assert "Looking up" in others


def test_a_key_its_account_does_not_hold_is_charged_when_its_full_search_starts(metered: Stack) -> None:
    """A deleted key needs a full search the web cannot foresee: the worker charges it, and past
    the budget the answer says the full search did not run and when to try again."""
    gone = key_of(metered, "acme-staging", "bob", "Deleted")

    def burst(attempt: Burst) -> list[str]:
        asker = attempt.person("U0GONE")
        urls = [metered.slash_command(gone, user_id=asker)[1] for _ in range(11)]
        # Once every answer is out, every worker's charge is in Redis.
        return [json.dumps(answer_on(metered, url, marker=gone)[-1]) for url in urls]

    answers = in_one_window(redis_of(metered), FULL_SEARCH_COUNTER, burst)
    refused = [a for a in answers if "each person may start 10 a minute" in a]
    assert len(refused) == 1, "exactly one of 11 full searches is past the budget"
    assert re.search(r"try again in \d+ seconds", refused[0])
    assert "full search not started" in refused[0]
    print(f"\nworker-charged full searches: {len(answers) - len(refused)} ran, {len(refused)} refused")


def test_full_searches_past_the_workspace_limit_wait_and_say_so(metered: Stack) -> None:
    """With one slot, three full searches at once run one after another; the waiting ones say so."""
    keys = [
        key_of(metered),
        key_of(metered, "acme-prod", "alice"),
        key_of(metered, "acme-management", "break-glass"),
    ]
    # Whichever search takes the slot is held at IAM until another is seen waiting for it, so a
    # search waits however the threads happen to be scheduled.
    held = metered.aws.hold("GetAccessKeyLastUsed", lambda params: params.get("AccessKeyId") in keys)
    try:
        reply, url = metered.slash_command(" ".join(keys) + " deep", user_id="U0WAIT001")
        assert "Looking up" in reply.json()["text"]
        answer_on(metered, url, marker=WAITING)
    finally:
        metered.aws.remove(held)
    posts = answer_on(metered, url, marker="deploy-bot")
    waiting = [p for p in posts if WAITING in p.get("text", "")]
    assert len(waiting) == 1, "the person is told once that their search waits"
    records = recent(Redis.from_url(metered.redis.url), 2000)[::-1]  # oldest first
    started = [r for r in records if r["action"] == "full_search_started" and r.get("user") == "U0WAIT001"]
    assert len(started) == 3
    request_id = started[0]["request_id"]
    searches = [r["action"] for r in records if r.get("request_id") == request_id and "full_search" in r["action"]]
    assert searches == ["full_search_started", "full_search_finished"] * 3, "one after another, never two at once"
    running = [int(r["running"]) for r in started]
    waited = sorted(float(r["waited"]) for r in started)
    assert max(running) <= CONCURRENCY
    assert waited[-1] >= SLOT_POLL_INTERVAL, "a search waited (at least one poll) for the slot"
    print(f"\nsemaphore: limit {CONCURRENCY}, 3 full searches at once, running at start {running}, waited {waited} s")


def notify_value(answer: dict) -> str:
    blocks = answer["blocks"] if isinstance(answer["blocks"], list) else json.loads(answer["blocks"])
    elements = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return next(e["value"] for e in elements if e["action_id"].startswith(NOTIFY_ACTION))


def share_value(answer: dict) -> str:
    blocks = answer["blocks"] if isinstance(answer["blocks"], list) else json.loads(answer["blocks"])
    elements = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return next(e["value"] for e in elements if e["action_id"] == SHARE_ACTION)


def test_notify_owner_sends_one_dm_per_answer_and_key(metered: Stack) -> None:
    """Pressed four times by two people, Notify owner DMs the owner once; later presses say when."""
    key_id = key_of(metered)
    _, url = metered.slash_command(key_id, user_id="U0NOTIFY1")
    value = notify_value(answer_on(metered, url)[0])
    presses = [
        metered.block_action(NOTIFY_ACTION, value, user_id=user)[1]
        for user in ("U0NOTIFY1", "U0NOTIFY2", "U0NOTIFY1", "U0NOTIFY2")
    ]
    replies = [json.dumps(metered.slack.wait_for_hook(u, timeout=30)[0].body) for u in presses]
    dms = [c for c in metered.slack.api_calls("chat.postMessage") if c.body.get("channel") == "U0PLATFRM"]
    dms = [c for c in dms if key_id in json.dumps(c.body)]
    assert len(dms) == 1
    told = [r for r in replies if "I told <@U0PLATFRM>" in r]
    later = [r for r in replies if "was already notified" in r]
    assert len(told) == 1 and len(later) == 3, "presses race across workers: one wins, whichever it is"
    winner = ("U0NOTIFY1", "U0NOTIFY2", "U0NOTIFY1", "U0NOTIFY2")[replies.index(told[0])]
    for text in later:
        assert f"by <@{winner}>" in text and "<!date^" in text
    print(f"\nnotify owner: {len(presses)} presses by 2 people, {len(dms)} DM")


def test_share_in_channel_shares_an_answer_once(metered: Stack) -> None:
    """The second Share press (by anyone) does not post again; it says who shared and when."""
    _, url = metered.slash_command(key_of(metered), user_id="U0SHARE01")
    value = share_value(answer_on(metered, url)[0])
    first = metered.slack.wait_for_hook(metered.block_action(SHARE_ACTION, value, user_id="U0SHARE01")[1], timeout=30)
    second = metered.slack.wait_for_hook(metered.block_action(SHARE_ACTION, value, user_id="U0SHARE02")[1], timeout=30)
    # The first press is answered before the second is made, so the first one shares.
    assert first[0].body["response_type"] == "in_channel"
    assert second[0].body["response_type"] == "ephemeral"
    assert "already shared" in second[0].body["text"] and "<@U0SHARE01>" in second[0].body["text"]


def test_each_button_press_counts_against_the_persons_limit(metered: Stack) -> None:
    """Button presses spend the same per-person budget as keys: past it, a press is refused."""

    def burst(attempt: Burst) -> tuple[HttpResult, str]:
        presser = attempt.person("U0PRESS")
        for _ in range(RATE_LIMIT):
            metered.block_action("whose_key_faq", "faq", user_id=presser)
        return metered.block_action("whose_key_faq", "faq", user_id=presser)

    reply, url = in_one_window(redis_of(metered), RATE_COUNTER, burst)
    assert reply.status == 200
    posts = metered.slack.wait_for_hook(url, timeout=30)
    assert f"the limit is {RATE_LIMIT} per minute" in posts[0].body["text"]
