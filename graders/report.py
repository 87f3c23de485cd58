"""What the learner reads in the terminal: one line a task, one sentence a failure."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graders.interview import Backlog
from graders.score import KataGrade, TestGrade

MARK = {"pass": "[green]✓[/]", "fail": "[red]✗[/]", "error": "[red]✗[/]"}
CASES_SHOWN = 8  # failing cases listed for a test; the rest are counted
TARGET = {"learner": "your code", "solution": "the reference solution", "path": "the submission"}


def points(value: float) -> str:
    return f"{round(value, 2):g}"


def show(result: KataGrade, console: Console, verbose: bool = False, where: str = "") -> None:
    """The verdict: a line a task, and the failures of the first failing task (all with -v)."""
    kata = result.kata
    source = where or TARGET[result.target]
    console.print(f"[bold]{kata.folder[:2]} · {escape(kata.title)}[/] — grading {escape(source)}")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    if result.message:
        console.print(f"[red bold]could not grade:[/] {escape(result.message)}")
    for test in (t for t in result.tests if t.task_id == 0):  # the gate of a tests kata
        console.print(f" {MARK[test.status]} {escape(test.name)}")
        if test.message:
            console.print(f"     {escape(test.message)}")
    first = result.first_failing_task()
    focus = first.id if first else None
    for task in kata.tasks:
        tests = [t for t in result.tests if t.task_id == task.id]
        failing = [t for t in tests if t.status != "pass"]
        earned = sum(t.score for t in tests)
        status = "fail" if failing or not tests else "pass"
        shown = verbose or (task.id == focus and not result.message)
        more = f"  [dim]· {count_failing(tests, kata.grades)}[/]" if failing else ""
        console.print(
            f" {MARK[status]} Task {task.id}  {escape(task.title)}"
            f"  [dim]{points(earned)}/{points(task.points)}[/]{more}"
        )
        if shown:
            show_tests(tests if verbose else failing, console, verbose)
    if verbose and result.log.strip():
        console.print("[dim]process output (last lines):[/]")
        console.print(escape(result.log), highlight=False, markup=False)
    cached = " (nothing changed since the last grade)" if result.cached else ""
    console.print(
        f"[bold]Score {points(result.score)} / {points(result.max_score)}[/] · "
        f"{result.tasks_passed} of {len(kata.tasks)} tasks · {result.duration:.1f} s{cached}"
    )
    if result.review:
        console.print("[cyan]It passes, but a reviewer would say:[/]")
        for note in result.review:
            console.print(f"  · {escape(note)}", soft_wrap=True)
    console.print(next_step(result))


def count_failing(tests: list[TestGrade], grades: str) -> str:
    """`2 of 4 tests fail`, or `5 of 13 cases fail` when the tests are parametrized."""
    if grades == "tests":
        return f"{sum(t.status != 'pass' for t in tests)} of {len(tests)} bugs missed"
    cases = sum(t.cases for t in tests)
    failing = sum(len(t.failing) or (t.status != "pass") for t in tests)
    if cases == len(tests):
        return f"{failing} of {cases} tests fail"
    return f"{failing} of {cases} cases fail"


def show_tests(tests: list[TestGrade], console: Console, verbose: bool) -> None:
    replayed = False  # one request replay a task keeps the report short; -v shows every one
    for test in tests:
        console.print(f"     {MARK[test.status]} [dim]{escape(test.name)}[/]")
        if test.message:
            first = f"{test.failing[0][0]} " if len(test.failing) > 1 else ""
            console.print(f"       {escape(first + test.message)}")
        for case, said in test.failing[1 : CASES_SHOWN if not verbose else None]:
            console.print(f"       {escape(case)} {escape(said)}")
        hidden = len(test.failing) - CASES_SHOWN
        if hidden > 0 and not verbose:
            console.print(f"       [dim]… and {hidden} more failing cases (-v shows them)[/]")
        for line in test.replay if verbose or not replayed else ():
            console.print(f"       [dim]{escape(line)}[/]", soft_wrap=True)
        replayed = replayed or bool(test.replay)
        if verbose and test.details:
            console.print(escape(test.details), highlight=False, markup=False)
        if verbose and test.output:
            console.print("[dim]output:[/]", escape(test.output))


def solutions_summary(results: list[KataGrade], console: Console) -> None:
    failed = [r.kata.slug for r in results if r.status != "pass"]
    if failed:
        console.print(f"[red]Failing solutions: {', '.join(failed)}[/]")
    else:
        console.print("[green]Every solution passes.[/]")


def next_step(result: KataGrade) -> str:
    kata = result.kata
    if result.target == "solution":
        return ""
    if result.status == "pass":
        return f"[green bold]Done![/] Compare with the reference: nox -s compare -- {kata.slug}"
    if result.target != "learner":
        return ""
    failing = result.first_failing_task()
    task = f"task {failing.id}" if failing else "the kata"
    return f"Next: {task} in katas/{kata.folder}/ · stuck? nox -s hint -- {kata.slug}"


def progress_table(
    results: list[KataGrade],
    stored: dict[str, Any],
    console: Console,
    interview: dict[str, Backlog] | None = None,
) -> None:
    """One row a kata: tasks passed, score, hints used, quiz, interview questions due, what next."""
    table = Table(title="FastAPI interview katas — your progress")
    table.add_column("kata")
    table.add_column("tasks", justify="right")
    table.add_column("score", justify="right")
    table.add_column("hints", justify="right")
    table.add_column("quiz", justify="right")
    table.add_column("interview", justify="right")
    table.add_column("next")
    for result in results:
        kata = result.kata
        done = result.tasks_passed
        if result.status == "pass":
            status = "[green]done[/]"
        elif result.status == "error":
            status = f"[red]fix: {escape((result.message or '')[:60])}[/]"
        else:
            failing = result.first_failing_task()
            status = f"task {failing.id}: {escape(failing.title)}" if failing else ""
        entry = stored.get(kata.slug, {})
        hints_used = sum(entry.get("hints", {}).values())
        quiz = entry.get("quiz")
        asked = (interview or {}).get(kata.slug)
        table.add_row(
            kata.folder,
            f"{done}/{len(kata.tasks)}",
            f"{points(result.score)}/{points(result.max_score)}",
            str(hints_used) if hints_used else "-",
            f"{quiz['correct']}/{quiz['total']}" if quiz else "-",
            (f"{asked.due} due" + (f", {asked.new} new" if asked.new else "")) if asked else "-",
            status,
        )
    console.print(table)
    unfinished = next((r.kata for r in results if r.status != "pass"), None)
    if unfinished:
        console.print(f"Next: nox -s {unfinished.slug}")
    else:
        console.print("[green bold]Every kata passes.[/]")
