"""A loopback stand-in for the Slack Web API and response_url hooks, over real HTTP.

The end-to-end tests, `whose-key demo` and the benchmarks point the bot's processes at this
server (`SLACK_API_URL=double.base_url`, response URLs from `new_response_url()`), so every
request crosses a real socket exactly as it would to Slack, and the double records it for
assertions. It answers like Slack does where the bot can tell the difference: `ok: false`
errors on HTTP 200, `X-OAuth-Scopes` on every Web API answer, 429 with `Retry-After` when a
test scripts one, `used_url` once a response_url has taken its five posts, and modals that open
only with a trigger_id the double issued (`new_trigger_id()`), once, within three seconds.
The agent view's assistant.threads.* methods work on threads and channels the double knows
(`new_assistant_thread()`, `add_channel()`, DMs it opened, messages it took), and
functions.complete* on function executions it minted (`new_function_execution()`), once.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import itertools
import json
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote_plus, urlsplit

from bot.scopes import BOT_SCOPES
from standins.loopback import LoopbackServer, read_body, respond
from standins.slack_payloads import APP_ID

# Scopes the bot's manifest asks for; tests that probe scope checks pass their own.
DEFAULT_SCOPES = BOT_SCOPES

# Slack lets a response_url take this many posts (within 30 minutes) before answering used_url.
RESPONSE_URL_MAX_POSTS = 5

# First message ts handed out; fixed so demo output and failures read the same run to run.
FIRST_TS_MICROS = 1_700_000_000_000_100

# Step between consecutive message timestamps, in microseconds (Slack's ts has 6 decimals).
TS_STEP_MICROS = 100

# What a recorded token is replaced with, so failure output and logs never carry a secret.
REDACTED = "[REDACTED]"

# How much of each call the TimeoutError summary shows, so a failure stays readable.
SUMMARY_BODY_CHARS = 160

# Where files.getUploadURLExternal sends uploads: a path on the double itself.
UPLOAD_PATH = "/upload/"

# The first bytes of every PNG file.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Web API methods that answer without a token, as on real Slack.
UNAUTHENTICATED_METHODS = frozenset({"api.test"})

# Seconds within which Slack lets a trigger_id be exchanged for a modal (once) after the interaction.
TRIGGER_LIFETIME_SECONDS = 3.0

# Limits of a modal view object, from Slack's reference (docs.slack.dev/reference/views/modal-views).
MODAL_BUTTON_TEXT_MAX_CHARS = 24  # the title, submit and close texts
MODAL_MAX_BLOCKS = 100
PRIVATE_METADATA_MAX_CHARS = 3000
VIEW_ID_MAX_CHARS = 255  # callback_id and external_id
INPUT_LABEL_MAX_CHARS = 2000
# views.open and views.update answer view_too_large past this many bytes of view JSON.
VIEW_MAX_BYTES = 250_000

# The agent view and custom steps, from Slack's method references (docs.slack.dev/reference/methods/...).
STATUS_TIMEOUT_SECONDS = 120.0  # a thread's status goes away after two minutes without a message
MAX_LOADING_MESSAGES = 10  # assistant.threads.setStatus takes at most this many loading_messages
MAX_SUGGESTED_PROMPTS = 4  # assistant.threads.setSuggestedPrompts sets "up to four" prompts
# A function execution's bot_access_token expires this long after it is issued, or when the execution is
# completed: a Slack maintainer's answer in slackapi/bolt-python#1075; the method references do not say.
FUNCTION_TOKEN_LIFETIME_SECONDS = 15 * 60.0

ApiHandler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class RecordedCall:
    """One request the double received, and what it answered."""

    kind: str  # "api" for /api/<method>, "hook" for response_url posts
    name: str  # the Web API method (e.g. "chat.postMessage") or the hook path ("/hooks/abc")
    url: str  # full URL path requested, query string included
    headers: dict[str, str]  # lower-cased names; the Authorization value is redacted
    body: dict[str, Any]  # parsed JSON or form body; {} when empty or unparseable
    raw_body: str  # as received, with any token redacted
    status: int  # HTTP status the double answered with
    at: float  # time.time() when received
    query: dict[str, Any] = field(default_factory=dict)  # parsed query string
    response: dict[str, Any] | str | None = None  # the body the double answered with

    @property
    def args(self) -> dict[str, Any]:
        """Query and body arguments together, the body winning, as Slack reads them."""
        return {**self.query, **self.body}

    @property
    def ok(self) -> bool:
        """True when the double answered 2xx and, for the Web API, `ok: true`."""
        if not 200 <= self.status < 300:
            return False
        if self.kind == "api":
            return isinstance(self.response, dict) and self.response.get("ok") is True
        return True


@dataclass
class Reply:
    """A scripted answer: dict bodies go out as JSON, str bodies as text/plain."""

    status: int = 200
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class _SlackError(Exception):
    """A Slack `ok: false` answer raised from inside a method handler; messages go in response_metadata, and
    detail (which the assistant.threads.* methods add, e.g. "Thread not found") beside the error."""

    def __init__(self, error: str, messages: list[str] | None = None, detail: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.detail = detail


class SlackDouble:
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

    # -- default Web API methods ---------------------------------------------------------------

    def _api_test(self, args: dict[str, Any]) -> dict[str, Any]:
        """Echo the arguments, minus any token, like api.test."""
        return {"args": {k: v for k, v in args.items() if k != "token"}}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        """Identify the bot, as auth.test does."""
        return {
            "url": "https://whose-key-test.slack.com/",
            "team": "whose-key test",
            "user": "whose-key",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        """Accept a message and hand back its channel and a fresh ts."""
        channel = _dm_channel(_require(args, "channel", "channel_not_found"))
        if not any(args.get(k) for k in ("text", "blocks", "attachments")):
            raise _SlackError("no_text")
        ts = self._next_ts()
        self._took_message(channel, ts, args.get("thread_ts"))
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "text": args.get("text", ""),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "team": self.team_id,
            "ts": ts,
        }
        for optional in ("blocks", "attachments", "thread_ts", "metadata"):
            if optional in args:
                message[optional] = args[optional]
        return {"channel": channel, "ts": ts, "message": message}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        """Accept an ephemeral message for one user."""
        _require(args, "channel", "channel_not_found")
        _require(args, "user", "user_not_in_channel")
        if not any(args.get(k) for k in ("text", "blocks", "attachments")):
            raise _SlackError("no_text")
        return {"message_ts": self._next_ts()}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """Accept an edit of an earlier message."""
        channel = _require(args, "channel", "channel_not_found")
        ts = _require(args, "ts", "message_not_found")
        text = args.get("text", "")
        return {"channel": channel, "ts": ts, "text": text, "message": {"text": text}}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """Accept a deletion."""
        channel = _require(args, "channel", "channel_not_found")
        ts = _require(args, "ts", "message_not_found")
        return {"channel": channel, "ts": ts}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        """A permalink in Slack's archives/<channel>/p<ts digits> shape."""
        channel = _require(args, "channel", "channel_not_found")
        ts = _require(args, "message_ts", "message_not_found")
        digits = str(ts).replace(".", "")
        permalink = f"https://whose-key-test.slack.com/archives/{channel}/p{digits}"
        return {"channel": channel, "permalink": permalink}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """Open (or reuse) a DM: the channel ID mirrors the user ID with a D prefix."""
        if args.get("channel"):
            return {"channel": {"id": args["channel"]}, "already_open": True}
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if not users:
            raise _SlackError("users_list_not_supplied")
        channel = _dm_channel(users[0])
        self.add_channel(channel)
        return {"channel": {"id": channel}, "no_op": True, "already_open": True}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """Describe a channel or DM: internal unless set otherwise with set_conversation."""
        channel = str(_require(args, "channel", "channel_not_found"))
        if channel[:1] not in ("C", "G", "D"):
            raise _SlackError("channel_not_found")
        with self._lock:
            flags = dict(self._conversations.get(channel, {}))
        is_im = channel.startswith("D")
        described: dict[str, Any] = {
            "id": channel,
            "is_channel": channel.startswith("C"),
            "is_group": channel.startswith("G"),
            "is_im": is_im,
            "is_private": not channel.startswith("C"),
            "is_ext_shared": False,
            "is_shared": False,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
        }
        if is_im:
            described["user"] = "U" + channel[1:]
        return {"channel": {**described, **flags}}

    def _users_lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        """Find a member by email, case-insensitively, as Slack does."""
        email_ = str(_require(args, "email", "invalid_arguments"))
        with self._lock:
            user_id = self._users_by_email.get(email_.lower())
        if user_id is None:
            raise _SlackError("users_not_found")
        return {"user": self._user(user_id, email_.lower())}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """Describe a known member (added by email, or the bot itself)."""
        user_id = str(_require(args, "user", "user_not_found"))
        with self._lock:
            emails = [e for e, uid in self._users_by_email.items() if uid == user_id]
            deleted = user_id in self._deactivated
            flags = dict(self._members.get(user_id, {}))
        if emails or deleted:
            return {"user": {**self._user(user_id, emails[0] if emails else None), **flags}}
        if user_id == self.bot_user_id:
            bot = self._user(user_id, None)
            bot.update(name="whose-key", is_bot=True)
            return {"user": bot}
        if flags or _is_member_id(user_id):
            # Anyone who can send the bot a message exists on Slack: a plain member unless set otherwise.
            return {"user": {**self._user(user_id, None), **flags}}
        raise _SlackError("user_not_found")

    def _reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        """Accept a reaction on a message."""
        _require(args, "channel", "channel_not_found")
        _require(args, "timestamp", "no_item_specified")
        _require(args, "name", "invalid_name")
        return {}

    def _reactions_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        """Accept removing a reaction from a message."""
        return self._reactions_add(args)

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """Members of a user group, [] unless set with set_usergroup."""
        group = str(_require(args, "usergroup", "invalid_arguments"))
        with self._lock:
            return {"users": list(self._usergroups.get(group, []))}

    def _user(self, user_id: str, email_: str | None) -> dict[str, Any]:
        """A plausible users.* member object."""
        name = email_.split("@", 1)[0] if email_ else user_id.lower()
        profile: dict[str, Any] = {"real_name": name, "display_name": name}
        if email_:
            profile["email"] = email_
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name,
            "deleted": user_id in self._deactivated,
            "is_bot": False,
            "tz": "Etc/UTC",
            "profile": profile,
        }

    # -- files, views and deactivated members (key hygiene) ------------------------------------

    def _init_files_and_views(self) -> None:
        """State and methods for the external upload flow, views.publish and deactivated members."""
        self._deactivated: set[str] = set()
        self._file_ids = itertools.count(1)
        self._files: dict[str, UploadedFile] = {}
        self._views: list[PublishedView] = []
        self._methods.update(
            {
                "files.getUploadURLExternal": self._files_get_upload_url_external,
                "files.completeUploadExternal": self._files_complete_upload_external,
                "views.publish": self._views_publish,
            }
        )

    def deactivate_user(self, user_id: str) -> None:
        """Make users.info (and users.lookupByEmail) describe this member as deactivated (deleted)."""
        with self._lock:
            self._deactivated.add(user_id)

    @property
    def uploads(self) -> list[UploadedFile]:
        """Files whose bytes were uploaded, in the order their upload URLs were handed out."""
        with self._lock:
            return [f for f in self._files.values() if f.data is not None]

    def views(self, user_id: str | None = None) -> list[PublishedView]:
        """Views published with views.publish, optionally for one member, oldest first."""
        with self._lock:
            return [v for v in self._views if user_id is None or v.user_id == user_id]

    def _files_get_upload_url_external(self, args: dict[str, Any]) -> dict[str, Any]:
        """Hand out an upload URL on this double for a file of `length` bytes."""
        filename = str(_require(args, "filename", "invalid_arguments"))
        try:
            length = int(_require(args, "length", "invalid_arguments"))
        except ValueError:
            raise _SlackError("invalid_arguments") from None
        with self._lock:
            file_id = f"F{next(self._file_ids):08d}"
            self._files[file_id] = UploadedFile(file_id, filename, length)
        return {"upload_url": f"{self.origin}{UPLOAD_PATH}{file_id}", "file_id": file_id}

    def _answer_upload(self, file_id: str, verb: str, raw: bytes) -> Reply:
        """Take a file's bytes at its upload URL, once, and only as many as announced."""
        with self._lock:
            pending = self._files.get(file_id)
            if verb != "POST" or pending is None:
                return Reply(404, "not_found")
            if pending.data is not None or len(raw) != pending.length:
                return Reply(400, "bad_upload")
            pending.data = raw
        return Reply(200, f"OK - {len(raw)}")

    def _files_complete_upload_external(self, args: dict[str, Any]) -> dict[str, Any]:
        """Share uploaded files into channel_id; each must have been uploaded first."""
        raw_files = _require(args, "files", "invalid_arguments")
        try:
            files = json.loads(raw_files) if isinstance(raw_files, str) else raw_files
        except json.JSONDecodeError:
            raise _SlackError("invalid_arguments") from None
        if not isinstance(files, list) or not files:
            raise _SlackError("invalid_arguments")
        shared = []
        with self._lock:
            for item in files:
                uploaded = self._files.get(str(item.get("id")))
                if uploaded is None or uploaded.data is None:
                    raise _SlackError("file_not_found")
                uploaded.title = str(item.get("title") or uploaded.filename)
                uploaded.channel = args.get("channel_id") or args.get("channels")
                uploaded.initial_comment = args.get("initial_comment")
                shared.append({"id": uploaded.file_id, "name": uploaded.filename, "title": uploaded.title})
        return {"files": shared}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """Record a Home tab view published for a member."""
        user_id = str(_require(args, "user_id", "invalid_arguments"))
        view = _require(args, "view", "invalid_arguments")
        try:
            parsed = json.loads(view) if isinstance(view, str) else view
        except json.JSONDecodeError:
            raise _SlackError("invalid_arguments") from None
        if not isinstance(parsed, dict) or parsed.get("type") != "home" or len(parsed.get("blocks") or []) > 100:
            raise _SlackError("invalid_arguments")
        with self._lock:
            self._views.append(PublishedView(user_id, parsed))
        return {"view": {"id": f"V{len(self._views):08d}", "type": "home", "blocks": parsed.get("blocks", [])}}

    # -- modals (views.open, views.update; submissions are built by slack_payloads) --------------

    def _init_modals(self) -> None:
        """State and methods for trigger IDs and the modals opened with them."""
        self._triggers: dict[str, _Trigger] = {}
        self._trigger_numbers = itertools.count(1)
        self._modal_numbers = itertools.count(1)
        self._modals: dict[str, ModalView] = {}  # view_id -> modal, in the order they were opened
        self._methods.update({"views.open": self._views_open, "views.update": self._views_update})

    def new_trigger_id(self, user_id: str | None = None) -> str:
        """A trigger_id as Slack puts in an interaction payload (of user_id's press): views.open takes it once,
        within the trigger lifetime counted on the double's clock."""
        with self._lock:
            number = next(self._trigger_numbers)
            # Slack's shape, e.g. 12345.98765.abcd2358fdea; the number keeps it unique, the hex unguessable.
            trigger_id = f"{number}.{int(time.time())}.{uuid.uuid4().hex[:24]}"
            self._triggers[trigger_id] = _Trigger(issued_at=self._clock(), user_id=user_id)
        return trigger_id

    def expire_trigger(self, trigger_id: str) -> None:
        """Age a trigger the double issued past its lifetime, so views.open answers expired_trigger_id."""
        with self._lock:
            if trigger_id not in self._triggers:
                raise KeyError(f"trigger {trigger_id!r} was not issued by this double")
            self._triggers[trigger_id].issued_at = self._clock() - self._trigger_lifetime - 1.0

    def modals(self, user_id: str | None = None) -> list[ModalView]:
        """Modals opened with views.open (as last updated), optionally only one member's, oldest first."""
        with self._lock:
            return [_copy_modal(m) for m in self._modals.values() if user_id is None or m.user_id == user_id]

    def modal(self, view_id: str) -> ModalView:
        """One open modal by its view ID; KeyError when the double holds none by that ID."""
        with self._lock:
            return _copy_modal(self._modals[view_id])

    def wait_for_modal(self, predicate: Callable[[ModalView], bool] | None = None, timeout: float = 15.0) -> ModalView:
        """Block until an open modal satisfies predicate (any modal when None) and return the newest that does."""
        found: list[ModalView] = []

        def opened(_calls: list[RecordedCall]) -> bool:
            # Handlers change the modals before the call is recorded, and recording wakes the waiters.
            found[:] = [m for m in self.modals() if predicate is None or predicate(m)]
            return bool(found)

        self.wait_for(opened, timeout)
        return found[-1]

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """Exchange a trigger the double issued for a modal, validated as Slack validates it."""
        # Slack takes an interactivity_pointer in place of a trigger_id; the double issues both alike.
        trigger_id = str(args.get("trigger_id") or args.get("interactivity_pointer") or "")
        if not trigger_id:
            raise _SlackError("invalid_arguments", ["[ERROR] missing required field: trigger_id"])
        view = _modal_from_args(args)
        with self._lock:
            trigger = self._triggers.get(trigger_id)
            if trigger is None:
                raise _SlackError("invalid_trigger_id")
            if trigger.used:
                raise _SlackError("exchanged_trigger_id")
            if self._clock() - trigger.issued_at > self._trigger_lifetime:
                raise _SlackError("expired_trigger_id")
            external_id = str(view.get("external_id") or "")
            if external_id and self._modal_by_external_id(external_id) is not None:
                raise _SlackError("duplicate_external_id")
            trigger.used = True
            view_id = f"VM{next(self._modal_numbers):07d}"
            answered = self._answered_view(view, view_id, root_view_id=view_id, external_id=external_id)
            self._modals[view_id] = ModalView(view_id, trigger.user_id, trigger_id, answered)
            return {"view": copy.deepcopy(answered)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """Replace an open modal's view, found by view_id or external_id, guarded by its hash when one is given."""
        view_id, external_id = str(args.get("view_id") or ""), str(args.get("external_id") or "")
        if bool(view_id) == bool(external_id):
            raise _SlackError("invalid_arguments", ["[ERROR] exactly one of view_id or external_id is required"])
        view = _modal_from_args(args)
        with self._lock:
            current = self._modals.get(view_id) if view_id else self._modal_by_external_id(external_id)
            if current is None:
                raise _SlackError("not_found")
            offered_hash = args.get("hash")
            if offered_hash and offered_hash != current.hash:
                raise _SlackError("hash_conflict")
            # A view that names no external_id keeps the one it was found by.
            new_external_id = str(view.get("external_id") or current.external_id)
            holder = self._modal_by_external_id(new_external_id) if new_external_id else None
            if holder is not None and holder.view_id != current.view_id:
                raise _SlackError("duplicate_external_id")
            answered = self._answered_view(
                view, current.view_id, root_view_id=str(current.view["root_view_id"]), external_id=new_external_id
            )
            self._modals[current.view_id] = replace(current, view=answered, updates=current.updates + 1)
            return {"view": copy.deepcopy(answered)}

    def _modal_by_external_id(self, external_id: str) -> ModalView | None:
        """The open modal with this external_id, if any (caller holds the lock)."""
        return next((m for m in self._modals.values() if m.external_id == external_id), None)

    def _answered_view(
        self, view: dict[str, Any], view_id: str, *, root_view_id: str, external_id: str
    ) -> dict[str, Any]:
        """The view object as Slack answers views.open and views.update: the app's fields plus Slack's own."""
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": _with_block_ids(view["blocks"]),
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
            "external_id": external_id,
            # Nobody has typed yet; slack_payloads.view_submission fills in what a person types.
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "title": view["title"],
            "close": view.get("close"),
            "submit": view.get("submit"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "previous_view_id": None,
            "root_view_id": root_view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    # -- the agent view (assistant.threads.*) and custom steps (functions.complete*) -------------

    def _init_agent_surfaces(self) -> None:
        """State and methods for assistant threads (status, prompts, title) and function executions."""
        # Channels the assistant methods accept beyond set_conversation's: DMs opened, channels posted to, added.
        self._known_channels: set[str] = set()
        self._threads: set[tuple[str, str]] = set()  # (channel_id, thread_ts) of every thread the double knows
        self._statuses: dict[tuple[str, str], tuple[ThreadStatus, float]] = {}  # status and when it was set
        self._status_history: dict[tuple[str, str], list[str]] = defaultdict(list)
        self._prompts: dict[tuple[str, str | None], SuggestedPrompts] = {}  # thread_ts None: the channel's own
        self._titles: dict[tuple[str, str], str] = {}
        self._execution_numbers = itertools.count(1)
        self._executions: dict[str, FunctionExecution] = {}
        self._methods.update(
            {
                "assistant.threads.setStatus": self._assistant_threads_set_status,
                "assistant.threads.setSuggestedPrompts": self._assistant_threads_set_suggested_prompts,
                "assistant.threads.setTitle": self._assistant_threads_set_title,
                "functions.completeSuccess": self._functions_complete_success,
                "functions.completeError": self._functions_complete_error,
            }
        )

    def add_channel(self, channel_id: str) -> None:
        """Make the assistant methods know a channel (DMs the bot opened and channels it posted to are known)."""
        with self._lock:
            self._known_channels.add(channel_id)

    def add_thread(self, channel_id: str, thread_ts: str) -> None:
        """Make a thread exist (e.g. one a person started with a message), and its channel known."""
        with self._lock:
            self._known_channels.add(channel_id)
            self._threads.add((channel_id, thread_ts))

    def new_assistant_thread(self, user_id: str, context_channel_id: str | None = None) -> AssistantThread:
        """An agent-view thread as Slack starts it when user_id opens the app: in their DM with the app, with a
        fresh root ts; hand its fields to slack_payloads.assistant_thread_started."""
        thread = AssistantThread(user_id, _dm_channel(user_id), self._next_ts(), context_channel_id)
        self.add_thread(thread.channel_id, thread.thread_ts)
        return thread

    def thread_status(self, channel_id: str, thread_ts: str) -> ThreadStatus | None:
        """The status a thread shows now: None when never set, cleared, replied to or two minutes old."""
        with self._lock:
            held = self._statuses.get((channel_id, thread_ts))
            if held is None or self._clock() - held[1] > STATUS_TIMEOUT_SECONDS:
                return None
            return held[0]

    def status_history(self, channel_id: str, thread_ts: str) -> list[str]:
        """Every status a thread was given, oldest first, "" where it was cleared (empty status or a reply)."""
        with self._lock:
            return list(self._status_history.get((channel_id, thread_ts), []))

    def suggested_prompts(self, channel_id: str, thread_ts: str | None = None) -> SuggestedPrompts | None:
        """The prompts last set for a thread, or for the channel itself when thread_ts is None."""
        with self._lock:
            return self._prompts.get((channel_id, thread_ts))

    def thread_title(self, channel_id: str, thread_ts: str) -> str | None:
        """The title last set for a thread, if any."""
        with self._lock:
            return self._titles.get((channel_id, thread_ts))

    def new_function_execution(
        self, callback_id: str, inputs: dict[str, Any] | None = None, *, required_outputs: tuple[str, ...] = ()
    ) -> str:
        """A function_execution_id as a workflow running the app's custom step `callback_id` gets: functions.complete*
        take it once; required_outputs are the output parameters completeSuccess must be given."""
        with self._lock:
            number = next(self._execution_numbers)
            execution_id = f"Fx{number:010d}"
            self._executions[execution_id] = FunctionExecution(
                function_execution_id=execution_id,
                callback_id=callback_id,
                inputs=copy.deepcopy(inputs or {}),
                workflow_execution_id=f"Wx{number:010d}",
                # Slack's workflow tokens start xwfp-; the hex keeps it unguessable, so it is redacted like a secret.
                bot_access_token=f"xwfp-{self.team_id}-{number}-{uuid.uuid4().hex}",
                issued_at=self._clock(),
                required_outputs=tuple(required_outputs),
            )
        return execution_id

    def function_execution(self, function_execution_id: str) -> FunctionExecution:
        """One function execution the double minted, as it stands; KeyError for any other ID."""
        with self._lock:
            return _copy_execution(self._executions[function_execution_id])

    def wait_for_status(
        self,
        channel_id: str,
        thread_ts: str,
        predicate: Callable[[ThreadStatus], bool] | None = None,
        timeout: float = 15.0,
    ) -> ThreadStatus:
        """Block until a thread shows a status satisfying predicate (any status when None) and return it."""
        return self._wait_for_state(lambda: _matching(self.thread_status(channel_id, thread_ts), predicate), timeout)

    def wait_for_status_cleared(self, channel_id: str, thread_ts: str, timeout: float = 15.0) -> list[str]:
        """Block until a status a thread showed has been cleared (empty status or a reply) and return the history."""

        def cleared() -> list[str] | None:
            history = self.status_history(channel_id, thread_ts)
            shown = next((i for i, status in enumerate(history) if status), None)
            return history if shown is not None and "" in history[shown:] else None

        return self._wait_for_state(cleared, timeout)

    def wait_for_suggested_prompts(
        self,
        channel_id: str,
        thread_ts: str | None = None,
        predicate: Callable[[SuggestedPrompts], bool] | None = None,
        timeout: float = 15.0,
    ) -> SuggestedPrompts:
        """Block until a thread's (or the channel's) prompts satisfy predicate (any prompts when None)."""
        return self._wait_for_state(
            lambda: _matching(self.suggested_prompts(channel_id, thread_ts), predicate), timeout
        )

    def wait_for_thread_title(
        self, channel_id: str, thread_ts: str, predicate: Callable[[str], bool] | None = None, timeout: float = 15.0
    ) -> str:
        """Block until a thread's title satisfies predicate (any title when None) and return it."""
        return self._wait_for_state(lambda: _matching(self.thread_title(channel_id, thread_ts), predicate), timeout)

    def wait_for_function_completion(self, function_execution_id: str, timeout: float = 15.0) -> FunctionExecution:
        """Block until a function execution was completed (with outputs or an error) and return it."""

        def completed() -> FunctionExecution | None:
            execution = self.function_execution(function_execution_id)
            return None if execution.state is ExecutionState.RUNNING else execution

        return self._wait_for_state(completed, timeout)

    def _wait_for_state(self, read: Callable[[], _T | None], timeout: float) -> _T:
        """Block until read() gives something and return it: handlers change the state before the call is
        recorded, and recording wakes the waiters; TimeoutError lists the calls otherwise."""
        found: list[_T] = []

        def ready(_calls: list[RecordedCall]) -> bool:
            value = read()
            found[:] = [] if value is None else [value]
            return bool(found)

        self.wait_for(ready, timeout)
        return found[0]

    def _took_message(self, channel: str, ts: str, thread_ts: Any) -> None:
        """A message the double accepted: its channel is known, it roots a thread, and a reply clears the
        thread's status (Slack clears it "when the app sends a reply")."""
        with self._lock:
            self._known_channels.add(channel)
            self._threads.add((channel, ts))
            if not thread_ts:
                return
            key = (channel, str(thread_ts))
            self._threads.add(key)
            if self._statuses.pop(key, None) is not None:
                self._status_history[key].append("")

    def _known_thread(self, channel_id: str, thread_ts: str | None) -> None:
        """Refuse an unknown channel (channel_not_found) or thread (invalid_thread_ts); caller holds the lock."""
        if channel_id not in self._known_channels and channel_id not in self._conversations:
            raise _SlackError("channel_not_found", detail="Invalid channel_id")
        if thread_ts is not None and (channel_id, thread_ts) not in self._threads:
            raise _SlackError("invalid_thread_ts", detail="Thread not found")

    def _assistant_threads_set_status(self, args: dict[str, Any]) -> dict[str, Any]:
        """Show (or, with an empty status, clear) a thread's status, with optional loading_messages."""
        channel_id, thread_ts = _required_strings(args, "channel_id", "thread_ts")
        # status is required, but an empty one is how an app clears the status without replying.
        status = args.get("status")
        if not isinstance(status, str):
            raise _SlackError("invalid_arguments", ["[ERROR] missing required field: status"])
        loading_messages = _loading_messages(args.get("loading_messages"))
        key = (channel_id, thread_ts)
        with self._lock:
            self._known_thread(channel_id, thread_ts)
            if status:
                self._statuses[key] = (ThreadStatus(status, loading_messages), self._clock())
            else:
                self._statuses.pop(key, None)
            self._status_history[key].append(status)
        return {}

    def _assistant_threads_set_suggested_prompts(self, args: dict[str, Any]) -> dict[str, Any]:
        """Set up to four prompts for a thread, or for the channel when no thread_ts is given (agent-view apps)."""
        (channel_id,) = _required_strings(args, "channel_id")
        prompts = _suggested_prompts(args.get("prompts"))
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        title = args.get("title")
        if title is not None and not isinstance(title, str):
            raise _SlackError("invalid_arguments", ["[ERROR] must be a string [json-pointer:/title]"])
        with self._lock:
            self._known_thread(channel_id, thread_ts)
            self._prompts[(channel_id, thread_ts)] = SuggestedPrompts(prompts, title or None)
        return {}

    def _assistant_threads_set_title(self, args: dict[str, Any]) -> dict[str, Any]:
        """Set the title a thread shows in the app's history."""
        channel_id, thread_ts, title = _required_strings(args, "channel_id", "thread_ts", "title")
        with self._lock:
            self._known_thread(channel_id, thread_ts)
            self._titles[(channel_id, thread_ts)] = title
        return {}

    def _functions_complete_success(self, args: dict[str, Any]) -> dict[str, Any]:
        """Complete a running function execution with outputs holding every required output parameter."""
        (execution_id,) = _required_strings(args, "function_execution_id")
        if args.get("outputs") is None:
            raise _SlackError("invalid_arguments", ["[ERROR] missing required field: outputs"])
        outputs = _json_value(args["outputs"], "outputs")
        if not isinstance(outputs, dict):
            raise _SlackError("invalid_arguments", ["[ERROR] must be an object [json-pointer:/outputs]"])
        with self._lock:
            execution = self._running_execution(execution_id)
            missing = [name for name in execution.required_outputs if name not in outputs]
            if missing:
                # The error is Slack's; the reference only says "see API response for more details", so these
                # messages take the shape of Slack's other argument errors.
                messages = [f"[ERROR] missing required field: {name} [json-pointer:/outputs]" for name in missing]
                raise _SlackError("parameter_validation_failed", messages)
            self._executions[execution_id] = replace(
                execution, state=ExecutionState.COMPLETED, outputs=copy.deepcopy(outputs)
            )
        return {}

    def _functions_complete_error(self, args: dict[str, Any]) -> dict[str, Any]:
        """Fail a running function execution with the message Slack shows the workflow's user."""
        execution_id, error = _required_strings(args, "function_execution_id", "error")
        with self._lock:
            execution = self._running_execution(execution_id)
            self._executions[execution_id] = replace(execution, state=ExecutionState.FAILED, error=error)
        return {}

    def _running_execution(self, execution_id: str) -> FunctionExecution:
        """A minted execution still to be completed; caller holds the lock."""
        execution = self._executions.get(execution_id)
        if execution is None:
            raise _SlackError("function_execution_not_found")
        if execution.state is not ExecutionState.RUNNING:
            # Slack's reference lists execution_not_in_running_state ("no longer in a state to be completed"),
            # though its example calls a completed execution function_execution_not_found: the double answers
            # the more specific one, so a test can tell a double completion from an ID never issued.
            raise _SlackError("execution_not_in_running_state")
        return execution

    def _function_token_error(self, presented: str) -> str | None:
        """None while presented is a running execution's token; Slack's refusal otherwise (token_revoked and
        token_expired are Slack's names for a dead token; which one Slack gives here is not documented)."""
        with self._lock:
            execution = next((e for e in self._executions.values() if e.bot_access_token == presented), None)
            if execution is None:
                return "invalid_auth"
            if execution.state is not ExecutionState.RUNNING:
                return "token_revoked"
            if self._clock() - execution.issued_at > FUNCTION_TOKEN_LIFETIME_SECONDS:
                return "token_expired"
        return None


@dataclass
class UploadedFile:
    """A file announced with files.getUploadURLExternal, its bytes once uploaded, and where it was shared."""

    file_id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str | None = None
    channel: str | None = None
    initial_comment: str | None = None

    @property
    def is_png(self) -> bool:
        return self.data is not None and self.data.startswith(PNG_SIGNATURE)


@dataclass(frozen=True)
class PublishedView:
    """One views.publish call: whose Home tab, and the view."""

    user_id: str
    view: dict[str, Any]


@dataclass
class _Trigger:
    """A trigger_id the double issued: when (on the double's clock), for whom, and whether it was exchanged."""

    issued_at: float
    user_id: str | None
    used: bool = False


@dataclass(frozen=True)
class ModalView:
    """A modal opened with views.open: whose (the trigger's member), the trigger it took, and the view as Slack
    last answered it (views.open, then each views.update)."""

    view_id: str
    user_id: str | None
    trigger_id: str
    view: dict[str, Any]
    updates: int = 0  # views.update calls that replaced it

    @property
    def hash(self) -> str:
        return str(self.view["hash"])

    @property
    def callback_id(self) -> str:
        return str(self.view["callback_id"])

    @property
    def private_metadata(self) -> str:
        return str(self.view["private_metadata"])

    @property
    def external_id(self) -> str:
        return str(self.view["external_id"])


def _copy_modal(modal: ModalView) -> ModalView:
    """A copy a test may change without changing what the double holds."""
    return replace(modal, view=copy.deepcopy(modal.view))


def _modal_from_args(args: dict[str, Any]) -> dict[str, Any]:
    """The `view` argument (JSON text or an object) as a modal Slack would accept, else Slack's refusal."""
    raw = args.get("view")
    if raw in (None, "", {}):
        raise _SlackError("invalid_arguments", ["[ERROR] missing required field: view"])
    text = raw if isinstance(raw, str) else json.dumps(raw)
    if len(text.encode("utf-8")) > VIEW_MAX_BYTES:
        raise _SlackError("view_too_large")
    try:
        view = json.loads(text)
    except json.JSONDecodeError:
        raise _SlackError("invalid_arguments", ["[ERROR] not valid JSON [json-pointer:/view]"]) from None
    if not isinstance(view, dict):
        raise _SlackError("invalid_arguments", ["[ERROR] must be an object [json-pointer:/view]"])
    problems = _modal_problems(view)
    if problems:
        raise _SlackError("invalid_arguments", problems)
    return view


def _modal_problems(view: dict[str, Any]) -> list[str]:
    """Every way a view breaks Slack's modal rules, one message each in Slack's `[json-pointer:...]` form."""
    problems: list[str] = []
    if "type" not in view:
        problems.append("[ERROR] missing required field: type [json-pointer:/view]")
    elif view["type"] != "modal":
        problems.append(f"[ERROR] must be `modal` for this method, not {view['type']!r} [json-pointer:/view/type]")
    problems += _plain_text_problems(view, "title", "/view", MODAL_BUTTON_TEXT_MAX_CHARS, required=True)
    for button in ("submit", "close"):
        problems += _plain_text_problems(view, button, "/view", MODAL_BUTTON_TEXT_MAX_CHARS, required=False)
    blocks = view.get("blocks")
    if blocks is None:
        problems.append("[ERROR] missing required field: blocks [json-pointer:/view]")
    elif not isinstance(blocks, list):
        problems.append("[ERROR] must be an array [json-pointer:/view/blocks]")
    else:
        if len(blocks) > MODAL_MAX_BLOCKS:
            problems.append(f"[ERROR] no more than {MODAL_MAX_BLOCKS} items allowed [json-pointer:/view/blocks]")
        problems += _block_problems(blocks, has_submit=bool(view.get("submit")))
    for name, limit in (
        ("private_metadata", PRIVATE_METADATA_MAX_CHARS),
        ("callback_id", VIEW_ID_MAX_CHARS),
        ("external_id", VIEW_ID_MAX_CHARS),
    ):
        value = view.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(f"[ERROR] must be a string [json-pointer:/view/{name}]")
        elif value is not None and len(value) > limit:
            problems.append(f"[ERROR] must be less than {limit + 1} characters [json-pointer:/view/{name}]")
    return problems


def _block_problems(blocks: list[Any], *, has_submit: bool) -> list[str]:
    """What Slack refuses in a modal's blocks: untyped blocks, repeated block_ids, incomplete input blocks."""
    problems: list[str] = []
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        at = f"/view/blocks/{index}"
        if not isinstance(block, dict) or not block.get("type"):
            problems.append(f"[ERROR] missing required field: type [json-pointer:{at}]")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str) and block_id in seen:
            problems.append(f"[ERROR] duplicate block_id {block_id!r} [json-pointer:{at}/block_id]")
        elif isinstance(block_id, str):
            seen.add(block_id)
        if block["type"] != "input":
            continue
        if not has_submit:
            problems.append(f"[ERROR] must define `submit` to use an `input` block in modals [json-pointer:{at}/input]")
        problems += _plain_text_problems(block, "label", at, INPUT_LABEL_MAX_CHARS, required=True)
        element = block.get("element")
        if not isinstance(element, dict) or not element.get("type"):
            problems.append(f"[ERROR] missing required field: element [json-pointer:{at}]")
    return problems


def _plain_text_problems(parent: dict[str, Any], name: str, at: str, max_chars: int, *, required: bool) -> list[str]:
    """What is wrong with parent[name] as a plain_text text object of at most max_chars characters."""
    value = parent.get(name)
    if value is None:
        return [f"[ERROR] missing required field: {name} [json-pointer:{at}]"] if required else []
    where = f"{at}/{name}"
    if not isinstance(value, dict):
        return [f"[ERROR] must be a text object [json-pointer:{where}]"]
    problems = []
    if value.get("type") != "plain_text":
        problems.append(f"[ERROR] must be `plain_text` [json-pointer:{where}/type]")
    text = value.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"[ERROR] must be more than 0 characters [json-pointer:{where}/text]")
    elif len(text) > max_chars:
        problems.append(f"[ERROR] must be less than {max_chars + 1} characters [json-pointer:{where}/text]")
    return problems


def _with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The blocks as Slack hands them back: every block with a block_id, every input element with an action_id
    (Slack makes up the missing ones, and a submission's state is keyed by them)."""
    out = copy.deepcopy(blocks)
    for block in out:
        block.setdefault("block_id", uuid.uuid4().hex[:5])
        element = block.get("element")
        if block.get("type") == "input" and isinstance(element, dict):
            element.setdefault("action_id", uuid.uuid4().hex[:5])
    return out


_T = TypeVar("_T")


@dataclass(frozen=True)
class AssistantThread:
    """An agent-view thread the double started: whose, in which DM, its root ts, and the channel they were viewing."""

    user_id: str
    channel_id: str
    thread_ts: str
    context_channel_id: str | None = None


@dataclass(frozen=True)
class ThreadStatus:
    """What a thread shows while the app works: the status ("is thinking...") and the loading messages it rotates."""

    status: str
    loading_messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuggestedPrompt:
    """One suggested prompt: the title a person sees and the message it sends."""

    title: str
    message: str


@dataclass(frozen=True)
class SuggestedPrompts:
    """The prompts set for a thread or channel, and the title over them."""

    prompts: tuple[SuggestedPrompt, ...]
    title: str | None = None


class ExecutionState(Enum):
    """Where a function execution stands: running until functions.completeSuccess or functions.completeError."""

    RUNNING = "running"
    COMPLETED = "completed"  # functions.completeSuccess took its outputs
    FAILED = "failed"  # functions.completeError took its error


@dataclass(frozen=True)
class FunctionExecution:
    """A custom step's execution the double minted, and how it was completed."""

    function_execution_id: str
    callback_id: str
    inputs: dict[str, Any]
    workflow_execution_id: str
    bot_access_token: str  # the token Slack hands the app with function_executed, valid while it runs
    issued_at: float  # on the double's clock
    required_outputs: tuple[str, ...] = ()
    state: ExecutionState = ExecutionState.RUNNING
    outputs: dict[str, Any] | None = None
    error: str | None = None


def _copy_execution(execution: FunctionExecution) -> FunctionExecution:
    """A copy a test may change without changing what the double holds."""
    return replace(execution, inputs=copy.deepcopy(execution.inputs), outputs=copy.deepcopy(execution.outputs))


def _matching(value: _T | None, predicate: Callable[[_T], bool] | None) -> _T | None:
    """value when there is one and it satisfies predicate (any value when None), else None."""
    return value if value is not None and (predicate is None or predicate(value)) else None


def _required_strings(args: dict[str, Any], *names: str) -> list[str]:
    """The named arguments as strings, else invalid_arguments naming every one missing, as Slack's newer methods
    answer (the assistant.threads.* and functions.* references list invalid_arguments, no per-field errors)."""
    missing = [name for name in names if args.get(name) in (None, "")]
    if missing:
        raise _SlackError("invalid_arguments", [f"[ERROR] missing required field: {name}" for name in missing])
    return [str(args[name]) for name in names]


def _json_value(raw: Any, name: str) -> Any:
    """An argument sent as JSON text (form or query string) or as JSON itself (a JSON body)."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise _SlackError("invalid_arguments", [f"[ERROR] not valid JSON [json-pointer:/{name}]"]) from None


def _loading_messages(raw: Any) -> tuple[str, ...]:
    """setStatus's loading_messages: an array of at most ten strings (the limit is documented, the error is not)."""
    if raw in (None, ""):
        return ()
    value = _json_value(raw, "loading_messages")
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        raise _SlackError("invalid_arguments", ["[ERROR] must be an array of strings [json-pointer:/loading_messages]"])
    if len(value) > MAX_LOADING_MESSAGES:
        message = f"[ERROR] no more than {MAX_LOADING_MESSAGES} items allowed [json-pointer:/loading_messages]"
        raise _SlackError("invalid_arguments", [message])
    return tuple(value)


def _suggested_prompts(raw: Any) -> tuple[SuggestedPrompt, ...]:
    """setSuggestedPrompts's prompts: one to four objects, each with a title and a message. Slack documents the
    limit of four but not its refusal past it: the double answers invalid_arguments, as for any bad argument."""
    if raw in (None, "", []):
        raise _SlackError("invalid_arguments", ["[ERROR] missing required field: prompts"])
    value = _json_value(raw, "prompts")
    if not isinstance(value, list) or not value:
        raise _SlackError("invalid_arguments", ["[ERROR] must be a non-empty array [json-pointer:/prompts]"])
    if len(value) > MAX_SUGGESTED_PROMPTS:
        message = f"[ERROR] no more than {MAX_SUGGESTED_PROMPTS} items allowed [json-pointer:/prompts]"
        raise _SlackError("invalid_arguments", [message])
    problems = []
    for index, prompt in enumerate(value):
        for name in ("title", "message"):
            text = prompt.get(name) if isinstance(prompt, dict) else None
            if not isinstance(text, str) or not text:
                problems.append(f"[ERROR] missing required field: {name} [json-pointer:/prompts/{index}]")
    if problems:
        raise _SlackError("invalid_arguments", problems)
    return tuple(SuggestedPrompt(p["title"], p["message"]) for p in value)


# -- members and Socket Mode (access checks, the `socket` process) ---------------------------------

APPS_CONNECTIONS_OPEN = "apps.connections.open"


def _is_member_id(user_id: str) -> bool:
    return user_id[:1] in ("U", "W") and user_id.isalnum() and user_id.isupper()


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


# -- helpers ---------------------------------------------------------------------------------


def _api_calls(calls: list[RecordedCall], method: str | None) -> list[RecordedCall]:
    """Web API calls among calls, optionally for one method."""
    return [c for c in calls if c.kind == "api" and (method is None or c.name == method)]


def _hook_posts(calls: list[RecordedCall], path: str) -> list[RecordedCall]:
    """Hook posts among calls to one /hooks/<id> path."""
    return [c for c in calls if c.kind == "hook" and c.name == path]


def _path_of(url_or_path: str) -> str:
    """The path of a full URL, or the input when it already is a path or a name."""
    return urlsplit(url_or_path).path if "://" in url_or_path else url_or_path


def _require(args: dict[str, Any], name: str, error: str) -> Any:
    """An argument's value, or the Slack error a missing one earns."""
    value = args.get(name)
    if value in (None, "", [], {}):
        raise _SlackError(error)
    return value


def _dm_channel(channel: Any) -> str:
    """Slack posts to a member ID in the app's DM with them; mirror that as D<suffix>."""
    text = str(channel)
    return "D" + text[1:] if text[:1] in ("U", "W") else text


def _parse_form(text: str) -> dict[str, Any]:
    """Form fields as str, or list[str] when a field repeats; JSON-looking values stay str."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        if key not in out:
            out[key] = value
        elif isinstance(out[key], list):
            out[key].append(value)
        else:
            out[key] = [out[key], value]
    return out


def _parse_multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    """Text fields of a multipart/form-data body (slack_sdk uses it for data= calls)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    out: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out[str(name)] = payload.decode("utf-8", errors="replace")
    return out


def _parse_body(raw: bytes, content_type: str) -> tuple[dict[str, Any], bool]:
    """Parse a JSON, form or multipart body; returns (fields, True when JSON was malformed)."""
    if not raw.strip():
        return {}, False
    mime = content_type.split(";", 1)[0].strip().lower()
    text = raw.decode("utf-8", errors="replace")
    if mime == "multipart/form-data":
        return _parse_multipart(raw, content_type), False
    if mime == "application/json" or (not mime and text.lstrip().startswith("{")):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return {}, True
        return (parsed, False) if isinstance(parsed, dict) else ({}, True)
    return _parse_form(text), False


def _encode(reply: Reply) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and bytes for a Reply."""
    headers = dict(reply.headers)
    if isinstance(reply.body, dict):
        payload = json.dumps(reply.body).encode("utf-8")
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
    elif isinstance(reply.body, str):
        payload = reply.body.encode("utf-8")
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    else:
        payload = b""
    return reply.status, headers, payload


def _presented_token(headers: dict[str, str], args: dict[str, Any]) -> str:
    """The token a request carries: the Bearer header first, then a token field."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[len("bearer ") :].strip()
    token = args.get("token")
    return token if isinstance(token, str) else ""


def _redact(text: str, token: str) -> str:
    """Text with a token (raw or form-encoded) replaced, so it can be shown safely."""
    if not token:
        return text
    return text.replace(token, REDACTED).replace(quote_plus(token), REDACTED)


def _redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers with the Authorization value hidden but its scheme kept for assertions."""
    out = dict(headers)
    if "authorization" in out:
        scheme = out["authorization"].split(" ", 1)[0]
        out["authorization"] = f"{scheme} {REDACTED}"
    return out


def _redact_args(args: dict[str, Any]) -> dict[str, Any]:
    """Arguments with a token field hidden."""
    return {k: (REDACTED if k == "token" else v) for k, v in args.items()}


def _timeout_summary(timeout: float, calls: list[RecordedCall]) -> str:
    """A readable list of what did arrive, for a wait that timed out."""
    lines = [f"SlackDouble: condition not met within {timeout:g}s; {len(calls)} call(s) so far:"]
    for call in calls:
        args = json.dumps(call.args, default=str)
        if len(args) > SUMMARY_BODY_CHARS:
            args = args[: SUMMARY_BODY_CHARS - 3] + "..."
        error = ""
        if isinstance(call.response, dict) and call.response.get("ok") is False:
            error = f" error={call.response.get('error')}"
        elif isinstance(call.response, str) and not 200 <= call.status < 300:
            error = f" error={call.response}"
        lines.append(f"  {call.kind} {call.name} -> {call.status}{error} {args}")
    return "\n".join(lines)
