"""The review after a pass: what a reviewer would still say, never a change to the score."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from graders import report, review
from graders.catalog import ROOT, load_kata
from graders.grade import grade
from graders.vocabulary import Request

KATA = load_kata(ROOT / "tests" / "robustness" / "katas" / "98_engine")
SOLUTION = (KATA.solution_path / "app.py").read_text(encoding="utf-8")
# The solution, still correct, with three habits a reviewer would point out.
HABITS = SOLUTION.replace(
    "from fastapi import FastAPI, HTTPException\n",
    "import time\n\nfrom fastapi import Depends, FastAPI, HTTPException\n\n"
    'SECRET_KEY = "change-me-please"\n\n\ndef get_shelf() -> dict[int, str]:\n    return ITEMS\n',
).replace(
    "def list_items() -> list[Item]:\n",
    "async def list_items(shelf: dict[int, str] = Depends(get_shelf)) -> list[Item]:\n"
    "    time.sleep(0.01)\n",
)


def hand_in(folder: Path, app: str) -> Path:
    folder.mkdir()
    (folder / "app.py").write_text(app, encoding="utf-8")
    return folder


def test_each_known_habit_gets_its_note_with_a_link(tmp_path: Path) -> None:
    found = {note.code: note for note in review.notes(KATA, hand_in(tmp_path / "mine", HABITS))}
    assert {"ASYNC251", "FAST002", "S105"} <= set(found), sorted(found)
    assert found["ASYNC251"].url.startswith("https://docs.astral.sh/ruff/rules/")
    assert "time.sleep" in found["ASYNC251"].message and found["ASYNC251"].file == "app.py"


def test_a_pass_shows_at_most_three_notes_and_keeps_its_score(tmp_path: Path) -> None:
    folder = hand_in(tmp_path / "mine", HABITS)
    result = grade(Request(KATA, "path", folder))
    assert result.status == "pass" and result.score == KATA.max_score
    result.review = review.after_a_pass(result, folder)
    assert 1 <= len(result.review) <= 3
    console = Console(record=True, width=200)
    report.show(result, console)
    text = console.export_text()
    assert "It passes, but a reviewer would say:" in text
    assert f"Score {KATA.max_score:g} / {KATA.max_score:g}" in text


def test_no_review_before_a_pass_or_for_clean_code(tmp_path: Path) -> None:
    clean = hand_in(tmp_path / "clean", SOLUTION)
    assert review.notes(KATA, clean) == []
    stub = hand_in(tmp_path / "stub", (KATA.path / "app.py").read_text() + 'PASSWORD = "x"\n')
    failing = grade(Request(KATA, "path", stub))
    assert failing.status != "pass" and review.after_a_pass(failing, stub) == []
