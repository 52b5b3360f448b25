"""free_port: the ports the stand-ins bind are never handed to two test processes, nor taken from
the range the OS gives outgoing connections (the end-to-end passes run side by side)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from standins import loopback


@pytest.fixture(autouse=True)
def own_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    registry = tmp_path / "ports.json"
    monkeypatch.setattr(loopback, "PORT_CLAIMS", registry)
    return registry


def test_ports_come_from_below_the_ephemeral_range_and_are_claimed(own_registry: Path) -> None:
    low = int(loopback.EPHEMERAL_RANGE.read_text().split()[0])
    ports = [loopback.free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(loopback.PORT_BAND_START <= p < low for p in ports)
    assert {int(p) for p in json.loads(own_registry.read_text())} == set(ports)


def test_another_process_is_never_handed_a_port_this_one_holds(own_registry: Path) -> None:
    mine = {loopback.free_port() for _ in range(20)}
    script = (
        "import sys; from pathlib import Path; from standins import loopback;"
        f"loopback.PORT_CLAIMS = Path({str(own_registry)!r});"
        "print(' '.join(str(loopback.free_port()) for _ in range(200)))"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    theirs = {int(p) for p in out.split()}
    assert len(theirs) == 200
    assert not mine & theirs


def test_a_claim_whose_process_is_gone_is_free_again(own_registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    band = [loopback.PORT_BAND_START + i for i in range(3)]
    own_registry.write_text(json.dumps({str(band[0]): dead_pid, str(band[1]): dead_pid}))
    monkeypatch.setattr(loopback, "_candidate_ports", lambda: list(band))
    assert loopback.free_port() == band[0]
    assert {int(p) for p in json.loads(own_registry.read_text())} == {band[0]}
