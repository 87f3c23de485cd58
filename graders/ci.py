"""`ci`: grade every kata of a learner's clone for a CI job (GitHub Actions or any other).

Writes one result file a kata into the output folder and a Markdown score table to the job
summary (`$GITHUB_STEP_SUMMARY` when set). Depends on no hosted classroom service.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console

from graders import export, report
from graders.catalog import load_catalog
from graders.grade import grade_many
from graders.score import KataGrade
from graders.vocabulary import Request


def markdown(results: list[KataGrade]) -> str:
    lines = [
        "## FastAPI katas",
        "",
        "| kata | tasks | score | status |",
        "|---|---:|---:|---|",
    ]
    for result in results:
        kata = result.kata
        status = {"pass": "✅ pass", "fail": "❌ fail", "error": "⚠️ error"}[result.status]
        lines.append(
            f"| {kata.folder} | {result.tasks_passed}/{len(kata.tasks)} "
            f"| {result.score:g}/{result.max_score:g} | {status} |"
        )
    total = sum(r.score for r in results)
    best = sum(r.max_score for r in results)
    lines += ["", f"**Total: {total:g} / {best:g}**", ""]
    return "\n".join(lines)


def ci(out: Path, summary: Path | None, strict: bool, console: Console) -> int:
    results = grade_many([Request(kata) for kata in load_catalog()])
    for result in results:
        export.write_json(result, out / f"{result.kata.folder}.json")
        export.write_junit(result, out / f"{result.kata.folder}.junit.xml")
    table = markdown(results)
    target = summary or (
        Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None
    )
    if target is not None:
        with open(target, "a", encoding="utf-8") as stream:  # the summary file is shared by steps
            stream.write(table)
    report.progress_table(results, {}, console)
    console.print(f"KataGrade files in {out}/")
    return 1 if strict and any(r.status != "pass" for r in results) else 0
