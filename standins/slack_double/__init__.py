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

One module per job: core.py holds SlackDouble (server, recording, scripts, outages, dispatch); its surfaces
are mixins in default_methods.py (chat, users, conversations...), files_views.py, modals.py (with
modal_rules.py) and agent_surfaces.py, over base.py's view of the core; records.py holds the plain data,
wire.py the parsing, encoding and redaction, refusals.py Slack's errors, constants.py the numbers, and
configure.py set_member and enable_socket_mode.
"""

from standins.slack_double.base import ApiHandler
from standins.slack_double.configure import enable_socket_mode, set_member
from standins.slack_double.constants import (
    APPS_CONNECTIONS_OPEN,
    DEFAULT_SCOPES,
    FIRST_TS_MICROS,
    FUNCTION_TOKEN_LIFETIME_SECONDS,
    INPUT_LABEL_MAX_CHARS,
    MAX_LOADING_MESSAGES,
    MAX_SUGGESTED_PROMPTS,
    MODAL_BUTTON_TEXT_MAX_CHARS,
    MODAL_MAX_BLOCKS,
    PNG_SIGNATURE,
    PRIVATE_METADATA_MAX_CHARS,
    RESPONSE_URL_MAX_POSTS,
    STATUS_TIMEOUT_SECONDS,
    TRIGGER_LIFETIME_SECONDS,
    TS_STEP_MICROS,
    UNAUTHENTICATED_METHODS,
    UPLOAD_PATH,
    VIEW_ID_MAX_CHARS,
    VIEW_MAX_BYTES,
)
from standins.slack_double.core import SlackDouble
from standins.slack_double.records import (
    AssistantThread,
    ExecutionState,
    FunctionExecution,
    ModalView,
    PublishedView,
    RecordedCall,
    Reply,
    SuggestedPrompt,
    SuggestedPrompts,
    ThreadStatus,
    UploadedFile,
)
from standins.slack_double.wire import REDACTED, SUMMARY_BODY_CHARS

__all__ = [
    "APPS_CONNECTIONS_OPEN",
    "DEFAULT_SCOPES",
    "FIRST_TS_MICROS",
    "FUNCTION_TOKEN_LIFETIME_SECONDS",
    "INPUT_LABEL_MAX_CHARS",
    "MAX_LOADING_MESSAGES",
    "MAX_SUGGESTED_PROMPTS",
    "MODAL_BUTTON_TEXT_MAX_CHARS",
    "MODAL_MAX_BLOCKS",
    "PNG_SIGNATURE",
    "PRIVATE_METADATA_MAX_CHARS",
    "REDACTED",
    "RESPONSE_URL_MAX_POSTS",
    "STATUS_TIMEOUT_SECONDS",
    "SUMMARY_BODY_CHARS",
    "TRIGGER_LIFETIME_SECONDS",
    "TS_STEP_MICROS",
    "UNAUTHENTICATED_METHODS",
    "UPLOAD_PATH",
    "VIEW_ID_MAX_CHARS",
    "VIEW_MAX_BYTES",
    "ApiHandler",
    "AssistantThread",
    "ExecutionState",
    "FunctionExecution",
    "ModalView",
    "PublishedView",
    "RecordedCall",
    "Reply",
    "SlackDouble",
    "SuggestedPrompt",
    "SuggestedPrompts",
    "ThreadStatus",
    "UploadedFile",
    "enable_socket_mode",
    "set_member",
]
