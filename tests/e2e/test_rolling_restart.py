"""A rolling deploy, end to end: every process of the Procfile (web, worker, socket; two of each)
restarted one after another with SIGTERM while a stream of lookups runs, each SIGTERM finding
work in hand (see tests/support/rolling_restart.py): every lookup is answered exactly once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from standins.stack import Stack
from tests.e2e.env import TEST_ENV
from tests.support.rolling_restart import Figures, RollingRestart


@pytest.fixture(scope="module")
def rolled() -> Iterator[tuple[RollingRestart, Figures]]:
    """Two web, two worker and two socket processes, each restarted once under the stream."""
    with Stack(workers=2, socket=True, extra_env=dict(TEST_ENV)) as stack:
        rolling = RollingRestart(stack)
        rolling.start_second_instances()
        figures = rolling.run()
        print(f"\nrolling restart: {figures.lookups} lookups, {figures.lost} lost, {figures.doubled} doubled, "
              f"longest gap in answers {figures.longest_gap:.2f}s")  # fmt: skip
        for line in [*figures.restarts, *figures.in_flight]:
            print(f"  {line}")
        yield rolling, figures


def test_every_lookup_is_answered_exactly_once_through_a_rolling_restart(
    rolled: tuple[RollingRestart, Figures],
) -> None:
    """Lookups sent through web and socket processes while each restarts: none lost, none doubled."""
    rolling, figures = rolled
    assert figures.lookups > 20, figures
    assert (figures.lost, figures.doubled) == (0, 0), (figures, rolling.errors())


def test_every_process_stops_on_its_own_after_finishing_what_it_held(rolled: tuple[RollingRestart, Figures]) -> None:
    """Each SIGTERMed process exits 0 on its own (none is killed), after the request, jobs or
    envelope it held when the signal came were finished: acked and answered, never dropped."""
    rolling, figures = rolled
    assert len(figures.restarts) == 6, figures.restarts
    assert all("(exit 0," in line for line in figures.restarts), figures.restarts
    # Each has exited, so its log is whole: gunicorn says so when it has to kill a worker.
    assert [p.name for p in rolling.stack.retired if "SIGKILL" in p.log()] == []
    assert len(figures.in_flight) == 6 and not any("LOST" in line for line in figures.in_flight), figures.in_flight


def test_a_draining_socket_process_leaves_new_events_to_the_other_connection(
    rolled: tuple[RollingRestart, Figures],
) -> None:
    """An event sent to a socket process after it began draining is not taken there: Slack sends it
    again to the other open connection, where it is answered once."""
    rolling, figures = rolled
    socket_lines = [line for line in figures.in_flight if line.startswith("socket-")]
    assert len(socket_lines) == 2 and all("connection(s) []" not in line for line in socket_lines), socket_lines
    assert [rolling.mention_answers(ts) for ts in rolling.mentions] == [1, 1]
