"""The hint ladder: a nudge first, then a concrete pointer, for the first failing task."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from graders import progress
from graders.catalog import Kata, Task, UsageError
from graders.score import KataGrade


def pick_task(kata: Kata, result: KataGrade | None, task_id: int | None) -> Task | None:
    """The task named, or the first one the last grade did not pass (None when all pass)."""
    if task_id is not None:
        try:
            return kata.task(task_id)
        except KeyError:
            ids = ", ".join(str(task.id) for task in kata.tasks)
            raise UsageError(f"{kata.slug} has no task {task_id}; its tasks are {ids}") from None
    assert result is not None
    return result.first_failing_task()


def show_next_hint(kata: Kata, task: Task | None, console: Console) -> None:
    if task is None:
        console.print(f"[green]Every task of {kata.slug} passes[/] — no hint needed.")
        console.print(f"Compare with the reference: nox -s compare -- {kata.slug}")
        return
    used = progress.hint_level(kata.slug, task.id)
    level = min(used + 1, len(task.hints))
    if progress.load().get(kata.slug, {}).get("status") != "pass":
        progress.record_hint(kata.slug, task.id, level)  # a hint after the kata passed is free
    console.print(f"[bold]{kata.folder} · Task {task.id} — {escape(task.title)}[/]")
    for number in range(1, level + 1):
        style = "" if number == level else "dim"
        label = f"Hint {number} of {len(task.hints)}"
        console.print(f"[{style or 'cyan'}]{label}:[/] {escape(task.hints[number - 1])}")
    if level < len(task.hints):
        console.print(f"[dim]Still stuck? Run it again for hint {level + 1}.[/]")
    else:
        console.print(
            "[dim]That was the last hint. Re-read the task in the README; once the whole kata"
            f" passes, nox -s compare -- {kata.slug} shows the reference solution.[/]"
        )
