"""The job runner: a fresh process for every job, nothing left running, the biggest jobs first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from graders import workspace
from graders.catalog import ROOT, find
from graders.grade import grade_many
from graders.sandbox import Box, Job, JobReport, Layout, run_jobs, runner, servers
from graders.vocabulary import Request
from graders.workspace import running
from tests.conftest import check_schema, submission, with_token

FIRST = find("first_steps")
SOLUTION = (FIRST.solution_path / "app.py").read_text(encoding="utf-8")
LOOKUP = "    book = BOOKS.get(book_id)\n"


def untrusted_jobs(folder: Path, specs: list[tuple[str, str, int, bool]]) -> list[Job]:
    """Jobs that run the test files in `folder` inside one box: (key, test file, size, waits)."""
    box = Box("box", folder)
    layout = Layout(folder / "layout", {folder / "work": {}, folder / "tmp": {}})
    return [
        Job(key=key, box=box, layout=layout, trusted=False, directory=folder,
            work=folder / "work", tmp=folder / "tmp", tests=(test,), size=size, length=size, waits=waits)
        for key, test, size, waits in specs
    ]  # fmt: skip


def run_here(jobs: list[Job]) -> list[JobReport]:
    from graders.sandbox import isolation_here

    return run_jobs(jobs, workers=1, isolation=isolation_here()[0])


def test_what_a_job_starts_is_stopped_when_grading_ends(tmp_path: Path) -> None:
    token = f"left-behind-{os.getpid()}-{time.monotonic_ns()}"
    spawner = (
        "import subprocess, sys\n"
        "_sleeper = subprocess.Popen([sys.executable, '-c', "
        f"'import os, time; os.setsid(); time.sleep(60)  # {token}'])\n" + SOLUTION
    )
    folder = submission(FIRST, tmp_path / "spawner", {"app.py": spawner})
    [result] = grade_many([Request(FIRST, "path", folder)])
    assert result.status == "pass", [t.message for t in result.tests if t.status != "pass"]
    deadline = time.monotonic() + 5
    while with_token(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not with_token(token), "a process started by the learner's code is still running"


def test_a_grader_killed_midway_leaves_no_job_running(tmp_path: Path) -> None:
    marker = tmp_path / "scratch"  # a killed grader cannot remove its folders: keep them here
    marker.mkdir()
    hanging = "import time\nwhile True:\n    time.sleep(0.01)\n"
    folder = submission(FIRST, tmp_path / "hanging", {"app.py": hanging})
    env = {
        **os.environ,
        "GRADERS_PROGRESS": str(tmp_path / "progress.json"),
        "TMPDIR": str(marker),
    }
    grader = subprocess.Popen(
        [sys.executable, "-m", "graders", "grade", FIRST.slug, "--path", str(folder)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not list(marker.glob("graders-*/boxes/*/app/app.py")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(marker.glob("graders-*/boxes/*/app/app.py")), "grading never started"
        while not processes_of(marker) and time.monotonic() < deadline:
            time.sleep(0.05)  # the app host is about to import the endless module
        assert processes_of(marker), "no process runs the learner's code"
    finally:
        grader.kill()  # SIGKILL: no clean-up code of the grader's own runs
        grader.wait()
    deadline = time.monotonic() + 5
    while processes_of(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes_of(marker), "processes outlived the grader that started them"
    workspace.sweep(marker)  # what the next grade does first
    assert not list(marker.glob("graders-*")), "the next grade removes a killed grader's folders"


def processes_of(scratch: Path) -> list[int]:
    """The processes whose command line or working folder is below `scratch`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
            where = os.readlink(entry / "cwd")
        except OSError:
            continue
        if (str(scratch) in command or where.startswith(str(scratch))) and running(int(entry.name)):
            found.append(int(entry.name))
    return found


def app_host_killer() -> str:
    """Kata 01's solution, but asking for book 3 kills the process that serves the app."""
    kill = "    if book_id == 3:\n        os.kill(os.getppid(), signal.SIGKILL)\n"
    return "import os, signal\n" + SOLUTION.replace(LOOKUP, kill + LOOKUP)


def test_a_submission_that_kills_its_app_host_harms_no_other(tmp_path: Path) -> None:
    saboteur = submission(FIRST, tmp_path / "saboteur", {"app.py": app_host_killer()})
    sabotaged, honest = grade_many(
        [Request(FIRST, "path", saboteur), Request(FIRST, "solution")], workers=1, isolate=True
    )
    check_schema(sabotaged)
    assert sabotaged.status == "fail" and sabotaged.score < FIRST.max_score
    book3 = next(t for t in sabotaged.tests if t.name == "test_book_is_found_by_its_integer_id")
    # Whether the host's death is seen during the request or at the next start is a race.
    told = ("exited during this request", "the sandbox that runs it has ended")
    assert book3.status != "pass" and any(words in book3.message for words in told), book3.message
    assert honest.status == "pass", [t.message for t in honest.tests if t.status != "pass"]


def test_a_box_whose_fork_server_dies_gets_a_new_one(tmp_path: Path) -> None:
    marker = tmp_path / "killed-once"
    (tmp_path / "test_once.py").write_text(
        "import os, pathlib, signal, time\n\n"
        "def test_kills_its_server_once():\n"
        f"    marker = pathlib.Path({str(marker)!r})\n"
        "    if not marker.exists():\n"
        "        marker.touch()\n"
        "        os.kill(os.getppid(), signal.SIGKILL)\n"
        "        time.sleep(5)\n"
    )
    [report] = run_here(untrusted_jobs(tmp_path, [("once", "test_once.py", 1, False)]))
    assert marker.exists(), "the fork server was never killed"
    assert not report.problem, report.problem
    assert [run.status for run in report.nodes.values()] == ["pass"] or report.log


def test_a_grade_until_the_first_failure_runs_no_test_after_it() -> None:
    stopped, whole = grade_many([Request(FIRST, until_first_failure=True), Request(FIRST)])
    assert stopped.status == whole.status == "fail"
    assert [t.status for t in stopped.tests].count("fail") == 1
    assert all("did not run" in t.message for t in stopped.tests if t.status != "fail")
    assert all(t.status == "fail" for t in whole.tests)


def test_the_time_after_a_test_is_timed_from_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test longer than the import limit does not make the wait for the next one look hung."""
    monkeypatch.setattr(runner, "IMPORT_TIMEOUT", 5.0)
    (tmp_path / "test_long.py").write_text("import time\n\ndef test_long():\n    time.sleep(7)\n")
    (tmp_path / "conftest.py").write_text(  # a little work after the last test, as pytest does
        "import time\n\ndef pytest_sessionfinish():\n    time.sleep(2)\n"
    )
    [job] = untrusted_jobs(tmp_path, [("long", "test_long.py", 1, False)])
    [report] = run_here([replace(job, timeout=30.0)])
    assert not report.problem, report.problem
    assert [run.status for run in report.nodes.values()] == ["pass"]


def test_a_grader_that_cannot_start_says_so_and_blames_no_one_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(servers, "FORK_SERVER", "graders.no_such_module")
    [result] = grade_many([Request(FIRST, "solution")])
    check_schema(result)
    assert result.status == "error"
    assert result.message and "the grader itself failed" in result.message
    assert "No module named graders.no_such_module" in result.message
    assert "not your code" in result.message


def test_the_fork_server_holds_a_single_thread_when_it_forks() -> None:
    # fork() copies only the calling thread: a lock held by any other would stay locked for good.
    check = (
        "from graders.sandbox import forkserver; forkserver.warm_up(); "
        "import threading; print(threading.active_count())"
    )
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
    specs = [
        ("small", "test_quick.py", 1, False),
        ("big", "test_quick.py", 40, False),
        ("medium", "test_quick.py", 12, False),
        ("sleepy", "test_sleepy.py", 1, True),
    ]
    reports = {r.job.key: r for r in run_here(untrusted_jobs(tmp_path, specs))}
    assert all(run.status == "pass" for r in reports.values() for run in r.nodes.values())
    busy = sorted(["small", "big", "medium"], key=lambda name: reports[name].began)
    assert busy == ["big", "medium", "small"]
    sleepy, big = reports["sleepy"], reports["big"]
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
    hidden = tmp_path / "hidden" / FIRST.folder
    hidden.mkdir(parents=True)
    (hidden / "test_first_steps.py").write_text(
        "import pytest\n\n\n@pytest.mark.task(1)\n"
        f"def test_where(tmp_path):\n    assert str(tmp_path).startswith({str(memory)!r})\n"
    )
    [result] = grade_many([Request(FIRST, "solution")], tests_from=str(tmp_path / "hidden"))
    assert [(t.name, t.status) for t in result.tests] == [("test_where", "pass")], result.tests


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


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_one_signal_stops_a_grade_at_once_and_leaves_nothing(tmp_path: Path, signum: int) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    hanging = SOLUTION.replace(LOOKUP, "    while True:\n        pass\n" + LOOKUP)
    folder = submission(FIRST, tmp_path / "hanging", {"app.py": hanging})
    env = {**os.environ, "GRADERS_PROGRESS": str(tmp_path / "p.json"), "TMPDIR": str(scratch)}
    grader = subprocess.Popen(
        [sys.executable, "-m", "graders", "grade", FIRST.slug, "--path", str(folder)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120  # bounds for a loaded machine, not a speed check
    laid_out = "graders-*/boxes/*/app/app.py"  # before it, a probe of the sandbox comes and goes
    while (
        not list(scratch.glob(laid_out)) and grader.poll() is None and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    while not processes_of(scratch) and grader.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # a test is hanging now
    if not processes_of(scratch):
        grader.kill()
        _, said = grader.communicate()
        raise AssertionError(f"grading never started (exit status {grader.returncode}): {said}")
    grader.send_signal(signum)
    try:  # the hanging test would run for the kata's whole timeout: one signal ends it first
        _, said = grader.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        grader.kill()
        raise AssertionError("one signal did not stop the grade") from None
    assert grader.returncode == 130 and "stopped" in said, said
    assert not processes_of(scratch), "a job process outlived the grade"
    assert not list(scratch.glob("graders-*")), "the grading folders are removed"
