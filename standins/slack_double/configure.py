"""Members and Socket Mode (access checks, the `socket` process): settings a test or the stack makes on a
double from outside."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from standins.slack_double.constants import APPS_CONNECTIONS_OPEN
from standins.slack_double.core import SlackDouble


def set_member(
    double: SlackDouble,
    user_id: str,
    *,
    team_id: str | None = None,
    restricted: bool = False,
    ultra_restricted: bool = False,
) -> None:
    """Make users.info describe this member: their workspace and whether they are a guest."""
    flags: dict[str, Any] = {"is_restricted": restricted, "is_ultra_restricted": ultra_restricted}
    if team_id:
        flags["team_id"] = team_id
    with double._lock:
        double._members[user_id] = flags


def enable_socket_mode(double: SlackDouble, app_token: str, ws_url: Callable[[], str]) -> None:
    """Answer apps.connections.open (with the app-level token) with a fresh URL from ws_url()."""
    with double._lock:
        double._app_token = app_token
    double.register_method(APPS_CONNECTIONS_OPEN, lambda _args: {"url": ws_url()})
