"""A mentor's review after a pass: what a reviewer would still say about code that works.

When a kata passes, ruff's FastAPI-aware rule families run on the learner's files — FAST (FastAPI
idioms: `Annotated` dependencies, redundant response models), ASYNC (blocking calls in
`async def`) and S (security: hard-coded secrets, weak hashes) — and at most three findings are
shown, each with a link to the rule's documentation. A finding on a line the stub gave the
learner word for word is not theirs, and is not shown. A kata may choose its families with
`review = [...]` in kata.toml. The review never changes the score.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from graders.catalog import Kata
from graders.score import KataGrade

SHOWN = 3
# S101: `assert` is how a learner's tests (09_testing) say what they check. S106: an OAuth2 token
# response's `token_type="bearer"` is not a password, though the rule reads it as one.
IGNORED = ("S101", "S106")


@dataclass(frozen=True)
class Note:
    file: str
    line: int
    code: str
    message: str
    url: str

    def __str__(self) -> str:
        link = f" ({self.url})" if self.url else ""
        return f"{self.file}, line {self.line}: {self.message} [{self.code}]{link}"


def ruff() -> list[str] | None:
    """How to run ruff here (it is installed beside the grader), or None if it is not."""
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError:
        return None
    try:
        return [str(find_ruff_bin())]
    except FileNotFoundError:
        return None


def notes(kata: Kata, folder: Path) -> list[Note]:
    """What ruff's chosen rule families say about the learner's files in `folder`."""
    command = ruff()
    files = [str(path) for path in kata.learner_files(folder)]
    if command is None or not files:
        return []
    done = subprocess.run(
        [*command, "check", "--isolated", "--no-cache", "--output-format", "json",
         "--select", ",".join(kata.review), "--ignore", ",".join(IGNORED),
         "--target-version", f"py{sys.version_info[0]}{sys.version_info[1]}", *files],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    try:
        found = json.loads(done.stdout or "[]")
    except ValueError:
        return []
    notes = [
        Note(
            file=Path(item["filename"]).name,
            line=int(item["location"]["row"]),
            code=str(item["code"]),
            message=str(item["message"]),
            url=str(item.get("url") or ""),
        )
        for item in found
    ]
    return [note for note in notes if not given(kata, folder, note)]


def given(kata: Kata, folder: Path, note: Note) -> bool:
    """Whether the line a note is about is one the stub already gave the learner, word for word."""
    try:
        line = (folder / note.file).read_text(encoding="utf-8").splitlines()[note.line - 1]
        stub = (kata.path / note.file).read_text(encoding="utf-8").splitlines()
    except (OSError, IndexError, UnicodeDecodeError):
        return False
    return line.strip() in {text.strip() for text in stub}


def after_a_pass(grade: KataGrade, folder: Path) -> list[str]:
    """At most three review notes for a grade that passed, and how many more there are."""
    if grade.status != "pass" or grade.target == "solution":
        return []
    found = notes(grade.kata, folder)
    shown = [str(note) for note in found[:SHOWN]]
    if len(found) > SHOWN:
        shown.append(
            f"… and {len(found) - SHOWN} more (ruff check --select {','.join(grade.kata.review)})"
        )
    return shown
