"""The Slack bot scopes whose-key uses, in one place: deploy/slack-manifest.yml must grant exactly
these (a test checks), `whose-key doctor` fails when one is missing, and the offline Slack grants
them."""

from __future__ import annotations

BOT_SCOPES: tuple[str, ...] = (
    "app_mentions:read",  # mentions in channels and threads
    "channels:read",  # conversations.info: is a public channel shared with another organization?
    "groups:read",  # ... a private channel
    "mpim:read",  # ... a group DM
    "chat:write",  # answers, notices, progress
    "commands",  # /whose-key
    "files:write",  # the digest's chart in the audit channel
    "im:history",  # DMs sent to the bot
    "im:read",
    "im:write",  # DMs to key owners
    "reactions:write",  # the reaction while a lookup runs
    "users:read",  # owners who left (users.info: deleted), the Home tab viewer's email
    "users:read.email",  # owners tagged by email
    "usergroups:read",  # WHOSE_KEY_ALLOWED_USERGROUPS and WHOSE_KEY_ADMIN_USERGROUPS
    "assistant:write",  # the agent view: suggested prompts, status and titles in the DM (AGENT_VIEW_SCOPE)
)

# Slack grants this scope only to an app with the agent view (features.agent_view in the manifest, or
# the older assistant_view): a token holding it tells whose-key the DM is the agent view's.
AGENT_VIEW_SCOPE = "assistant:write"
