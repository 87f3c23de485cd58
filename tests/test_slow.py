"""Slow code is named: a test far slower than the reference's says so, with the likely cause."""

from __future__ import annotations

from pathlib import Path

import pytest

from graders import slow
from graders.catalog import ROOT, load_kata
from graders.grade import grade
from graders.vocabulary import Request

KATA = load_kata(ROOT / "tests" / "robustness" / "katas" / "98_engine")
SOLUTION = (KATA.solution_path / "app.py").read_text(encoding="utf-8")


def hand_in(folder: Path, app: str) -> Path:
    folder.mkdir()
    (folder / "app.py").write_text(app, encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def own_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADERS_PROGRESS", str(tmp_path / "learner" / "progress.json"))


def test_the_reference_is_measured_once_and_kept(tmp_path: Path) -> None:
    times = slow.reference_times(KATA)
    assert sorted(times) == sorted(t.name for t in grade(Request(KATA, "solution")).tests)
    assert slow.times_file().is_file(), "the reference's times are kept"
    kept = slow.times_file().read_bytes()
    assert slow.reference_times(KATA) == times and slow.times_file().read_bytes() == kept


def test_a_test_ten_times_slower_than_the_reference_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleepy = SOLUTION.replace(
        "    name = ITEMS.get(item_id)\n",
        "    if item_id == 3:\n        import time\n        time.sleep(1.5)\n    name = ITEMS.get(item_id)\n",
    )
    result = grade(Request(KATA, "path", hand_in(tmp_path / "mine", sleepy)))
    assert result.status == "pass"
    # The reference's own times vary with the machine's load; here they are fixed.
    monkeypatch.setattr(slow, "reference_times", lambda kata: {t.name: 0.05 for t in result.tests})
    said = slow.notes(result)
    assert said[0].startswith("test_item_three_is_the_nib took 1."), said
    assert said[0].endswith("with the reference solution it takes 0.05 s"), said
    assert said[-1] == "likely cause: a sleep, or a blocking call, in the route"
    assert len(said) == 2, "only the slow test is named"


def test_quick_code_gets_no_note_and_no_reference_grade(tmp_path: Path) -> None:
    result = grade(Request(KATA, "path", hand_in(tmp_path / "mine", SOLUTION)))
    assert slow.notes(result) == []
    assert not slow.times_file().exists(), "the reference is graded only when a test was slow"
