"""A sandbox started ahead of a save (graders.warm) grades what was saved, and only that once."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from graders.catalog import Kata, find
from graders.grade import grade
from graders.plan import plan, read
from graders.sandbox import servers
from graders.vocabulary import Request
from graders.warm import WarmStart

FIRST = find("first_steps")


def put(kata: Kata, source: Path, folder: Path) -> None:
    for module in kata.solution_path.glob("*.py"):
        shutil.copy(source / module.name, folder / module.name)


def outcomes(result: object) -> list[tuple[str, str, float]]:
    return [(t.name, t.status, t.score) for t in result.tests]  # type: ignore[attr-defined]


def wait_until_warm(warm: WarmStart) -> list[servers.ServerProcess]:
    assert warm.run is not None
    started = [*warm.run.boxes.values(), *([warm.run.trusted] if warm.run.trusted else [])]
    launched = [process for server in started for process in server.launched]
    deadline = time.monotonic() + 60
    while not all(process.ready for process in launched) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert launched and all(process.ready for process in launched), "the servers never warmed up"
    return launched


@pytest.mark.parametrize("first", ["stub", "solution"])
def test_a_warm_start_grades_the_files_as_they_are_at_the_save(tmp_path: Path, first: str) -> None:
    """Warmed with one version, graded after the other was saved: the grade is the saved one's,
    test for test the same as a grade started cold."""
    before, after = (FIRST.path, FIRST.solution_path)
    if first == "solution":
        before, after = after, before
    put(FIRST, before, tmp_path)
    request = Request(FIRST, "path", tmp_path)
    warm = WarmStart(request)
    wait_until_warm(warm)
    put(FIRST, after, tmp_path)
    warmed = grade(request, warm)
    cold = grade(request)
    assert warmed.status == cold.status == ("pass" if after == FIRST.solution_path else "fail")
    assert outcomes(warmed) == outcomes(cold)
    assert not warm.root.exists(), "the warm start's folders outlived its grade"


@pytest.mark.once
def test_a_warm_grade_starts_no_server_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(FIRST, FIRST.solution_path, tmp_path)
    request = Request(FIRST, "path", tmp_path)
    warm = WarmStart(request)
    launched = wait_until_warm(warm)
    started: list[object] = []
    original = servers.ServerProcess.__init__

    def counted(self: servers.ServerProcess, *args: object, **kwargs: object) -> None:
        started.append(self)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(servers.ServerProcess, "__init__", counted)
    assert grade(request, warm).status == "pass"
    assert started == [], "the grade started servers of its own beside the warm ones"
    assert all(process.process.poll() is not None for process in launched), (
        "the warm servers outlived the grade they served"
    )


@pytest.mark.once
def test_an_unused_warm_start_leaves_no_process_and_no_folder(tmp_path: Path) -> None:
    put(FIRST, FIRST.path, tmp_path)
    warm = WarmStart(Request(FIRST, "path", tmp_path))
    launched = wait_until_warm(warm)
    warm.close()
    assert all(process.process.poll() is not None for process in launched)
    assert not warm.root.exists()
    warm.close()  # a second close is harmless


@pytest.mark.once
def test_a_warm_start_before_the_module_exists_still_grades_it(tmp_path: Path) -> None:
    """Nothing to warm for a folder without app.py; once the file is saved it is graded."""
    request = Request(FIRST, "path", tmp_path)
    warm = WarmStart(request)
    assert warm.run is None
    WarmStart(request).close()
    put(FIRST, FIRST.solution_path, tmp_path)
    assert grade(request, warm).status == "pass"
    assert not warm.root.exists()


@pytest.mark.once
def test_jobs_that_need_other_folders_get_no_warm_servers(tmp_path: Path) -> None:
    put(FIRST, FIRST.path, tmp_path)
    warm = WarmStart(Request(FIRST, "path", tmp_path))
    launched = wait_until_warm(warm)
    other = find("auth")
    elsewhere = plan(read(Request(other, "solution"), None), 0, warm.root, warm.box).jobs
    assert warm.take(elsewhere) is None
    assert all(process.process.poll() is not None for process in launched)
    warm.close()
    assert not warm.root.exists()
