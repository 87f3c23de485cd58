"""Grade katas: plan each request, run the jobs in the sandbox, score what they reported."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from graders import cache, pristine, workspace
from graders.catalog import Kata
from graders.plan import Plan, expected_of, plan, read
from graders.sandbox import IMPORT_TIMEOUT, Box, JobReport, isolation_here, run_jobs
from graders.score import Expected, KataGrade, TestGrade, score_app_kata, score_tests_kata
from graders.vocabulary import Isolation, Request, Status
from graders.warm import WarmStart

SLOW_IMPORT = 5.0  # seconds of importing the learner's modules worth a note


def grade_many(
    requests: Sequence[Request],
    *,
    workers: int | None = None,
    tests_from: str | None = None,
    isolate: bool = False,
    verified_only: bool = False,
    kept: Callable[[int], Path] | None = None,
    graded: Callable[[int, KataGrade], None] | None = None,
    warm: WarmStart | None = None,
) -> list[KataGrade]:
    """Grade several katas or submissions at once, their jobs spread over the worker processes.

    `isolate` gives every request a sandbox of its own (for submissions from different people);
    otherwise one sandbox holds them all. `verified_only` counts no self-reported points.
    `kept(i)` names the file where request i's grade is kept: a grade kept there for the same
    inputs is read back instead of graded (graders.cache). `graded(i, grade)` hears of each grade
    as soon as it is known (with `isolate`, as each submission's box ends; otherwise once all of
    its jobs have ended, which for a request of one job may be before the others').
    `warm` is a sandbox started ahead for the one request (graders.warm).
    """
    assert warm is None or (len(requests) == 1 and not isolate and kept is None)
    isolation, why = (warm.isolation, warm.why) if warm else isolation_here()
    root = warm.root if warm else workspace.new_root()
    done: dict[int, KataGrade] = {}
    lock = threading.Lock()

    def finish(index: int, grade: KataGrade) -> None:
        with lock:
            done[index] = grade
        if kept is not None and keys[index] is not None and cache.worth_keeping(grade):
            cache.store(kept(index), grade, keys[index])  # type: ignore[arg-type]
        if graded is not None:
            graded(index, grade)

    try:
        shared = warm.box if warm else None if isolate else Box("shared", root / "boxes")
        inputs = [read(request, tests_from) for request in requests]
        keys = [
            cache.key(i, isolation, verified_only) if kept is not None else None for i in inputs
        ]
        for index, key in enumerate(keys):
            hit = cache.load(kept(index), inputs[index].request.kata, key) if kept and key else None
            if hit is not None:
                finish(index, hit)
        alone = len(requests) - len(done) == 1 and not isolate  # the one not read from cache
        plans = {
            index: plan(i, index, root, shared, alone=alone)
            for index, i in enumerate(inputs)
            if index not in done
        }
        owner = {id(job): index for index, p in plans.items() for job in p.jobs}

        def unit_done(reports: list[JobReport]) -> None:
            index = owner[id(reports[0].job)]
            if len(reports) == len(plans[index].jobs):  # in a box of its own: all of it is here
                finish(index, scored(plans[index], reports, isolation, why, verified_only))

        jobs = [job for p in plans.values() for job in p.jobs]
        ready = warm.take(jobs) if warm else None
        reports = run_jobs(jobs, workers, isolate, isolation, root, unit_done, ready)
        for index, p in plans.items():
            if index not in done:
                mine = [r for r in reports if owner[id(r.job)] == index]
                finish(index, scored(p, mine, isolation, why, verified_only))
        return [done[index] for index in range(len(requests))]
    finally:
        if warm:
            warm.close()  # its servers, if no job took them (a request that could not be graded)
        workspace.remove(root)


def scored(
    plan: Plan, reports: list[JobReport], isolation: Isolation, why: str, verified_only: bool
) -> KataGrade:
    wall = max((r.ended for r in reports), default=0) - min((r.began for r in reports), default=0)
    grade = score(plan, reports, wall, isolation, verified_only)
    if why:
        grade.notes.append(
            f"not sandboxed: {why}; your code can read your files and use the network"
        )
    return grade


def score(
    plan: Plan, reports: list[JobReport], duration: float, isolation: Isolation, verified_only: bool
) -> KataGrade:
    request = plan.request
    kata = request.kata
    tampered = next((j.layout.tampered for j in plan.jobs if j.layout.tampered), "")
    void = plan.void or (f"the grade is void: {tampered}" if tampered else "")
    if void:
        tests = unavailable_tests(kata, plan.expected, void)
        return KataGrade(kata, request.target, "error", 0.0, kata.max_score, tests, void,
                         plan.notes, round(duration, 2), isolation=isolation)  # fmt: skip
    sandboxed = isolation == "bubblewrap"
    if kata.grades == "app":
        tests = score_app_kata(kata, plan.expected, lambda e: job_of(e, reports), sandboxed)
    else:
        variants = {r.job.variant: r for r in reports if r.job.variant}
        tests = score_tests_kata(kata, plan.expected, reports[0], variants)
    if verified_only:
        for test in tests:
            if not test.verified and test.score:
                test.score, test.message = (
                    0.0,
                    "not counted: self-reported (graded --verified-only)",
                )
    message = None
    broken = next((r for r in reports if r.import_error), None)
    if broken is not None:
        message = f"your code could not be imported — {broken.import_error}"
    elif reports and all(r.problem and not r.nodes for r in reports):
        message = reports[0].problem
    status: Status = "pass"
    if message:
        status = "error"
    elif any(t.status != "pass" for t in tests) or (
        verified_only and any(t.score < t.max_score for t in tests)
    ):
        status = "fail"
    notes = list(plan.notes)
    slow = max((r.import_seconds for r in reports), default=0.0)
    if slow > SLOW_IMPORT:
        notes.append(
            f"your modules took {slow:.1f} s to import (the limit is {IMPORT_TIMEOUT:g} s)"
        )
    total = round(sum(t.score for t in tests), 2)
    log = reports[0].log if reports else ""
    return KataGrade(kata, request.target, status, total, kata.max_score, tests, message, notes,
                     round(duration, 2), log, isolation)  # fmt: skip


def job_of(expected: Expected, reports: list[JobReport]) -> JobReport:
    """The report of the job that ran `expected` (verified or white-box: the job it was given to)."""
    for report in reports:
        job = report.job
        if job.trusted == (not expected.white_box) and expected.nodeid in job.tests:
            return report
    raise LookupError(f"no job ran {expected.nodeid}")


def unavailable_tests(kata: Kata, expected: list[Expected], message: str) -> list[TestGrade]:
    """Every expected test of an app kata, at 0 points, with `message`."""
    if kata.grades != "app":
        return []
    per_task = {task.id: sum(e.task_id == task.id for e in expected) for task in kata.tasks}
    return [
        TestGrade(
            e.name,
            e.task_id,
            "error",
            0.0,
            round(kata.task(e.task_id).points / per_task[e.task_id], 4),
            message,
        )
        for e in expected
    ]


def unavailable(kata: Kata, message: str) -> KataGrade:
    """An error grade for a submission that could not be graded, with every expected test at 0."""
    try:
        official, _ = pristine.official_files(kata)
    except pristine.TamperedError:
        official = {}
    tests = unavailable_tests(kata, expected_of(official), message)
    return KataGrade(kata, "path", "error", 0.0, kata.max_score, tests, message)


def grade(request: Request, warm: WarmStart | None = None) -> KataGrade:
    """One request, for the commands that grade a single kata (watch, hint, compare)."""
    return grade_many([request], warm=warm)[0]
