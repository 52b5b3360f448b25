"""Mentions in channels and threads, and direct messages: find the keys in free text and answer
where the person asked, with the same answer as the slash command. In a conversation shared with
another workspace or organization the answer goes to the asker alone, and the thread says so.

With Slack's agent view (bot/agent_view.py) a DM is a thread: the person's message starts it (or
carries its thread_ts), the answer goes in it, the web shows a lookup's first status, and the
worker keeps the status and sets the title. Without
it a DM is answered as before, with no assistant call at all."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from redis.exceptions import RedisError
from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.dedupe import claim_event, release_event
from bot.intake import Asker, admit_admin, charge, lookup_request, submit_lookup, submit_reply, vet
from bot.listeners.services import Services
from bot.members import installing_team, teams_of_event
from core import logs
from core.agent_view import looking_up_status
from core.audit import audit
from core.contract import Destination, MessageRef, ReportRequest
from core.parse import Action, parse_free_text

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.event("app_mention")
    def on_mention(event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        if is_noise(event, context):
            return
        thread_ts = event.get("thread_ts") or event.get("ts")
        handle_conversation(
            services, client, body, event, surface="mention", thread_ts=thread_ts, home_team=installing_team(context)
        )

    @app.event("message")
    def on_message(event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        # Only DMs with the bot: channel messages reach the bot as app_mention instead.
        if event.get("channel_type") != "im" or is_noise(event, context):
            return
        agent_thread = agent_thread_of(services, event)
        handle_conversation(
            services,
            client,
            body,
            event,
            surface="dm",
            thread_ts=agent_thread.ts if agent_thread else event.get("thread_ts"),
            home_team=installing_team(context),
            agent_thread=agent_thread,
        )


def agent_thread_of(services: Services, event: dict[str, Any]) -> MessageRef | None:
    """The agent view's thread a DM belongs to: the thread it was sent in, else the one it starts
    (in the agent view the person's first message is the thread's root). None without the agent view."""
    channel, ts = event.get("channel"), event.get("thread_ts") or event.get("ts")
    if not channel or not ts or not services.agent_view.on():
        return None
    return MessageRef(str(channel), str(ts))


def is_noise(event: dict[str, Any], context: BoltContext) -> bool:
    """Events to ignore: the bot's own and other bots' messages, edits and other subtypes."""
    if event.get("subtype") or event.get("bot_id") or event.get("bot_profile"):
        return True
    user = event.get("user")
    return not user or user == context.bot_user_id


def handle_conversation(
    services: Services,
    client: WebClient,
    body: dict[str, Any],
    event: dict[str, Any],
    *,
    surface: str,
    thread_ts: str | None,
    home_team: str | None = None,
    agent_thread: MessageRef | None = None,
) -> None:
    jobs = services.jobs
    event_id = str(body.get("event_id") or f"{event.get('channel')}-{event.get('ts')}")
    logs.request_id.set(event_id)
    asker = Asker(
        event.get("user"),
        event.get("channel"),
        body.get("team_id"),
        surface,
        teams=teams_of_event(body, event),
        home_team=home_team,
    )
    in_thread = Destination(channel=event.get("channel"), thread_ts=thread_ts, user=event.get("user"), ephemeral=False)
    destination = in_thread
    parsed = parse_free_text(event.get("text"))
    keys = list(parsed.keys)
    # Who may ask is checked before the event is claimed: a refusal, or Slack failing to answer
    # the check, must never make the bot drop Slack's later retry of the same event.
    try:
        refusal = vet(services.policy, asker, keys)
        # Where people of another organization read along, the answer goes to the asker alone.
        private = refusal is None and services.policy.shared_outside(asker.channel)
    except RedisError:
        tell_unavailable(client, event, thread_ts, event_id)
        return
    if private:
        destination = dataclasses.replace(in_thread, ephemeral=True)
    if refusal is not None:
        # One reply per event and outcome, however often Slack redelivers it.
        prefix = "unchecked" if refusal.unchecked else "refused"
        if not submit_reply(jobs, f"{prefix}-{event_id}", destination, messages.refused(refusal)):
            tell_unavailable(client, event, thread_ts, event_id)
        return

    try:
        first = claim_event(jobs.redis, event_id)
    except RedisError:
        tell_unavailable(client, event, thread_ts, event_id)
        return
    if not first:
        log.info("duplicate event ignored", extra={"event_id": event_id, "surface": surface})
        return

    try:
        over = charge(services.policy, asker, requests=len(keys), parsed=parsed) if parsed.has_work else None
    except RedisError:
        release_event(jobs.redis, event_id)
        tell_unavailable(client, event, thread_ts, event_id)
        return
    if over is not None:
        queued = submit_reply(jobs, event_id, destination, messages.refused(over))
    elif parsed.has_work:
        working_on = _message_ref(event)
        request = lookup_request(parsed, asker, destination, event_id, working_on, agent_thread=agent_thread)
        if agent_thread is not None:
            # Before the job exists, so the answer always comes after it; a worker keeps it from here.
            services.agent_view.show_status(agent_thread, looking_up_status(request.keys))
        queued = submit_lookup(jobs, request, asker)
    elif parsed.action is Action.REPORT:
        # Organization-wide figures: in a channel, for the asker's eyes only.
        queued = submit_report(services, asker, dataclasses.replace(destination, ephemeral=surface != "dm"), event_id)
    else:
        queued = submit_reply(jobs, event_id, destination, conversation_reply(parsed, body))
    if not queued:
        release_event(jobs.redis, event_id)
        tell_unavailable(client, event, thread_ts, event_id)
    elif private:
        audit(jobs.redis, "answered_privately", **asker.audited(), reason="shared_conversation")
        submit_reply(jobs, f"private-{event_id}", in_thread, messages.answered_privately(asker.user))


def tell_unavailable(client: WebClient, event: dict[str, Any], thread_ts: str | None, event_id: str) -> None:
    """With the queue away no worker can answer, so the web says so itself (best effort)."""
    log.error("cannot take a conversation request: queue unreachable", extra={"event_id": event_id})
    try:
        client.chat_postMessage(channel=event.get("channel", ""), thread_ts=thread_ts, **_text_and_blocks())
    except (SlackApiError, OSError):
        log.error("could not tell the asker that whose-key is unavailable", extra={"event_id": event_id})


def _text_and_blocks() -> dict[str, Any]:
    message = messages.unavailable()
    return {"text": message["text"], "blocks": message["blocks"]}


def conversation_reply(parsed: Any, body: dict[str, Any]) -> dict[str, Any]:
    """What a mention or DM without a key to look up gets: the FAQ, where the asker's keys are, or help."""
    if parsed.action is Action.FAQ:
        return messages.faq()
    if parsed.action is Action.MY_KEYS:
        return messages.my_keys(body.get("team_id"), body.get("api_app_id"))
    return conversation_help(parsed)


def submit_report(services: Services, asker: Asker, destination: Destination, event_id: str) -> bool:
    """The key-hygiene report asked for in a conversation: for admins, as `/whose-key report` is.
    False when Redis is unreachable (the caller says so)."""
    policy = services.policy
    try:
        refusal = admit_admin(policy, asker) or charge(policy, asker, requests=1)
    except RedisError:
        return False
    if refusal is not None:
        return submit_reply(services.jobs, f"refused-{event_id}", destination, messages.refused(refusal))
    try:
        services.jobs.enqueue(ReportRequest(event_id, requested_by=asker.user or "?", destination=destination))
    except RedisError:
        return False
    audit(services.jobs.redis, "report_requested", request_id=event_id, **asker.audited())
    return True


def conversation_help(parsed: Any) -> dict[str, Any]:
    if parsed.problems or parsed.secret_pasted:
        return messages.input_problems(parsed)
    return messages.usage("I did not find an access key ID (AKIA… or ASIA…) in your message.")


def _message_ref(event: dict[str, Any]) -> MessageRef | None:
    channel, ts = event.get("channel"), event.get("ts")
    return MessageRef(channel, ts) if channel and ts else None
