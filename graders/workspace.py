"""A clean folder per pytest run: the learner's files and the shipped official files, nothing else.

No conftest.py, no stray test file and no cache ever comes along, and nothing is written into
katas/ or solutions/.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from graders.catalog import Kata, UsageError


def new_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="graders-"))


def remove(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)


def learner_sources(kata: Kata, folder: Path) -> dict[str, bytes]:
    """The files to grade from `folder`; a folder with none of them is a usage error."""
    if not folder.is_dir():
        raise UsageError(f"no such folder: {folder} (give the folder that holds your kata files)")
    files = kata.learner_files(folder)
    if not files:
        wanted = "test_*.py files" if kata.grades == "tests" else "app.py (and its other modules)"
        raise UsageError(f"{folder} holds none of the files to grade: expected {wanted}")
    return {path.name: path.read_bytes() for path in files}


def lay_out(root: Path, name: str, files: dict[str, bytes]) -> Path:
    """Write `files` into a new folder root/name and return it."""
    folder = root / name
    folder.mkdir(parents=True)
    for file_name, data in files.items():
        (folder / file_name).write_bytes(data)
    return folder
