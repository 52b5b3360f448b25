"""Key hygiene as pure functions: records, the streaming summary, its renderings and exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from core.settings import Settings, SettingsError
from workers.hygiene.chart import render_chart
from workers.hygiene.export import COLUMNS, write_csv, write_json_lines
from workers.hygiene.home import HomeCollector, Viewer, render_home, render_refused_home
from workers.hygiene.reader import SweepSummary, UnreadAccount
from workers.hygiene.records import KeyRecord, record_from_snapshot
from workers.hygiene.summary import LIST_LIMIT, age_bucket, summarize
from workers.hygiene.summary_message import render_report
from workers.hygiene.terminal import print_report

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def key(
    n: int,
    *,
    age: int = 10,
    used: int | None = 1,
    status: str = "Active",
    slack: str | None = "U0OWNER01",
    email: str | None = None,
    account: str = "111111111111",
    user: str = "app",
) -> KeyRecord:
    """A record `age` days old, last used `used` days ago (None: never)."""
    return KeyRecord(
        key_id=f"AKIA{n:016d}",
        account_id=account,
        account_name="prod",
        user=user,
        status=status,
        created=NOW - timedelta(days=age),
        last_used=None if used is None else NOW - timedelta(days=used),
        last_service="s3" if used is not None else None,
        last_region="eu-west-1" if used is not None else None,
        owner_slack_id=slack,
        owner_email=email,
    )


@pytest.mark.parametrize(
    ("age", "bucket"),
    [
        (0, "under 30 days"),  # created today
        (29, "under 30 days"),  # the last day of the first bucket
        (30, "30–90 days"),  # bounds belong to the bucket they start
        (90, "90–365 days"),
        (364, "90–365 days"),
        (365, "over 365 days"),
        (None, "age unknown"),  # no creation date in the snapshot
    ],
)
def test_age_buckets(age: int | None, bucket: str) -> None:
    """Each age falls in exactly the bucket the report names."""
    assert age_bucket(age) == bucket


@pytest.mark.parametrize(
    ("record", "flags"),
    [
        (key(1), ()),  # young and used yesterday: nothing to say
        (key(2, age=200, used=1), ("older-than-90-days",)),  # old but in use
        (key(3, age=200, used=120), ("older-than-90-days", "unused-90-days")),
        (key(4, age=100, used=None), ("older-than-90-days", "unused-90-days", "never-used")),
        (key(5, age=5, used=None, slack=None), ("never-used", "no-owner-tag")),  # new, unused, untagged
    ],
)
def test_flags(record: KeyRecord, flags: tuple[str, ...]) -> None:
    """Flags say what wants attention, counting a never-used key's idle time from its creation."""
    assert record.flags(NOW) == flags


def test_snapshot_entry_becomes_a_record_and_junk_is_skipped() -> None:
    """The agreed snapshot JSON reads back as a record; anything else is ignored, not fatal."""
    raw = json.dumps(
        {
            "user": "api",
            "status": "Active",
            "created": "2026-01-01T00:00:00+00:00",
            "last_used": "2026-05-01T10:00:00",  # no zone: taken as UTC
            "last_service": "sts",
            "last_region": "us-east-1",
            "owner_slack_id": None,
            "owner_email": "a@example.com",
            "account_name": "payments",
        }
    )
    record = record_from_snapshot("222222222222", "AKIAEXAMPLE000000001", raw)
    assert record is not None
    assert record.owner == "a@example.com" and record.account_label == "payments (222222222222)"
    assert record.last_used == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert record_from_snapshot("222222222222", "AKIAEXAMPLE000000002", "not json") is None
    assert record_from_snapshot("222222222222", "AKIAEXAMPLE000000003", "[1]") is None


def test_summary_counts_buckets_and_caps_lists_with_the_most_notable_first() -> None:
    """Totals and buckets count every key; each list keeps only LIST_LIMIT keys, active and idlest first."""
    records = [key(n, age=400, used=100 + n, slack=None, status="Inactive" if n % 2 else "Active") for n in range(25)]
    records.append(key(100, age=10))
    report = summarize(iter(records), NOW)
    assert (report.keys, report.active, report.inactive, report.accounts) == (26, 14, 12, 1)
    assert report.count("over 365 days", "Active") == 13 and report.count("under 30 days", "Active") == 1
    assert report.unused.total == 25 and len(report.unused.first) == LIST_LIMIT and report.unused.more == 15
    first = report.unused.first
    assert all(r.active for r in first)  # 13 active ones exist: they fill the 10 places
    assert [r.idle_days(NOW) for r in first] == sorted((r.idle_days(NOW) or 0 for r in first), reverse=True)
    assert report.ownerless.total == 25
    assert report.stale_accounts == [("prod (111111111111)", 25)]


def test_departed_check_sorts_owners_into_left_present_and_unknown() -> None:
    """Keys whose owner left are listed; keys Slack could not tell about are counted apart."""
    answers = {"U0GONE001": True, "U0HERE001": False, "U0WHO0001": None}
    records = [key(1, slack="U0GONE001"), key(2, slack="U0HERE001"), key(3, slack="U0WHO0001"), key(4, slack=None)]
    report = summarize(records, NOW, departed=lambda r: answers[r.owner_slack_id or ""])
    assert [r.key_id for r in report.departed.first] == [records[0].key_id]
    assert report.departures_unknown == 1 and report.departures_checked


def test_report_message_escapes_values_from_aws() -> None:
    """A user name with Slack markup shows as text in the report, never as a ping."""
    record = key(1, age=200, used=150, user="<!channel>")
    sweep = SweepSummary("s1", NOW, 1, 1, (UnreadAccount("333333333333", "<!here>", "denied"),))
    message = render_report(summarize([record], NOW, sweep=sweep))
    text = json.dumps(message.blocks)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<!here>" not in text and "could not read 1 accounts" in text


def test_home_shows_the_viewers_keys_only_with_rotation_steps() -> None:
    """The Home tab lists the viewer's own keys (by member ID or email tag), never another owner's."""
    mine, by_email, theirs = key(1, age=200), key(2, slack=None, email="Me@Example.com"), key(3, slack="U0OTHER01")
    viewer = Viewer("U0OWNER01", "me@example.com")
    collector = HomeCollector([viewer])
    report = summarize(collector.tap([mine, by_email, theirs]), NOW)
    view = json.dumps(render_home(viewer, report))
    assert mine.key_id in view and by_email.key_id in view and theirs.key_id not in view
    assert "Rotating a key without breaking anything" in view
    assert "Across the organization" not in view and "3 access keys" not in view  # counts are for admins


def test_home_shows_the_organizations_counts_to_admins_only() -> None:
    """An admin's Home tab adds the organization's counts to their own keys; anyone else's has none."""
    records = [key(1), key(2, slack="U0OTHER01"), key(3, slack="U0OTHER01")]
    admin, member = Viewer("U0OWNER01", admin=True), Viewer("U0MEMBER1")
    report = summarize(HomeCollector([admin, member]).tap(records), NOW)
    admin_view, member_view = json.dumps(render_home(admin, report)), json.dumps(render_home(member, report))
    assert "Across the organization" in admin_view and "3 access keys in 1 accounts" in admin_view
    assert "Across the organization" not in member_view and "access keys in" not in member_view


def test_a_refused_home_tab_says_why_and_nothing_more() -> None:
    """Someone whose-key does not serve gets the refusal alone: no keys, no counts, no tag help."""
    view = render_refused_home(":wave: whose-key is for full members of this workspace, not guests.")
    text = json.dumps(view)
    assert view["type"] == "home" and "not guests" in text
    assert "AKIA" not in text and "slack-user-id" not in text and "organization" not in text


def test_home_without_keys_explains_owner_tags() -> None:
    """With no key of theirs, the Home tab says how to tag IAM users."""
    view = json.dumps(render_home(Viewer("U0NOBODY1"), summarize([key(1)], NOW)))
    assert "slack-user-id" in view and "key-hygiene" not in view


def test_csv_has_the_columns_and_neutralises_formulas() -> None:
    """The CSV has one row per key with the documented columns; a formula-looking value stays text."""
    out = io.StringIO()
    count = write_csv(iter([key(1), key(2, user="=HYPERLINK(1)")]), out, NOW)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == 2 and tuple(rows[0]) == COLUMNS
    assert rows[1]["iam_user"] == "'=HYPERLINK(1)"
    assert rows[0]["last_used_service"] == "s3" and rows[0]["owner"] == "U0OWNER01"


@pytest.mark.parametrize("user", ["=cmd", "+1", "-1", "@SUM(A1)", "\t=cmd", "\r=cmd"])
def test_every_cell_a_spreadsheet_would_read_as_a_formula_stays_text(user: str) -> None:
    """Cells starting with = + - @, or with a tab or carriage return before one, get a leading quote."""
    out = io.StringIO()
    write_csv(iter([key(1, user=user)]), out, NOW)
    assert next(csv.DictReader(io.StringIO(out.getvalue())))["iam_user"] == "'" + user


def test_json_lines_are_one_object_per_key() -> None:
    """--json writes one parseable object per line."""
    out = io.StringIO()
    assert write_json_lines([key(1), key(2)], out, NOW, departed=lambda r: True) == 2
    first = json.loads(out.getvalue().splitlines()[0])
    assert first["flags"] == "owner-left"


def test_terminal_report_prints_markup_as_text() -> None:
    """Values from AWS are printed literally by the rich tables."""
    out = io.StringIO()
    print_report(summarize([key(1, age=200, used=150, user="[bold]x[/bold]")], NOW), out, width=200)
    assert "[bold]x[/bold]" in out.getvalue() and "Key hygiene" in out.getvalue()


def test_chart_is_a_png() -> None:
    """The digest's chart is PNG bytes."""
    png = render_chart(summarize([key(1), key(2, age=100, status="Inactive"), key(3, age=500)], NOW))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 604800), ("0", 0), ("3600", 3600)],  # default weekly; 0 turns the digest off
)
def test_report_interval_setting(value: str | None, expected: int) -> None:
    """WHOSE_KEY_REPORT_INTERVAL is seconds, a week by default."""
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    if value is not None:
        env["WHOSE_KEY_REPORT_INTERVAL"] = value
    assert Settings.from_env(env).report_interval == expected


def test_report_interval_must_be_a_whole_number() -> None:
    """A malformed interval stops the process with a line naming the variable."""
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "WHOSE_KEY_REPORT_INTERVAL": "weekly"}
    with pytest.raises(SettingsError, match="WHOSE_KEY_REPORT_INTERVAL"):
        Settings.from_env(env)
