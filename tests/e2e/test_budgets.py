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
from standins.aws_proxy import Fault
from standins.stack import HttpResult, Stack
from tests.e2e.env import TEST_ENV
from tests.support.budget_windows import Burst, in_one_window

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


def request_ids_of(stack: Stack, user: str) -> list[str]:
    """The IDs of the requests `user` made, oldest first, from the audit trail."""
    records = recent(redis_of(stack), 2000)[::-1]
    return [r["request_id"] for r in records if r["action"] == "lookup_requested" and r.get("user") == user]


def wait_until_held(held: Fault) -> None:
    """Until this test's full search has reached IAM, where `held` keeps it: it has its turn. (The
    hold's own hits, not any call for the key ever seen: earlier tests of this module asked IAM
    about the same keys, and a search counted from those might not have its turn yet.)"""
    from tests.support.waiting import wait_until

    wait_until(lambda: held.hits > 0, what="the full search to be held at IAM", timeout=60)


def search_job_result(stack: Stack, request_id: str, attempt: int) -> dict:
    """What one turn-taking attempt of a request on the search lane returned, once it finished."""
    from rq.job import Job
    from rq.serializers import JSONSerializer

    from tests.support.waiting import wait_until

    def finished() -> dict | None:
        job = Job.fetch(f"search-{request_id}-{attempt}", connection=redis_of(stack), serializer=JSONSerializer)
        return job.return_value() if job.is_finished else None

    return wait_until(finished, what=f"attempt {attempt} of {request_id} on the search lane", timeout=60)


def test_a_full_search_past_the_workspace_limit_comes_back_later_and_says_so(metered: Stack) -> None:
    """With one slot held by one person's full search, another person's waits: told once, enqueued
    again rather than slept on in a worker, and answered once the slot is free."""
    first_key, second_key = key_of(metered), key_of(metered, "acme-prod", "alice")
    # The first search is held at IAM until the second has been seen waiting, however the processes
    # happen to be scheduled.
    held = metered.aws.hold("GetAccessKeyLastUsed", lambda params: params.get("AccessKeyId") == first_key)
    try:
        _, first_url = metered.slash_command(f"{first_key} deep", user_id="U0HOLDER1")
        wait_until_held(held)
        reply, url = metered.slash_command(f"{second_key} deep", user_id="U0WAIT001")
        assert "Looking up" in reply.json()["text"]
        answer_on(metered, url, marker=WAITING)
        request_id = request_ids_of(metered, "U0WAIT001")[-1]
        assert search_job_result(metered, request_id, 0)["waiting"] == "slots"  # the job ended: nobody slept
    finally:
        metered.aws.remove(held)
    answer_on(metered, first_url, marker="deploy-bot")
    posts = answer_on(metered, url, marker="alice")
    assert len([p for p in posts if WAITING in p.get("text", "")]) == 1, "the person is told once"
    holder = request_ids_of(metered, "U0HOLDER1")[-1]
    records = recent(redis_of(metered), 2000)[::-1]
    order = [(r["action"], r.get("request_id")) for r in records if r["action"].startswith("full_search_")]
    assert order.index(("full_search_finished", holder)) < order.index(("full_search_started", request_id))


def test_one_full_search_per_person_at_a_time(metered: Stack) -> None:
    """A person's second full search waits for their first to finish, and says why."""
    first_key, second_key = key_of(metered, "acme-prod", "alice"), key_of(metered)
    held = metered.aws.hold("GetAccessKeyLastUsed", lambda params: params.get("AccessKeyId") == first_key)
    try:
        _, first_url = metered.slash_command(f"{first_key} deep", user_id="U0ONEATA1")
        wait_until_held(held)
        _, url = metered.slash_command(f"{second_key} deep", user_id="U0ONEATA1")
        answer_on(metered, url, marker="previous full search is still running")
    finally:
        metered.aws.remove(held)
    answer_on(metered, first_url, marker="alice")
    answer_on(metered, url, marker="deploy-bot")


def test_deep_takes_a_few_keys_per_request_and_says_so(metered: Stack) -> None:
    """`deep` with 4 keys is refused at once, saying it takes at most 3; with 3 it is taken."""
    keys = [key_of(metered), key_of(metered, "acme-prod", "alice"), key_of(metered, "acme-management", "break-glass")]
    refused = metered.slash_command(" ".join([*keys, "AKIAZZZZZZZZZZZZZZZZ"]) + " deep", user_id="U0DEEPMAX")[0]
    assert "at most 3 keys" in refused.json()["text"] and "Looking up" not in refused.json()["text"]
    taken = metered.slash_command(" ".join(keys) + " deep", user_id="U0DEEPOK1")[0]
    assert "Looking up" in taken.json()["text"]


def test_plain_lookups_are_answered_while_full_searches_hold_every_turn(metered: Stack) -> None:
    """A flood of `deep` searches, all held at IAM, does not hold up another person's plain lookups."""
    deep_keys = [key_of(metered), key_of(metered, "acme-prod", "alice")]
    held = metered.aws.hold("GetAccessKeyLastUsed", lambda params: params.get("AccessKeyId") in deep_keys)
    try:
        flood = [metered.slash_command(f"{k} deep", user_id=f"U0FLOOD0{n}")[1] for n, k in enumerate(deep_keys * 2)]
        plain = key_of(metered, "acme-management", "break-glass")
        for _ in range(3):
            _, url = metered.slash_command(plain, user_id="U0PLAIN01")
            assert "break-glass" in json.dumps(answer_on(metered, url, marker="break-glass"))
    finally:
        metered.aws.remove(held)
    for url in flood:
        answer_on(metered, url, marker="Owner")


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
