"""`/whose-key`: parse, validate, enqueue, ack. Never calls AWS, never waits for a job."""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError
from slack_bolt import Ack, App, BoltContext

from bot import messages
from bot.intake import Asker, admit, admit_admin, charge, lookup_request, submit_lookup, vet
from bot.listeners.services import Services
from bot.members import installing_team, teams_of_command
from core import logs
from core.audit import audit
from core.contract import Destination, ReportRequest
from core.parse import HELP_WORDS, Action, parse_command
from core.queue import new_request_id

COMMAND = "/whose-key"


def register(app: App, services: Services) -> None:
    @app.command(COMMAND)
    def handle_command(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
        ack(**answer_command(command, services, installing_team(context)))


def answer_command(command: dict[str, Any], services: Services, home_team: str | None = None) -> dict[str, Any]:
    """The immediate reply to a slash command; enqueues a lookup when there is one to do."""
    parsed = parse_command(command.get("text"))
    if parsed.action is Action.HELP:
        typed = (command.get("text") or "").strip().lower()
        asked_for_help = not typed or typed in HELP_WORDS
        return messages.usage(None if asked_for_help else "I did not find an access key ID (AKIA… or ASIA…) in that.")
    if parsed.action is Action.FAQ:
        return messages.faq()
    if parsed.action is Action.REPORT:
        return request_report(command, services, home_team)
    if not parsed.has_work:
        return messages.input_problems(parsed)

    request_id = new_request_id()
    logs.request_id.set(request_id)
    asker = command_asker(command, home_team)
    try:
        refusal = admit(services.policy, asker, parsed)
    except RedisError:
        return messages.unavailable()
    if refusal is not None:
        return messages.refused(refusal)
    destination = private_reply(command)
    if not submit_lookup(services.jobs, lookup_request(parsed, asker, destination, request_id), asker):
        return messages.unavailable()
    return messages.looking_up(parsed)


def request_report(command: dict[str, Any], services: Services, home_team: str | None = None) -> dict[str, Any]:
    """`/whose-key report`: for admins who may ask here; a worker sends it privately."""
    request_id = new_request_id()
    logs.request_id.set(request_id)
    asker = command_asker(command, home_team)
    try:
        policy = services.policy
        refusal = vet(policy, asker) or admit_admin(policy, asker) or charge(policy, asker, requests=1)
    except RedisError:
        return messages.unavailable()
    if refusal is not None:
        return messages.refused(refusal)
    destination = private_reply(command)
    try:
        services.jobs.enqueue(ReportRequest(request_id, requested_by=asker.user or "?", destination=destination))
    except RedisError:
        return messages.unavailable()
    audit(services.jobs.redis, "report_requested", request_id=request_id, user=asker.user, channel=asker.channel)
    return messages.report_coming()


def command_asker(command: dict[str, Any], home_team: str | None) -> Asker:
    """Who typed the command, where, and which workspace they belong to."""
    return Asker(
        command.get("user_id"),
        command.get("channel_id"),
        command.get("team_id"),
        "command",
        teams=teams_of_command(command),
        home_team=home_team,
    )


def private_reply(command: dict[str, Any]) -> Destination:
    """Back to the person who typed the command, visible to them only."""
    return Destination(
        response_url=command.get("response_url"),
        channel=command.get("channel_id"),
        user=command.get("user_id"),
        ephemeral=True,
    )
