"""The answer's extras end to end: the buttons (share, FAQ), "did you mean", and the terminal."""

from __future__ import annotations

import json
import os

from core.blockkit import FAQ_ACTION, SHARE_ACTION
from standins.stack import Stack
from tests.support.cli import run_cli


def first_post(stack: Stack, response_url: str) -> dict:
    return stack.slack.wait_for_hook(response_url, timeout=30)[0].body


def request_id_of(answer: dict) -> str:
    blocks = answer["blocks"] if isinstance(answer["blocks"], list) else json.loads(answer["blocks"])
    actions = next(b for b in blocks if b["type"] == "actions")
    return next(e["value"] for e in actions["elements"] if e["action_id"] == SHARE_ACTION)


def test_share_button_posts_the_answer_in_the_channel(stack: Stack) -> None:
    """ "Share in channel" posts the same answer for everyone, without buttons, naming who shared."""
    assert stack.org is not None
    key_id = stack.org.key("acme-prod", "deploy-bot")
    _, response_url = stack.slash_command(key_id)
    answer = first_post(stack, response_url)
    assert answer["response_type"] == "ephemeral"

    reply, share_url = stack.block_action(SHARE_ACTION, request_id_of(answer), user_id="U0SHARER1")
    assert reply.status == 200
    shared = first_post(stack, share_url)
    assert shared["response_type"] == "in_channel"
    text = json.dumps(shared)
    assert key_id in text and "deploy-bot" in text
    assert "Shared by <@U0SHARER1>" in text
    assert '"actions"' not in text


def test_share_of_an_expired_answer_says_so(stack: Stack) -> None:
    """Sharing an answer that is no longer kept tells the presser, privately."""
    reply, share_url = stack.block_action(SHARE_ACTION, "0" * 32)
    assert reply.status == 200
    post = first_post(stack, share_url)
    assert post["response_type"] == "ephemeral"
    assert "no longer kept" in post["text"]


def test_faq_button_shows_the_faq(stack: Stack) -> None:
    """The FAQ button answers with the FAQ, privately."""
    reply, url = stack.block_action(FAQ_ACTION, "faq")
    assert reply.status == 200
    post = first_post(stack, url)
    assert post["response_type"] == "ephemeral"
    assert "recover" in json.dumps(post).lower()


def test_faq_command_answers_at_once(stack: Stack) -> None:
    """`/whose-key faq` answers with the FAQ in the ack itself."""
    reply, _ = stack.slash_command("faq")
    assert reply.status == 200
    assert "secret" in reply.body.lower()


def test_near_miss_key_offers_did_you_mean(stack: Stack) -> None:
    """A well-formed key one character off a known key is answered with "did you mean" that key."""
    assert stack.org is not None
    real = stack.org.key("acme-data", "etl")
    _, url = stack.slash_command(real)
    first_post(stack, url)  # the lookup puts the key in the index
    position = 10
    swapped = "A" if real[position] != "A" else "B"
    near = real[:position] + swapped + real[position + 1 :]
    _, url = stack.slash_command(near)
    text = json.dumps(first_post(stack, url))
    assert "Did you mean" in text
    assert real in text and "etl" in text


def test_cli_lookup_prints_the_answer_in_the_terminal(stack: Stack) -> None:
    """`whose-key lookup KEY` prints owner, account and status as plain text."""
    assert stack.org is not None
    key_id = stack.org.key("acme-prod", "deploy-bot")
    env = {k: v for k, v in stack.env().items() if not k.startswith("SLACK_")}
    result = run_cli("lookup", key_id, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "deploy-bot" in result.stdout
    assert stack.org.accounts["acme-prod"] in result.stdout
    assert "Active" in result.stdout
    assert "`" not in result.stdout and "<@" not in result.stdout


def test_cli_lookup_explains_bad_input(stack: Stack) -> None:
    """`whose-key lookup` with a malformed key says what is wrong and exits 2."""
    env = {**os.environ, **stack.moto.env()}
    result = run_cli("lookup", "AKIA123", env=env, timeout=60)
    assert result.returncode == 2
    assert "7 characters long" in result.stderr
