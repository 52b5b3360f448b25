"""The sweep's pure parts: the worker pool's shape, the WHOSE_KEY_WORKERS setting, the job
contract of an account job, the sweep summary other features read, and the CLI's progress bar."""

from __future__ import annotations

import io

import pytest

from cli.sweep import ProgressBar
from core.contract import SweepAccount, SweepFinish, from_json, to_json
from core.settings import Settings, SettingsError
from workers.process.pool import roles
from workers.sweep.state import SweepSummary, Unreadable

BASE_ENV = {"SLACK_BOT_TOKEN": "xoxb-unit"}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def settings(**env: str) -> Settings:
    return Settings.from_env({**BASE_ENV, **env}, require_signing_secret=False)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ["interactive", "all"]),  # the default: one lookup process, one background worker
        ({"WHOSE_KEY_WORKERS": "3"}, ["interactive", "all", "all", "all"]),  # sized up for a big organization
    ],
)
def test_pool_always_keeps_one_process_for_lookups(env: dict[str, str], expected: list[str]) -> None:
    """The pool runs one interactive-only process plus WHOSE_KEY_WORKERS background workers."""
    assert roles(settings(**env)) == expected


def test_workers_setting_must_be_at_least_one() -> None:
    """WHOSE_KEY_WORKERS=0 stops the process with a line naming the variable."""
    with pytest.raises(SettingsError, match="WHOSE_KEY_WORKERS"):
        settings(WHOSE_KEY_WORKERS="0")


@pytest.mark.parametrize(
    "args",
    [
        SweepAccount("sweep-20240601T000000-abc123", "111111111111", "payments", "ACTIVE"),
        SweepAccount("sweep-x", "222222222222"),  # a nameless account keeps the defaults
        SweepFinish("sweep-x"),
    ],
)
def test_sweep_job_arguments_survive_the_queue(args: SweepAccount | SweepFinish) -> None:
    """Account and finish jobs' arguments come back from JSON as they went in."""
    assert from_json(type(args), to_json(args)) == args


def test_summary_has_exactly_the_fields_the_hygiene_report_reads() -> None:
    """`whose-key:sweep-last` holds sweep_id, finished_at, accounts, keys and unreadable (account, label, detail)."""
    report = SweepSummary(
        "sweep-1",
        accounts=3,
        keys=40,
        unreadable=[Unreadable("111111111111", "sandbox (111111111111)", "assume_role_failed", "could not assume")],
        finished_at="2024-06-01T00:00:00+00:00",
    )
    assert report.summary() == {
        "sweep_id": "sweep-1",
        "finished_at": "2024-06-01T00:00:00+00:00",
        "accounts": 3,
        "keys": 40,
        "unreadable": [{"account": "111111111111", "label": "sandbox (111111111111)", "detail": "could not assume"}],
    }


def test_progress_bar_draws_on_a_terminal_only() -> None:
    """The bar is drawn in place on a terminal and ends with a newline; a pipe gets nothing."""
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = ProgressBar(stream)
        bar.show(5, 10)
        bar.close()
    assert terminal.getvalue() == "\rsweeping [" + "#" * 15 + "-" * 15 + "] 5/10 accounts\n"
    assert pipe.getvalue() == ""
