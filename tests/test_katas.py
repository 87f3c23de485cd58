"""Every kata is sound: its solution passes, its stub fails every task, its near misses fail theirs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from graders import compare, patch, workspace
from graders.catalog import Kata, load_catalog
from graders.score import KataGrade
from graders.vocabulary import Request
from tests.conftest import NEAR_MISSES, ONCE, graded

KATAS = load_catalog()
NEAR_MISS_NAME = re.compile(r"^task(\d+)_\w+$")


def near_misses(kata: Kata) -> list[Path]:
    """The kata's near misses: each a unified diff that puts one real mistake into the solution."""
    return sorted((NEAR_MISSES / kata.folder).glob("task*.diff"))


def alternatives(kata: Kata) -> list[Path]:
    """Other reference solutions of the kata (another library stack, another test style)."""
    return list(compare.alternatives(kata).values())


def near_miss_folder(kata: Kata, miss: Path, root: Path) -> Path:
    """The submission a near miss stands for: the reference solution with the diff applied."""
    solution = {path.name: path.read_bytes() for path in kata.solution_path.glob("*.py")}
    try:
        files = patch.apply_to_files(miss.read_text(encoding="utf-8"), solution)
    except patch.PatchError as error:
        raise AssertionError(f"{miss.name} no longer applies to the solution: {error}") from None
    return workspace.lay_out(root / kata.folder, miss.stem, files)


@pytest.fixture(scope="session")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], KataGrade]:
    """Grade every solution, every stub and every near miss in one run of the real grading path."""
    root = tmp_path_factory.mktemp("near-misses")
    requests: list[Request] = []
    keys = []
    for kata in KATAS:
        requests += [Request(kata, "solution"), Request(kata)]
        keys += [(kata.folder, "solution"), (kata.folder, "stub")]
        for miss in near_misses(kata) if ONCE else []:  # graded on the task it targets only
            match = NEAR_MISS_NAME.match(miss.stem)
            tasks = (int(match.group(1)),) if match else ()
            folder = near_miss_folder(kata, miss, root)
            requests.append(Request(kata, "path", folder, tasks, until_first_failure=True))
            keys.append((kata.folder, miss.stem))
        for other in alternatives(kata) if ONCE else []:
            requests.append(Request(kata, "path", other))
            keys.append((kata.folder, f"alternative {other.name}"))
    return dict(zip(keys, graded(requests), strict=True))


def failures(result: KataGrade) -> str:
    lines = [f"{t.name}: {t.status} — {t.message}" for t in result.tests if t.status != "pass"]
    return "\n".join([result.message or "", *lines])


@pytest.mark.parametrize("kata", KATAS, ids=lambda k: k.folder)
def test_solution_passes_every_test(kata: Kata, results: dict[tuple[str, str], KataGrade]) -> None:
    result = results[(kata.folder, "solution")]
    assert result.status == "pass", f"{kata.folder} solution:\n{failures(result)}"
    assert result.score == pytest.approx(kata.max_score)


@pytest.mark.parametrize("kata", KATAS, ids=lambda k: k.folder)
def test_stub_scores_exactly_zero(kata: Kata, results: dict[tuple[str, str], KataGrade]) -> None:
    result = results[(kata.folder, "stub")]
    assert result.status == "fail", (
        f"{kata.folder} stub should fail, not {result.status}: {result.message}"
    )
    free = [f"{t.name} (task {t.task_id})" for t in result.tests if t.score]
    assert result.score == 0, f"{kata.folder}: the stub already earns points from {free}"


@pytest.mark.once
@pytest.mark.parametrize(
    ("kata", "other"),
    [(kata, other) for kata in KATAS for other in alternatives(kata)],
    ids=lambda value: value.folder if isinstance(value, Kata) else value.name,
)
def test_every_alternative_solution_passes(
    kata: Kata, other: Path, results: dict[tuple[str, str], KataGrade]
) -> None:
    result = results[(kata.folder, f"alternative {other.name}")]
    assert result.status == "pass", f"{kata.folder} alternative {other.name}:\n{failures(result)}"
    assert result.score == pytest.approx(kata.max_score)


@pytest.mark.parametrize("kata", KATAS, ids=lambda k: k.folder)
def test_kata_has_at_least_five_near_misses_that_say_what_is_wrong(kata: Kata) -> None:
    misses = near_misses(kata)
    assert len(misses) >= 5, f"{kata.folder} has {len(misses)} near misses"
    for miss in misses:
        text = miss.read_text(encoding="utf-8")
        description = text.split("\n--- a/", 1)[0].strip()
        assert description, f"{miss.name}: start with a sentence saying what the mistake is"
        assert NEAR_MISS_NAME.match(miss.stem), f"{miss.name}: name it taskN_<mistake>.diff"


@pytest.mark.once
@pytest.mark.parametrize(
    ("kata", "miss"),
    [(kata, miss) for kata in KATAS for miss in near_misses(kata)],
    ids=lambda value: value.folder if isinstance(value, Kata) else value.stem,
)
def test_near_miss_fails_the_task_it_targets(
    kata: Kata, miss: Path, results: dict[tuple[str, str], KataGrade]
) -> None:
    match = NEAR_MISS_NAME.match(miss.stem)
    assert match
    task_id = int(match.group(1))
    result = results[(kata.folder, miss.stem)]
    assert result.status != "error", f"{miss.name} could not be graded: {result.message}"
    assert not result.task_passed(task_id), (
        f"{kata.folder}/{miss.name} is a known mistake but passes task {task_id}: "
        "the tests are too weak to reject it"
    )
