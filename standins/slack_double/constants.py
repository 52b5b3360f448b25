"""The double's fixed numbers: Slack's documented limits and lifetimes, and the values the double hands out."""

from __future__ import annotations

from bot.scopes import BOT_SCOPES

# Scopes the bot's manifest asks for; tests that probe scope checks pass their own.
DEFAULT_SCOPES = BOT_SCOPES

# Slack lets a response_url take this many posts (within 30 minutes) before answering used_url.
RESPONSE_URL_MAX_POSTS = 5

# First message ts handed out; fixed so demo output and failures read the same run to run.
FIRST_TS_MICROS = 1_700_000_000_000_100

# Step between consecutive message timestamps, in microseconds (Slack's ts has 6 decimals).
TS_STEP_MICROS = 100

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

# The Socket Mode method, which takes the app-level token (xapp-...) instead of the bot's.
APPS_CONNECTIONS_OPEN = "apps.connections.open"
