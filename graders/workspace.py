"""A clean folder per pytest run: the learner's files and the shipped official files, nothing else.

No conftest.py, no stray test file and no cache ever comes along, and nothing is written into
katas/ or solutions/.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from graders.catalog import Kata, UsageError

MEMORY = Path("/dev/shm")
ROOM_NEEDED = 1 << 30  # bytes free in memory-backed storage before grading puts its folders there


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


def new_root(prefix: str = "graders-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir=scratch_parent()))


def remove(root: Path) -> None:
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
    wanted = sorted(path.name for path in kata.learner_files(kata.path))
    missing = [name for name in wanted if name not in found]
    if not missing:
        return ""
    others = sorted(p.name for p in folder.glob("*.py"))
    seen = f" (found {', '.join(others)})" if others else ""
    return f"no {', '.join(missing)} to grade{seen}: the kata's modules are {', '.join(wanted)}"


def lay_out(root: Path, name: str, files: dict[str, bytes]) -> Path:
    """Write `files` into a new folder root/name and return it."""
    folder = root / name
    folder.mkdir(parents=True)
    for file_name, data in files.items():
        (folder / file_name).write_bytes(data)
    return folder
