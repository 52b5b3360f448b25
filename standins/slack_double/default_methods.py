"""The Web API methods every double answers: api.test, auth.test, chat.*, conversations.open and .info,
users.lookupByEmail and .info, reactions.* and usergroups.users.list."""

from __future__ import annotations

from typing import Any

from standins.slack_double.base import DoubleCore
from standins.slack_double.refusals import _require, _SlackError


class DefaultMethods(DoubleCore):
    """The handlers SlackDouble.__init__ registers for the default Web API methods."""

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


def _is_member_id(user_id: str) -> bool:
    return user_id[:1] in ("U", "W") and user_id.isalnum() and user_id.isupper()


def _dm_channel(channel: Any) -> str:
    """Slack posts to a member ID in the app's DM with them; mirror that as D<suffix>."""
    text = str(channel)
    return "D" + text[1:] if text[:1] in ("U", "W") else text
