"""SlackDouble: the loopback server, the recording, scripted replies and outages, and the dispatch of
Web API calls, response_url posts and uploads. Each Slack surface's methods come from a mixin: the default
methods (default_methods.py), files and views (files_views.py), modals (modals.py) and the agent view and
custom steps (agent_surfaces.py)."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from standins.loopback import LoopbackServer, read_body, respond
from standins.slack_double.agent_surfaces import AgentSurfaces
from standins.slack_double.base import ApiHandler
from standins.slack_double.constants import (
    APPS_CONNECTIONS_OPEN,
    DEFAULT_SCOPES,
    FIRST_TS_MICROS,
    RESPONSE_URL_MAX_POSTS,
    TRIGGER_LIFETIME_SECONDS,
    TS_STEP_MICROS,
    UNAUTHENTICATED_METHODS,
    UPLOAD_PATH,
)
from standins.slack_double.default_methods import DefaultMethods
from standins.slack_double.files_views import FilesAndViews
from standins.slack_double.modals import Modals
from standins.slack_double.records import RecordedCall, Reply
from standins.slack_double.refusals import _SlackError
from standins.slack_double.wire import (
    _api_calls,
    _encode,
    _hook_posts,
    _parse_body,
    _parse_form,
    _path_of,
    _presented_token,
    _redact,
    _redact_args,
    _redact_headers,
    _timeout_summary,
)
from standins.slack_payloads import APP_ID


class SlackDouble(DefaultMethods, FilesAndViews, Modals, AgentSurfaces):
    """A recording, scriptable Slack Web API and response_url server on loopback."""

    def __init__(
        self,
        token: str = "xoxb-test-token",  # noqa: S107 - a fake token, only valid here
        host: str = "127.0.0.1",
        port: int = 0,
        users_by_email: dict[str, str] | None = None,
        bot_user_id: str = "UWHOSEKEY",
        team_id: str = "T0TEST",
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        bot_id: str = "BWHOSEKEY",
        app_id: str = APP_ID,
        clock: Callable[[], float] = time.monotonic,
        trigger_lifetime: float = TRIGGER_LIFETIME_SECONDS,
    ) -> None:
        self.token = token
        self.host = host
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.app_id = app_id
        self.scopes = scopes
        # What trigger ages are counted on; tests hand in a settable clock to cross the lifetime without sleeping.
        self._clock = clock
        self._trigger_lifetime = trigger_lifetime
        self._server = LoopbackServer(self._handle, name="slack-double", host=host, port=port)
        # One lock guards all mutable state; the Condition wakes wait_for on each new call.
        # Re-entrant: a wait_for predicate may itself read the recorded calls.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._calls: list[RecordedCall] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._hook_uses: dict[str, int] = defaultdict(int)
        # Emails match case-insensitively on Slack, so they are stored lower-cased.
        self._users_by_email: dict[str, str] = {e.lower(): uid for e, uid in (users_by_email or {}).items()}
        self._usergroups: dict[str, list[str]] = {}
        # Conversations shared beyond the workspace (see set_conversation): channel -> flags.
        self._conversations: dict[str, dict[str, bool]] = {}
        self._outage: int | None = None  # HTTP status every Web API call gets while Slack is "down"
        # Members with a workspace or guest flags of their own (see set_member).
        self._members: dict[str, dict[str, Any]] = {}
        # Socket Mode (see enable_socket_mode): the app-level token and where connections go.
        self._app_token: str | None = None
        self._ts_counter = itertools.count()
        self._methods: dict[str, ApiHandler] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "users.info": self._users_info,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "usergroups.users.list": self._usergroups_users_list,
        }
        self._init_files_and_views()
        self._init_modals()
        self._init_agent_surfaces()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SlackDouble:
        """Bind and serve in a daemon thread; a no-op when already running."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; safe to call twice."""
        self._server.stop()

    def __enter__(self) -> SlackDouble:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (the OS picks one when constructed with port 0)."""
        return self._server.port

    @property
    def origin(self) -> str:
        """Scheme, host and port, e.g. http://127.0.0.1:53122."""
        return self._server.url

    @property
    def base_url(self) -> str:
        """Web API base URL for WebClient(base_url=...), with the trailing slash it wants."""
        return f"{self.origin}/api/"

    def new_response_url(self) -> str:
        """A fresh response_url on this double, unique per call."""
        return f"{self.origin}/hooks/{uuid.uuid4().hex}"

    # -- configuration -----------------------------------------------------------------------

    def script(self, method_or_hook: str, *replies: Reply) -> None:
        """Queue one-shot replies for a Web API method or a hook path/URL, used in order."""
        key = self._script_key(method_or_hook)
        with self._lock:
            self._scripts[key].extend(replies)

    def start_outage(self, status: int = 503) -> None:
        """Slack is down: every Web API call is answered with `status` until end_outage()."""
        with self._lock:
            self._outage = status

    def end_outage(self) -> None:
        """Slack is back: Web API calls are answered normally again."""
        with self._lock:
            self._outage = None

    def add_user(self, email: str, user_id: str) -> None:
        """Make users.lookupByEmail and users.info know this member."""
        with self._lock:
            self._users_by_email[email.lower()] = user_id

    def set_usergroup(self, group_id: str, user_ids: list[str]) -> None:
        """Set the members usergroups.users.list returns for a user group."""
        with self._lock:
            self._usergroups[group_id] = list(user_ids)

    def set_conversation(
        self, channel: str, *, ext_shared: bool = False, shared: bool = False, org_shared: bool = False
    ) -> None:
        """Make conversations.info describe `channel` as shared with other organizations or workspaces."""
        with self._lock:
            self._conversations[channel] = {
                "is_ext_shared": ext_shared,
                "is_shared": shared,
                "is_org_shared": org_shared,
            }

    def register_method(self, method: str, handler: ApiHandler) -> None:
        """Answer a Web API method with handler(args) -> response fields (ok added)."""
        with self._lock:
            self._methods[method] = handler

    def reset(self) -> None:
        """Forget recorded calls, scripts and response_url use counts (not users or groups)."""
        with self._lock:
            self._calls.clear()
            self._scripts.clear()
            self._hook_uses.clear()
            self._changed.notify_all()

    # -- inspection --------------------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        """A snapshot of every recorded call, oldest first."""
        with self._lock:
            return list(self._calls)

    def api_calls(self, method: str | None = None) -> list[RecordedCall]:
        """Recorded Web API calls, optionally only those to one method."""
        return _api_calls(self.calls, method)

    def hook_posts(self, response_url: str) -> list[RecordedCall]:
        """Recorded posts to one response_url (full URL or /hooks/<id> path)."""
        return _hook_posts(self.calls, _path_of(response_url))

    def wait_for(
        self,
        predicate: Callable[[list[RecordedCall]], bool],
        timeout: float = 15.0,
    ) -> list[RecordedCall]:
        """Block until predicate(calls) holds and return the calls; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                snapshot = list(self._calls)
                if predicate(snapshot):
                    return snapshot
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(_timeout_summary(timeout, snapshot))
                self._changed.wait(remaining)

    def wait_for_hook(self, response_url: str, count: int = 1, timeout: float = 15.0) -> list[RecordedCall]:
        """Block until a response_url has received count posts and return them."""
        path = _path_of(response_url)
        calls = self.wait_for(lambda cs: len(_hook_posts(cs, path)) >= count, timeout)
        return _hook_posts(calls, path)

    def wait_for_api(self, method: str, count: int = 1, timeout: float = 15.0) -> list[RecordedCall]:
        """Block until a Web API method has been called count times and return those calls."""
        calls = self.wait_for(lambda cs: len(_api_calls(cs, method)) >= count, timeout)
        return _api_calls(calls, method)

    # -- request handling --------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        """Parse, answer and record one request."""
        at = time.time()
        split = urlsplit(request.path)
        path = split.path
        query = _parse_form(split.query)
        raw = read_body(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        body, parse_error = _parse_body(raw, headers.get("content-type", ""))

        kind, name = "other", path
        try:
            if path.startswith("/api/") and len(path) > len("/api/"):
                kind, name = "api", path[len("/api/") :]
                reply = self._answer_api(name, headers, query, body, parse_error)
            elif path.startswith("/hooks/") and len(path) > len("/hooks/"):
                kind, name = "hook", path
                reply = self._answer_hook(path, request.command, body, parse_error)
            elif path.startswith(UPLOAD_PATH) and len(path) > len(UPLOAD_PATH):
                kind, name = "upload", path
                reply = self._answer_upload(path[len(UPLOAD_PATH) :], request.command, raw)
            else:
                reply = Reply(404, "not_found")
        except Exception as err:  # a bug here must reach the client as a 500, not hang it
            # Answer like a Slack outage so the caller sees a 500 and the call is on record.
            reply = Reply(500, f"slack double error: {type(err).__name__}: {err}")

        status, out_headers, payload = _encode(reply)
        presented = _presented_token(headers, {**query, **body})
        self._record(
            RecordedCall(
                kind=kind,
                name=name,
                url=_redact(request.path, presented),
                headers=_redact_headers(headers),
                body=_redact_args(body),
                raw_body=_redact(raw.decode("utf-8", errors="replace"), presented),
                status=status,
                at=at,
                query=_redact_args(query),
                response=reply.body,
            )
        )
        respond(request, status, out_headers.items(), payload)

    def _answer_api(
        self,
        method: str,
        headers: dict[str, str],
        query: dict[str, Any],
        body: dict[str, Any],
        parse_error: bool,
    ) -> Reply:
        """The Web API's answer: a scripted reply if queued, else Slack's default behaviour."""
        scope_headers = {"X-OAuth-Scopes": ",".join(self.scopes)}
        with self._lock:
            outage = self._outage
        if outage is not None:
            return Reply(outage, {"ok": False, "error": "service_unavailable"})
        scripted = self._next_script(f"api:{method}")
        if scripted is not None:
            return Reply(scripted.status, scripted.body, {**scope_headers, **scripted.headers})
        args = {**query, **body}
        with self._lock:
            handler = self._methods.get(method)
        if handler is None:
            return Reply(200, {"ok": False, "error": "unknown_method"}, scope_headers)
        if parse_error:
            return Reply(200, {"ok": False, "error": "invalid_json"}, scope_headers)
        if method not in UNAUTHENTICATED_METHODS:
            auth_error = self._auth_error(headers, args, method)
            if auth_error is not None:
                return Reply(200, {"ok": False, "error": auth_error}, scope_headers)
        try:
            fields = handler(args)
        except _SlackError as err:
            refusal: dict[str, Any] = {"ok": False, "error": err.error}
            if err.detail:
                refusal["detail"] = err.detail
            if err.messages:
                refusal["response_metadata"] = {"messages": err.messages}
            return Reply(200, refusal, scope_headers)
        return Reply(200, {"ok": True, **fields}, scope_headers)

    def _answer_hook(self, path: str, verb: str, body: dict[str, Any], parse_error: bool) -> Reply:
        """A response_url's answer: scripted, else "ok" until its five posts are used."""
        if verb != "POST":
            return Reply(404, "not_found")
        # A scripted reply wins even over used_url: the test asked for exactly that answer.
        reply = self._next_script(f"hook:{path}")
        with self._lock:
            if reply is None and self._hook_uses[path] >= RESPONSE_URL_MAX_POSTS:
                return Reply(404, "used_url")
            if reply is None and parse_error:
                reply = Reply(400, "invalid_payload")
            elif reply is None and not any(k in body for k in ("text", "blocks", "attachments", "delete_original")):
                reply = Reply(400, "no_text")
            elif reply is None:
                reply = Reply(200, "ok")
            # Only accepted posts spend the URL, so a failed post can be retried.
            if 200 <= reply.status < 300:
                self._hook_uses[path] += 1
        return reply

    def _auth_error(self, headers: dict[str, str], args: dict[str, Any], method: str = "") -> str | None:
        """Slack's auth error for this request, or None when the token is right."""
        presented = _presented_token(headers, args)
        if not presented:
            return "not_authed"
        # apps.connections.open takes the app-level token (xapp-…), every other method the bot's.
        expected = self._app_token if method == APPS_CONNECTIONS_OPEN else self.token
        if presented == expected:
            return None
        # Bolt calls the Web API with a function execution's own token while it handles the step.
        return "invalid_auth" if method == APPS_CONNECTIONS_OPEN else self._function_token_error(presented)

    def _next_script(self, key: str) -> Reply | None:
        """Pop the next scripted reply for a key, if any."""
        with self._lock:
            queue = self._scripts.get(key)
            return queue.popleft() if queue else None

    def _record(self, call: RecordedCall) -> None:
        """Append a call and wake anyone waiting on the recording."""
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    def _next_ts(self) -> str:
        """A unique, increasing message timestamp like 1700000000.000100."""
        with self._lock:
            micros = FIRST_TS_MICROS + next(self._ts_counter) * TS_STEP_MICROS
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    @staticmethod
    def _script_key(method_or_hook: str) -> str:
        """Normalize "chat.postMessage", "/api/x", "/hooks/id" or a full URL to a script key."""
        path = _path_of(method_or_hook)
        if path.startswith("/hooks/"):
            return f"hook:{path}"
        if path.startswith("/api/"):
            return f"api:{path[len('/api/') :]}"
        return f"api:{method_or_hook}"
