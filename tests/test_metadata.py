"""kata.toml, the files of each kata, the READMEs and the pristine manifest all agree."""

from __future__ import annotations

import ast
import difflib
import re
from pathlib import Path

import pytest

from graders import interview, patch, pristine, review
from graders.catalog import ROOT, Kata, load_catalog
from graders.score import expected_tests

KATAS = load_catalog()
README_PATH = re.compile(
    r"`((?:katas|solutions|graders|tests|tools)/[\w./-]+|noxfile\.py|pyproject\.toml|\.ci/run)`"
)
by_folder = pytest.mark.parametrize("kata", KATAS, ids=lambda k: k.folder)


def test_every_kata_folder_is_in_the_catalog() -> None:
    folders = sorted(
        p.name for p in (ROOT / "katas").iterdir() if p.is_dir() and p.name[:2].isdigit()
    )
    assert folders == [kata.folder for kata in KATAS], (
        "a kata folder without kata.toml, or the reverse"
    )


def test_kata_numbers_follow_the_curriculum_without_gaps() -> None:
    assert [kata.number for kata in KATAS] == list(range(1, len(KATAS) + 1))


@by_folder
def test_tasks_are_numbered_from_one_with_points_and_two_hints(kata: Kata) -> None:
    assert len(kata.tasks) >= 4, f"{kata.folder} has {len(kata.tasks)} tasks, at least 4 wanted"
    assert [task.id for task in kata.tasks] == list(range(1, len(kata.tasks) + 1))
    for task in kata.tasks:
        assert task.points > 0, f"{kata.folder} task {task.id} has no points"
        assert len(task.hints) >= 2, f"{kata.folder} task {task.id} needs a nudge and a pointer"
        assert all(hint.strip() for hint in task.hints), f"{kata.folder} task {task.id}: empty hint"


@by_folder
def test_every_test_is_marked_with_a_task_and_every_task_is_tested(kata: Kata) -> None:
    test_files = sorted(kata.path.glob("test_*.py")) if kata.grades == "app" else []
    if kata.grades == "tests":
        assert all(task.variants for task in kata.tasks), f"{kata.folder}: a task without variants"
        for task in kata.tasks:
            for variant in task.variants:
                assert kata.variant_path(variant).is_file(), f"missing variant {variant}"
        return
    assert any(kata.slug in p.name for p in test_files), (
        f"{kata.folder}: name the test file after the slug"
    )
    expected = [e for p in test_files for e in expected_tests(p.name, p.read_bytes())]
    unmarked = [e.name for e in expected if e.task_id not in {t.id for t in kata.tasks}]
    assert not unmarked, f"{kata.folder}: tests without a valid @pytest.mark.task: {unmarked}"
    untested = {t.id for t in kata.tasks} - {e.task_id for e in expected}
    assert not untested, f"{kata.folder}: task(s) {sorted(untested)} have no test"
    for path in test_files:
        classes = [n.name for n in ast.parse(path.read_bytes()).body if isinstance(n, ast.ClassDef)]
        assert not classes, (
            f"{path.name}: tests are module-level functions, found classes {classes}"
        )


@by_folder
def test_solution_mirrors_the_stub(kata: Kata) -> None:
    stub = sorted(p.name for p in kata.path.glob("*.py"))
    solution = sorted(p.name for p in kata.solution_path.glob("*.py"))
    if kata.grades == "tests":
        stub = [name for name in stub if name.startswith("test_")]
    else:
        stub = [name for name in stub if not name.startswith("test_")]
    assert solution == stub, f"solutions/{kata.folder} has {solution}, the kata has {stub}"
    assert not list(kata.path.rglob("conftest.py")), f"{kata.folder}: no conftest.py in katas"


@by_folder
def test_stub_marks_the_work_of_every_task(kata: Kata) -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in kata.learner_files(kata.path))
    for task in kata.tasks:
        assert f"TODO (task {task.id})" in text, (
            f"{kata.folder}: no `TODO (task {task.id})` in the stub"
        )


@by_folder
def test_readme_has_the_question_tasks_and_follow_ups(kata: Kata) -> None:
    readme = (kata.path / "README.md").read_text(encoding="utf-8")
    for task in kata.tasks:
        heading = re.search(
            rf"^#+ Task {task.id}\b.*\((\d+(?:\.\d+)?) points?\)", readme, re.MULTILINE
        )
        assert heading, f"{kata.folder}/README.md has no '### Task {task.id} … (N points)' heading"
        assert float(heading.group(1)) == task.points, (
            f"{kata.folder}/README.md gives task {task.id} {heading.group(1)} points, kata.toml {task.points:g}"
        )
    assert re.search(r"^#+ Follow-up", readme, re.MULTILINE | re.IGNORECASE), (
        "no follow-up questions"
    )


@pytest.mark.parametrize(
    "readme",
    [ROOT / "README.md", *[kata.path / "README.md" for kata in KATAS]],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_readmes_name_only_paths_that_exist(readme: Path) -> None:
    text = readme.read_text(encoding="utf-8")
    missing = [
        found
        for found in README_PATH.findall(text)
        if not any(mark in found for mark in ("*", "<", "NN_")) and not (ROOT / found).exists()
    ]
    assert not missing, f"{readme.relative_to(ROOT)} names paths that do not exist: {missing}"


def test_pristine_manifest_matches_the_official_files() -> None:
    assert pristine.load_manifest() == pristine.current_manifest(KATAS), (
        "graders/pristine.json is stale: run `python -m graders seal` after changing official files"
    )


@by_folder
def test_quiz_has_three_to_five_answerable_questions(kata: Kata) -> None:
    quiz = kata.quiz
    assert 3 <= len(quiz) <= 5, f"{kata.folder} has {len(quiz)} quiz questions, 3 to 5 wanted"
    for number, question in enumerate(quiz, start=1):
        choices = question.choices
        assert 3 <= len(choices) <= 5 and len(set(choices)) == len(choices), f"question {number}"
        assert question.answer in question.letters, f"question {number}: bad answer letter"
        assert question.question.strip() and question.explanation.strip(), f"question {number}"


@by_folder
def test_quiz_answers_are_not_given_away_by_their_length(kata: Kata) -> None:
    longest = [
        number
        for number, q in enumerate(kata.quiz, start=1)
        if sorted(map(len, q.choices))[-1] == len(q.choices[q.letters.index(q.answer)])
        and sorted(map(len, q.choices))[-2] < len(q.choices[q.letters.index(q.answer)])
    ]
    assert len(longest) * 2 <= len(kata.quiz), (
        f"{kata.folder}: in questions {longest} the right answer is the longest choice; "
        "at most half of a quiz may be answered by picking the longest"
    )


@by_folder
def test_every_interview_question_has_a_model_answer(kata: Kata) -> None:
    questions = interview.load_questions(kata)  # checks the file: key points, answer, a pointer
    readme = (kata.path / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Follow-up questions\n(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert section, f"{kata.folder}/README.md has no '## Follow-up questions' section"
    listed = [
        " ".join(item.split()) for item in re.findall(r"^- (.*(?:\n  .*)*)", section.group(1), re.M)
    ]
    answered = [" ".join(q.text.split()) for q in questions]
    assert answered == [kata.question, *listed], (
        f"solutions/{kata.folder}/interview.toml answers {answered[1:]}, "
        f"the README asks {listed}: the same follow-ups, in the same order"
    )


@by_folder
def test_hints_never_give_the_solution_away(kata: Kata) -> None:
    solution_lines = {
        line.strip()
        for path in kata.learner_files(kata.solution_path)
        for line in path.read_text(encoding="utf-8").splitlines()
        if len(line.strip()) >= 30 and not line.strip().startswith(("#", "import ", "from ", '"""'))
    }
    for task in kata.tasks:
        for hint in task.hints:
            leaked = [line for line in solution_lines if line in hint]
            assert not leaked, f"{kata.folder} task {task.id} hint quotes the solution: {leaked}"


@pytest.mark.parametrize("kata", [k for k in KATAS if k.grades == "tests"], ids=lambda k: k.folder)
def test_each_variant_is_the_given_app_with_one_small_bug(kata: Kata) -> None:
    given = (kata.path / "app.py").read_bytes()
    for task in kata.tasks:
        for variant in task.variants:
            diff = kata.variant_path(variant).read_text(encoding="utf-8")
            assert diff.split("\n--- a/", 1)[0].strip(), f"{variant}: say what the bug is first"
            buggy = patch.apply_to_files(diff, {"app.py": given})["app.py"]  # raises if it drifted
            changed = [
                line
                for line in difflib.unified_diff(
                    given.decode().splitlines(), buggy.decode().splitlines(), n=0, lineterm=""
                )
                if line[:1] in "+-" and not line.startswith(("+++", "---"))
            ]
            assert 1 <= len(changed) <= 12, (
                f"variant {variant} changes {len(changed)} lines of app.py"
            )


@by_folder
def test_the_reference_solution_gets_no_review_note(kata: Kata) -> None:
    found = [str(note) for note in review.notes(kata, kata.solution_path)]
    assert not found, f"solutions/{kata.folder}: what a reviewer would say of it: {found}"
