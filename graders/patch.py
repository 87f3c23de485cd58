"""Apply the unified diffs we keep instead of near-copies of a file (buggy variants, near misses).

Strict on purpose: every context and removed line must match, or PatchError says where it
stopped matching, so a diff that drifted from the file it was written against is caught.
"""

from __future__ import annotations

import re

HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@")


class PatchError(Exception):
    """A diff does not fit the text it is applied to."""


def files_in(diff: str) -> dict[str, list[str]]:
    """The lines of the diff for each file it changes, by file name (`+++ b/app.py` → app.py)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in diff.splitlines(keepends=True):
        if line.startswith("+++ "):
            name = line[4:].strip().removeprefix("b/")
            current = found.setdefault(name, [])
        elif line.startswith("--- "):
            current = None
        elif current is not None:
            current.append(line)
    return found


def apply(original: str, changes: list[str]) -> str:
    """`original` with the hunks in `changes` applied."""
    source = original.splitlines(keepends=True)
    result: list[str] = []
    position = 0
    for line in changes:
        header = HUNK.match(line)
        if header:
            start = max(int(header.group(1)) - 1, 0)
            result += source[position:start]
            position = start
        elif line.startswith((" ", "-")):
            if position >= len(source) or source[position].rstrip("\n") != line[1:].rstrip("\n"):
                raise PatchError(
                    f"line {position + 1} does not match the diff: {line[1:].strip()!r}"
                )
            if line.startswith(" "):
                result.append(source[position])
            position += 1
        elif line.startswith("+"):
            result.append(line[1:])
        # "\ No newline at end of file" and anything else is not content
    return "".join(result + source[position:])


def apply_to_files(diff: str, files: dict[str, bytes]) -> dict[str, bytes]:
    """`files` (name → content) with the diff applied; the diff may change several of them."""
    patched = dict(files)
    for name, changes in files_in(diff).items():
        if name not in files:
            raise PatchError(f"the diff changes {name}, which is not there")
        patched[name] = apply(files[name].decode("utf-8"), changes).encode("utf-8")
    return patched
