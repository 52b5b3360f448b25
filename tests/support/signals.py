"""Signals to one thread of another process (Linux's tgkill): the kernel may deliver a process's
SIGTERM to any of its threads, and the tests make it take the least convenient one."""

from __future__ import annotations

import ctypes
import os
import platform
import sys

import pytest

# tgkill(2)'s number, by architecture.
SYS_TGKILL = {"x86_64": 234, "aarch64": 131}

needs_tgkill = pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() not in SYS_TGKILL, reason="tgkill is Linux's, by architecture"
)


def other_threads(pid: int) -> list[int]:
    """The thread IDs of a process, its main thread (whose ID is the pid) left out."""
    return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)


def signal_one_thread(pid: int, tid: int, sig: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(SYS_TGKILL[platform.machine()], pid, tid, sig) != 0:
        raise OSError(ctypes.get_errno(), f"tgkill({pid}, {tid}, {sig})")
