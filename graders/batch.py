"""`batch`: grade a folder of submissions into a gradebook, on one kata or on every kata.

Each submission is graded in a sandbox of its own, several at once, so a broken, hanging,
crashing or hostile one costs only its own grade. Its files are read from the submissions folder
(which no sandbox sees) and laid out only while it is graded. The gradebook is written after every
sandbox has ended; it holds no times or paths: grading the same folder twice gives the same one.

`--shard I/N` grades the submissions whose name hashes to I of N (stable whatever the order of
the folder listing), for N machines to share a class; `graders.merge` joins their outputs. Each
grade is kept in the output folder as soon as it is known, under a key of all its inputs: a batch
interrupted and started again grades only what it had not.

The output folder:
    gradebook.csv, gradebook.md     a row a submission
    results/<submission>.json       the result file (with several katas: <submission>/<kata>.json)
    gradescope/…                    the same, in Gradescope's format
    shard.json                      which shard this is, and the official tests' identity
    .kept/…                         the grades kept for a batch started again
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from graders import export, gradebook, pristine, workspace
from graders.catalog import Kata, UsageError
from graders.grade import grade_many, unavailable
from graders.gradebook import Entry, Result
from graders.score import KataGrade
from graders.vocabulary import Request

INDEX_VARIABLE = "JOB_COMPLETION_INDEX"  # set by a Kubernetes Indexed Job in each pod


@dataclass(frozen=True)
class Shard:
    """The part of a class one run grades: the submissions whose name hashes to `index`."""

    index: int
    count: int

    def takes(self, submission: str) -> bool:
        digest = hashlib.sha256(submission.encode("utf-8")).hexdigest()
        return int(digest, 16) % self.count == self.index


def parse_shard(text: str) -> Shard:
    """`I/N`, or `N` alone with the index in JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)."""
    index_text, _, count_text = text.rpartition("/")
    if not index_text:
        index_text = os.environ.get(INDEX_VARIABLE, "")
        if not index_text:
            raise UsageError(
                f"--shard {text}: give I/N (shard I of N, from 0), or set {INDEX_VARIABLE}"
            )
    if not (index_text.isdigit() and count_text.isdigit()):
        raise UsageError(f"--shard {text}: give I/N with whole numbers, e.g. --shard 0/4")
    index, count = int(index_text), int(count_text)
    if count < 1 or index >= count:
        raise UsageError(f"--shard {text}: the index runs from 0 to N-1 (here 0 to {count - 1})")
    return Shard(index, count)


def tests_identity(katas: list[Kata], tests_from: str | None) -> str:
    """A hash of the official files every submission is graded with (a merge compares them)."""
    digest = hashlib.sha256(f"{tests_from or ''}".encode())
    for kata in katas:
        official, _ = pristine.official_files(kata, tests_from)
        for name, data in sorted(official.items()):
            digest.update(f"\0{kata.folder}/{name}\0".encode() + data)
    return digest.hexdigest()


def locate(kata: Kata, submission: Path) -> tuple[Path | None, str]:
    """Where the kata's files are in a submission (a clone of this repository, or a plain
    folder), or why they cannot be graded."""
    problem = "no kata files found"
    for folder in (submission / "katas" / kata.folder, submission / kata.folder, submission):
        if folder.is_dir() and list(folder.glob("*.py")):
            problem = workspace.missing_files(kata, folder)
            return (None, problem) if problem else (folder, "")
    return None, problem


def files_of(out: Path, kind: str, submission: str, kata: Kata, several: bool) -> Path:
    """Where a submission's result, Gradescope or kept file goes in the output folder."""
    name = f"{submission}/{kata.folder}.json" if several else f"{submission}.json"
    return out / kind / name


def write_json(target: Path, document: object) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    target.write_text(text, encoding="utf-8")


def run(
    katas: list[Kata],
    submissions: Path,
    out: Path,
    *,
    workers: int | None = None,
    tests_from: str | None = None,
    verified_only: bool = False,
    shard: Shard | None = None,
    console: Console | None = None,
) -> list[Entry]:
    names = sorted(
        p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if shard is not None:
        names = [name for name in names if shard.takes(name)]
    several = len(katas) > 1
    results: dict[str, dict[str, Result]] = {name: {} for name in names}
    todo: list[tuple[str, Kata]] = []
    requests: list[Request] = []
    for name in names:
        for kata in katas:
            folder, problem = locate(kata, submissions / name)
            if folder is None:
                results[name][kata.folder] = export.as_json(unavailable(kata, problem))
            else:
                todo.append((name, kata))
                requests.append(Request(kata, "path", folder))
    ticker = Ticker(names, katas, results, console)
    lock = threading.Lock()

    def keep(index: int, grade: KataGrade) -> None:
        name, kata = todo[index]
        for kind, document in (
            ("results", export.as_json(grade)),
            ("gradescope", export.as_gradescope(grade)),
        ):
            target = files_of(out, kind, name, kata, several)
            target.parent.mkdir(parents=True, exist_ok=True)
            write_json(target, document)
        with lock:
            results[name][kata.folder] = export.as_json(grade)
        ticker.done(name, again=grade.cached)

    with ticker:
        grade_many(
            requests,
            workers=workers,
            tests_from=tests_from,
            isolate=True,
            verified_only=verified_only,
            kept=lambda i: files_of(out, ".kept", todo[i][0], todo[i][1], several),
            graded=keep,
        )
    for name, by_kata in results.items():  # the submissions that could not be graded at all
        for kata in katas:
            target = files_of(out, "results", name, kata, several)
            if not target.exists():
                write_json(target, by_kata[kata.folder])
    entries = [Entry(name, results[name]) for name in names]
    gradebook.write(katas, entries, out)
    if shard is not None:
        describe = {
            "shard": shard.index,
            "of": shard.count,
            "katas": [kata.folder for kata in katas],
            "tests": tests_identity(katas, tests_from),
            "submissions": names,
        }
        (out / "shard.json").write_text(json.dumps(describe, indent=2) + "\n", encoding="utf-8")
    return entries


class Ticker:
    """Progress on a long batch: a live bar in a terminal, a line a submission otherwise."""

    def __init__(
        self,
        names: list[str],
        katas: list[Kata],
        results: dict[str, dict[str, Result]],
        console: Console | None,
    ) -> None:
        self.console = console
        self.wanted = len(katas)
        self.results = results
        self.total = len(names)
        self.finished = sum(len(results[name]) == self.wanted for name in names)
        self.lock = threading.Lock()
        self.fresh: set[str] = set()  # graded in this run, not read back
        self.bar: Progress | None = None
        self.task = TaskID(0)

    def __enter__(self) -> Ticker:
        if self.console is not None and self.console.is_terminal:
            self.bar = Progress(
                TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=self.console,
            )  # fmt: skip
            self.bar.start()
            self.task = self.bar.add_task("", total=self.total, completed=self.finished, rate="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def done(self, name: str, again: bool) -> None:
        """One grade of `name` is known (`again`: read back from a batch started before)."""
        with self.lock:
            if not again:
                self.fresh.add(name)
            if len(self.results[name]) < self.wanted:
                return
            self.finished += 1
            if self.bar is not None:
                task = self.bar.tasks[0]
                rate = f"{task.speed * 60:.0f}/min" if task.speed else ""
                self.bar.update(self.task, completed=self.finished, rate=rate)
            elif self.console is not None:
                scores = ", ".join(
                    f"{r['score']:g}/{r['max_score']:g}" for r in self.results[name].values()
                )
                how = "graded" if name in self.fresh else "kept from before"
                self.console.print(f"{how} {name} ({self.finished} of {self.total}): {scores}")
