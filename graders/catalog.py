"""The katas: read from katas/NN_slug/kata.toml, and found by slug, folder name or number."""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
KATAS = ROOT / "katas"
SOLUTIONS = ROOT / "solutions"
VARIANTS = Path(__file__).resolve().parent / "variants"
DEFAULT_TIMEOUT = 10.0


class UsageError(Exception):
    """Bad input from the command line: the message is one line that says what would be right."""


@dataclass(frozen=True)
class Task:
    id: int
    title: str
    points: float
    hints: tuple[str, ...]
    variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kata:
    folder: str
    title: str
    question: str
    tasks: tuple[Task, ...]
    grades: Literal["app", "tests"] = "app"
    timeout: float = DEFAULT_TIMEOUT
    parallel_tasks: bool = False  # tests that mostly wait: run each task in a job of its own

    @property
    def number(self) -> int:
        return int(self.folder[:2])

    @property
    def slug(self) -> str:
        return self.folder[3:]

    @property
    def path(self) -> Path:
        return KATAS / self.folder

    @property
    def solution_path(self) -> Path:
        return SOLUTIONS / self.folder

    @property
    def max_score(self) -> float:
        return sum(task.points for task in self.tasks)

    def task(self, task_id: int) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(task_id)

    def is_test_file(self, name: str) -> bool:
        return name.startswith("test_") and name.endswith(".py")

    def learner_files(self, folder: Path) -> list[Path]:
        """The files the learner writes: the modules for an app kata, the tests for a tests kata."""
        files = sorted(p for p in folder.glob("*.py") if p.name != "conftest.py")
        wants_tests = self.grades == "tests"
        return [p for p in files if self.is_test_file(p.name) == wants_tests]

    def official_files(self) -> list[Path]:
        """The files we ship and grade with, which the learner must not change."""
        files = sorted(p for p in self.path.glob("*.py") if p.name != "conftest.py")
        wants_tests = self.grades == "app"
        return [p for p in files if self.is_test_file(p.name) == wants_tests]

    def variant_path(self, name: str) -> Path:
        """The diff that puts the bug called `name` into the given app."""
        return VARIANTS / self.folder / f"{name}.diff"


def load_raw(kata: Kata) -> dict[str, Any]:
    """kata.toml as data, for the parts only one command reads (the quiz)."""
    data: dict[str, Any] = tomllib.loads((kata.path / "kata.toml").read_text(encoding="utf-8"))
    return data


def load_kata(folder: Path) -> Kata:
    data = tomllib.loads((folder / "kata.toml").read_text(encoding="utf-8"))
    tasks = tuple(
        Task(
            id=int(raw["id"]),
            title=str(raw["title"]),
            points=float(raw["points"]),
            hints=tuple(raw.get("hints", ())),
            variants=tuple(raw.get("variants", ())),
        )
        for raw in data.get("tasks", ())
    )
    return Kata(
        folder=folder.name,
        title=str(data["title"]),
        question=str(data.get("question", "")),
        tasks=tasks,
        grades=data.get("grades", "app"),
        timeout=float(data.get("timeout", DEFAULT_TIMEOUT)),
        parallel_tasks=bool(data.get("parallel_tasks", False)),
    )


def load_catalog(katas_dir: Path = KATAS) -> list[Kata]:
    folders = sorted(p for p in katas_dir.glob("[0-9][0-9]_*") if (p / "kata.toml").is_file())
    return [load_kata(folder) for folder in folders]


def find(name: str, katas: list[Kata] | None = None) -> Kata:
    """The kata called `name`: a slug (first_steps), a folder (01_first_steps) or a number (1, 01)."""
    katas = load_catalog() if katas is None else katas
    wanted = name.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    for kata in katas:
        if wanted in (kata.slug, kata.folder) or (wanted.isdigit() and int(wanted) == kata.number):
            return kata
    names = [kata.slug for kata in katas]
    close = difflib.get_close_matches(wanted, names + [k.folder for k in katas], n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UsageError(f"unknown kata '{name}'.{hint} Katas: {', '.join(names)}")
