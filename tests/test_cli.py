"""The command line as a learner and an instructor use it: exit codes, messages, result files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import httpx
import jsonschema
import pytest

from graders.catalog import ROOT
from tests.conftest import FIRST_STEPS_TESTS, SCHEMA


def graders(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "120", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "graders", *args],
        cwd=cwd, capture_output=True, text=True, env=environment, timeout=120,
    )  # fmt: skip


def snapshot(*folders: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for folder in folders for p in folder.rglob("*")}


@pytest.fixture
def progress_file(tmp_path: Path) -> dict[str, str]:
    return {"GRADERS_PROGRESS": str(tmp_path / "progress.json")}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["grade", "frist_steps"], "unknown kata 'frist_steps'. Did you mean 'first_steps'?"),
        (["grade", "99"], "unknown kata '99'"),
        (["grade", "1", "--path", "/no/such/folder"], "--path /no/such/folder: no such folder"),
        (
            ["grade", "1", "--solutoin"],
            "unrecognized arguments: --solutoin (usage: python -m graders grade",
        ),
        (["grade", "1", "2"], "unrecognized arguments: 2 (usage: python -m graders grade"),
        (["grade"], "the following arguments are required: kata"),
        (["grade", "1", "--solution", "--path", "."], "not allowed with argument --solution"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: list[str], says: str) -> None:
    done = graders(*args)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_a_misnamed_module_is_named_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("app = None\n")
    done = graders("grade", "1", "--path", str(tmp_path))
    assert done.returncode == 2
    assert "no app.py to grade (found main.py): the kata's modules are app.py" in done.stderr


def test_serve_runs_the_learners_app_until_stopped(tmp_path: Path) -> None:
    port = "8765"
    server = subprocess.Popen(
        [sys.executable, "-m", "graders", "serve", "first_steps", "--port", port],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.2)
        assert reply.status_code == 200 and reply.json()["info"]["title"] == "Bookshelf"
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert not list((ROOT / "katas").rglob("__pycache__")), "serving wrote bytecode into katas/"


def test_unknown_kata_lists_the_valid_ones() -> None:
    assert "Katas: first_steps" in graders("grade", "nope").stderr


@pytest.mark.parametrize(
    "name", ["first_steps", "01_first_steps", "1", "01", "katas/01_first_steps/"]
)
def test_a_kata_is_found_by_slug_folder_or_number(
    name: str, progress_file: dict[str, str], tmp_path: Path
) -> None:
    done = graders(
        "grade", name, "--solution", "--json", str(tmp_path / "r.json"), env=progress_file
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "r.json").read_text())["kata"] == "first_steps"


def test_solution_exits_0_and_writes_valid_result_and_junit(
    tmp_path: Path, progress_file: dict[str, str]
) -> None:
    done = graders(
        "grade", "first_steps", "--solution", "--json", str(tmp_path / "out" / "result.json"),
        "--junit", str(tmp_path / "junit.xml"), env=progress_file,
    )  # fmt: skip
    assert done.returncode == 0
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    jsonschema.validate(result, SCHEMA)
    assert (result["status"], result["target"], result["score"]) == ("pass", "solution", 10)
    suite = ElementTree.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(len(result["tests"]))
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    assert "Score 10 / 10" in done.stdout


def test_stub_exits_1_and_explains_each_failure(
    tmp_path: Path, progress_file: dict[str, str]
) -> None:
    done = graders("grade", "first_steps", "--json", str(tmp_path / "r.json"), env=progress_file)
    assert done.returncode == 1
    assert "GET /books/abc → 404, expected 422: book_id is declared int" in done.stdout
    assert "Traceback" not in done.stdout
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["status"] == "fail" and result["target"] == "learner"
    stored = json.loads(Path(progress_file["GRADERS_PROGRESS"]).read_text())
    assert stored["first_steps"]["tasks_passed"] == []


def test_verbose_shows_pytest_details(progress_file: dict[str, str]) -> None:
    done = graders("grade", "first_steps", "-v", env=progress_file)
    assert "AssertionError" in done.stdout


def test_import_error_exits_1_with_status_error(
    tmp_path: Path, progress_file: dict[str, str]
) -> None:
    (tmp_path / "app.py").write_text("import nonexistent_module\n")
    done = graders(
        "grade", "1", "--path", str(tmp_path), "--json", str(tmp_path / "r.json"), env=progress_file
    )
    assert done.returncode == 1
    result = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(result, SCHEMA)
    assert result["status"] == "error" and "nonexistent_module" in result["message"]
    assert (
        all(test["score"] == 0 for test in result["tests"])
        and len(result["tests"]) == FIRST_STEPS_TESTS
    )
    assert "could not grade" in done.stdout and "app.py, line 1" in done.stdout


def test_grading_writes_nothing_into_katas_or_solutions(progress_file: dict[str, str]) -> None:
    before = snapshot(ROOT / "katas", ROOT / "solutions")
    graders("grade", "1", env=progress_file)
    graders("grade", "1", "--solution", env=progress_file)
    assert snapshot(ROOT / "katas", ROOT / "solutions") == before


def test_pytest_still_runs_a_kata_on_its_own() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "katas/01_first_steps", "-q", "-p", "no:randomly"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert done.returncode == 1, done.stdout
    assert "failed" in done.stdout and "error" not in done.stdout.splitlines()[-1]


def test_edited_official_tests_are_replaced_by_the_shipped_ones(
    clone: Path, tmp_path: Path
) -> None:
    test_file = clone / "katas" / "01_first_steps" / "test_first_steps.py"
    original = test_file.read_text()
    test_file.write_text("import pytest\n\n@pytest.mark.task(1)\ndef test_x():\n    assert True\n")
    try:
        done = graders(
            "grade",
            "1",
            "--json",
            str(tmp_path / "r.json"),
            cwd=clone,
            env={"GRADERS_PROGRESS": str(tmp_path / "p.json")},
        )
    finally:
        test_file.write_text(original)
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["status"] == "fail" and len(result["tests"]) == FIRST_STEPS_TESTS
    assert "differs from the shipped file; graded with the shipped tests" in done.stdout


def test_deleted_official_tests_are_restored_for_grading(clone: Path, tmp_path: Path) -> None:
    test_file = clone / "katas" / "01_first_steps" / "test_first_steps.py"
    original = test_file.read_bytes()
    test_file.unlink()
    try:
        done = graders(
            "grade",
            "1",
            "--solution",
            cwd=clone,
            env={"GRADERS_PROGRESS": str(tmp_path / "p.json")},
        )
    finally:
        test_file.write_bytes(original)
    assert done.returncode == 0 and "is missing; graded with the shipped tests" in done.stdout


def test_edited_tests_without_git_make_the_grade_void(clone: Path, tmp_path: Path) -> None:
    bare = tmp_path / "no-git"
    shutil.copytree(clone, bare, ignore=shutil.ignore_patterns(".git"))
    (bare / "katas" / "01_first_steps" / "test_first_steps.py").write_text(
        "def test_x():\n    assert True\n"
    )
    done = graders(
        "grade",
        "1",
        "--json",
        str(tmp_path / "r.json"),
        cwd=bare,
        env={"GRADERS_PROGRESS": str(tmp_path / "p.json")},
    )
    assert done.returncode == 1
    result = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(result, SCHEMA)
    assert result["status"] == "error" and "was changed" in result["message"]


def test_vs_code_runs_the_grading_venv_and_the_kata_of_the_open_file() -> None:
    settings = json.loads((ROOT / ".vscode" / "settings.json").read_text())
    assert settings["python.defaultInterpreterPath"] == "${workspaceFolder}/.nox/_grader/bin/python"
    assert settings["python.testing.pytestEnabled"] is True
    tasks = json.loads((ROOT / ".vscode" / "tasks.json").read_text())["tasks"]
    sessions = (ROOT / "noxfile.py").read_text()
    for task in tasks:
        _, _, session, rest = task["command"].split(" ", 3)
        assert f'("{session}", "{session}",' in sessions, f"{task['label']}: no session {session}"
        assert rest == "-- ${fileDirnameBasename}", "the open file's folder names the kata"


def test_pytest_runs_several_katas_at_once(tmp_path: Path) -> None:
    tree = tmp_path / "katas"
    for folder in ("01_first_steps", "08_bigger_applications"):  # both have an app.py
        shutil.copytree(ROOT / "katas" / folder, tree / folder)
        for module in (ROOT / "solutions" / folder).glob("*.py"):
            shutil.copy(module, tree / folder / module.name)
    done = subprocess.run(  # as `pytest katas/` in the repository, on the reference solutions
        [sys.executable, "-m", "pytest", "-q", "-c", str(ROOT / "pyproject.toml"),
         "--rootdir", str(tmp_path), str(tree)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
