"""How a request's tests are split into jobs: by task when it is graded alone, else in one job."""

from __future__ import annotations

from pathlib import Path

from graders.catalog import find
from graders.plan import plan, read
from graders.vocabulary import Request


def verified_jobs(slug: str, root: Path, alone: bool) -> list[tuple[int | None, tuple[str, ...]]]:
    kata = find(slug)
    jobs = plan(read(Request(kata, "solution"), None), 0, root, None, alone=alone).jobs
    return [(job.task_id, job.tests) for job in jobs if job.trusted]


def test_a_request_graded_alone_has_a_verified_job_a_task(tmp_path: Path) -> None:
    """The cores share a lone kata's tests; each test is in exactly one job, its task's."""
    kata = find("first_steps")
    jobs = verified_jobs("first_steps", tmp_path, alone=True)
    assert [task for task, _ in jobs] == [task.id for task in kata.tasks]
    tests = [test for _, tests in jobs for test in tests]
    assert len(tests) == len(set(tests))
    whole = verified_jobs("first_steps", tmp_path, alone=False)
    assert sorted(tests) == sorted(whole[0][1])


def test_a_request_graded_beside_others_has_one_verified_job(tmp_path: Path) -> None:
    assert [task for task, _ in verified_jobs("first_steps", tmp_path, alone=False)] == [None]
    # a kata whose tests mostly wait is split whatever else is graded
    assert None not in [task for task, _ in verified_jobs("async", tmp_path, alone=False)]
