"""Kept grades (graders.cache): a kata is graded again whenever anything that can change its grade
changed, and read back only when nothing did."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from graders import cache
from graders.catalog import ROOT, Kata, load_kata
from graders.grade import grade_many
from graders.plan import read
from graders.vocabulary import Request

ENGINE_TREE = ROOT / "tests" / "robustness"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the engine's kata, a learner's folder for it, and a progress file of its own."""
    copy = tmp_path / "tree"
    shutil.copytree(ENGINE_TREE / "katas", copy / "katas")
    shutil.copytree(ENGINE_TREE / "solutions", copy / "solutions")
    shutil.copytree(copy / "solutions" / "98_engine", tmp_path / "mine")
    monkeypatch.setenv("GRADERS_PROGRESS", str(tmp_path / "learner" / "progress.json"))
    cache.engine.cache_clear()
    yield copy
    cache.engine.cache_clear()


def kata_of(tree: Path) -> Kata:
    return load_kata(tree / "katas" / "98_engine")


def key_of(tree: Path, folder: Path, isolation: str = "bubblewrap") -> str | None:
    return cache.key(read(Request(kata_of(tree), "path", folder), None), isolation)  # type: ignore[arg-type]


def test_an_unchanged_kata_is_read_back_and_a_changed_one_graded_again(tree: Path) -> None:
    mine = tree.parent / "mine"
    first, again = (
        grade_many(
            [Request(kata_of(tree), "path", mine)], kept=lambda _: cache.learners(kata_of(tree))
        )[0]
        for _ in "12"
    )
    assert not first.cached and again.cached, "the second grade is read back"
    assert (again.score, again.status) == (first.score, first.status)
    assert [t.name for t in again.tests] == [t.name for t in first.tests]
    app = mine / "app.py"
    app.write_text(app.read_text().replace('"nib"', '"quill"'))
    changed = grade_many(
        [Request(kata_of(tree), "path", mine)], kept=lambda _: cache.learners(kata_of(tree))
    )[0]
    assert not changed.cached and changed.status == "fail", "a changed file is graded again"


CHANGES: dict[str, Callable[[Path, pytest.MonkeyPatch], object]] = {
    "a learner's file": lambda tree, _: (tree.parent / "mine" / "app.py").write_text("app = 1\n"),
    "a new module of the learner's": lambda tree, _: (tree.parent / "mine" / "util.py").write_text(
        ""
    ),
    "the official tests": lambda tree, _: (
        tree / "katas" / "98_engine" / "test_engine.py"
    ).write_text("def test_x():\n    pass\n"),
    "kata.toml": lambda tree, _: (tree / "katas" / "98_engine" / "kata.toml").write_text(
        (tree / "katas" / "98_engine" / "kata.toml")
        .read_text()
        .replace("timeout = 3", "timeout = 4")
    ),
    "the installed packages": lambda _, patch: patch.setattr(
        cache, "packages", lambda: ["fastapi-9.9.9.dist-info"]
    ),
    "the Python version": lambda _, patch: patch.setattr(sys, "version", "3.99.0"),
}


@pytest.mark.parametrize("change", CHANGES, ids=lambda name: name.replace(" ", "_"))
def test_a_change_to_any_input_changes_the_key(
    tree: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    mine = tree.parent / "mine"
    before = key_of(tree, mine)
    assert before is not None and before == key_of(tree, mine), "the same inputs, the same key"
    CHANGES[change](tree, monkeypatch)
    cache.engine.cache_clear()
    assert key_of(tree, mine) != before, f"{change} changed, and the key did not"


def test_the_graders_own_code_is_part_of_the_key(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = tmp_path / "code"
    shutil.copytree(
        ROOT / "graders", code / "graders", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", code / "pyproject.toml")
    monkeypatch.setattr(cache, "ROOT", code)
    before = key_of(tree, tree.parent / "mine")
    for edited in (code / "graders" / "score.py", code / "pyproject.toml"):
        edited.write_text(edited.read_text() + "\n# edited\n")
        cache.engine.cache_clear()
        after = key_of(tree, tree.parent / "mine")
        assert after != before, f"{edited.name} changed, and the key did not"
        before = after


def test_how_the_code_is_contained_is_part_of_the_key(tree: Path) -> None:
    mine = tree.parent / "mine"
    assert key_of(tree, mine, "bubblewrap") != key_of(tree, mine, "none")


def test_a_partial_grade_is_never_kept() -> None:
    kata = load_kata(ROOT / "katas" / "01_first_steps")
    assert cache.key(read(Request(kata), None), "none") is not None
    for partial in (Request(kata, tasks=(1,)), Request(kata, until_first_failure=True)):
        assert cache.key(read(partial, None), "none") is None, partial


def test_a_broken_kept_grade_is_graded_again(tree: Path) -> None:
    mine = tree.parent / "mine"
    grade_many([Request(kata_of(tree), "path", mine)], kept=lambda _: cache.learners(kata_of(tree)))
    kept = cache.learners(kata_of(tree))
    kept.write_text(kept.read_text()[:40])
    again = grade_many(
        [Request(kata_of(tree), "path", mine)], kept=lambda _: cache.learners(kata_of(tree))
    )[0]
    assert not again.cached and again.status == "pass"
