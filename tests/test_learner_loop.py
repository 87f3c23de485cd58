"""The learner's loop: hints, progress, compare, reset, quiz, watch and the HTTP replay."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from graders import replay
from graders.catalog import ROOT
from graders.sandbox import processes, record
from graders.sandbox.servers import FORK_SERVER
from tests.test_cli import graders

FIRST_APP = ROOT / "katas" / "01_first_steps" / "app.py"


class Item(BaseModel):
    name: str
    price: float


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"GRADERS_PROGRESS": str(tmp_path / "progress.json")}


def stored(env: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(env["GRADERS_PROGRESS"]).read_text())
    return data


def test_hint_ladder_climbs_one_level_a_call_and_is_recorded(env: dict[str, str]) -> None:
    first = graders("hint", "first_steps", env=env)
    assert first.returncode == 0
    assert (
        "Task 1" in first.stdout and "Hint 1 of 2" in first.stdout and "Hint 2" not in first.stdout
    )
    second = graders("hint", "first_steps", env=env)
    assert "Hint 2 of 2" in second.stdout and "last hint" in second.stdout
    assert stored(env)["first_steps"]["hints"] == {"1": 2}
    third = graders("hint", "first_steps", env=env)
    assert "Hint 2 of 2" in third.stdout, "the ladder stops at the last hint"


def test_hint_for_a_named_task(env: dict[str, str]) -> None:
    done = graders("hint", "1", "3", env=env)
    assert "Task 3" in done.stdout and "Hint 1 of 2" in done.stdout
    assert graders("hint", "1", "9", env=env).stderr.startswith("error: first_steps has no task 9")


@pytest.mark.once  # grades every kata's stub; grading itself is proven on every Python
def test_progress_table_shows_every_kata_hints_and_next_step(env: dict[str, str]) -> None:
    graders("hint", "1", env=env)
    graders("quiz", "1", "--answers", "b,c,b,a", env=env)
    done = graders("progress", env=env)
    assert done.returncode == 0
    assert "01_first_steps" in done.stdout and "Next: nox -s first_steps" in done.stdout
    row = next(line for line in done.stdout.splitlines() if "01_first_steps" in line)
    cells = [cell.strip() for cell in row.split("│")]
    assert cells[2:6] == ["0/4", "0/10", "1", "3/4"], row


def test_compare_refuses_before_the_kata_passes_unless_forced(env: dict[str, str]) -> None:
    refused = graders("compare", "1", env=env)
    assert refused.returncode == 1 and "Spoiler ahead" in refused.stdout
    forced = graders("compare", "1", "--force", env=env)
    assert forced.returncode == 0
    assert (
        "solutions/01_first_steps/app.py" in forced.stdout
        and "katas/01_first_steps/app.py" in forced.stdout
    )
    assert "-    raise NotImplementedError" not in forced.stdout
    assert "+    raise NotImplementedError" in forced.stdout


def test_quiz_with_answers_explains_and_records(env: dict[str, str]) -> None:
    right = graders("quiz", "1", "--answers", "b,c,b,c", env=env)
    assert right.returncode == 0 and "4 of 4 right" in right.stdout
    wrong = graders("quiz", "1", "--answers", "a,c,b,c", env=env)
    assert wrong.returncode == 1 and "not quite — the answer is b" in wrong.stdout
    assert stored(env)["first_steps"]["quiz"] == {"correct": 3, "total": 4}


@pytest.mark.parametrize(
    ("answers", "says"),
    [("b,c", "--answers has 2 answers for 4 questions"), ("b,c,b,z", "answer 4 is 'z'")],
)
def test_quiz_rejects_bad_answers_in_one_line(env: dict[str, str], answers: str, says: str) -> None:
    done = graders("quiz", "1", "--answers", answers, env=env)
    assert done.returncode == 2 and says in done.stderr and len(done.stderr.splitlines()) == 1


def test_quiz_without_a_terminal_asks_for_answers(env: dict[str, str]) -> None:
    done = graders("quiz", "1", env=env)
    assert done.returncode == 2 and "--answers" in done.stderr


def test_failures_replay_the_request_as_curl(env: dict[str, str], tmp_path: Path) -> None:
    graders("grade", "1", "--json", str(tmp_path / "r.json"), env=env)
    tests = {t["name"]: t for t in json.loads((tmp_path / "r.json").read_text())["tests"]}
    message = tests["test_id_that_is_not_an_integer_is_422_not_500"]["message"]
    assert message.splitlines() == [
        "GET /books/abc → 404, expected 422: book_id is declared int",
        "$ curl -X GET http://127.0.0.1:8000/books/abc",
        '← 404 {"detail":"Not Found"}',
    ]


def test_a_422_detail_reads_as_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpx.Client, "send", httpx.Client.send)  # undone after the test
    monkeypatch.setattr(httpx.AsyncClient, "send", httpx.AsyncClient.send)
    app = FastAPI()

    @app.post("/items")
    def create(item: Item, limit: int = 1) -> Item:
        return item

    record.install()
    with TestClient(app) as client:
        client.post("/items?limit=x", json={"name": "pen"}, headers={"X-Token": "t"})
    lines = replay.describe(record.last_exchange)
    assert lines[0] == (
        "$ curl -X POST 'http://127.0.0.1:8000/items?limit=x' -H 'x-token: t' "
        "-H 'content-type: application/json' -d '{\"name\":\"pen\"}'"
    )
    assert lines[1] == (
        "← 422 query → limit: Input should be a valid integer, unable to parse string as an integer; "
        "body → price: Field required"
    )


def test_reset_backs_up_everything_then_restores_the_stub(clone: Path, env: dict[str, str]) -> None:
    kata = clone / "katas" / "01_first_steps"
    shipped = (kata / "app.py").read_bytes()
    mine = b"# my work in progress\n" + shipped
    (kata / "app.py").write_bytes(mine)
    (kata / "helpers.py").write_text("HELP = 1\n")
    done = graders("reset", "1", cwd=clone, env=env)
    assert done.returncode == 0, done.stderr
    assert (kata / "app.py").read_bytes() == shipped and not (kata / "helpers.py").exists()
    [backup] = sorted((clone / ".learner" / "backups").iterdir())
    assert (backup / "app.py").read_bytes() == mine
    assert (backup / "helpers.py").read_text() == "HELP = 1\n"
    assert backup.name in graders("reset", "1", "--list", cwd=clone, env=env).stdout

    (kata / "app.py").write_bytes(b"# second attempt\n")
    time.sleep(1.1)  # backups are named by the second
    restored = graders("reset", "1", "--restore", backup.name, cwd=clone, env=env)
    assert restored.returncode == 0, restored.stderr
    assert (kata / "app.py").read_bytes() == mine and (kata / "helpers.py").exists()
    contents = {p.read_bytes() for p in (clone / ".learner" / "backups").rglob("app.py")}
    assert b"# second attempt\n" in contents, "the attempt replaced by --restore was backed up too"


def test_reset_keeps_hints_and_quiz_but_not_the_stale_grade(
    clone: Path, env: dict[str, str]
) -> None:
    app = clone / "katas" / "01_first_steps" / "app.py"
    graders("hint", "1", "2", cwd=clone, env=env)
    app.write_text((ROOT / "solutions" / "01_first_steps" / "app.py").read_text())
    graders("grade", "1", cwd=clone, env=env)
    graders("hint", "1", "3", cwd=clone, env=env)  # after the pass: free, not counted
    graders("quiz", "1", "--answers", "b,c,b,c", cwd=clone, env=env)
    assert stored(env)["first_steps"]["status"] == "pass"
    graders("reset", "1", cwd=clone, env=env)
    kept = stored(env)["first_steps"]
    assert kept["hints"] == {"2": 1} and kept["quiz"] == {"correct": 4, "total": 4}
    assert "status" not in kept, "the reset stub no longer passes"


def test_reset_without_the_shipped_stub_touches_nothing(clone: Path, env: dict[str, str]) -> None:
    shutil.rmtree(clone / ".git")
    app = clone / "katas" / "01_first_steps" / "app.py"
    app.write_text("# precious\n")
    done = graders("reset", "1", cwd=clone, env=env)
    assert done.returncode == 2 and "cannot be reset" in done.stderr
    assert app.read_text() == "# precious\n"
    assert not (clone / ".learner" / "backups").exists()


def test_restore_of_an_unknown_backup_is_one_line(env: dict[str, str]) -> None:
    done = graders("reset", "1", "--restore", "nope", env=env)
    assert done.returncode == 2 and "no backup 'nope'" in done.stderr


class Lines:
    """Reads a child's output on a thread, so waiting for a line can give up after a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stream = process.stdout

        def pump() -> None:
            for line in stream:
                self.queue.put(line)

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, marker: str, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                line = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if marker in line:
                return
        raise AssertionError(f"never saw {marker!r}; the output was:\n{''.join(self.seen)}")


def warm_servers_below(pid: int) -> int:
    """How many fork servers run below `pid`: a warm sandbox's, once they are started."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = 0
        for child in processes.descendants(pid):
            with contextlib.suppress(OSError):
                found += FORK_SERVER.encode() in Path(f"/proc/{child}/cmdline").read_bytes()
        if found:
            return found
        time.sleep(0.1)
    return 0


def test_watch_grades_again_on_save_and_says_done(tmp_path: Path, env: dict[str, str]) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(FIRST_APP, folder / "app.py")
    process = subprocess.Popen(
        [sys.executable, "-m", "graders", "watch", "first_steps", "--path", str(folder)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )  # fmt: skip
    lines = Lines(process)
    try:
        lines.wait_for("checking…")
        lines.wait_for("Score 0 / 10")
        lines.wait_for("Watching")
        assert warm_servers_below(process.pid), "no sandbox was warming while watch waited"
        time.sleep(0.5)  # the watcher starts just after it says so
        shutil.copy(ROOT / "solutions" / "01_first_steps" / "app.py", folder / "app.py")
        lines.wait_for("checking…")
        lines.wait_for("Score 10 / 10")
        lines.wait_for("nox -s compare -- first_steps")
    finally:
        process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


SNAPSHOTS = ROOT / "tests" / "snapshots"


@pytest.mark.parametrize(
    ("snapshot", "args"),
    [
        ("grade_first_steps_stub.txt", ["grade", "1"]),
        ("hint_first_steps_task2.txt", ["hint", "1", "2"]),
    ],
)
def test_what_a_learner_sees_matches_the_snapshot(
    snapshot: str, args: list[str], env: dict[str, str]
) -> None:
    """The screens as first read in a terminal; set UPDATE_SNAPSHOTS=1 to accept a deliberate change."""
    done = graders(*args, env={**env, "COLUMNS": "100"})
    seen = re.sub(r"· \d+\.\d s$", "· <seconds> s", done.stdout, flags=re.MULTILINE)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        (SNAPSHOTS / snapshot).write_text(seen, encoding="utf-8")
    assert seen == (SNAPSHOTS / snapshot).read_text(encoding="utf-8")


def test_a_file_that_cannot_be_written_is_one_line_and_exit_1(
    clone: Path, env: dict[str, str]
) -> None:
    (clone / "katas" / "01_first_steps" / "app.py").write_text("# my attempt\n")
    (clone / ".learner").write_text("not a folder")  # where reset keeps its backups
    done = graders("reset", "1", cwd=clone, env=env)
    assert done.returncode == 1, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr
    assert (clone / "katas" / "01_first_steps" / "app.py").read_text() == "# my attempt\n"


def test_a_corrupt_progress_file_is_kept_aside_not_overwritten(env: dict[str, str]) -> None:
    progress = Path(env["GRADERS_PROGRESS"])
    progress.write_text('{"first_steps": {"hints": {"1": 2}')  # cut short
    done = graders("hint", "1", "2", env=env)
    assert done.returncode == 0, done.stderr
    kept = list(progress.parent.glob("progress.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text() == '{"first_steps": {"hints": {"1": 2}'
    assert "could not be read" in done.stderr and kept[0].name in done.stderr
    assert stored(env)["first_steps"]["hints"] == {"2": 1}, "a fresh file holds what came after"
