"""Grade katas: prepare the folders, run the jobs, score the outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from graders import patch, pristine, workspace
from graders.catalog import Kata
from graders.runner import Job, JobResult, run_jobs
from graders.score import Expected, Result, expected_tests, grade_tests, grade_variants


@dataclass
class Plan:
    """What grading one kata needs: its jobs, the tests expected, and how to score them."""

    kata: Kata
    target: str
    jobs: list[Job]
    expected: list[Expected]
    notes: list[str]
    void: str = ""


def source_folder(kata: Kata, target: str, path: Path | None) -> Path:
    if target == "solution":
        return kata.solution_path
    if target == "path" and path is not None:
        return path
    return kata.path


def plan(
    kata: Kata, target: str, root: Path, path: Path | None = None, tests_from: str | None = None
) -> Plan:
    """Lay out the folders for grading `kata` under `root` and list the jobs to run."""
    tag = root.name
    learner = workspace.learner_sources(kata, source_folder(kata, target, path))
    try:
        official, notes = pristine.official_files(kata, tests_from)
    except pristine.TamperedError as error:
        return Plan(kata, target, [], [], [], void=str(error))
    strict = target == "solution"
    timeout = kata.timeout
    if kata.grades == "app":
        files = {**learner, **official}
        folder = workspace.lay_out(root, kata.folder, files)
        tests = sorted(name for name in official if kata.is_test_file(name))
        expected = [e for name in tests for e in expected_tests(name, official[name])]
        if not kata.parallel_tasks:
            job = Job(tag, folder, tests, modules(learner), timeout, strict, size=len(expected))
            return Plan(kata, target, [job], expected, notes)
        jobs = []
        for task in kata.tasks:
            nodeids = [e.nodeid for e in expected if e.task_id == task.id]
            jobs.append(Job(f"{tag}:task{task.id}", folder, nodeids, modules(learner), timeout,
                            strict, size=len(nodeids), waits=True))  # fmt: skip
        return Plan(kata, target, jobs, expected, notes)
    tests = sorted(learner)
    expected = [e for name in tests for e in expected_tests(name, learner[name])]
    jobs = [
        Job(tag, workspace.lay_out(root, kata.folder, {**official, **learner}),
            tests, modules(official), timeout, strict, size=len(expected))
    ]  # fmt: skip
    for task in kata.tasks:
        for variant in task.variants:
            diff = kata.variant_path(variant).read_text(encoding="utf-8")
            files = {**patch.apply_to_files(diff, official), **learner}
            folder = workspace.lay_out(root, f"{kata.folder}-{variant}", files)
            # The learner's tests of the variant's task are the likeliest to catch it: try them first.
            first = [e.nodeid for e in expected if e.task_id == task.id]
            jobs.append(
                Job(
                    f"{tag}:{variant}",
                    folder,
                    tests,
                    modules(official),
                    timeout,
                    strict,
                    True,
                    first,
                    size=len(first),
                )
            )
    return Plan(kata, target, jobs, expected, notes)


def modules(files: dict[str, bytes]) -> list[str]:
    return [
        name[:-3] for name in sorted(files) if name.endswith(".py") and not name.startswith("test_")
    ]


def score(plan: Plan, results: list[JobResult], duration: float) -> Result:
    kata = plan.kata
    if plan.void:
        return Result(
            kata, plan.target, "error", 0.0, kata.max_score, [], plan.void, duration=duration
        )
    main = results[0]
    if kata.grades == "app":
        by_task = {r.job.id.rsplit(":task", 1)[-1]: r for r in results}
        tests = grade_tests(kata, plan.expected, lambda e: by_task.get(str(e.task_id), main))
    else:
        variants = {r.job.id.split(":", 1)[1]: r for r in results[1:]}
        tests = grade_variants(kata, plan.expected, main, variants)
    message = None
    if main.import_error:
        message = f"your code could not be imported — {main.import_error}"
    elif all(r.problem and not r.tests for r in results):
        message = main.problem
    status = "error" if message else ("pass" if all(t.status == "pass" for t in tests) else "fail")
    total = round(sum(t.score for t in tests), 2)
    return Result(
        kata, plan.target, status, total, kata.max_score, tests, message, plan.notes,
        round(duration, 2), main.log,
    )  # fmt: skip


def grade_many(
    requests: Sequence[tuple[Kata, str, Path | None]],
    workers: int | None = None,
    tests_from: str | None = None,
    isolate: bool = False,
) -> list[Result]:
    """Grade several katas or submissions at once, their jobs spread over the worker processes.

    `isolate` gives every request a fork server of its own (for submissions from different
    people), so that even a submission that kills its server harms no other.
    """
    root = workspace.new_root()
    try:
        plans = [
            plan(kata, target, root / f"{index:03d}-{kata.slug}", path, tests_from)
            for index, (kata, target, path) in enumerate(requests)
        ]
        jobs = [job for p in plans for job in p.jobs]
        groups = [index for index, p in enumerate(plans) for _ in p.jobs] if isolate else None
        results = run_jobs(jobs, workers, groups)
        out = []
        for p in plans:
            mine = [r for r in results if any(r.job is job for job in p.jobs)]
            wall = max((r.ended for r in mine), default=0) - min((r.began for r in mine), default=0)
            out.append(score(p, mine, wall))
        return out
    finally:
        workspace.remove(root)


def unavailable(kata: Kata, message: str) -> Result:
    """An error result for a submission that could not be graded, with every expected test at 0."""
    root = workspace.new_root()
    try:
        expected = plan(kata, "solution", root).expected
    finally:
        workspace.remove(root)
    fake = JobResult(Job("unavailable", root, [], [], kata.timeout), import_error=message)
    tests = grade_tests(kata, expected, lambda _: fake) if kata.grades == "app" else []
    return Result(kata, "path", "error", 0.0, kata.max_score, tests, message)


def grade(kata: Kata, target: str = "learner", path: Path | None = None) -> Result:
    return grade_many([(kata, target, path)])[0]
