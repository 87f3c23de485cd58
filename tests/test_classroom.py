"""Grading a class: batch gradebooks, trusted tests, Gradescope results and the CI command."""

from __future__ import annotations

import io
import json
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from graders import ci
from graders.catalog import ROOT, load_catalog
from graders.score import expected_tests
from tests.test_cli import graders

SOLUTION = (ROOT / "solutions" / "01_first_steps" / "app.py").read_text()
STUB = (ROOT / "katas" / "01_first_steps" / "app.py").read_text()
GRADESCOPE = json.loads((ROOT / "graders" / "gradescope.schema.json").read_text())
RESULT = json.loads((ROOT / "graders" / "result.schema.json").read_text())
HANG = SOLUTION.replace(
    "    book = BOOKS.get(book_id)\n",
    "    while book_id == 3: pass\n    book = BOOKS.get(book_id)\n",
)


@pytest.fixture(scope="module")
def submissions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A class of six: right, wrong, crashing, hanging, empty, and one who handed in a clone."""
    root = tmp_path_factory.mktemp("class")
    files = {
        "ada/app.py": SOLUTION,
        "bo/app.py": STUB,
        "cy/app.py": "import os\nos._exit(7)\n",
        "di/app.py": HANG,
        "ed/notes.txt": "I ran out of time\n",
        "gus/main.py": SOLUTION,
        "flo/katas/01_first_steps/app.py": SOLUTION,
        "flo/katas/01_first_steps/test_first_steps.py": "def test_mine():\n    assert True\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture(scope="module")
def gradebook(submissions: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    first, second = tmp_path_factory.mktemp("book1"), tmp_path_factory.mktemp("book2")
    for out in (first, second):
        done = graders(
            "batch", str(submissions), "--kata", "1", "--out", str(out), "--timeout", "3"
        )
        assert done.returncode == 0, done.stderr
    return first, second


def test_gradebook_has_a_row_a_submission_with_scores_per_task(
    gradebook: tuple[Path, Path],
) -> None:
    rows = (gradebook[0] / "gradebook.csv").read_text().splitlines()
    header = (
        "submission,task 1,task 2,task 3,task 4,total,max,verified,self-reported,status,message"
    )
    assert rows[0] == header
    by_name = {
        row.split(",")[0]: dict(zip(header.split(","), row.split(","), strict=False))
        for row in rows[1:]
    }
    assert sorted(by_name) == ["ada", "bo", "cy", "di", "ed", "flo", "gus"]
    ada = by_name["ada"]
    assert [ada[f"task {n}"] for n in (1, 2, 3, 4)] == ["2", "3", "2", "3"]
    assert (ada["total"], ada["max"], ada["status"]) == ("10", "10", "pass")
    assert float(ada["verified"]) + float(ada["self-reported"]) == 10
    assert float(ada["verified"]) >= 9, "kata 01 is graded over HTTP but for one white-box test"
    assert (by_name["flo"]["total"], by_name["flo"]["status"]) == ("10", "pass"), (
        "a clone is found, its own tests ignored"
    )
    assert by_name["bo"]["status"] == "fail"
    assert by_name["cy"]["status"] == "error" and "exited with code 7" in by_name["cy"]["message"]
    assert by_name["di"]["status"] == "fail" and by_name["di"]["task 1"] != "2", (
        "a hang costs its test only"
    )
    assert by_name["ed"]["status"] == "error" and "no kata files found" in by_name["ed"]["message"]
    assert by_name["gus"]["status"] == "error"
    assert "no app.py to grade (found main.py)" in by_name["gus"]["message"]


def test_a_second_run_gives_the_same_gradebook(gradebook: tuple[Path, Path]) -> None:
    first, second = gradebook
    for name in ("gradebook.csv", "gradebook.md"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_every_submission_gets_a_valid_result_file(gradebook: tuple[Path, Path]) -> None:
    files = sorted((gradebook[0] / "results").glob("*.json"))
    assert [f.stem for f in files] == ["ada", "bo", "cy", "di", "ed", "flo", "gus"]
    for file in files:
        jsonschema.validate(json.loads(file.read_text()), RESULT)


def test_markdown_gradebook_is_a_table(gradebook: tuple[Path, Path]) -> None:
    lines = (gradebook[0] / "gradebook.md").read_text().splitlines()
    assert lines[0] == "# Gradebook · 01_first_steps · First steps"
    assert lines[2].startswith("| submission | task 1 |") and lines[3].startswith("|---|")
    assert len(lines) == 4 + 7


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["batch", "/no/such", "--kata", "1", "--out", "x"], "/no/such: no such folder"),
        (["batch", ".", "--kata", "zz", "--out", "x"], "unknown kata 'zz'"),
        (["batch", ".", "--out", "x"], "the following arguments are required: --kata"),
        (["batch", ".", "--kata", "1", "--out", "x", "--workers", "0"], "--workers 0"),
        (
            ["grade", "1", "--tests-from", "no-such-ref"],
            "--tests-from no-such-ref: neither a folder nor a git ref",
        ),
    ],
)
def test_classroom_usage_errors_are_one_line(args: list[str], says: str) -> None:
    done = graders(*args)
    assert done.returncode == 2 and says in done.stderr and len(done.stderr.splitlines()) == 1


def test_tests_from_a_trusted_folder_replace_the_official_tests(tmp_path: Path) -> None:
    trusted = tmp_path / "trusted" / "01_first_steps"
    trusted.mkdir(parents=True)
    (trusted / "test_first_steps.py").write_text(
        "import pytest\nimport app as kata\n\n\n"
        "@pytest.mark.task(1)\n@pytest.mark.white_box\n"
        "def test_hidden_check():\n    assert kata.BOOKS[1]['title'] == 'Dune', 'hidden'\n"
    )
    done = graders(
        "grade",
        "1",
        "--solution",
        "--tests-from",
        str(tmp_path / "trusted"),
        "--json",
        str(tmp_path / "r.json"),
    )
    assert done.returncode == 0, done.stdout
    result = json.loads((tmp_path / "r.json").read_text())
    assert [t["name"] for t in result["tests"]] == ["test_hidden_check"]
    assert "official files taken from" in done.stdout


def test_tests_from_a_git_ref(tmp_path: Path) -> None:
    done = graders(
        "grade", "1", "--solution", "--tests-from", "HEAD", "--json", str(tmp_path / "r.json")
    )
    assert done.returncode == 0, done.stdout + done.stderr
    at_head = subprocess.run(
        ["git", "show", "HEAD:katas/01_first_steps/test_first_steps.py"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    wanted = [e.name for e in expected_tests("test_first_steps.py", at_head)]
    assert [t["name"] for t in json.loads((tmp_path / "r.json").read_text())["tests"]] == wanted


def test_gradescope_results_match_the_schema(tmp_path: Path) -> None:
    graders("grade", "1", "--solution", "--gradescope", str(tmp_path / "pass.json"))
    graders(
        "grade",
        "1",
        "--gradescope",
        str(tmp_path / "fail.json"),
        env={"GRADERS_PROGRESS": str(tmp_path / "p")},
    )
    passed, failed = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("pass", "fail"))
    for document in (passed, failed):
        jsonschema.validate(document, GRADESCOPE)
    assert passed["score"] == passed["max_score"] == 10
    assert {t["status"] for t in passed["tests"]} == {"passed"}
    assert failed["score"] == 0
    first = failed["tests"][0]
    assert (
        first["name"] == "Task 1 · test_book_is_found_by_its_integer_id"
        and first["status"] == "failed"
    )
    assert "GET /books/3 → 404, expected 200" in first["output"]


@pytest.mark.once  # grades every kata's stub; grading itself is proven on every Python
def test_ci_command_writes_results_and_a_markdown_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {"GRADERS_PROGRESS": str(tmp_path / "p.json")}
    done = graders("ci", "--out", str(tmp_path / "results"), "--summary", str(summary), env=env)
    assert done.returncode == 0, done.stderr
    text = summary.read_text()
    assert text.startswith("earlier step\n## FastAPI katas"), "the summary is appended to"
    assert "| 01_first_steps | 0/4 | 0/10 | ❌ fail |" in text and "**Total:" in text
    katas = sorted(
        p.name for p in (ROOT / "katas").iterdir() if p.is_dir() and p.name[:2].isdigit()
    )
    assert sorted(p.stem for p in (tmp_path / "results").glob("*.json")) == katas
    assert len(list((tmp_path / "results").glob("*.junit.xml"))) == len(katas)
    # --strict and GitHub's summary file, on the first kata alone (every kata was graded above)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "gh.md"))
    monkeypatch.setattr(ci, "load_catalog", lambda: load_catalog()[:1])
    strict = ci.ci(tmp_path / "r2", None, strict=True, console=Console(file=io.StringIO()))
    assert strict == 1, "a stub fails, so --strict fails"
    assert "| 01_first_steps | 0/4 | 0/10 | ❌ fail |" in (tmp_path / "gh.md").read_text()


def test_the_workflow_calls_our_ci_command_and_keeps_the_files() -> None:
    workflow = (ROOT / ".github" / "workflows" / "grade.yml").read_text()
    assert "nox -s ci -- --out results" in workflow
    assert "actions/upload-artifact" in workflow and "path: results/" in workflow
    uses = [line.split("uses:")[1].strip() for line in workflow.splitlines() if "uses:" in line]
    assert all(
        action.startswith(("actions/checkout", "actions/setup-python", "actions/upload-artifact"))
        for action in uses
    ), f"only GitHub's own actions, no classroom autograder: {uses}"


HOSTILE = {
    # Appends `raise SystemExit` to every classmate's code it can find: laid out or handed in.
    "eve": "import glob\n"
    "for _path in glob.glob('/dev/shm/graders-*/boxes/*/app/app.py') + glob.glob('/tmp/graders-*/boxes/*/app/app.py') + glob.glob('{submissions}/*/app.py'):\n"
    "    try:\n"
    "        open(_path, 'a').write('\\nraise SystemExit\\n')\n"
    "    except OSError:\n"
    "        pass\n",
    # Forges every report of the process it runs in.
    "mal": "import _pytest.reports as _r\n_made = _r.TestReport.__init__\n"
    "def _passed(self, *a, **k):\n    _made(self, *a, **k)\n    self.outcome, self.longrepr = 'passed', None\n"
    "_r.TestReport.__init__ = _passed\n",
    # Leaves a daemon that rewrites the gradebook after the batch.
    "dan": "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
    "        for _ in range(60):\n            time.sleep(0.1)\n"
    "            try:\n                open('{out}/gradebook.csv', 'w').write('dan,10\\n')\n"
    "            except OSError:\n                pass\n    os._exit(0)\n",
}


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, bytes]]:
    """Two honest students, a stub, and three hostile ones, graded with --verified-only."""
    root = tmp_path_factory.mktemp("hostile")
    submissions, out = root / "submissions", root / "out"
    files = {"ada": SOLUTION, "bo": STUB}
    files |= {name: code + STUB for name, code in HOSTILE.items()}
    for name, text in files.items():
        (submissions / name).mkdir(parents=True)
        text = text.replace("{submissions}", str(submissions)).replace("{out}", str(out))
        (submissions / name / "app.py").write_text(text)
    (submissions / "zoe").mkdir()
    (submissions / "zoe" / "app.py").write_text(SOLUTION)
    handed_in = {p.parent.name: p.read_bytes() for p in submissions.glob("*/app.py")}
    done = graders(
        "batch", str(submissions), "--kata", "1", "--out", str(out), "--verified-only",
        "--timeout", "3",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    time.sleep(1)  # long enough for a daemon that outlived the batch to write
    return submissions, out, handed_in


def test_batch_gives_honest_grades_beside_hostile_submissions(
    hostile_class: tuple[Path, Path, dict[str, bytes]],
) -> None:
    submissions, out, handed_in = hostile_class
    rows = {
        row.split(",")[0]: row.split(",")
        for row in (out / "gradebook.csv").read_text().splitlines()[1:]
    }
    assert sorted(rows) == ["ada", "bo", "dan", "eve", "mal", "zoe"], "the gradebook is ours, whole"
    header = (out / "gradebook.csv").read_text().splitlines()[0].split(",")
    total = header.index("total")
    verified = header.index("verified")
    assert rows["ada"][total] == rows["zoe"][total] == rows["ada"][verified], (
        "the honest ones keep every verified point"
    )
    assert float(rows["ada"][total]) >= 9, "kata 01 is graded over HTTP but for a white-box test"
    for name in HOSTILE:  # each earns what its honest HTTP behaviour (the stub's) earns
        assert rows[name][total] == rows["bo"][total], f"{name}: {rows[name]}"
    now = {p.parent.name: p.read_bytes() for p in submissions.glob("*/app.py")}
    assert now == handed_in, "no submission's files were changed in the submissions folder"


def test_batch_leaves_nothing_running_or_written_outside(
    hostile_class: tuple[Path, Path, dict[str, bytes]],
) -> None:
    _, out, _ = hostile_class
    written = sorted(p.name for p in out.iterdir())
    assert written == [".kept", "gradebook.csv", "gradebook.md", "gradescope", "results"]
    for line in (out / "gradebook.csv").read_text().splitlines():
        assert not line.startswith("dan,10"), "a daemon rewrote the gradebook"
