"""Shared helpers for the repository's own tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from graders import export
from graders.catalog import ROOT, Kata, load_catalog
from graders.grade import grade_many
from graders.score import KataGrade, expected_tests
from graders.vocabulary import Request
from graders.workspace import running

NEAR_MISSES = ROOT / "tests" / "near_misses"
# Data, not the repository's tests: wrong apps and weak learner suites, hostile submissions (one
# ships a conftest.py that clears every collected test) and the engine's own kata. They are only
# ever run through the grader, each in its own box.
collect_ignore = ["near_misses", "robustness", "snapshots"]
FIRST_STEPS_TESTS = len(
    expected_tests(
        "test_first_steps.py", (ROOT / "katas/01_first_steps/test_first_steps.py").read_bytes()
    )
)  # how many test functions kata 01 ships
SCHEMA = json.loads(export.SCHEMA.read_text(encoding="utf-8"))
# `nox -s verify` proves what does not change with the Python version on one Python only (the
# newest installed): the near misses and alternative solutions, the sandbox's fallback. Outside
# nox (a plain `pytest tests/`), everything runs.
ONCE = os.environ.get("GRADERS_VERIFY_ONCE", "1") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the other Pythons, the tests marked `once` are deselected (and counted as such)."""
    if ONCE:
        return
    elsewhere = [item for item in items if item.get_closest_marker("once")]
    if elsewhere:
        items[:] = [item for item in items if not item.get_closest_marker("once")]
        config.hook.pytest_deselected(items=elsewhere)


def check_schema(result: KataGrade) -> KataGrade:
    """Every result file the tests produce must match the published schema."""
    jsonschema.validate(export.as_json(result), SCHEMA)
    return result


def graded(requests: list[Request]) -> list[KataGrade]:
    return [check_schema(result) for result in grade_many(requests)]


def submission(kata: Kata, folder: Path, replacements: dict[str, str | bytes]) -> Path:
    """A folder holding the reference solution of `kata` with some files replaced."""
    source = kata.solution_path
    folder.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.py"):
        shutil.copy(path, folder / path.name)
    for name, content in replacements.items():
        data = content.encode() if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="session")
def katas() -> list[Kata]:
    return load_catalog()


def make_clone(target: Path) -> Path:
    """A committed copy of the repository at `target`, as a learner's clone would be."""
    ignore = shutil.ignore_patterns(".git", ".nox", ".venv", ".learner", "__pycache__", "*.pyc")
    shutil.copytree(ROOT, target, ignore=ignore)
    for command in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", *command], cwd=target, check=True, capture_output=True)
    return target


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A learner's clone of the repository of its own (commands may write into its katas/)."""
    return make_clone(tmp_path / "repo")


def with_token(token: str) -> list[int]:
    """The running processes whose command line holds `token`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and token in (entry / "cmdline").read_text(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in found if running(pid)]
