"""Where grading happens: a fresh scratch folder per run, and the learner's files to put in it.

Nothing is ever written into katas/ or solutions/. A scratch folder records which process owns
it; a grader that was killed (SIGKILL) cannot remove its own, so the next one removes every
folder whose owner is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from graders.catalog import Kata, UsageError

MEMORY = Path("/dev/shm")
ROOM_NEEDED = 1 << 30  # bytes free in memory-backed storage before grading puts its folders there
PREFIX = "graders-"
OWNER = "owner.pid"


def scratch_parent() -> Path | None:
    """Where grading puts its folders: memory-backed storage (Linux) when it has room.

    The tests of several katas write SQLite databases and logs under `tmp_path`; on disk every
    commit waits for a sync, in memory it does not. None means the system's temporary folder,
    and a TMPDIR the user set always wins.
    """
    if "TMPDIR" in os.environ:
        return None
    try:
        stats = os.statvfs(MEMORY)
    except OSError:  # no such folder: not Linux, or a system without it
        return None
    roomy = stats.f_bavail * stats.f_frsize >= ROOM_NEEDED
    return MEMORY if roomy and os.access(MEMORY, os.W_OK | os.X_OK) else None


def new_root(prefix: str = PREFIX) -> Path:
    """A new scratch folder, owned by this process; the folders of dead graders are removed."""
    parent = scratch_parent()
    sweep(Path(parent or tempfile.gettempdir()))
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    (root / OWNER).write_text(str(os.getpid()), encoding="utf-8")
    return root


def sweep(parent: Path) -> None:
    """Remove the scratch folders whose owning grader no longer runs."""
    with contextlib.suppress(OSError):
        for folder in parent.glob(f"{PREFIX}*"):
            owner = folder / OWNER
            try:
                pid = int(owner.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # not ours, or still being made
            if not running(pid):
                shutil.rmtree(folder, ignore_errors=True)


def running(pid: int) -> bool:
    """Whether the process `pid` runs (a zombie waiting to be reaped does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path("/proc") / str(pid) / "stat"
    with contextlib.suppress(OSError, IndexError):
        return not stat.read_text().rsplit(") ", 1)[1].startswith("Z")
    return True


def remove(root: Path) -> None:
    """Remove a scratch folder (kept, and named on stderr, when GRADERS_KEEP is set: for debugging)."""
    if os.environ.get("GRADERS_KEEP"):
        print(f"kept {root}", file=sys.stderr)
        return
    shutil.rmtree(root, ignore_errors=True)


def learner_sources(kata: Kata, folder: Path) -> dict[str, bytes]:
    """The files to grade from `folder`; a folder with none of them is a usage error."""
    if not folder.is_dir():
        raise UsageError(f"no such folder: {folder} (give the folder that holds your kata files)")
    problem = missing_files(kata, folder)
    if problem:
        raise UsageError(f"{folder}: {problem}")
    return {path.name: path.read_bytes() for path in kata.learner_files(folder)}


def missing_files(kata: Kata, folder: Path) -> str:
    """What keeps `folder` from being graded as `kata` (a missing or misnamed module), or ""."""
    found = sorted(path.name for path in kata.learner_files(folder))
    if kata.grades == "tests":
        return "" if found else "no test_*.py file to grade"
    missing = [name for name in kata.learner if name not in found]
    if not missing:
        return ""
    others = sorted(p.name for p in folder.glob("*.py"))
    seen = f" (found {', '.join(others)})" if others else ""
    return (
        f"no {', '.join(missing)} to grade{seen}: the kata's modules are {', '.join(kata.learner)}"
    )


def lay_out(root: Path, name: str, files: dict[str, bytes]) -> Path:
    """Write `files` into a new folder root/name and return it."""
    folder = root / name
    folder.mkdir(parents=True)
    for file_name, data in files.items():
        (folder / file_name).write_bytes(data)
    return folder
