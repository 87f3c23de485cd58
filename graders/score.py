"""Turn what the child reported into a grade, counting only the tests we expected to run.

The expected tests come from reading the test files (never from the child): a test that did not
report a pass is not a pass, whatever the learner's code did to pytest.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

from graders.catalog import Kata
from graders.explain import explain
from graders.replay import describe
from graders.runner import JobResult, TestRun


@dataclass(frozen=True)
class Expected:
    """A test function as written in a test file, and the task it checks."""

    file: str
    name: str
    task_id: int

    @property
    def nodeid(self) -> str:
        return f"{self.file}::{self.name}"


@dataclass
class TestResult:
    name: str
    task_id: int
    status: str
    score: float
    max_score: float
    message: str = ""
    output: str = ""
    duration: float = 0.0
    details: str = ""
    replay: list[str] = field(default_factory=list)


@dataclass
class Result:
    kata: Kata
    target: str
    status: str
    score: float
    max_score: float
    tests: list[TestResult]
    message: str | None = None
    notes: list[str] = field(default_factory=list)
    duration: float = 0.0
    log: str = ""

    def task_passed(self, task_id: int) -> bool:
        mine = [test for test in self.tests if test.task_id == task_id]
        return bool(mine) and all(test.status == "pass" for test in mine)

    @property
    def tasks_passed(self) -> int:
        return sum(self.task_passed(task.id) for task in self.kata.tasks)


def task_marker(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int | None:
    """N in `@pytest.mark.task(N)`, or None."""
    for decorator in function.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr == "task"
            and decorator.args
            and isinstance(decorator.args[0], ast.Constant)
            and isinstance(decorator.args[0].value, int)
        ):
            return decorator.args[0].value
    return None


def expected_tests(name: str, source: bytes) -> list[Expected]:
    """The module-level test functions of one test file, in file order."""
    tree = ast.parse(source)
    return [
        Expected(name, node.name, task_marker(node) or 0)
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test")
    ]


def judge(expected: Expected, job: JobResult) -> tuple[str, str, TestRun | None]:
    """Status and message of one expected test function, from all its nodes (parametrized cases)."""
    runs = [
        run
        for nodeid, run in job.tests.items()
        if nodeid == expected.nodeid or nodeid.startswith(expected.nodeid + "[")
    ]
    if job.import_error:
        return "error", f"your code could not be imported: {job.import_error}", None
    if job.problem:
        return "error", job.problem, None
    if expected.file in job.collect_errors:
        return "error", explain("", job.collect_errors[expected.file]), None
    if not runs:
        return "error", "this test did not run (was it renamed, removed or deselected?)", None
    for run in runs:
        if run.status != "pass" or not run.finished:
            message = explain(run.message, run.text)
            cause = (run.exchange or {}).get("server_error")
            if cause:
                message += f" — your code raised {cause}"
            return run.status if run.finished else "error", message, run
    return "pass", "", runs[0]


def failed(expected: Expected, job: JobResult) -> bool:
    """Whether a run of this test reported a failure (a test that never ran did not fail)."""
    return any(
        run.status != "pass"
        for nodeid, run in job.tests.items()
        if nodeid == expected.nodeid or nodeid.startswith(expected.nodeid + "[")
    ) or (job.problem != "" or job.import_error != "")


def grade_tests(
    kata: Kata, expected: list[Expected], job_of: Callable[[Expected], JobResult]
) -> list[TestResult]:
    """Score an app kata: each task's points are shared equally by its tests.

    `job_of` names the job that ran a test (one job a kata, or one a task).
    """
    per_task = {task.id: [e for e in expected if e.task_id == task.id] for task in kata.tasks}
    results = []
    for item in expected:
        job = job_of(item)
        status, message, run = judge(item, job)
        share = kata.task(item.task_id).points / len(per_task[item.task_id])
        results.append(
            TestResult(
                name=item.name,
                task_id=item.task_id,
                status=status,
                score=round(share, 4) if status == "pass" else 0.0,
                max_score=round(share, 4),
                message=message,
                output=run.output if run else "",
                duration=round(
                    sum(r.duration for r in job.tests.values() if r.nodeid.startswith(item.nodeid)),
                    4,
                ),
                details=run.text if run else job.log,
                replay=describe(run.exchange) if run and status != "pass" else [],
            )
        )
    return results


def grade_variants(
    kata: Kata, expected: list[Expected], baseline: JobResult, variants: dict[str, JobResult]
) -> list[TestResult]:
    """Score a tests kata: the learner's tests must pass on the correct app and fail on each variant."""
    verdicts = [(item, *judge(item, baseline)) for item in expected]
    broken = [(item, message) for item, status, message, _ in verdicts if status != "pass"]
    gate_message = ""
    if not expected:
        gate_message = "no test functions found: write tests named test_… in the test file"
    elif broken:
        item, message = broken[0]
        gate_message = f"{item.name} fails against the correct app: {message}"
    results = [
        TestResult(
            name="your tests pass against the correct app",
            task_id=0,
            status="fail" if gate_message else "pass",
            score=0.0,
            max_score=0.0,
            message=gate_message,
            output=next((run.output for *_, run in verdicts if run and run.output), ""),
        )
    ]
    for task in kata.tasks:
        share = task.points / max(1, len(task.variants))
        for variant in task.variants:
            job = variants[variant]
            caught = [item.name for item in expected if failed(item, job)]
            passed = bool(caught) and not gate_message
            if gate_message:
                message = "not counted: your tests must first pass against the correct app"
            elif caught:
                message = ""
            else:
                message = (
                    f"every test passed against the app with bug '{variant.replace('_', ' ')}'"
                )
            results.append(
                TestResult(
                    name=f"catches the bug: {variant.replace('_', ' ')}",
                    task_id=task.id,
                    status="pass" if passed else "fail",
                    score=round(share, 4) if passed else 0.0,
                    max_score=round(share, 4),
                    message=message,
                    details=f"caught by: {', '.join(caught)}" if caught else "",
                )
            )
    return results
