"""Who may ask (bot/access.py): allowed channels, allowed user groups (membership cached in Redis,
fail closed when Slack cannot say) and the per-person rate limit, on a real Redis and the
loopback Slack double."""

from __future__ import annotations

import dataclasses

import pytest
from redis import Redis

from bot.access import AccessPolicy, Refusal
from core.budget import WINDOW as RATE_WINDOW
from core.redis_keys import RATE_COUNTER, USERGROUP_MEMBERS, redis_key
from core.settings import Settings
from core.slack_client import make_web_client
from standins.slack_double import Reply, SlackDouble
from tests.support.budget_windows import Burst, in_one_window

ALLOWED = "C0ALLOWED"
AUDIT = "C0AUDIT01"
GROUP = "S0KEYUSERS"
OTHER_GROUP = "S0SECOPS"
MEMBER = "U0MEMBER1"
OUTSIDER = "U0OUTSIDE"


def policy(settings: Settings, redis: Redis, **fields: object) -> AccessPolicy:
    """The web's policy with some settings changed, its Slack client pointing at the double."""
    changed = dataclasses.replace(settings, **fields)  # type: ignore[arg-type]
    return AccessPolicy(changed, redis, make_web_client(changed))


def test_without_restrictions_anyone_may_ask_anywhere(slack_settings: Settings, redis: Redis) -> None:
    """No allowed channels or groups (the default): everyone is served, and Slack is never asked."""
    open_policy = policy(slack_settings, redis)
    assert open_policy.check(OUTSIDER, "C0ANYWHERE") is None
    assert open_policy.check(None, None) is None


def test_channel_outside_the_allowed_list_is_refused_naming_where_to_ask(
    slack_settings: Settings, redis: Redis
) -> None:
    """Outside the allowed channels the refusal links them and the audit channel to ask for access."""
    locked = policy(slack_settings, redis, allowed_channels=frozenset({ALLOWED, "C0SECOND"}), audit_channel=AUDIT)
    assert locked.check(MEMBER, ALLOWED) is None
    refusal = locked.check(MEMBER, "C0ELSEWHERE")
    assert refusal is not None and refusal.reason == "channel"
    assert f"<#{ALLOWED}>" in refusal.message and "<#C0SECOND>" in refusal.message
    assert f"<#{AUDIT}>" in refusal.message
    assert locked.check(MEMBER, None) is not None  # no channel at all is not an allowed one


def test_group_member_is_served_and_others_are_refused_naming_the_group(
    slack_settings: Settings, slack: SlackDouble, redis: Redis
) -> None:
    """A member of any allowed group is served; a non-member or an unknown user is refused, naming the groups."""
    slack.set_usergroup(GROUP, [MEMBER])
    slack.set_usergroup(OTHER_GROUP, ["U0SECOPS1"])
    locked = policy(slack_settings, redis, allowed_usergroups=frozenset({GROUP, OTHER_GROUP}))
    assert locked.check(MEMBER, "C0ANY") is None
    assert locked.check("U0SECOPS1", "C0ANY") is None
    for user in (OUTSIDER, None):
        refusal = locked.check(user, "C0ANY")
        assert refusal is not None and refusal.reason == "usergroup"
        assert f"<!subteam^{GROUP}>" in refusal.message and f"<!subteam^{OTHER_GROUP}>" in refusal.message


def test_membership_is_cached_for_a_few_minutes(slack_settings: Settings, slack: SlackDouble, redis: Redis) -> None:
    """Group members are read from Slack once, then from Redis for its cache lifetime, empty groups included."""
    slack.set_usergroup(GROUP, [MEMBER])
    slack.set_usergroup(OTHER_GROUP, [])
    locked = policy(slack_settings, redis, allowed_usergroups=frozenset({GROUP, OTHER_GROUP}))
    for user in (MEMBER, OUTSIDER, OUTSIDER, MEMBER):
        locked.check(user, "C0ANY")
    asked = sorted(c.args["usergroup"] for c in slack.api_calls("usergroups.users.list"))
    assert asked == sorted([GROUP, OTHER_GROUP])
    for group in (GROUP, OTHER_GROUP):
        assert 0 < redis.ttl(redis_key(USERGROUP_MEMBERS, group)) <= USERGROUP_MEMBERS.seconds
    # Another web process shares the cache: no more calls to Slack.
    policy(slack_settings, redis, allowed_usergroups=frozenset({GROUP, OTHER_GROUP})).check(MEMBER, "C0ANY")
    assert len(slack.api_calls("usergroups.users.list")) == 2


def test_membership_unknown_fails_closed_and_is_not_cached(
    slack_settings: Settings, slack: SlackDouble, redis: Redis
) -> None:
    """When Slack cannot list the group, the request is refused saying why, and the next request asks again."""
    slack.set_usergroup(GROUP, [MEMBER])
    slack.script("usergroups.users.list", Reply(200, {"ok": False, "error": "ratelimited"}))
    locked = policy(slack_settings, redis, allowed_usergroups=frozenset({GROUP}))
    refusal = locked.check(MEMBER, "C0ANY")
    assert refusal is not None and refusal.reason == "membership_unknown"
    assert "could not check your group membership" in refusal.message
    assert not redis.exists(redis_key(USERGROUP_MEMBERS, GROUP))
    assert locked.check(MEMBER, "C0ANY") is None  # Slack answers again: served


def test_rate_limit_counts_requests_per_person_per_minute(slack_settings: Settings, redis: Redis) -> None:
    """Requests are counted per person: up to the limit is served, past it is refused with when to retry."""
    limited = policy(slack_settings, redis, rate_limit=5)

    def burst(attempt: Burst) -> list[Refusal | None]:
        member, outsider = attempt.person("U0MEMBER"), attempt.person("U0OUTSIDE")
        charges = [(member, 3), (member, 2), (member, 1), (outsider, 5)]
        return [limited.charge(user, requests=requests) for user, requests in charges]

    # All in one minute window, read from the counters' keys (a try the minute turned in is redone).
    first, second, refusal, others = in_one_window(redis, RATE_COUNTER, burst)
    assert first is None and second is None
    assert refusal is not None and refusal.reason == "rate_limit"
    assert "made 6 requests" in refusal.message and "the limit is 5 per minute" in refusal.message
    wait = int(refusal.message.split("try again in ")[1].split(" ")[0])
    assert 0 < wait <= RATE_WINDOW
    assert others is None  # someone else has their own budget


def test_requests_without_a_person_use_no_budget(slack_settings: Settings, redis: Redis) -> None:
    """Nothing is charged to nobody (a request without a user ID), and charging nothing costs nothing."""
    limited = policy(slack_settings, redis, rate_limit=2)
    for _ in range(5):
        assert limited.charge(None, requests=1) is None
        assert limited.charge(MEMBER, requests=0) is None
    # Nothing was counted, in any minute window: no counter exists at all.
    assert list(redis.scan_iter(redis_key(RATE_COUNTER, "*"))) == []
    assert limited.charge(MEMBER, requests=2) is None
    (counter,) = redis.scan_iter(redis_key(RATE_COUNTER, MEMBER, "*"))
    assert redis.get(counter) == b"2", "the whole budget was left"


def test_rate_limit_zero_turns_it_off(slack_settings: Settings, redis: Redis) -> None:
    """WHOSE_KEY_RATE_LIMIT=0 serves any number of requests and stores no counter."""
    unlimited = policy(slack_settings, redis, rate_limit=0)
    assert unlimited.charge(MEMBER, requests=1000) is None
    assert list(redis.scan_iter("whose-key:rate:*")) == []


@pytest.mark.parametrize(
    ("channel", "user", "reason"),
    [
        ("C0ELSEWHERE", MEMBER, "channel"),  # the channel is checked first, without asking Slack
        (ALLOWED, OUTSIDER, "usergroup"),  # then the groups
    ],
)
def test_checks_apply_in_order(
    slack_settings: Settings, slack: SlackDouble, redis: Redis, channel: str, user: str, reason: str
) -> None:
    """Channel, then group: the first that refuses gives the reason."""
    slack.set_usergroup(GROUP, [MEMBER])
    locked = policy(slack_settings, redis, allowed_channels=frozenset({ALLOWED}), allowed_usergroups=frozenset({GROUP}))
    refusal = locked.check(user, channel)
    assert refusal is not None and refusal.reason == reason


ADMINS = "S0ADMINS1"


def test_without_admin_groups_nobody_gets_organization_views(slack_settings: Settings, redis: Redis) -> None:
    """No WHOSE_KEY_ADMIN_USERGROUPS (the default): everyone is refused, the refusal naming the setting."""
    refusal = policy(slack_settings, redis, audit_channel=AUDIT).check_admin(MEMBER)
    assert refusal is not None and refusal.reason == "admins_unset"
    assert "`WHOSE_KEY_ADMIN_USERGROUPS`" in refusal.message and f"<#{AUDIT}>" in refusal.message


def test_admin_groups_admit_their_members_only(slack_settings: Settings, slack: SlackDouble, redis: Redis) -> None:
    """A member of an admin group sees organization views; anyone else is refused, naming the groups."""
    slack.set_usergroup(ADMINS, [MEMBER])
    admins = policy(slack_settings, redis, admin_usergroups=frozenset({ADMINS}))
    assert admins.check_admin(MEMBER) is None
    for user in (OUTSIDER, None):
        refusal = admins.check_admin(user)
        assert refusal is not None and refusal.reason == "not_admin" and f"<!subteam^{ADMINS}>" in refusal.message


def test_admin_membership_unknown_fails_closed(slack_settings: Settings, slack: SlackDouble, redis: Redis) -> None:
    """When Slack cannot list the admin group, nobody is taken for an admin, and the reason says so."""
    slack.script("usergroups.users.list", Reply(200, {"ok": False, "error": "ratelimited"}))
    refusal = policy(slack_settings, redis, admin_usergroups=frozenset({ADMINS})).check_admin(MEMBER)
    assert refusal is not None and refusal.reason == "membership_unknown" and refusal.unchecked


@pytest.mark.parametrize(
    ("flags", "shared"),
    [
        ({}, False),  # an internal channel
        ({"ext_shared": True}, True),  # Slack Connect with another organization
        ({"shared": True}, True),  # shared with another workspace
        ({"org_shared": True}, True),  # shared across an Enterprise Grid organization's workspaces
    ],
)
def test_shared_conversations_are_told_apart_and_cached(
    slack_settings: Settings, slack: SlackDouble, redis: Redis, flags: dict[str, bool], shared: bool
) -> None:
    """conversations.info's sharing flags decide, asked once per channel and then read from Redis."""
    slack.set_conversation("C0SHARED1", **flags)
    checker = policy(slack_settings, redis)
    assert checker.shared_outside("C0SHARED1") is shared
    assert checker.shared_outside("C0SHARED1") is shared
    assert len(slack.api_calls("conversations.info")) == 1


def test_a_conversation_slack_cannot_describe_counts_as_shared(
    slack_settings: Settings, slack: SlackDouble, redis: Redis
) -> None:
    """Fail closed: when conversations.info fails the answer goes privately, and Slack is asked again next time."""
    slack.script("conversations.info", Reply(200, {"ok": False, "error": "missing_scope"}))
    checker = policy(slack_settings, redis)
    assert checker.shared_outside("C0UNKNOWN") is True
    assert checker.shared_outside("C0UNKNOWN") is False  # asked again: the double now says internal
    assert checker.shared_outside(None) is False  # no conversation, nothing to share
