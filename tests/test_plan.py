"""How a request's tests are split into jobs: shared out when it is graded alone, else one job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graders import grade as grading
from graders import workspace
from graders.catalog import find
from graders.grade import grade, grade_many
from graders.plan import CASES_A_JOB, Plan, lengths, plan, read, shares
from graders.sandbox import busy_places
from graders.score import Expected, expected_tests
from graders.vocabulary import Request


def jobs_of(slug: str, root: Path, alone: bool, trusted: bool = True) -> list[tuple[str, ...]]:
    kata = find(slug)
    jobs = plan(read(Request(kata, "solution"), None), 0, root, None, alone=alone).jobs
    return [job.tests for job in jobs if job.trusted == trusted]


def cases(tests: list[Expected]) -> int:
    return sum(test.cases for test in tests)


def test_a_request_graded_alone_is_shared_out_between_the_busy_places(tmp_path: Path) -> None:
    """Each test is in exactly one job, and the jobs hold about as many cases each."""
    kata = find("first_steps")
    official = {p.name: p.read_bytes() for p in kata.path.glob("test_*.py")}
    expected = {e.nodeid: e for name, data in official.items() for e in expected_tests(name, data)}
    jobs = jobs_of("first_steps", tmp_path, alone=True)
    assert len(jobs) == min(busy_places(), cases(list(expected.values())) // CASES_A_JOB)
    tests = [test for job in jobs for test in job]
    assert len(tests) == len(set(tests))
    [whole] = jobs_of("first_steps", tmp_path, alone=False)
    assert sorted(tests) == sorted(whole)
    loads = [cases([expected[test] for test in job]) for job in jobs]
    assert max(loads) - min(loads) <= max(e.cases for e in expected.values())


def test_a_request_graded_beside_others_has_one_verified_job(tmp_path: Path) -> None:
    assert len(jobs_of("first_steps", tmp_path, alone=False)) == 1
    # a kata whose tests mostly wait gets a job a task, whatever else is graded
    kata = find("async")
    assert len(jobs_of("async", tmp_path, alone=False)) == len(kata.tasks)


def test_the_one_kata_not_read_back_from_its_kept_grade_is_graded_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nox` (progress) with one kata changed shares that kata out as a lone grade would."""
    first_steps, background = find("first_steps"), find("background_tasks")
    solution = {p.name: p.read_bytes() for p in first_steps.solution_path.glob("*.py")}
    mine = workspace.lay_out(tmp_path, "mine", solution)
    requests = [Request(first_steps, "path", mine), Request(background, "solution")]
    alone: list[bool] = []
    real_plan = plan

    def spied(*args: Any, **kwargs: Any) -> Plan:
        alone.append(kwargs["alone"])
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(grading, "plan", spied)
    kept = tmp_path / "kept"
    grade_many(requests, kept=lambda i: kept / f"{i}.json")
    assert alone == [False, False]
    (mine / "app.py").write_text((mine / "app.py").read_text() + "\n# changed\n")
    alone.clear()
    results = grade_many(requests, kept=lambda i: kept / f"{i}.json")
    assert alone == [True], "only the changed kata was planned, and alone"
    assert [r.cached for r in results] == [False, True]
    assert results[0].score == first_steps.max_score


def test_white_box_tests_get_jobs_of_their_own(tmp_path: Path) -> None:
    white_box = jobs_of("dependency_injection", tmp_path, alone=True, trusted=False)
    verified = jobs_of("dependency_injection", tmp_path, alone=True)
    assert white_box and verified
    assert not {t for job in white_box for t in job} & {t for job in verified for t in job}


def made_up(count: int, each: int = 1) -> list[Expected]:
    return [Expected("test_x.py", f"test_{n}", 1, False, each) for n in range(count)]


def test_a_kata_of_few_cases_stays_in_one_job() -> None:
    tests = made_up(CASES_A_JOB - 1)
    assert shares(tests, lengths(tests, {}), places=3) == [tests]


def test_the_reference_times_spread_the_long_tests() -> None:
    """Two tests that take seconds go to different jobs, though they have no more cases."""
    tests = made_up(4 * CASES_A_JOB)
    times = {test.name: 0.05 for test in tests} | {"test_0": 5.0, "test_1": 5.0}
    parts = shares(tests, lengths(tests, times), places=2)
    assert len(parts) == 2
    assert [sum(t.name in ("test_0", "test_1") for t in part) for part in parts] == [1, 1]
    assert all(part == sorted(part, key=tests.index) for part in parts)  # file order


def test_a_test_without_a_reference_time_counts_its_cases_at_the_reference_pace() -> None:
    tests = made_up(2, each=4)
    assert lengths(tests, {"test_0": 2.0}) == [2.0, 2.0]
    assert lengths(tests, {}) == [4.0, 4.0]


SOURCE = b"""
import pytest

TOKENS = ["a", "b", "c"]
CASES = {"x": 1, "y": 2}


def test_plain():
    pass


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_literal(n):
    pass


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("case", list(CASES))
def test_named_and_stacked(token, case):
    pass


@pytest.mark.parametrize(("k", "v"), CASES.items())
def test_items(k, v):
    pass


@pytest.mark.parametrize("n", range(7))
def test_unknown(n):
    pass
"""


def test_the_cases_of_a_test_are_read_from_its_parametrize_marks() -> None:
    found = {e.name: e.cases for e in expected_tests("test_x.py", SOURCE)}
    assert found == {
        "test_plain": 1,
        "test_literal": 4,
        "test_named_and_stacked": 6,
        "test_items": 2,
        "test_unknown": 1,  # not spelled out: counted as one
    }


@pytest.mark.once
@pytest.mark.parametrize("slug", ["first_steps", "dependency_injection", "databases"])
def test_shared_out_the_solution_passes_and_the_stub_scores_zero(slug: str) -> None:
    """Graded alone (its tests split between jobs), each test's result is found in its job."""
    kata = find(slug)
    solution = grade(Request(kata, "solution"))
    assert (solution.status, solution.score) == ("pass", kata.max_score), solution.message
    stub = grade(Request(kata))
    assert stub.score == 0
    assert not any("did not run" in test.message for test in stub.tests)
