"""Grades kept for `nox` (progress): a kata whose inputs did not change is not graded again.

A grade is stored under a key that hashes everything that can change it: the learner's files,
the official files as they would be graded, the kata's kata.toml and settings (a batch's
--timeout), the grader's own code and pyproject.toml, the installed packages and their versions,
the Python version, how the code is contained and whether only verified points count. Any change to any of them is a different key, so a stale grade cannot be read back.
The learner's grades live in .learner/grades/ (git-ignored), a batch's in its output folder; a
file that cannot be read is a miss.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from graders.catalog import ROOT, Kata
from graders.plan import Inputs
from graders.score import KataGrade, TestGrade
from graders.vocabulary import Isolation

FORMAT = 1


def folder() -> Path:
    from graders.progress import path as progress_path

    return progress_path().parent / "grades"


def learners(kata: Kata) -> Path:
    """Where the grade of the learner's own code for `kata` is kept."""
    return folder() / f"{kata.folder}.json"


@functools.cache
def engine() -> str:
    """A hash of the grader's code and configuration, and of every installed package's version."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "graders").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update((ROOT / "pyproject.toml").read_bytes())
    digest.update("\n".join(packages()).encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def packages() -> list[str]:
    """Every installed package with its version, from the names of the .dist-info folders."""
    found: set[str] = set()
    for folder in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *sys.path}:
        with contextlib.suppress(OSError):
            found.update(n for n in os.listdir(folder or ".") if n.endswith(".dist-info"))
    return sorted(found)


def key(inputs: Inputs, isolation: Isolation, verified_only: bool = False) -> str | None:
    """The key of a grade, from the very bytes it grades; None: it is not to be kept."""
    kata = inputs.request.kata
    if inputs.void or inputs.request.tasks or inputs.request.until_first_failure:
        return None  # not a whole grade
    try:
        settings = (kata.path / "kata.toml").read_bytes()
    except OSError:
        return None
    target = inputs.request.target
    how = f"{FORMAT}\0{engine()}\0{isolation}\0{target}\0{verified_only}\0{kata!r}"
    digest = hashlib.sha256(how.encode())
    for name, files in (("learner", inputs.learner), ("official", inputs.official)):
        for file, data in sorted(files.items()):
            digest.update(f"\0{name}:{file}:{len(data)}\0".encode() + data)
    digest.update(b"\0kata.toml\0" + settings + "\0".join(inputs.notes).encode())
    return digest.hexdigest()


def load(file: Path, kata: Kata, wanted: str) -> KataGrade | None:
    """The grade kept in `file` under the key `wanted`, or None."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        if data["key"] != wanted:
            return None
        grade: dict[str, Any] = data["grade"]
        tests = [TestGrade(**test) for test in grade.pop("tests")]
        return dataclasses.replace(KataGrade(kata=kata, tests=tests, **grade), cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None


NOT_THEIRS = ("the grader itself failed", "grading was interrupted", "grading stopped")


def worth_keeping(grade: KataGrade) -> bool:
    """Whether the grade says something about the code: not a grader that failed or was stopped."""
    said = [grade.message or "", *(test.message for test in grade.tests)]
    return not any(text.startswith(NOT_THEIRS) for text in said)


def store(target: Path, grade: KataGrade, wanted: str) -> None:
    """Keep `grade` in `target` under its key, written atomically (never read half-written)."""
    fields = dataclasses.asdict(grade)
    fields.pop("kata")
    fields.pop("cached")
    fields.pop("review")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".grade-")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump({"key": wanted, "grade": fields}, stream)
        os.replace(temporary, target)
    except OSError:
        pass  # a grade not kept is graded again next time
