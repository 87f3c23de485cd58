"""Every process a box started, found and killed, even one that left its session.

With bubblewrap a box's processes live in a PID namespace of their own, and ending its first
process ends them all. Without it, on Linux, the grader makes itself a *subreaper*: a process
whose parent dies is handed to the grader instead of to init, so it is still found among the
grader's descendants in /proc and killed with them. Elsewhere (macOS) the box's own session is
killed and a process that started a session of its own can outlive the grade.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from pathlib import Path

from graders.workspace import running

PR_SET_CHILD_SUBREAPER = 36  # from <sys/prctl.h>
PROC = Path("/proc")


def become_subreaper() -> bool:
    """Adopt the orphans of every process this one starts; False where the system cannot."""
    if sys.platform != "linux":
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def parents() -> dict[int, int]:
    """pid → parent pid of every process, from /proc (empty where there is no /proc)."""
    found: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir(PROC):
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    stat = (PROC / entry.name / "stat").read_text()
                    found[int(entry.name)] = int(stat.rsplit(") ", 1)[1].split()[1])
    return found


def descendants(root: int, of: dict[int, int] | None = None) -> list[int]:
    """Every process below `root`, children before grandchildren."""
    table = parents() if of is None else of
    below, frontier = [], [root]
    while frontier:
        frontier = [pid for pid, parent in table.items() if parent in frontier]
        below += frontier
    return below


def children() -> set[int]:
    me = os.getpid()
    return {pid for pid, parent in parents().items() if parent == me}


def kill_tree(root: int, include_root: bool = True) -> None:
    """Stop, then kill, `root` and everything below it, again until nothing is left.

    Stopping first keeps a process that forks in a loop from outrunning the walk.
    """
    for _ in range(20):
        found = descendants(root)
        if include_root and running(root):
            found.insert(0, root)
        if not found:
            return
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in found:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
        reap(found)


def reap(pids: list[int]) -> None:
    """Collect the ones that are this process's children, so no zombie is left."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
