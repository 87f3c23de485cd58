"""Slow code, named: a test of the learner's far slower than the same test of the reference.

How long each test of the reference solution takes is measured once (by grading the solution,
the first time a learner's test takes over a second) and kept in .learner/reference-times.json,
keyed by what the times depend on. A test that takes over FLOOR seconds and FACTOR times the
reference's gets a note, with the kata's likely cause (`slow_hint` in kata.toml) where one is known.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from graders import cache
from graders.catalog import Kata
from graders.score import KataGrade

FACTOR = 10.0
FLOOR = 1.0  # seconds: a test this quick is never called slow


def times_file() -> Path:
    return cache.folder().parent / "reference-times.json"


def fingerprint(kata: Kata) -> str:
    """What the reference's times depend on: its files, the official ones, the grader."""
    digest = hashlib.sha256(cache.engine().encode())
    for folder in (kata.solution_path, kata.path):
        for path in sorted(folder.glob("*")):
            if path.is_file():
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def kept_times() -> dict[str, Any]:
    try:
        kept = json.loads(times_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


def known_times(kata: Kata) -> dict[str, float]:
    """The reference's seconds a test, if they were measured for what the kata is now; else {}."""
    entry = kept_times().get(kata.folder)
    if not isinstance(entry, dict) or entry.get("key") != fingerprint(kata):
        return {}
    try:
        return {str(k): float(v) for k, v in entry.get("times", {}).items()}
    except (AttributeError, TypeError, ValueError):
        return {}


def reference_times(kata: Kata) -> dict[str, float]:
    """Seconds each test of the reference solution takes, measured once and kept."""
    from graders.grade import grade
    from graders.vocabulary import Request

    known = known_times(kata)
    if known:
        return known
    wanted = fingerprint(kata)
    reference = grade(Request(kata, "solution"))
    times = {test.name: test.duration for test in reference.tests}
    kept = kept_times()
    kept[kata.folder] = {"key": wanted, "times": times}
    try:
        times_file().parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=times_file().parent, prefix=".times-")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(kept, stream)
        os.replace(temporary, times_file())
    except OSError:
        pass  # measured again next time
    return times


def notes(grade: KataGrade) -> list[str]:
    """One note a test of the learner's that is far slower than the reference's, and the likely cause."""
    if grade.target == "solution" or not any(t.duration > FLOOR for t in grade.tests):
        return []
    reference = reference_times(grade.kata)
    found = []
    for test in grade.tests:
        theirs = reference.get(test.name)
        if theirs is not None and test.duration > FLOOR and test.duration > FACTOR * theirs:
            found.append(
                f"{test.name} took {test.duration:.1f} s; with the reference solution it takes"
                f" {theirs:.2f} s"
            )
    if found and grade.kata.slow_hint:
        found.append(f"likely cause: {grade.kata.slow_hint}")
    return found
