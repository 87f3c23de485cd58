"""One short sentence a learner can act on, from an exception as pytest reported it."""

from __future__ import annotations

import re

MISSING_NAME = re.compile(r"module '(\w+)' has no attribute '(\w+)'")
LOCATION = re.compile(r"^([\w.-]+\.py):(\d+): ", re.MULTILINE)
EXCEPTION_LINE = re.compile(r"^E\s+(\w+(?:Error|Exception|Exit)\b.*)$", re.MULTILINE)


def explain(crash: str, text: str) -> str:
    """`crash` is the exception line (with a failed assert's message); `text` the full report."""
    if not crash:
        errors = EXCEPTION_LINE.findall(text)
        return f"the test file could not be loaded: {errors[-1]}" if errors else first_line(text)
    kind, _, message = crash.partition(": ")
    if kind.endswith("remote.AppError"):  # the learner's app, in its own process, said this
        return first_line(message)
    if kind == "MemoryError":
        return f"your code needed more memory than it may use{learner_location(text)}"
    if kind == "AssertionError" or crash.startswith("assert "):
        said = message if kind == "AssertionError" else crash
        return first_line(said.split("\nassert ")[0]) or first_line(said)
    missing = MISSING_NAME.search(crash)
    if kind == "AttributeError" and missing:
        module, name = missing.groups()
        return f"MISSING NAME — {module}.py has no `{name}`: did you misname or delete it?"
    where = learner_location(text)
    if kind == "NotImplementedError":
        return f"not implemented yet{where}" + (f": {first_line(message)}" if message else "")
    return f"{first_line(crash)}{where}"


def learner_location(text: str) -> str:
    """', in app.py line 12' for the deepest frame in the learner's modules (not the tests)."""
    frames = [(f, n) for f, n in LOCATION.findall(text) if not f.startswith(("test_", "conftest"))]
    if not frames:
        return ""
    file, line = frames[-1]
    return f" (raised in {file}, line {line})"


def first_line(text: str, limit: int = 2000) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
