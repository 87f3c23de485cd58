"""`compare`: the learner's files beside the reference solution, as a highlighted diff."""

from __future__ import annotations

import difflib

from rich.console import Console
from rich.syntax import Syntax

from graders import progress
from graders.catalog import ROOT, Kata
from graders.grade import grade
from graders.vocabulary import Request


def diff(kata: Kata) -> str:
    """A unified diff from the reference solution to the learner's files."""
    mine = {p.name: p for p in kata.learner_files(kata.path)}
    reference = {p.name: p for p in kata.learner_files(kata.solution_path)}
    chunks: list[str] = []
    for name in sorted(mine.keys() | reference.keys()):
        before = (
            reference[name].read_text(encoding="utf-8").splitlines(True)
            if name in reference
            else []
        )
        after = mine[name].read_text(encoding="utf-8").splitlines(True) if name in mine else []
        chunks.extend(
            difflib.unified_diff(
                before, after,
                fromfile=f"solutions/{kata.folder}/{name}" if name in reference else "/dev/null",
                tofile=f"katas/{kata.folder}/{name}" if name in mine else "/dev/null",
            )
        )  # fmt: skip
    return "".join(chunks)


def show(kata: Kata, console: Console) -> None:
    text = diff(kata)
    console.print(f"[bold]{kata.folder}[/]: [red]- reference solution[/]  [green]+ your code[/]")
    if not text:
        console.print("Your files are the same as the reference solution.")
        return
    console.print(Syntax(text, "diff", theme="ansi_dark", background_color="default"))
    console.print(
        f"[dim]Files: {kata.solution_path.relative_to(ROOT)}/ and {kata.path.relative_to(ROOT)}/[/]"
    )


def run(kata: Kata, console: Console, force: bool) -> int:
    """Show the diff, unless the kata does not pass yet and the learner did not insist."""
    if not force and not passes(kata):
        console.print(
            f"[yellow]Spoiler ahead:[/] {kata.slug} does not pass yet, and compare shows the"
            f" reference solution. Keep going (nox -s hint -- {kata.slug}), or add --force."
        )
        return 1
    show(kata, console)
    return 0


def passes(kata: Kata) -> bool:
    """Whether the learner's code for `kata` passes now (graded afresh unless recorded so)."""
    if progress.load().get(kata.slug, {}).get("status") == "pass":
        return True
    result = grade(Request(kata))
    progress.record_grade(result)
    return result.status == "pass"
