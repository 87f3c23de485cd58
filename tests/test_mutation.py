"""tools/mutation.py: what it mutates, what it leaves to the stub, and that it grades for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from graders.catalog import UsageError, find, load_catalog
from graders.vocabulary import Request
from tools import mutation
from tools.mutation import Mutant, mutants_of, mutate_source

SAMPLE = """\
from typing import Annotated

from fastapi import Depends, FastAPI, Query
from pydantic import BaseModel, Field

app = FastAPI()


class Item(BaseModel):
    name: str = Field(min_length=1)


def page_size() -> int:
    return 10


@app.get("/items", summary="List items")
def list_items(
    limit: Annotated[int, Query(le=50)] = 10, size: int = Depends(page_size)
) -> list[Item]:
    if limit > size:
        limit = size
    return [Item(name="a")] * limit
"""


def afters(mutants: list[Mutant]) -> set[str]:
    return {m.after for m in mutants}


def test_decorated_routes_their_decorators_and_parameter_declarations_are_mutated() -> None:
    found = afters(mutate_source("00_sample/app.py", SAMPLE))
    assert "if limit >= size:" in found, "the body of a decorated route is mutated"
    assert '@app.get("XX/itemsXX", summary="List items")' in found, "decorator arguments"
    assert '@app.get("/items", )' in found, "a decorator argument is dropped"
    assert "limit: Annotated[int, Query(le=51)] = 10, size: int = Depends(page_size)" in found
    assert "limit: Annotated[int, Query(le=50)] = 11, size: int = Depends(page_size)" in found
    assert "limit: Annotated[int, Query(le=50)] = 10, size: int = Depends(None)" in found
    assert "name: str = Field(min_length=2)" in found, "class bodies are mutated"
    assert "app = None" in found, "module-level code is mutated"


def test_every_mutant_changes_the_file_and_no_two_are_alike() -> None:
    mutants = mutate_source("00_sample/app.py", SAMPLE)
    sources = [m.source for m in mutants]
    assert SAMPLE not in sources
    assert len(set(sources)) == len(sources)
    first = next(m for m in mutants if m.after == "if limit >= size:")
    assert first.before == "if limit > size:"
    assert first.line == SAMPLE.splitlines().index("    if limit > size:") + 1
    assert "-    if limit > size:\n+    if limit >= size:\n" in first.diff()


def test_lines_the_stub_gives_are_not_mutated() -> None:
    given = {"app = FastAPI()", "name: str = Field(min_length=1)", ""}
    found = afters(mutate_source("00_sample/app.py", SAMPLE, given))
    assert "app = None" not in found
    assert "name: str = Field(min_length=2)" not in found
    assert "if limit >= size:" in found


def test_no_mutant_of_a_solution_changes_only_lines_of_its_stub() -> None:
    kata = find("first_steps")
    stub = {line.strip() for line in (kata.path / "app.py").read_text().splitlines()}
    mutants = mutants_of(kata)
    assert mutants
    for mutant in mutants:
        assert not set(mutant.before.split("\n")) <= stub, mutant.before


def test_the_draw_is_reproducible_and_follows_the_seed() -> None:
    kata = find("first_steps")
    mutants = mutants_of(kata)
    first = mutation.sample(kata, mutants, 10, 1)
    assert len(first) == 10
    assert first == mutation.sample(kata, mutants, 10, 1)
    assert first != mutation.sample(kata, mutants, 10, 2)
    assert mutation.sample(kata, mutants, 10_000, 1) == mutants


def test_every_recorded_equivalent_is_still_a_mutant_of_todays_solution() -> None:
    entries = mutation.load_equivalents()
    assert entries, "tools/mutation-equivalents.toml lists no mutant"
    keys: set[mutation.Key] = set()
    for kata in load_catalog():
        keys |= {m.key for m in mutants_of(kata)}
    stale = [e for e in entries if e.key not in keys]
    assert not stale, f"no mutant matches these entries any more (update or remove them): {stale}"
    assert all(e.reason.strip() for e in entries)


def test_a_printed_entry_reads_back_as_the_same_key(tmp_path: Path) -> None:
    mutant = next(m for m in mutants_of(find("first_steps")) if '"' in m.after)
    entry = mutant.toml_entry().replace('reason = ""', 'reason = "for the test"')
    path = tmp_path / "equivalents.toml"
    path.write_text(f"format_version = 1\n\n{entry}", encoding="utf-8")
    assert [e.key for e in mutation.load_equivalents(path)] == [mutant.key]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("format_version = 1\n[[equivalent]]\nfile = 'a'\n", "entry 1 needs exactly"),
        ("format_version = 2\n", "want format_version = 1"),
        ("format_version = = 1\n", "not valid TOML"),
    ],
)
def test_a_malformed_equivalents_file_is_named(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "equivalents.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=problem):
        mutation.load_equivalents(path)


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["no_such_kata"], "unknown kata 'no_such_kata'"),
        (["1", "--sample", "0"], "--sample 0: give a whole number, 1 or more"),
        (["1", "--sample", "many"], "--sample many: give a whole number"),
        (["1", "--seed", "-1"], "--seed -1: give a whole number, 0 or more"),
        (["1", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    argv: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mutation.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert problem in captured.err
    assert captured.err.count("\n") == 1


def test_mutants_of_first_steps_are_graded_for_real(tmp_path: Path) -> None:
    kata = find("first_steps")
    by_after = {m.after: m for m in mutants_of(kata)}
    chosen = [
        by_after["if book is not None:"],  # every known book becomes a 404
        by_after['@app.get(None, tags=["books"], summary="Get one book")'],  # no path: no import
    ]
    folders = []
    for index, mutant in enumerate(chosen):
        folder = mutation.copy_solution(kata, tmp_path / str(index))
        (folder / mutant.name).write_text(mutant.source, encoding="utf-8")
        folders.append(folder)
    requests = [Request(kata, "path", folder, until_first_failure=True) for folder in folders]
    assert mutation.grade(requests) == ["killed", "import"]


def test_a_mutant_is_graded_until_its_first_failure_and_the_solution_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Request] = []

    def record(requests: list[Request]) -> list[str]:
        seen.extend(requests)
        return ["survived"] * len(requests)

    monkeypatch.setattr(mutation, "grade", record)
    report = mutation.run(find("first_steps"), 3, seed=0, equivalents=set())
    assert [r.until_first_failure for r in seen] == [False, True, True, True]
    assert [r.path.name for r in seen if r.path] == ["solution", "0000", "0001", "0002"]
    assert report.baseline == "survived" and len(report.graded) == 3
