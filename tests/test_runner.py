"""The job runner: a fresh process for every job, nothing left running, the biggest jobs first."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from graders import runner, workspace
from graders.catalog import ROOT, find
from graders.grade import grade_many
from graders.runner import Job, run_jobs
from tests.conftest import check_schema, submission

FIRST = find("first_steps")
SOLUTION = (FIRST.solution_path / "app.py").read_text(encoding="utf-8")


def test_a_job_cannot_touch_the_grade_of_the_next_one(tmp_path: Path) -> None:
    # This submission breaks the test client for everyone in its process.
    sabotage = (
        "import starlette.testclient\n"
        "starlette.testclient.TestClient.get = lambda *args, **kwargs: None\n" + SOLUTION
    )
    saboteur = submission(FIRST, tmp_path / "saboteur", {"app.py": sabotage})
    # One at a time, so both jobs would share a process if the runner reused them.
    sabotaged, honest = grade_many(
        [(FIRST, "path", saboteur), (FIRST, "solution", None)], workers=1
    )
    check_schema(honest)
    assert sabotaged.status == "fail"
    assert honest.status == "pass", [t.message for t in honest.tests if t.status != "pass"]


def test_what_a_job_starts_is_stopped_when_grading_ends(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    spawner = (
        "import pathlib, subprocess, sys\n"
        "_sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(_sleeper.pid))\n" + SOLUTION
    )
    folder = submission(FIRST, tmp_path / "spawner", {"app.py": spawner})
    [result] = grade_many([(FIRST, "path", folder)])
    assert result.status == "pass"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(pid), f"process {pid}, started by the learner's code, is still running"


def test_a_grader_killed_midway_leaves_no_job_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    hanging = (
        f"import os, pathlib\npathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\n"
        "while True:\n    pass\n"
    )
    folder = submission(FIRST, tmp_path / "hanging", {"app.py": hanging})
    scratch = tmp_path / "scratch"  # a killed grader cannot remove its folders: keep them here
    scratch.mkdir()
    env = {
        **os.environ,
        "GRADERS_PROGRESS": str(tmp_path / "progress.json"),
        "TMPDIR": str(scratch),
    }
    grader = subprocess.Popen(
        [sys.executable, "-m", "graders", "grade", FIRST.slug, "--path", str(folder)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pid_file.exists(), "the job never started"
        time.sleep(0.1)  # the file may be created but not yet written
    finally:
        grader.kill()  # SIGKILL: no clean-up code of the grader's own runs
        grader.wait()
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(pid), f"the hanging job {pid} outlived the grader that started it"


def server_killer(marker: Path | None = None) -> str:
    """Kata 01's solution, but asking for book 3 kills the fork server (once, given a marker)."""
    lookup = "    book = BOOKS.get(book_id)\n"
    once = f" and not pathlib.Path({str(marker)!r}).exists()" if marker else ""
    mark = f"pathlib.Path({str(marker)!r}).touch(); " if marker else ""
    kill = (
        f"    if book_id == 3{once}:\n"
        f"        {mark}os.kill(os.getppid(), signal.SIGKILL)\n"
        "        time.sleep(5)  # the job dies with its server, in the middle of this test\n"
    )
    return "import os, pathlib, signal, time\n" + SOLUTION.replace(lookup, kill + lookup)


def test_a_fork_server_that_dies_is_replaced_and_its_jobs_run_again(tmp_path: Path) -> None:
    folder = submission(FIRST, tmp_path / "once", {"app.py": server_killer(tmp_path / "done")})
    [result] = grade_many([(FIRST, "path", folder)])
    assert (tmp_path / "done").exists(), "the fork server was never killed"
    assert result.status == "pass", [t.message for t in result.tests if t.status != "pass"]


def test_a_submission_that_kills_its_fork_server_harms_no_other(tmp_path: Path) -> None:
    saboteur = submission(FIRST, tmp_path / "saboteur", {"app.py": server_killer()})
    sabotaged, honest = grade_many(
        [(FIRST, "path", saboteur), (FIRST, "solution", None)], workers=1, isolate=True
    )
    check_schema(sabotaged)
    assert sabotaged.status == "fail" and sabotaged.score == 0
    assert all("fork server was killed by signal" in t.message for t in sabotaged.tests)
    assert honest.status == "pass", [t.message for t in honest.tests if t.status != "pass"]


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")  # a killed process waits as a zombie until it is reaped
    return not (stat.exists() and stat.read_text().rsplit(") ", 1)[1].startswith("Z"))


def test_a_grader_that_cannot_start_says_so_and_blames_no_one_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "FORK_SERVER", "graders.no_such_module")
    [result] = grade_many([(FIRST, "solution", None)])
    check_schema(result)
    assert result.status == "error"
    assert result.message and "the grader itself failed" in result.message
    assert "No module named graders.no_such_module" in result.message
    assert "not your code" in result.message


def test_the_fork_server_holds_a_single_thread_when_it_forks() -> None:
    # fork() copies only the calling thread: a lock held by any other would stay locked for good.
    check = "from graders import forkserver; forkserver.warm_up(); import threading; print(threading.active_count())"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "1"


def test_busy_jobs_start_biggest_first_and_sleepy_ones_at_once(tmp_path: Path) -> None:
    (tmp_path / "test_quick.py").write_text("def test_quick():\n    assert 1 + 1 == 2\n")
    (tmp_path / "test_sleepy.py").write_text(
        "import time\n\ndef test_sleepy():\n    time.sleep(0.3)\n"
    )

    def job(name: str, size: int, waits: bool = False) -> Job:
        test = "test_sleepy.py" if waits else "test_quick.py"
        return Job(name, tmp_path, [test], [], 10.0, size=size, waits=waits)

    jobs = [job("small", 1), job("big", 40), job("medium", 12), job("sleepy", 1, waits=True)]
    results = {r.job.id: r for r in run_jobs(jobs, workers=1)}  # one busy job at a time
    assert all(run.status == "pass" for r in results.values() for run in r.tests.values())
    busy = sorted(["small", "big", "medium"], key=lambda name: results[name].began)
    assert busy == ["big", "medium", "small"]
    sleepy, big = results["sleepy"], results["big"]
    assert big.began < sleepy.ended and sleepy.began < big.ended, "the sleepy job waited its turn"


def test_grading_folders_and_tmp_path_live_in_memory_when_it_has_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = tmp_path / "shm"
    memory.mkdir()
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setattr(workspace, "MEMORY", memory)
    folder = workspace.new_root()
    assert folder.parent == memory
    workspace.remove(folder)
    (tmp_path / "test_where.py").write_text(
        f"def test_where(tmp_path):\n    assert str(tmp_path).startswith({str(memory)!r})\n"
    )
    [result] = run_jobs([Job("where", tmp_path, ["test_where.py"], [], 10.0)])
    assert [run.status for run in result.tests.values()] == ["pass"], result.log


@pytest.mark.parametrize("reason", ["the user chose TMPDIR", "too little room", "no such folder"])
def test_grading_folders_stay_in_the_temporary_folder_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reason: str
) -> None:
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setattr(workspace, "MEMORY", tmp_path)
    assert workspace.scratch_parent() == tmp_path  # roomy, writable: it would be used
    if reason == "the user chose TMPDIR":
        monkeypatch.setenv("TMPDIR", str(tmp_path))
    elif reason == "too little room":
        monkeypatch.setattr(workspace, "ROOM_NEEDED", 1 << 60)
    else:
        monkeypatch.setattr(workspace, "MEMORY", tmp_path / "missing")
    assert workspace.scratch_parent() is None
