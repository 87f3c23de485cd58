"""`batch`: grade a folder of submissions on one kata into a gradebook (CSV and Markdown).

Each submission is graded in a sandbox of its own, several at once, so a broken, hanging,
crashing or hostile one costs only its own grade. Its files are read from the submissions folder
(which no sandbox sees) and laid out only while it is graded. The gradebook is written after every
sandbox has ended; it holds no times or paths: grading the same folder twice gives the same one.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graders import export, workspace
from graders.catalog import Kata
from graders.grade import grade_many, unavailable
from graders.score import KataGrade
from graders.vocabulary import Request


@dataclass
class Row:
    submission: str
    result: KataGrade

    def task_score(self, task_id: int) -> float:
        return round(sum(t.score for t in self.result.tests if t.task_id == task_id), 2)

    def earned(self, verified: bool) -> float:
        return round(sum(t.score for t in self.result.tests if t.verified == verified), 2)

    @property
    def message(self) -> str:
        if self.result.message:
            text = self.result.message
        else:
            failing = next((t for t in self.result.tests if t.status != "pass"), None)
            text = f"task {failing.task_id}: {failing.message}" if failing else ""
        line = " ".join(text.split())
        return line if len(line) <= 160 else line[:159] + "…"


def locate(kata: Kata, submission: Path) -> tuple[Path | None, str]:
    """Where the kata's files are in a submission (a clone of this repository, or a plain
    folder), or why they cannot be graded."""
    problem = "no kata files found"
    for folder in (submission / "katas" / kata.folder, submission / kata.folder, submission):
        if folder.is_dir() and list(folder.glob("*.py")):
            problem = workspace.missing_files(kata, folder)
            return (None, problem) if problem else (folder, "")
    return None, problem


def run(
    kata: Kata,
    submissions: Path,
    out: Path,
    workers: int | None,
    tests_from: str | None,
    verified_only: bool = False,
) -> list[Row]:
    names = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    found = {path.name: locate(kata, path) for path in names}
    requests = [Request(kata, "path", folder) for folder, _ in found.values() if folder is not None]
    graded = iter(
        grade_many(requests, workers, tests_from, isolate=True, verified_only=verified_only)
    )
    rows = [
        Row(name, next(graded) if folder else unavailable(kata, problem))
        for name, (folder, problem) in found.items()
    ]
    write_gradebook(kata, rows, out)
    return rows


def columns(kata: Kata) -> list[str]:
    return [
        "submission",
        *(f"task {t.id}" for t in kata.tasks),
        "total",
        "max",
        "verified",
        "self-reported",
        "status",
        "message",
    ]


def cells(kata: Kata, row: Row) -> list[str]:
    result = row.result
    scores = [f"{row.task_score(t.id):g}" for t in kata.tasks]
    return [
        row.submission,
        *scores,
        f"{result.score:g}",
        f"{result.max_score:g}",
        f"{row.earned(True):g}",
        f"{row.earned(False):g}",
        result.status,
        row.message,
    ]


def write_gradebook(kata: Kata, rows: list[Row], out: Path) -> None:
    (out / "results").mkdir(parents=True, exist_ok=True)
    for row in rows:
        export.write_json(row.result, out / "results" / f"{row.submission}.json")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns(kata))
    writer.writerows(cells(kata, row) for row in rows)
    (out / "gradebook.csv").write_text(buffer.getvalue(), encoding="utf-8")
    lines = [
        f"# Gradebook · {kata.folder} · {kata.title}",
        "",
        "| " + " | ".join(columns(kata)) + " |",
        "|" + "---|" * len(columns(kata)),
        *(
            "| " + " | ".join(c.replace("|", "\\|") for c in cells(kata, row)) + " |"
            for row in rows
        ),
    ]
    (out / "gradebook.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def show(rows: list[Row], kata: Kata, out: Path, console: Console) -> None:
    table = Table(title=f"{kata.folder} · {len(rows)} submissions")
    for name in ("submission", "score", "status", "message"):
        table.add_column(name, overflow="fold")
    for row in rows:
        result = row.result
        table.add_row(
            row.submission,
            f"{result.score:g}/{result.max_score:g}",
            result.status,
            escape(row.message),
        )
    console.print(table)
    console.print(
        f"Gradebook: {out / 'gradebook.csv'} and {out / 'gradebook.md'}; result files in {out / 'results'}/"
    )
