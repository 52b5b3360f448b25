"""What the surface mixins see of the double: the state and methods SlackDouble (core.py) and its other surfaces
provide. Each mixin subclasses DoubleCore, so mypy checks it against this; SlackDouble puts them together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from standins.slack_double.records import RecordedCall

ApiHandler = Callable[[dict[str, Any]], dict[str, Any]]


class DoubleCore(Protocol):
    """The parts of SlackDouble a surface mixin uses but does not define."""

    # Set by SlackDouble.__init__ (core.py).
    team_id: str
    bot_user_id: str
    bot_id: str
    app_id: str
    _clock: Callable[[], float]
    _trigger_lifetime: float
    _lock: threading.RLock
    _methods: dict[str, ApiHandler]
    _users_by_email: dict[str, str]
    _usergroups: dict[str, list[str]]
    _conversations: dict[str, dict[str, bool]]
    _members: dict[str, dict[str, Any]]
    # Set by FilesAndViews (files_views.py); users.info reads it.
    _deactivated: set[str]

    @property
    def origin(self) -> str: ...

    def wait_for(
        self,
        predicate: Callable[[list[RecordedCall]], bool],
        timeout: float = 15.0,
    ) -> list[RecordedCall]: ...

    def _next_ts(self) -> str: ...

    # Defined by AgentSurfaces (agent_surfaces.py); the chat and conversations methods call them.
    def add_channel(self, channel_id: str) -> None: ...

    def _took_message(self, channel: str, ts: str, thread_ts: Any) -> None: ...
