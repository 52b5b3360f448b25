"""The agent view's words and choices, as pure functions: which prompts whom, that each prompt's
message is a question whose-key answers, the status and title texts, the free-text phrases the
prompts send, and how the web reads the agent view off the token's scopes."""

from __future__ import annotations

from typing import Any

import pytest

from bot.agent_view import RETRY_AFTER, SCOPES_KEPT, AgentView, granted_scopes
from core.agent_view import (
    KEY_HYGIENE,
    LOOK_UP,
    MY_KEYS,
    SAMPLE_KEY,
    WHY_INVALID,
    Prompt,
    looking_up_status,
    prompts_for,
    searching_status,
    thread_title,
)
from core.keyids import check_key_id
from core.parse import Action, parse_free_text

KEY = "AKIARZPUZDIKGB2VALC4"
OTHER = "AKIA4G6H7J4RXSC5LKR4"
THIRD = "ASIARZPUZDIKGB2VALC4"


@pytest.mark.parametrize(
    ("admin", "expected"),
    [
        (False, (LOOK_UP, MY_KEYS, WHY_INVALID)),  # every member who may ask
        (True, (LOOK_UP, MY_KEYS, WHY_INVALID, KEY_HYGIENE)),  # admins also get the organization's report
    ],
)
def test_prompts_for_whom(admin: bool, expected: tuple[Prompt, ...]) -> None:
    """Three prompts for everyone, the key-hygiene one only for admins: four at most, Slack's limit."""
    prompts = prompts_for(admin=admin)

    assert prompts == expected
    assert len(prompts) <= 4
    assert all(p.title and p.message for p in prompts)


@pytest.mark.parametrize(
    ("prompt", "action"),
    [
        (LOOK_UP, Action.LOOKUP),  # a lookup of the sample key
        (MY_KEYS, Action.MY_KEYS),  # where the asker's own keys are
        (WHY_INVALID, Action.FAQ),  # the FAQ
        (KEY_HYGIENE, Action.REPORT),  # the report (refused to non-admins, in words)
    ],
    ids=lambda v: v.title if isinstance(v, Prompt) else v.value,
)
def test_each_prompt_sends_a_question_whose_key_answers(prompt: Prompt, action: Action) -> None:
    """What a prompt sends, read as a DM, is the request it stands for, not the usage help."""
    parsed = parse_free_text(prompt.message)

    assert parsed.action is action
    assert parsed.keys == ((SAMPLE_KEY,) if action is Action.LOOKUP else ())


def test_the_sample_key_is_a_well_formed_key_id_of_aws_documentation() -> None:
    """The sample is AWS's documentation example: well formed, so it gets a lookup, and nobody's key."""
    assert check_key_id(SAMPLE_KEY) is None
    assert SAMPLE_KEY.endswith("EXAMPLE")


def test_prompts_in_slacks_shape() -> None:
    """Each prompt goes to setSuggestedPrompts as {"title", "message"}."""
    assert LOOK_UP.as_slack() == {"title": "Look up a key", "message": f"Whose key is {SAMPLE_KEY}?"}


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("My keys", Action.MY_KEYS),
        ("<@U0WHOSEKEY> show me my keys?", Action.MY_KEYS),  # a mention of the bot is not a word
        ("which keys do I own", Action.MY_KEYS),
        ("my keys are broken", Action.HELP),  # prose around the words: not the request
        ("Key hygiene", Action.REPORT),
        ("report", Action.REPORT),
        ("please report this to security", Action.HELP),
        ("Why do I get InvalidAccessKeyId?", Action.FAQ),  # the error's name means the FAQ
        ("faqs", Action.FAQ),
        (f"InvalidAccessKeyId with {KEY}", Action.LOOKUP),  # a key in it: look it up
        ("my keys", Action.MY_KEYS),
    ],
)
def test_free_text_phrases(text: str, action: Action) -> None:
    """The short phrases the prompts send, and near misses that stay the help."""
    assert parse_free_text(text).action is action


def test_a_pasted_secret_always_gets_the_warning_not_the_faq() -> None:
    """A secret with the FAQ's words is the help path, which warns that the secret is exposed."""
    parsed = parse_free_text("faq wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")

    assert parsed.secret_pasted and parsed.action is Action.HELP


@pytest.mark.parametrize(
    ("keys", "title"),
    [
        ((KEY,), f"Whose key is {KEY}?"),
        ((KEY, OTHER), f"Whose keys: {KEY}, {OTHER}"),
        ((KEY, OTHER, THIRD), f"Whose keys: {KEY}, {OTHER} and 1 more"),
    ],
)
def test_thread_titles_name_the_keys(keys: tuple[str, ...], title: str) -> None:
    """A thread's title names the key, or the first two and how many more."""
    assert thread_title(keys) == title


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (looking_up_status((KEY,)), f"is looking up {KEY}…"),  # one key, named
        (looking_up_status((KEY, OTHER)), "is looking up 2 keys…"),  # several, counted
        (searching_status(), "is searching every account…"),  # before the search reports
        (searching_status(37, 120), "is searching every account: 37 of 120 done…"),
        (searching_status(130, 120), "is searching every account: 120 of 120 done…"),  # never past the total
        (searching_status(0, 0), "is searching every account…"),  # an organization of no account to count
    ],
)
def test_status_texts(status: str, expected: str) -> None:
    """The status line, shown after the app's name ("whose-key is looking up …")."""
    assert status == expected


@pytest.mark.parametrize(
    ("headers", "granted"),
    [
        ({"x-oauth-scopes": "chat:write,assistant:write"}, {"chat:write", "assistant:write"}),  # Slack's own case
        ({"X-OAuth-Scopes": "chat:write, im:history"}, {"chat:write", "im:history"}),  # any case, spaces
        ({"x-oauth-scopes": ["chat:write,assistant:write"]}, {"chat:write", "assistant:write"}),  # a list
        ({}, set()),  # no header: nothing known to be granted
    ],
)
def test_granted_scopes(headers: dict[str, Any], granted: set[str]) -> None:
    """The scopes an X-OAuth-Scopes header grants, however it is spelled."""
    assert granted_scopes(headers) == granted


class Answer:
    def __init__(self, scopes: str) -> None:
        self.headers = {"x-oauth-scopes": scopes}


class FakeSlack:
    """auth.test answering with the scopes set on it, or failing with OSError when they are None."""

    def __init__(self, scopes: str | None) -> None:
        self.scopes = scopes
        self.asked = 0

    def auth_test(self) -> Answer:
        self.asked += 1
        if self.scopes is None:
            raise OSError("Slack unreachable")
        return Answer(self.scopes)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_agent_view_is_read_off_the_scopes_and_kept_a_while() -> None:
    """On with assistant:write; the answer is kept SCOPES_KEPT seconds, then Slack is asked again,
    so an app reinstalled with (or without) the agent view switches without a restart."""
    slack, clock = FakeSlack("chat:write,assistant:write"), Clock()
    view = AgentView(slack, clock=clock)  # type: ignore[arg-type]

    assert view.on() and view.on()
    assert slack.asked == 1
    slack.scopes = "chat:write"
    clock.now += SCOPES_KEPT + 1
    assert not view.on()
    assert slack.asked == 2


def test_when_slack_cannot_say_the_last_answer_holds_else_a_plain_dm() -> None:
    """auth.test failing: a plain DM when nothing was known, the last answer otherwise; asked again
    RETRY_AFTER seconds later, not on every DM."""
    slack, clock = FakeSlack(None), Clock()
    view = AgentView(slack, clock=clock)  # type: ignore[arg-type]
    assert not view.on() and not view.on()
    assert slack.asked == 1

    slack.scopes = "assistant:write"
    clock.now += RETRY_AFTER + 1
    assert view.on()
    slack.scopes = None
    clock.now += SCOPES_KEPT + 1
    assert view.on(), "Slack away: the agent view it last reported"
