"""Key hygiene end to end: the sweep's snapshots feed the Home tab, `/whose-key report`, the
digest with its chart, the departed-owner notices and the CSV export, on the whole bot."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer

from core.redis_keys import SNAPSHOT, SWEEP_LAST, redis_key
from standins.moto_org import AccountSpec, UserSpec
from standins.stack import Stack
from tests.e2e.env import AUDIT_CHANNEL, TEST_ENV
from tests.support.cli import run_cli
from tests.support.waiting import wait_until
from workers.hygiene.export import COLUMNS

OWNER = "U0OWNER01"
GONE = "U0GONE001"  # deactivated in Slack before the first sweep
ADMINS = "S0ADMINS1"
ORGANIZATION = (
    AccountSpec("management", (UserSpec("admin", {"slack-user-id": "U0ADMIN01"}),)),
    AccountSpec("payments", (UserSpec("api", {"slack-user-id": OWNER}, keys=2, inactive_keys=1),)),
    AccountSpec(
        "search",
        (UserSpec("indexer", {"Slack-User-Id": GONE}), UserSpec("mailer", {"email": "alice@example.com"})),
    ),
    AccountSpec("sandbox", (UserSpec("tmp"),)),
)


def sweep_and_wait(stack: Stack) -> dict:
    """One sweep, then the after-sweep job's result (departures announced, Home tabs refreshed)."""
    result = run_cli("sweep", env=stack.env())
    assert result.returncode == 0, result.stdout + result.stderr
    redis = Redis.from_url(stack.redis.url)
    sweep_id = json.loads(redis.get(redis_key(SWEEP_LAST)))["sweep_id"]

    def finished() -> Job | None:
        job = Job.fetch(f"after-sweep-{sweep_id}", connection=redis, serializer=JSONSerializer)
        if job.is_finished:
            return job
        assert not job.is_failed, job.latest_result().exc_string
        return None

    job = wait_until(finished, what=lambda: f"after-sweep-{sweep_id} finished\n{stack.logs()[-3000:]}", timeout=60)
    return job.return_value()


def departure_notices(stack: Stack) -> list[dict]:
    return [
        c.body
        for c in stack.slack.api_calls("chat.postMessage")
        if c.body.get("channel") == AUDIT_CHANNEL and "left Slack" in json.dumps(c.body)
    ]


@pytest.fixture(scope="module")
def hygiene_stack() -> Iterator[Stack]:
    """A bot of its own, swept once, with one owner deactivated in Slack; the owner and the default
    asker are admins (they see the organization's counts and the report)."""
    with Stack(accounts=ORGANIZATION, extra_env={**TEST_ENV, "WHOSE_KEY_ADMIN_USERGROUPS": ADMINS}) as running:
        running.slack.set_usergroup(ADMINS, [OWNER, "U0ASKER01"])
        running.slack.deactivate_user(GONE)
        sweep_and_wait(running)
        yield running


def home_opened(stack: Stack, user: str) -> dict:
    """Open the Home tab as `user` and return the view whose-key publishes for them."""
    before = len(stack.slack.views(user))
    assert stack.event({"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}).status == 200
    stack.slack.wait_for(lambda _: len(stack.slack.views(user)) > before, timeout=30)
    return stack.slack.views(user)[-1].view


def test_sweep_snapshot_records_owner_last_use_and_account_name(hygiene_stack: Stack) -> None:
    """The sweep's snapshot holds, per key, the fields reports read: owner, last use, account name."""
    redis = Redis.from_url(hygiene_stack.redis.url)
    payments = hygiene_stack.org.accounts["payments"]
    entries = {k.decode(): json.loads(v) for k, v in redis.hgetall(redis_key(SNAPSHOT, payments)).items()}
    assert len(entries) == 2
    for entry in entries.values():
        assert entry["owner_slack_id"] == OWNER and entry["account_name"] == "payments"
        assert {"last_used", "last_service", "last_region", "owner_email", "created", "status"} <= entry.keys()
    assert sorted(e["status"] for e in entries.values()) == ["Active", "Inactive"]
    summary = json.loads(redis.get(redis_key(SWEEP_LAST)))
    assert summary["accounts"] == 4 and summary["keys"] == 6 and summary["unreadable"] == []


def test_home_tab_shows_only_the_owners_keys_and_org_counts(hygiene_stack: Stack) -> None:
    """An owner's Home tab lists their two keys with status and last use, and only counts for everyone else's."""
    org = hygiene_stack.org
    view = json.dumps(home_opened(hygiene_stack, OWNER))
    assert org.key("payments", "api") in view and org.key("payments", "api", "Inactive") in view
    for other in (org.key("search", "indexer"), org.key("sandbox", "tmp"), org.key("management", "admin")):
        assert other not in view
    assert "Your AWS access keys" in view and "last used never" in view
    assert "6 access keys in 4 accounts" in view


def test_home_tab_matches_an_email_owner_tag(hygiene_stack: Stack) -> None:
    """A member whose email is an IAM user's owner tag sees that user's key on their Home tab."""
    view = json.dumps(home_opened(hygiene_stack, "U0ALICE01"))
    assert hygiene_stack.org.key("search", "mailer") in view
    assert hygiene_stack.org.key("payments", "api") not in view


def test_home_tab_without_keys_explains_owner_tags(hygiene_stack: Stack) -> None:
    """Someone who owns no key is told how owner tags work."""
    view = json.dumps(home_opened(hygiene_stack, "U0NOKEYS1"))
    assert "No access key is tagged with you" in view and "slack-user-id" in view


def test_report_lists_the_departed_owners_active_key_and_the_ownerless_key(hygiene_stack: Stack) -> None:
    """`/whose-key report` answers privately with totals, the key whose owner left, and the key without an owner."""
    org = hygiene_stack.org
    reply, url = hygiene_stack.slash_command("report")
    assert reply.status == 200 and "key-hygiene report" in reply.json()["text"]
    body = hygiene_stack.slack.wait_for_hook(url, timeout=30)[0].body
    sections = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]
    departed = next(s for s in sections if s.startswith("*Owner has left Slack"))
    assert org.key("search", "indexer") in departed and "Active" in departed and f"<@{GONE}>" in departed
    ownerless = next(s for s in sections if s.startswith("*Without an owner tag"))
    assert org.key("sandbox", "tmp") in ownerless
    assert "*6* keys in *4* accounts: *5* active, *1* inactive" in sections[0]
    assert body["response_type"] == "ephemeral"


def test_departed_owners_active_key_is_announced_once(hygiene_stack: Stack) -> None:
    """The audit channel hears once about the departed owner's active key; the next sweep does not repeat it."""
    key_id = hygiene_stack.org.key("search", "indexer")
    notices = departure_notices(hygiene_stack)
    assert len(notices) == 1 and key_id in json.dumps(notices[0])
    again = sweep_and_wait(hygiene_stack)
    assert again["departed_announced"] == 0
    assert len(departure_notices(hygiene_stack)) == 1


def test_home_tabs_are_refreshed_after_each_sweep(hygiene_stack: Stack) -> None:
    """Members who opened the Home tab get a fresh view after every sweep."""
    home_opened(hygiene_stack, OWNER)
    before = len(hygiene_stack.slack.views(OWNER))
    result = sweep_and_wait(hygiene_stack)
    assert result["homes_refreshed"] >= 1
    assert len(hygiene_stack.slack.views(OWNER)) == before + 1


def test_report_post_uploads_the_chart_png_into_the_audit_channel(hygiene_stack: Stack) -> None:
    """`whose-key report --post` posts the digest and uploads a PNG chart through the external upload flow."""
    result = run_cli("report", "--post", env=hygiene_stack.env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"posted the digest and its chart to {AUDIT_CHANNEL}" in result.stdout
    (upload,) = hygiene_stack.slack.uploads
    assert upload.is_png and upload.channel == AUDIT_CHANNEL and upload.filename == "key-hygiene.png"
    (completed,) = hygiene_stack.slack.api_calls("files.completeUploadExternal")
    assert completed.ok and completed.args["channel_id"] == AUDIT_CHANNEL
    digests = [
        c.body
        for c in hygiene_stack.slack.api_calls("chat.postMessage")
        if c.body.get("channel") == AUDIT_CHANNEL and "Key hygiene digest" in c.body.get("text", "")
    ]
    assert len(digests) == 1


def test_csv_export_has_one_row_per_key_with_its_columns(hygiene_stack: Stack, tmp_path: Path) -> None:
    """`whose-key report --csv FILE` writes the documented columns and one row per key, with flags."""
    path = tmp_path / "keys.csv"
    result = run_cli("report", "--csv", str(path), env=hygiene_stack.env())
    assert result.returncode == 0, result.stderr
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        rows = {row["key_id"]: row for row in reader}
    org = hygiene_stack.org
    assert len(rows) == 6
    assert rows[org.key("sandbox", "tmp")]["flags"].split() == ["never-used", "no-owner-tag"]
    assert "owner-left" in rows[org.key("search", "indexer")]["flags"]
    assert rows[org.key("payments", "api")]["owner"] == OWNER
    assert rows[org.key("search", "mailer")]["owner"] == "alice@example.com"


def test_json_export_and_terminal_report(hygiene_stack: Stack) -> None:
    """`--json` prints one object per key; the plain report prints its tables."""
    exported = run_cli("report", "--json", env=hygiene_stack.env())
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(lines) == 6 and set(lines[0]) == set(COLUMNS)
    table = run_cli("report", env=hygiene_stack.env())
    assert table.returncode == 0, table.stderr
    for title in ("Key hygiene", "By age", "Without an owner tag", "Owner left Slack", "From the sweep"):
        assert title in table.stdout
