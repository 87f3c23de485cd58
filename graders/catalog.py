"""The katas, as each `katas/NN_slug/kata.toml` declares them, found by slug, folder or number.

Every field a kata.toml may hold is a field of `Kata`, `Task` or `QuizQuestion` below, with its
meaning beside it: this module is the format's documentation. A file that breaks the format is
reported as one line naming the file and the field (`KataFormatError`).
"""

from __future__ import annotations

import difflib
import string
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
FORMAT_VERSION = 1
DEFAULT_TIMEOUT = 10.0
DEFAULT_MEMORY_MB = 2048

Grades = Literal["app", "tests"]
Role = Literal["learner", "official", "ignored"]


class UsageError(Exception):
    """Bad input from the command line: the message is one line that says what would be right."""


class KataFormatError(UsageError):
    """A kata.toml that does not follow the format below."""


@dataclass(frozen=True)
class Task:
    """`[[tasks]]`: one numbered task of the kata's README."""

    id: int
    """1…N, in order; the README has a `### Task N — title (P points)` heading for it."""
    title: str
    points: float
    """Shared equally by the task's tests (or, in a tests kata, by its variants)."""
    hints: tuple[str, ...]
    """At least two: a nudge, then a concrete pointer. Never the answer."""
    variants: tuple[str, ...] = ()
    """Tests katas only: the buggy variants of the given app (diffs in
    `solutions/NN_slug/variants/<name>.diff`) that the learner's tests must catch."""


@dataclass(frozen=True)
class QuizQuestion:
    """`[[quiz]]`: one multiple-choice question of `nox -s quiz`."""

    question: str
    choices: tuple[str, ...]
    """Three to five, all different."""
    answer: str
    """The letter of the right choice: a, b, c…"""
    explanation: str
    """Why the answer is right, shown after every answer."""

    @property
    def letters(self) -> list[str]:
        return list(string.ascii_lowercase[: len(self.choices)])


@dataclass(frozen=True)
class Kata:
    """One kata: its folder, what it asks, its files and how it is graded."""

    folder: str
    """`NN_slug`, the folder under katas/ and solutions/ (not in kata.toml)."""
    title: str
    question: str
    """The interview question the kata teaches to answer."""
    tasks: tuple[Task, ...]
    learner: tuple[str, ...]
    """`[files] learner`: the files the learner writes (the stub in katas/, the answer in
    solutions/). Other modules the learner adds beside them come along too."""
    official: tuple[str, ...]
    """`[files] official`: the files we grade with and the learner must not change (the tests of
    an app kata, the given app of a tests kata)."""
    quiz: tuple[QuizQuestion, ...] = ()
    grades: Grades = "app"
    """`app`: the official tests grade the learner's app. `tests`: the learner's tests must pass
    on the given app and fail on each of its buggy variants."""
    timeout: float = DEFAULT_TIMEOUT
    """Seconds one test may run before grading stops it."""
    memory_mb: int = DEFAULT_MEMORY_MB
    """Address space a process running the learner's code may use, in MiB."""
    parallel_tasks: bool = False
    """Tests that mostly wait on timers: run each task's tests in a job of its own, at once."""
    review: tuple[str, ...] = ("FAST", "ASYNC", "S")
    """The ruff rule families of the review shown after a pass (graders.review)."""
    slow_hint: str = ""
    """The likely cause when a learner's test is far slower than the reference's (graders.slow)."""
    tree: Path = ROOT
    """The folder holding katas/ and solutions/ (not in kata.toml): this repository, or a tree
    of katas the engine's own tests are made of."""

    @property
    def number(self) -> int:
        return int(self.folder[:2])

    @property
    def slug(self) -> str:
        return self.folder[3:]

    @property
    def path(self) -> Path:
        return self.tree / "katas" / self.folder

    @property
    def solution_path(self) -> Path:
        return self.tree / "solutions" / self.folder

    @property
    def max_score(self) -> float:
        return sum(task.points for task in self.tasks)

    def task(self, task_id: int) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(task_id)

    def role(self, name: str) -> Role:
        """Whose file `name` is: the one answer to that question, for every command."""
        if name in self.official:
            return "official"
        if name in self.learner:
            return "learner"
        # A module the learner added (or, in a tests kata, another test file of theirs).
        extra = name.endswith(".py") and name != "conftest.py"
        return "learner" if extra and is_test_file(name) == (self.grades == "tests") else "ignored"

    def learner_files(self, folder: Path) -> list[Path]:
        """The learner's files in `folder`, by name."""
        return sorted(p for p in folder.glob("*.py") if self.role(p.name) == "learner")

    def official_files(self) -> list[Path]:
        """The official files as they are in the kata folder now (maybe edited: see pristine)."""
        return [self.path / name for name in self.official if (self.path / name).is_file()]

    def modules(self, names: list[str] | set[str]) -> list[str]:
        """The importable modules among file names: what a job imports before its tests run."""
        return sorted(n[:-3] for n in names if n.endswith(".py") and not is_test_file(n))

    def variant_path(self, name: str) -> Path:
        """The diff that puts the bug called `name` into the given app."""
        return self.solution_path / "variants" / f"{name}.diff"


def is_test_file(name: str) -> bool:
    return name.startswith("test_") and name.endswith(".py")


def load_kata(folder: Path) -> Kata:
    """Read `folder/kata.toml` into a Kata; a file that breaks the format is a KataFormatError."""
    where = f"katas/{folder.name}/kata.toml"
    try:
        data = tomllib.loads((folder / "kata.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise KataFormatError(f"{where}: cannot be read ({error})") from None
    try:
        return parse(folder.name, data, folder.resolve().parent.parent)
    except (KeyError, TypeError, ValueError) as error:
        raise KataFormatError(f"{where}: {describe(error)}") from None


def parse(folder: str, data: dict[str, Any], tree: Path = ROOT) -> Kata:
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"format_version is {version!r}; this grader reads {FORMAT_VERSION}")
    files = data["files"]
    tasks = tuple(
        Task(
            id=int(raw["id"]),
            title=str(raw["title"]),
            points=float(raw["points"]),
            hints=tuple(str(hint) for hint in raw.get("hints", ())),
            variants=tuple(str(name) for name in raw.get("variants", ())),
        )
        for raw in data.get("tasks", ())
    )
    quiz = tuple(
        QuizQuestion(
            question=str(raw["question"]),
            choices=tuple(str(choice) for choice in raw["choices"]),
            answer=str(raw["answer"]),
            explanation=str(raw["explanation"]),
        )
        for raw in data.get("quiz", ())
    )
    grades = data.get("grades", "app")
    if grades not in ("app", "tests"):
        raise ValueError(f"grades is {grades!r}; it is 'app' or 'tests'")
    return Kata(
        folder=folder,
        title=str(data["title"]),
        question=str(data["question"]),
        tasks=tasks,
        learner=tuple(str(name) for name in files["learner"]),
        official=tuple(str(name) for name in files["official"]),
        quiz=quiz,
        grades=grades,
        timeout=float(data.get("timeout", DEFAULT_TIMEOUT)),
        memory_mb=int(data.get("memory_mb", DEFAULT_MEMORY_MB)),
        parallel_tasks=bool(data.get("parallel_tasks", False)),
        review=tuple(str(code) for code in data.get("review", ("FAST", "ASYNC", "S"))),
        slow_hint=str(data.get("slow_hint", "")),
        tree=tree,
    )


def describe(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"the field {error.args[0]!r} is missing"
    return str(error)


def kata_folders(katas_dir: Path = KATAS) -> list[Path]:
    return sorted(p for p in katas_dir.glob("[0-9][0-9]_*") if (p / "kata.toml").is_file())


def load_catalog(katas_dir: Path = KATAS) -> list[Kata]:
    return [load_kata(folder) for folder in kata_folders(katas_dir)]


def find(name: str, katas: list[Kata] | None = None) -> Kata:
    """The kata called `name`: a slug (first_steps), a folder (01_first_steps) or a number (1, 01).

    Without `katas`, only the kata found is read (every kata.toml only to say what was meant).
    """
    wanted = name.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    if katas is None:
        for folder in kata_folders():
            if named(wanted, folder.name):
                return load_kata(folder)
        katas = load_catalog()
    for kata in katas:
        if named(wanted, kata.folder):
            return kata
    raise UsageError(f"unknown kata '{name}'.{closest(wanted, katas)} Katas: {slugs(katas)}")


def named(wanted: str, folder: str) -> bool:
    """Whether `wanted` names the kata in `folder` (NN_slug): by slug, folder or number."""
    return wanted in (folder[3:], folder) or (wanted.isdigit() and int(wanted) == int(folder[:2]))


def closest(name: str, katas: list[Kata]) -> str:
    """` Did you mean 'first_steps'?`, or "" when nothing is close."""
    names = [kata.slug for kata in katas] + [kata.folder for kata in katas]
    close = difflib.get_close_matches(name, names, n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def slugs(katas: list[Kata]) -> str:
    return ", ".join(kata.slug for kata in katas)
