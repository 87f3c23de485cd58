"""The interview drill: questions from interview.toml, FSRS cards in interview.json, scripted answers.

Every test here but the last uses its own interview.toml, state file and a fixed clock, never the
katas' real interview questions.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fsrs import Rating
from rich.console import Console

from graders import interview, progress, report
from graders.catalog import ROOT, Kata, UsageError
from graders.interview import Question, Scripted, Terminal
from graders.score import KataGrade

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
KATA = Kata(
    folder="01_demo",
    title="Demo",
    question="What is a path operation?",
    tasks=(),
    learner=("app.py",),
    official=(),
)
GOOD = '''format_version = 1

[[questions]]
question = "What is a path operation?"
key_points = ["a decorated function", "one method and one path"]
answer = """A function bound to one HTTP method and path."""
read = ["https://fastapi.tiangolo.com/tutorial/first-steps/"]

[[questions]]
question = "Why declare types on parameters?"
key_points = ["conversion", "validation", "documentation"]
answer = "FastAPI converts, validates and documents them from the hints."
read = ["https://fastapi.tiangolo.com/tutorial/path-params/"]

[[questions]]
question = "What does /docs show?"
key_points = ["Swagger UI", "rendered from /openapi.json"]
answer = "Swagger UI over the OpenAPI document FastAPI generates."
read = ["https://fastapi.tiangolo.com/tutorial/first-steps/"]
'''


class Clock:
    """A fixed time that a test moves on by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def screen(width: int = 200) -> Console:
    return Console(file=io.StringIO(), width=width, color_system=None, highlight=False)


def text(console: Console) -> str:
    stream = console.file
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()


@pytest.fixture
def questions_toml(tmp_path: Path) -> Path:
    path = tmp_path / "interview.toml"
    path.write_text(GOOD, encoding="utf-8")
    return path


@pytest.fixture
def questions(questions_toml: Path) -> tuple[Question, ...]:
    return interview.load_questions(KATA, questions_toml)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / ".learner" / "interview.json"


def answers_file(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "answers.txt"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return str(path)


def drill(
    questions: tuple[Question, ...],
    state: Path,
    lines: list[str],
    clock: Clock,
    limit: int = 10,
) -> tuple[int, str]:
    """Run a drill with these answer lines; how many were rated and what the screen showed."""
    console = screen()
    cards = interview.load_cards(state, console, clock())
    asker = Scripted(iter(f"{line}\n" for line in lines), "answers.txt", console)
    rated = interview.drill(questions, cards, console, asker, limit=limit, state=state, clock=clock)
    return rated, text(console)


# --- the loader ---------------------------------------------------------------------------------


def test_questions_load_in_order_with_their_points_and_pointers(
    questions: tuple[Question, ...],
) -> None:
    assert [q.text for q in questions] == [
        "What is a path operation?",
        "Why declare types on parameters?",
        "What does /docs show?",
    ]
    assert questions[1].key_points == ("conversion", "validation", "documentation")
    assert questions[0].answer == "A function bound to one HTTP method and path."
    assert questions[2].read == ("https://fastapi.tiangolo.com/tutorial/first-steps/",)
    assert all(q.kata == "demo" and q.key.startswith("demo:") for q in questions)


def test_a_card_key_survives_edits_to_other_questions_and_to_its_wrapping(
    questions_toml: Path, questions: tuple[Question, ...]
) -> None:
    edited = GOOD.replace("What does /docs show?", "What does /redoc show?").replace(
        '"Why declare types on parameters?"', '"""Why declare types\n  on parameters?"""'
    )
    questions_toml.write_text(edited, encoding="utf-8")
    again = interview.load_questions(KATA, questions_toml)
    assert [q.key for q in again[:2]] == [q.key for q in questions[:2]]
    assert again[2].key != questions[2].key


BAD_FILES = [
    ("format_version = 1\n[[questions\n", "not valid TOML"),
    (GOOD.replace("format_version = 1", "format_version = 2"), "format_version is 2; start the file with format_version = 1"),
    (GOOD.replace("format_version = 1", ""), "format_version is missing"),
    ("format_version = 1\n", "no [[questions]] tables"),
    (GOOD.replace('"What is a path operation?"', '"What is routing?"'), "question 1 must be the kata's question from kata.toml: 'What is a path operation?'"),
    (GOOD.replace('"What does /docs show?"', '"  "'), "question 3: question is missing or empty"),
    (GOOD.replace('["a decorated function", "one method and one path"]', '["only one"]'), "question 1: key_points has 1 entries; give 2 to 5 short points"),
    (GOOD.replace('["conversion", "validation", "documentation"]', '["a", "b", "c", "d", "e", "f"]'), "question 2: key_points has 6 entries"),
    (GOOD.replace('["conversion", "validation", "documentation"]', '"conversion"'), "question 2: key_points must be a list of non-empty strings"),
    (GOOD.replace('"Swagger UI over the OpenAPI document FastAPI generates."', '""'), "question 3: answer is missing or empty"),
    (GOOD.replace('read = ["https://fastapi.tiangolo.com/tutorial/path-params/"]', "read = []"), "question 2: read has 0 entries; give at least one pointer to the docs"),
    (GOOD.replace("key_points = [\"conversion\"", "keypoints = [\"conversion\""), "question 2: unknown key 'keypoints'"),
    (GOOD.replace("What does /docs show?", "Why declare types on parameters?"), "question 3 repeats question 2"),
    ("title = 'x'\n" + GOOD, "unknown key 'title'"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "says"), BAD_FILES, ids=[s for _, s in BAD_FILES])
def test_a_malformed_interview_file_is_one_line_that_names_the_fix(
    questions_toml: Path, content: str, says: str
) -> None:
    questions_toml.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        interview.load_questions(KATA, questions_toml)
    message = str(caught.value)
    assert says in message and "\n" not in message, message
    assert message.startswith(str(questions_toml)), "the line names the file"


def test_a_kata_without_interview_questions_is_named() -> None:
    missing = Kata(
        folder="99_unwritten",
        title="Unwritten",
        question="Why?",
        tasks=(),
        learner=("app.py",),
        official=(),
    )
    with pytest.raises(UsageError, match="unwritten has no interview questions yet"):
        interview.gather([missing], named=True)
    with pytest.raises(UsageError, match="no kata has interview questions yet"):
        interview.gather([missing], named=False)


# --- scheduling ---------------------------------------------------------------------------------


def test_due_questions_come_before_new_ones_the_longest_overdue_first(
    questions: tuple[Question, ...], state: Path
) -> None:
    first, second, third = questions
    clock = Clock()
    assert interview.next_question(questions, {}, clock()) == first, "new ones in file order"
    drill(questions, state, ["", "easy", "", "again"], clock, limit=2)
    cards = interview.load_cards(state, screen(), clock())
    assert interview.next_question(questions, cards, clock()) == third, "none due: a new one"
    clock.now += timedelta(minutes=5)
    assert interview.next_question(questions, cards, clock()) == second, "due before new"
    clock.now += timedelta(days=90)
    assert interview.due_questions(questions, cards, clock()) == [second, first], (
        "the longest overdue first, whatever the order in the file"
    )
    assert third.key not in cards


def test_again_comes_back_sooner_than_easy(questions: tuple[Question, ...], state: Path) -> None:
    first, second, _ = questions
    clock = Clock()
    rated, shown = drill(questions, state, ["", "1", "", "easy"], clock, limit=2)
    assert rated == 2
    cards = interview.load_cards(state, screen(), clock())
    again, easy = cards[first.key].due - NOW, cards[second.key].due - NOW
    assert again <= timedelta(minutes=10) < timedelta(days=1) <= easy
    assert "again — back in 1 minute" in shown and "easy — back in" in shown
    clock.now += timedelta(hours=2)
    assert interview.due_questions(questions, interview.load_cards(state, screen(), clock()), clock()) == [first]  # fmt: skip


def test_a_session_stops_when_nothing_is_due_and_nothing_new_is_left(
    questions: tuple[Question, ...], state: Path
) -> None:
    rated, shown = drill(questions, state, ["a", "good", "b", "good", "c", "good", "d"], Clock())
    assert rated == 3, "a good rating on a new question brings it back in minutes, not now"
    assert "Done: 3 rated" in shown
    assert "Nothing is due; the next question (demo) comes back in 10 minutes." in shown


def test_the_limit_ends_a_session_and_says_what_is_left(
    questions: tuple[Question, ...], state: Path
) -> None:
    rated, shown = drill(questions, state, ["a", "good"] * 3, Clock(), limit=2)
    assert rated == 2 and "Still to ask: 1 new (run the interview again)." in shown


# --- the state file -----------------------------------------------------------------------------


def test_state_round_trips_and_is_written_atomically(
    questions: tuple[Question, ...], state: Path
) -> None:
    clock = Clock()
    drill(questions, state, ["a", "hard", "b", "good"], clock, limit=2)
    data = json.loads(state.read_text(encoding="utf-8"))
    assert data["format_version"] == 1 and sorted(data["cards"]) == sorted(
        q.key for q in questions[:2]
    )
    cards = interview.load_cards(state, screen(), clock())
    assert {k: c.to_dict() for k, c in cards.items()} == data["cards"]
    interview.save_cards(state, cards)
    assert json.loads(state.read_text(encoding="utf-8")) == data
    assert sorted(p.name for p in state.parent.iterdir()) == ["interview.json"], "no temp files"


CORRUPT = [
    ("not json {", "Expecting value"),
    ("[]", "not an interview state"),
    ('{"format_version": 1, "cards": {"demo:1": {"due": "yesterday"}}}', "card demo:1"),
    ('{"format_version": 1, "cards": {"demo:1": {"card_id": 1, "state": 1, "step": 0, "stability": null, "difficulty": null, "due": "2026-01-01T00:00:00", "last_review": null}}}', "time zone"),
    ('{"format_version": 1, "cards": []}', "no 'cards' object"),
    (b"\xff\xfe", "codec can't decode"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "says"), CORRUPT, ids=[s for _, s in CORRUPT])
def test_a_corrupt_state_file_is_said_in_one_line_and_moved_aside(
    state: Path, content: str | bytes, says: str
) -> None:
    state.parent.mkdir(parents=True)
    data = content.encode() if isinstance(content, str) else content
    state.write_bytes(data)
    console = screen(width=60)
    assert interview.load_cards(state, console, NOW) == {}
    lines = text(console).splitlines()
    assert len(lines) == 1 and says in lines[0], lines
    aside = state.with_name("interview.json.corrupt-20260302-090000")
    assert "moved it to interview.json.corrupt-20260302-090000" in lines[0]
    assert aside.read_bytes() == data and not state.exists()


def test_a_second_corrupt_file_in_the_same_second_keeps_the_first(state: Path) -> None:
    state.parent.mkdir(parents=True)
    for content in ("first {", "second {"):
        state.write_text(content, encoding="utf-8")
        assert interview.load_cards(state, screen(), NOW) == {}
    assert state.with_name("interview.json.corrupt-20260302-090000").read_text() == "first {"
    assert state.with_name("interview.json.corrupt-20260302-090000-2").read_text() == "second {"


def test_an_unreadable_state_file_is_moved_aside_too(state: Path) -> None:
    state.mkdir(parents=True)  # reading it fails with "Is a directory"
    console = screen()
    assert interview.load_cards(state, console, NOW) == {}
    assert "could not be read (Is a directory)" in text(console)
    assert state.with_name("interview.json.corrupt-20260302-090000").is_dir()


def test_a_state_file_that_cannot_be_moved_aside_stops_with_one_line(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state.parent.mkdir(parents=True)
    state.write_text("not json", encoding="utf-8")

    def refuse(source: object, target: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(
        UsageError,
        match=r"cannot be read \(Expecting value.*\) nor moved aside \(Permission denied\); move",
    ):
        interview.load_cards(state, screen(), NOW)


# --- the command --------------------------------------------------------------------------------


def test_due_lists_kata_question_and_when(questions: tuple[Question, ...], state: Path) -> None:
    clock = Clock()
    drill(questions, state, ["", "again", "", "good"], clock, limit=2)
    console = screen()
    assert interview.run(questions, console, due=True, state=state, clock=clock) == 0
    assert text(console).splitlines() == [
        "Nothing is due; the next question (demo) comes back in 1 minute.",
        "1 new question not asked yet.",
    ]
    clock.now += timedelta(hours=3)
    console = screen()
    interview.run(questions, console, due=True, state=state, clock=clock)
    shown = text(console)
    assert "Interview questions due now: 2" in shown
    rows = [line for line in shown.splitlines() if "demo" in line]
    assert "What is a path operation?" in rows[0] and "3 hours ago" in rows[0]
    assert "Why declare types on parameters?" in rows[1] and "3 hours ago" in rows[1]
    assert "1 new question not asked yet." in shown


def test_scripted_answers_show_the_model_answer_and_save_each_rating(
    questions: tuple[Question, ...], state: Path, tmp_path: Path
) -> None:
    answers = answers_file(tmp_path, "It is a decorated function", "GOOD", "", "4")
    console = screen()
    assert interview.run(questions, console, answers=answers, state=state, clock=Clock()) == 0
    shown = text(console)
    for expected in (
        "demo · question 1 · new",
        "What is a path operation?",
        "your answer › It is a decorated function",
        "Key points",
        "• a decorated function",
        "Model answer",
        "A function bound to one HTTP method and path.",
        "Read https://fastapi.tiangolo.com/tutorial/first-steps/",
        "rate yourself › GOOD",
        "good — back in 10 minutes",
        "easy — back in",
        "Stopped: 2 rated",
    ):
        assert expected in shown, expected
    assert len(json.loads(state.read_text(encoding="utf-8"))["cards"]) == 2


def test_answers_can_come_from_standard_input(
    questions: tuple[Question, ...], state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("my answer\n3\n"))
    console = screen()
    interview.run(questions, console, answers="-", limit=1, state=state, clock=Clock())
    assert "your answer › my answer" in text(console) and "Done: 1 rated" in text(console)


def test_a_bad_rating_in_the_answers_is_one_line_and_keeps_the_ratings_before(
    questions: tuple[Question, ...], state: Path, tmp_path: Path
) -> None:
    answers = answers_file(tmp_path, "", "good", "", "goood")
    with pytest.raises(UsageError) as caught:
        interview.run(questions, screen(), answers=answers, state=state, clock=Clock())
    assert str(caught.value) == (
        f"line 4 of {answers} is 'goood', not a rating; give 1–4 or again, hard, good, easy"
    )
    assert list(json.loads(state.read_text(encoding="utf-8"))["cards"]) == [questions[0].key]


def test_a_learner_at_the_keyboard_is_asked_again_after_a_bad_rating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    typed = iter(["good enough", "5", "Hard"])
    monkeypatch.setattr("builtins.input", lambda *_: next(typed))
    console = screen()
    asker = Terminal(console)
    assert asker.answer() == "good enough"
    assert asker.rating() == Rating.Hard
    assert text(console).count("type 1–4 or again, hard, good, easy") == 1


def test_ctrl_c_stops_cleanly_and_keeps_what_was_rated(
    questions: tuple[Question, ...], state: Path
) -> None:
    class Interrupted:
        def __init__(self) -> None:
            self.asked = 0

        def answer(self) -> str:
            self.asked += 1
            if self.asked == 2:
                raise KeyboardInterrupt
            return ""

        def rating(self) -> Rating:
            return Rating.Good

    console = screen()
    rated = interview.drill(
        questions, {}, console, Interrupted(), limit=10, state=state, clock=Clock()
    )
    assert rated == 1 and f"Stopped: 1 rated, kept in {state}." in text(console)
    assert list(json.loads(state.read_text(encoding="utf-8"))["cards"]) == [questions[0].key]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"answers": None}, "the interview asks in a terminal; without one, pass --answers FILE"),
        ({"answers": "/no/such/answers.txt"}, "--answers /no/such/answers.txt: no such file"),
        ({"answers": "-", "limit": 0}, "--limit 0: give a number of questions, 1 or more"),
    ],
)
def test_bad_usage_of_the_drill_is_one_line(
    questions: tuple[Question, ...],
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
    options: dict[str, object],
    says: str,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal
    with pytest.raises(UsageError) as caught:
        interview.run(questions, screen(), state=state, clock=Clock(), **options)  # type: ignore[arg-type]
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert not state.exists()


def test_the_progress_table_shows_interview_questions_due(
    questions_toml: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADERS_PROGRESS", str(state.with_name("progress.json")))
    monkeypatch.setattr(interview, "questions_file", lambda kata: questions_toml)
    questions = interview.load_questions(KATA, questions_toml)
    clock = Clock()
    drill(questions, state, ["", "again"], clock, limit=1)
    clock.now += timedelta(hours=1)
    other = Kata(
        folder="02_other", title="Other", question="?", tasks=(), learner=("app.py",), official=()
    )
    monkeypatch.setattr(
        interview, "questions_file", lambda kata: questions_toml if kata == KATA else Path("/none")
    )
    counts = interview.backlog([KATA, other], screen(), clock)
    assert counts == {"demo": interview.Backlog(due=1, new=2)}
    console = screen()
    results = [
        KataGrade(kata=k, target="learner", status="pass", score=1, max_score=1, tests=[])
        for k in (KATA, other)
    ]
    report.progress_table(results, {}, console, counts)
    rows = {line.split("│")[1].strip(): line for line in text(console).splitlines() if "│" in line}
    assert [c.strip() for c in rows["01_demo"].split("│")][6] == "1 due, 2 new"
    assert [c.strip() for c in rows["02_other"].split("│")][6] == "-"


# --- end to end ---------------------------------------------------------------------------------


def graders(
    args: list[str], env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`python -m graders …` with a pipe for standard input, so never a terminal."""
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "120", **env}
    return subprocess.run(
        [sys.executable, "-m", "graders", *args],
        cwd=ROOT, input=stdin, capture_output=True, text=True, env=environment, timeout=60,
    )  # fmt: skip


def test_the_command_drills_with_scripted_answers_end_to_end(tmp_path: Path) -> None:
    env = {"GRADERS_PROGRESS": str(tmp_path / "progress.json")}
    answers = answers_file(tmp_path, "FastAPI builds on Starlette and Pydantic", "good")
    done = graders(["interview", "1", "--answers", answers, "--limit", "1"], env)
    assert done.returncode == 0, done.stderr
    assert "first_steps · question 1 · new" in done.stdout and "Key points" in done.stdout
    assert "good — back in 10 minutes" in done.stdout and "Done: 1 rated" in done.stdout
    cards = json.loads((tmp_path / "interview.json").read_text(encoding="utf-8"))["cards"]
    assert [key.split(":")[0] for key in cards] == ["first_steps"]
    listed = graders(["interview", "first_steps", "--due"], env)
    assert listed.returncode == 0 and "comes back in 10 minutes" in listed.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["interview", "frist_stpes"], "", "unknown kata 'frist_stpes'"),
        (["interview", "1"], "", "pass --answers FILE"),
        (["interview", "1", "--answers", "-"], "an answer\nsuperb\n", "line 2 of standard input is 'superb', not a rating"),
        (["interview", "1", "--limit", "many"], "", "argument --limit: invalid int value: 'many'"),
    ],
)  # fmt: skip
def test_bad_input_to_the_command_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], stdin: str, says: str
) -> None:
    done = graders(args, {"GRADERS_PROGRESS": str(tmp_path / "progress.json")}, stdin)
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr


def test_a_reset_leaves_the_interview_schedule_alone(
    questions: tuple[Question, ...], state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADERS_PROGRESS", str(state.with_name("progress.json")))
    assert interview.state_path() == state
    drill(questions, state, ["", "good"], Clock(), limit=1)
    before = state.read_bytes()
    progress.forget_grade("demo")  # what `reset` does to the learner's records
    assert state.read_bytes() == before
