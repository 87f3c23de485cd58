"""A class's gradebook: one row a submission, from the result files of its grades.

Built from the result documents (graders.export) alone, so that a batch, and the merge of a
batch's shards, write the same bytes from the same grades. One kata: a column a task. Several
katas (`--kata all`): a column a kata.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graders.catalog import Kata

Result = dict[str, Any]  # a result document, as graders.export writes it


@dataclass(frozen=True)
class Entry:
    """One submission's results, by kata folder."""

    submission: str
    results: dict[str, Result]


def rounded(value: float) -> str:
    return f"{round(value, 2):g}"


def earned(result: Result, verified: bool) -> float:
    return float(sum(t["score"] for t in result["tests"] if t["verified"] == verified))


def first_problem(result: Result) -> str:
    """The grade's message, or its first failing test's, on one line of at most 160 characters."""
    if result["message"]:
        text = result["message"]
    else:
        failing = next((t for t in result["tests"] if t["status"] != "pass"), None)
        said = (failing["message"] or "").split("\n", 1)[0] if failing else ""
        text = f"task {failing['task_id']}: {said}" if failing else ""
    line = " ".join(text.split())
    return line if len(line) <= 160 else line[:159] + "…"


def status_of(results: list[Result]) -> str:
    statuses = {result["status"] for result in results}
    if statuses == {"pass"}:
        return "pass"
    return "error" if statuses == {"error"} else "fail"


def columns(katas: list[Kata]) -> list[str]:
    if len(katas) == 1:
        parts = [f"task {t.id}" for t in katas[0].tasks]
    else:
        parts = [kata.slug for kata in katas]
    return ["submission", *parts, "total", "max", "verified", "self-reported", "status", "message"]


def cells(katas: list[Kata], entry: Entry) -> list[str]:
    results = [entry.results[kata.folder] for kata in katas]
    if len(katas) == 1:
        [result] = results
        parts = [
            rounded(sum(t["score"] for t in result["tests"] if t["task_id"] == task.id))
            for task in katas[0].tasks
        ]
        message = first_problem(result)
    else:
        parts = [rounded(result["score"]) for result in results]
        failing = [(k, r) for k, r in zip(katas, results, strict=True) if r["status"] != "pass"]
        message = f"{failing[0][0].folder}: {first_problem(failing[0][1])}" if failing else ""
    return [
        entry.submission,
        *parts,
        rounded(sum(r["score"] for r in results)),
        rounded(sum(r["max_score"] for r in results)),
        rounded(sum(earned(r, True) for r in results)),
        rounded(sum(earned(r, False) for r in results)),
        status_of(results),
        message,
    ]


def write(katas: list[Kata], entries: list[Entry], out: Path) -> None:
    """gradebook.csv and gradebook.md, a row a submission in name order."""
    entries = sorted(entries, key=lambda entry: entry.submission)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns(katas))
    writer.writerows(cells(katas, entry) for entry in entries)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gradebook.csv").write_text(buffer.getvalue(), encoding="utf-8")
    title = f"{katas[0].folder} · {katas[0].title}" if len(katas) == 1 else "every kata"
    lines = [
        f"# Gradebook · {title}",
        "",
        "| " + " | ".join(columns(katas)) + " |",
        "|" + "---|" * len(columns(katas)),
        *(
            "| " + " | ".join(c.replace("|", "\\|") for c in cells(katas, entry)) + " |"
            for entry in entries
        ),
    ]
    (out / "gradebook.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def show(katas: list[Kata], entries: list[Entry], out: Path, console: Console) -> None:
    title = katas[0].folder if len(katas) == 1 else f"{len(katas)} katas"
    table = Table(title=f"{title} · {len(entries)} submissions")
    for name in ("submission", "score", "status", "message"):
        table.add_column(name, overflow="fold")
    for entry in sorted(entries, key=lambda entry: entry.submission):
        row = dict(zip(columns(katas), cells(katas, entry), strict=True))
        table.add_row(
            entry.submission, f"{row['total']}/{row['max']}", row["status"], escape(row["message"])
        )
    console.print(table)
    console.print(
        f"Gradebook: {out / 'gradebook.csv'} and {out / 'gradebook.md'}; result files in {out / 'results'}/"
    )
