"""`compare`: the learner's files beside a reference solution, as a highlighted diff.

A kata may have more than one reference: the main one in solutions/NN_slug/, and others in
solutions/NN_slug/alternatives/<name>/ (another library stack, another style of test).
"""

from __future__ import annotations

import difflib
from pathlib import Path

from rich.console import Console
from rich.syntax import Syntax

from graders import progress
from graders.catalog import ROOT, Kata, UsageError
from graders.grade import grade
from graders.vocabulary import Request


def alternatives(kata: Kata) -> dict[str, Path]:
    """The kata's other reference solutions, by name."""
    folder = kata.solution_path / "alternatives"
    return {p.name: p for p in sorted(folder.glob("*")) if p.is_dir()}


def reference(kata: Kata, alternative: str | None) -> Path:
    if alternative is None:
        return kata.solution_path
    found = alternatives(kata)
    if alternative not in found:
        names = ", ".join(found) or "none"
        raise UsageError(
            f"{kata.slug} has no alternative '{alternative}'; its alternatives: {names}"
        )
    return found[alternative]


def diff(kata: Kata, folder: Path) -> str:
    """A unified diff from the reference solution in `folder` to the learner's files."""
    mine = {p.name: p for p in kata.learner_files(kata.path)}
    theirs = {p.name: p for p in kata.learner_files(folder)}
    where = folder.relative_to(ROOT).as_posix() if folder.is_relative_to(ROOT) else str(folder)
    chunks: list[str] = []
    for name in sorted(mine.keys() | theirs.keys()):
        before = theirs[name].read_text(encoding="utf-8").splitlines(True) if name in theirs else []
        after = mine[name].read_text(encoding="utf-8").splitlines(True) if name in mine else []
        chunks.extend(
            difflib.unified_diff(
                before, after,
                fromfile=f"{where}/{name}" if name in theirs else "/dev/null",
                tofile=f"katas/{kata.folder}/{name}" if name in mine else "/dev/null",
            )
        )  # fmt: skip
    return "".join(chunks)


def show(kata: Kata, console: Console, alternative: str | None = None) -> None:
    folder = reference(kata, alternative)
    text = diff(kata, folder)
    which = f"reference solution ({alternative})" if alternative else "reference solution"
    console.print(f"[bold]{kata.folder}[/]: [red]- {which}[/]  [green]+ your code[/]")
    if not text:
        console.print(f"Your files are the same as the {which}.")
    else:
        console.print(Syntax(text, "diff", theme="ansi_dark", background_color="default"))
        console.print(
            f"[dim]Files: {folder.relative_to(ROOT)}/ and {kata.path.relative_to(ROOT)}/[/]"
        )
    for name in alternatives(kata):
        if name != alternative:
            console.print(f"Another reference: nox -s compare -- {kata.slug} --alternative {name}")


def run(kata: Kata, console: Console, force: bool, alternative: str | None = None) -> int:
    """Show the diff, unless the kata does not pass yet and the learner did not insist."""
    reference(kata, alternative)  # a wrong name is a usage error before anything is graded
    if not force and not passes(kata):
        console.print(
            f"[yellow]Spoiler ahead:[/] {kata.slug} does not pass yet, and compare shows the"
            f" reference solution. Keep going (nox -s hint -- {kata.slug}), or add --force."
        )
        return 1
    show(kata, console, alternative)
    return 0


def passes(kata: Kata) -> bool:
    """Whether the learner's code for `kata` passes now (graded afresh unless recorded so)."""
    if progress.load().get(kata.slug, {}).get("status") == "pass":
        return True
    result = grade(Request(kata))
    progress.record_grade(result)
    return result.status == "pass"
