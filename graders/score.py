"""Turn what the jobs reported into a grade, counting only the tests we expected to run.

The expected tests come from reading the test files (never from a job): a test that did not
report a pass is not a pass, whatever the learner's code did to pytest. A test's result is
*verified* when it ran in a trusted job (no line of the learner's code in its process) while the
learner's code was sandboxed; otherwise it is *self-reported*.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from graders.catalog import Kata, Task
from graders.explain import explain
from graders.replay import describe
from graders.sandbox.jobs import JobReport, NodeReport
from graders.vocabulary import Isolation, Status, Target


@dataclass(frozen=True)
class Expected:
    """A test as written in a test file: its node id, its task, and whether it is white-box."""

    file: str
    name: str  # `test_x`, or `TestClass::test_x` for a method
    task_id: int
    white_box: bool = False
    cases: int = 1  # how many parametrized cases it runs, as far as the source tells

    @property
    def nodeid(self) -> str:
        return f"{self.file}::{self.name}"

    def runs(self, nodeid: str) -> bool:
        """Whether pytest's node `nodeid` is this test (or one of its parametrized cases)."""
        return nodeid == self.nodeid or nodeid.startswith(self.nodeid + "[")


@dataclass
class TestGrade:
    """The grade of one expected test (or, in a tests kata, of one buggy variant)."""

    name: str
    task_id: int
    status: Status
    score: float
    max_score: float
    message: str = ""
    output: str = ""
    duration: float = 0.0
    details: str = ""
    replay: list[str] = field(default_factory=list)
    verified: bool = False
    cases: int = 1  # the pytest nodes it ran (its parametrized cases)
    failing: list[tuple[str, str]] = field(
        default_factory=list
    )  # (case id, why) of each failing one


@dataclass
class KataGrade:
    """The grade of one kata: every expected test, the score, and what the learner reads."""

    kata: Kata
    target: Target
    status: Status
    score: float
    max_score: float
    tests: list[TestGrade]
    message: str | None = None
    notes: list[str] = field(default_factory=list)
    duration: float = 0.0
    log: str = ""
    isolation: Isolation = "none"
    cached: bool = False  # read back from .learner/grades/: nothing it grades has changed
    review: list[str] = field(default_factory=list)  # what a reviewer would say after a pass

    def task_passed(self, task_id: int) -> bool:
        mine = [test for test in self.tests if test.task_id == task_id]
        return bool(mine) and all(test.status == "pass" for test in mine)

    @property
    def tasks_passed(self) -> int:
        return sum(self.task_passed(task.id) for task in self.kata.tasks)

    def first_failing_task(self) -> Task | None:
        """The task the learner should work on next: the first that does not pass."""
        return next((task for task in self.kata.tasks if not self.task_passed(task.id)), None)


def marker(node: ast.expr, name: str) -> ast.expr | None:
    """The `pytest.mark.<name>` in a decorator or a pytestmark value, or None."""
    call = node.func if isinstance(node, ast.Call) else node
    if isinstance(call, ast.Attribute) and call.attr == name:
        return node
    return None


def task_number(marks: list[ast.expr]) -> int | None:
    """N in `@pytest.mark.task(N)`, or None."""
    for mark in marks:
        found = marker(mark, "task")
        if (
            isinstance(found, ast.Call)
            and found.args
            and isinstance(found.args[0], ast.Constant)
            and isinstance(found.args[0].value, int)
        ):
            return found.args[0].value
    return None


def pytestmarks(body: list[ast.stmt]) -> list[ast.expr]:
    """The marks a module or class body sets with `pytestmark = …` (one mark or a list)."""
    marks: list[ast.expr] = []
    for statement in body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark"
            for target in statement.targets
        ):
            value = statement.value
            marks += list(value.elts) if isinstance(value, (ast.List, ast.Tuple)) else [value]
    return marks


def collect(
    body: list[ast.stmt], prefix: str, inherited: list[ast.expr]
) -> Iterator[tuple[str, list[ast.expr]]]:
    """Each test in a body as pytest collects it by default (`test*` functions, `Test*` classes
    without an __init__), with every mark that applies to it, nearest first."""
    marks = pytestmarks(body) + inherited
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(
            "test"
        ):
            yield prefix + node.name, list(node.decorator_list) + marks
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            if any(
                isinstance(item, ast.FunctionDef) and item.name == "__init__" for item in node.body
            ):
                continue  # pytest does not collect a test class with a constructor
            yield from collect(node.body, f"{prefix}{node.name}::", node.decorator_list + marks)


def expected_tests(name: str, source: bytes) -> list[Expected]:
    """The tests of one test file, in file order. SyntaxError if it is not Python."""
    try:
        tree = ast.parse(source)
    except (ValueError, RecursionError, MemoryError) as error:
        raise SyntaxError(f"{name} cannot be read as Python ({type(error).__name__})") from None
    lists = module_lists(tree.body)
    return [
        Expected(
            name,
            test,
            task_number(marks) or 0,
            any(marker(mark, "white_box") is not None for mark in marks),
            cases_of(marks, lists),
        )
        for test, marks in collect(tree.body, "", [])
    ]


def module_lists(body: list[ast.stmt]) -> dict[str, int]:
    """The length of each list, tuple or dict a module binds to a name: `WRONG_KEYS = [...]`."""
    lengths = {}
    for statement in body:
        if isinstance(statement, ast.Assign):
            length = literal_length(statement.value, {})
            for target in statement.targets:
                if isinstance(target, ast.Name) and length is not None:
                    lengths[target.id] = length
    return lengths


def literal_length(node: ast.expr, lists: dict[str, int]) -> int | None:
    """How many items `node` spells out: a literal, a name bound to one, `list(CASES)`,
    `CASES.items()`; None when the source does not say."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return len(node.elts)
    if isinstance(node, ast.Dict):
        return len(node.keys)
    if isinstance(node, ast.Name):
        return lists.get(node.id)
    if isinstance(node, ast.Call) and len(node.args) <= 1:
        function = node.func
        if (
            isinstance(function, ast.Name)
            and function.id in ("list", "tuple", "sorted")
            and node.args
        ):
            return literal_length(node.args[0], lists)
        if isinstance(function, ast.Attribute) and function.attr in ("keys", "values", "items"):
            return literal_length(function.value, lists)
    return None


def cases_of(marks: list[ast.expr], lists: dict[str, int]) -> int:
    """The cases the `parametrize` marks make: the product of their lists' lengths.

    A list the source does not spell out counts as one case: this is an estimate, for sharing a
    kata's tests fairly between jobs, not a count anything relies on.
    """
    cases = 1
    for mark in marks:
        found = marker(mark, "parametrize")
        if isinstance(found, ast.Call) and len(found.args) >= 2:
            cases *= max(1, literal_length(found.args[1], lists) or 1)
    return cases


def runs_of(expected: Expected, job: JobReport) -> list[NodeReport]:
    return [run for nodeid, run in job.nodes.items() if expected.runs(nodeid)]


def judge(expected: Expected, job: JobReport) -> tuple[Status, str, NodeReport | None]:
    """Status and message of one expected test, from all its nodes (parametrized cases)."""
    runs = runs_of(expected, job)
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
            return run.status if run.finished else "error", why(run), run
    return "pass", "", runs[0]


def why(run: NodeReport) -> str:
    """The sentence that says why one pytest node failed."""
    message = explain(run.message, run.text)
    cause = (run.exchange or {}).get("server_error")
    if cause and cause not in message:
        message += f" — {cause}"
    return message


def failing_cases(expected: Expected, job: JobReport) -> list[tuple[str, str]]:
    """(case id, why) of each parametrized case of `expected` that failed: `[HS512]`."""
    return [
        (nodeid.removeprefix(expected.nodeid), why(run))
        for nodeid, run in job.nodes.items()
        if expected.runs(nodeid) and (run.status != "pass" or not run.finished)
    ]


def failed(expected: Expected, job: JobReport) -> bool:
    """Whether a run of this test reported a failure (a test that never ran did not fail)."""
    return any(run.status != "pass" for run in runs_of(expected, job)) or bool(
        job.problem or job.import_error
    )


def score_app_kata(
    kata: Kata, expected: list[Expected], job_of: Callable[[Expected], JobReport], sandboxed: bool
) -> list[TestGrade]:
    """An app kata: each task's points are shared equally by its tests.

    `job_of` names the job that ran a test (verified or white-box, one a kata or one a task).
    """
    per_task = {task.id: [e for e in expected if e.task_id == task.id] for task in kata.tasks}
    grades = []
    for item in expected:
        job = job_of(item)
        status, message, run = judge(item, job)
        share = round(kata.task(item.task_id).points / len(per_task[item.task_id]), 4)
        grades.append(
            TestGrade(
                name=item.name,
                task_id=item.task_id,
                status=status,
                score=share if status == "pass" else 0.0,
                max_score=share,
                message=message,
                output=run.output if run else "",
                duration=round(sum(r.duration for r in runs_of(item, job)), 4),
                details=run.text if run else job.log,
                replay=describe(run.exchange) if run and status != "pass" else [],
                verified=sandboxed and job.job.trusted,
                cases=max(1, len(runs_of(item, job))),
                failing=failing_cases(item, job) if status != "pass" else [],
            )
        )
    return grades


def score_tests_kata(
    kata: Kata, expected: list[Expected], baseline: JobReport, variants: dict[str, JobReport]
) -> list[TestGrade]:
    """A tests kata: the learner's tests must pass on the correct app and fail on each variant."""
    verdicts = [(item, *judge(item, baseline)) for item in expected]
    broken = [(item, message) for item, status, message, _ in verdicts if status != "pass"]
    gate = ""
    if not expected:
        gate = "no test functions found: write tests named test_… in the test file"
    elif broken:
        item, message = broken[0]
        gate = f"{item.name} fails against the correct app: {message}"
    grades = [
        TestGrade(
            name="your tests pass against the correct app",
            task_id=0,
            status="fail" if gate else "pass",
            score=0.0,
            max_score=0.0,
            message=gate,
            output=next((run.output for *_, run in verdicts if run and run.output), ""),
        )
    ]
    for task in kata.tasks:
        share = round(task.points / max(1, len(task.variants)), 4)
        for variant in task.variants:
            if variant not in variants:
                continue  # a task not graded this time
            caught = [item.name for item in expected if failed(item, variants[variant])]
            passed = bool(caught) and not gate
            bug = variant.replace("_", " ")
            if gate:
                message = "not counted: your tests must first pass against the correct app"
            elif caught:
                message = ""
            else:
                message = f"every test passed against the app with bug '{bug}'"
            grades.append(
                TestGrade(
                    name=f"catches the bug: {bug}",
                    task_id=task.id,
                    status="pass" if passed else "fail",
                    score=share if passed else 0.0,
                    max_score=share,
                    message=message,
                    details=f"caught by: {', '.join(caught)}" if caught else "",
                )
            )
    return grades
