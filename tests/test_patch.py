"""The strict diff applier behind near misses and buggy variants."""

from __future__ import annotations

import difflib

import pytest

from graders.patch import PatchError, apply_to_files

BEFORE = "".join(f"line {n}\n" for n in range(1, 21))
AFTER = BEFORE.replace("line 3\n", "line three\n").replace("line 17\n", "line 17\nextra\n")


def diff(before: str, after: str, name: str = "app.py") -> str:
    lines = difflib.unified_diff(
        before.splitlines(True), after.splitlines(True), f"a/{name}", f"b/{name}"
    )
    return "A sentence about the mistake.\n\n" + "".join(lines)


def test_a_diff_reproduces_the_changed_file() -> None:
    assert apply_to_files(diff(BEFORE, AFTER), {"app.py": BEFORE.encode()}) == {
        "app.py": AFTER.encode()
    }


def test_a_diff_over_two_files_changes_both_and_leaves_the_rest() -> None:
    both = diff(BEFORE, AFTER, "a.py") + diff(BEFORE, AFTER.upper(), "b.py").split("\n\n", 1)[1]
    files = {"a.py": BEFORE.encode(), "b.py": BEFORE.encode(), "c.py": b"same\n"}
    assert apply_to_files(both, files) == {
        "a.py": AFTER.encode(),
        "b.py": AFTER.upper().encode(),
        "c.py": b"same\n",
    }


def test_a_diff_that_drifted_says_where() -> None:
    drifted = BEFORE.replace("line 2\n", "line two\n")
    with pytest.raises(PatchError, match="line 2 does not match the diff: 'line 2'"):
        apply_to_files(diff(BEFORE, AFTER), {"app.py": drifted.encode()})


def test_a_diff_for_a_missing_file_is_refused() -> None:
    with pytest.raises(PatchError, match=r"changes app\.py, which is not there"):
        apply_to_files(diff(BEFORE, AFTER), {"other.py": BEFORE.encode()})
