"""A class of thousands: shards of a batch merge into the gradebook one batch would have written;
a batch started again grades only what it had not; every kata in one pass."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from graders.batch import Shard, parse_shard
from graders.catalog import ROOT, UsageError
from tests.test_cli import graders

SOLUTION = (ROOT / "solutions" / "01_first_steps" / "app.py").read_text()
STUB = (ROOT / "katas" / "01_first_steps" / "app.py").read_text()
NAMES = [f"student{number:02d}" for number in range(9)]


@pytest.fixture(scope="module")
def submissions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("class")
    for number, name in enumerate(NAMES):
        (root / name).mkdir()
        text = [SOLUTION, STUB, "import os\nos._exit(3)\n"][number % 3]
        (root / name / "app.py").write_text(text)
    (root / "nobody").mkdir()  # a submission without the kata's files
    return root


def batch(submissions: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    done = graders("batch", str(submissions), "--kata", "1", "--out", str(out), *extra)
    assert done.returncode == 0, done.stderr
    return done


def without_times(folder: Path) -> dict[str, object]:
    """Every result file under `folder`, without the one field that differs run to run."""
    found: dict[str, object] = {}
    for file in sorted((folder / "results").rglob("*.json")):
        document = json.loads(file.read_text())
        document.pop("duration")
        for test in document["tests"]:
            test.pop("duration")
        found[file.relative_to(folder).as_posix()] = document
    return found


@pytest.fixture(scope="module")
def whole_and_merged(
    submissions: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("books")
    batch(submissions, root / "whole")
    for index in range(3):
        batch(submissions, root / f"shard-{index}", "--shard", f"{index}/3")
    done = graders(
        "merge", *(str(root / f"shard-{i}") for i in range(3)), "--out", str(root / "merged")
    )
    assert done.returncode == 0, done.stderr
    return root / "whole", root / "merged"


@pytest.mark.once  # sharding is bookkeeping: it does not change with the Python
def test_shards_merged_are_the_gradebook_of_one_batch(whole_and_merged: tuple[Path, Path]) -> None:
    whole, merged = whole_and_merged
    for name in ("gradebook.csv", "gradebook.md"):
        assert (merged / name).read_bytes() == (whole / name).read_bytes(), name
    assert without_times(merged) == without_times(whole)
    assert sorted(p.name for p in (merged / "gradescope").iterdir()) == sorted(
        p.name for p in (whole / "gradescope").iterdir()
    )


def test_every_submission_is_in_exactly_one_shard_whatever_the_order() -> None:
    names = [f"s{number}" for number in range(200)]
    shards = [Shard(index, 4) for index in range(4)]
    owners = [[shard.index for shard in shards if shard.takes(name)] for name in names]
    assert all(len(owner) == 1 for owner in owners)
    assert {owner[0] for owner in owners} == {0, 1, 2, 3}, "no shard is left empty"
    assert [Shard(1, 4).takes(n) for n in reversed(names)] == [Shard(1, 4).takes(n) for n in names][
        ::-1
    ]


def test_the_index_comes_from_a_kubernetes_indexed_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "2")
    assert parse_shard("4") == Shard(2, 4)
    assert parse_shard("1/4") == Shard(1, 4)
    monkeypatch.delenv("JOB_COMPLETION_INDEX")
    for text, says in (
        ("4", "set JOB_COMPLETION_INDEX"),
        ("4/4", "here 0 to 3"),
        ("a/b", "whole numbers"),
    ):
        with pytest.raises(UsageError, match=says):
            parse_shard(text)


@pytest.mark.parametrize(
    ("shards", "says"),
    [
        ([0, 1], "shard 2 of 3 is missing"),
        ([0, 1, 1, 2], "shard 1 of 3 is given twice"),
    ],
)
def test_merge_refuses_shards_that_do_not_make_one_whole(
    whole_and_merged: tuple[Path, Path], shards: list[int], says: str, tmp_path: Path
) -> None:
    root = whole_and_merged[0].parent
    done = graders("merge", *(str(root / f"shard-{i}") for i in shards), "--out", str(tmp_path))
    assert done.returncode == 2 and says in done.stderr and len(done.stderr.splitlines()) == 1


def test_merge_refuses_shards_graded_with_other_tests(
    whole_and_merged: tuple[Path, Path], tmp_path: Path
) -> None:
    root = whole_and_merged[0].parent
    other = tmp_path / "other"
    subprocess.run(["cp", "-r", str(root / "shard-2"), str(other)], check=True)
    described = json.loads((other / "shard.json").read_text())
    described["tests"] = "another suite"
    (other / "shard.json").write_text(json.dumps(described))
    done = graders(
        "merge",
        str(root / "shard-0"),
        str(root / "shard-1"),
        str(other),
        "--out",
        str(tmp_path / "m"),
    )
    assert done.returncode == 2 and "other official tests" in done.stderr
    plain = graders("merge", str(root / "whole"), "--out", str(tmp_path / "m"))
    assert plain.returncode == 2 and "no readable shard.json" in plain.stderr


@pytest.mark.once
def test_a_batch_started_again_grades_only_what_it_had_not(
    submissions: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "GRADERS_PROGRESS": str(tmp_path / "p")}
    first = subprocess.Popen(
        [sys.executable, "-m", "graders", "batch", str(submissions), "--kata", "1", "--out",
         str(out), "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert first.stdout is not None
    graded = []
    for line in first.stdout:
        if line.startswith("graded "):
            graded.append(line.split()[1])
        if len(graded) == 4:
            first.send_signal(signal.SIGINT)  # interrupted halfway
            break
    first.communicate(timeout=60)
    again = batch(submissions, out)
    fresh = [line.split()[1] for line in again.stdout.splitlines() if line.startswith("graded ")]
    kept = [
        line.split()[3] for line in again.stdout.splitlines() if line.startswith("kept from before")
    ]
    assert set(graded) <= set(kept), "what was graded before the interruption is not graded again"
    assert fresh, "the first batch was not interrupted: every grade came only at its end"
    assert sorted(fresh + kept) == NAMES, "every submission is graded once in all"
    assert len(fresh) == len(NAMES) - len(kept)
    # and the gradebook is whole:
    rows = (out / "gradebook.csv").read_text().splitlines()[1:]
    assert sorted(row.split(",")[0] for row in rows) == sorted([*NAMES, "nobody"])


def test_every_kata_in_one_pass_gives_a_column_a_kata(tmp_path: Path) -> None:
    clone = tmp_path / "submissions" / "ada"
    for kata in ("01_first_steps", "10_websockets"):
        (clone / "katas" / kata).mkdir(parents=True)
        for module in (ROOT / "solutions" / kata).glob("*.py"):
            (clone / "katas" / kata / module.name).write_text(module.read_text())
    out = tmp_path / "out"
    done = batch(tmp_path / "submissions", out, "--kata", "all")
    header, row = (out / "gradebook.csv").read_text().splitlines()
    columns = header.split(",")
    assert columns[1:3] == ["first_steps", "pydantic_models"] and "capstone" in columns
    cells = dict(zip(columns, row.split(","), strict=False))
    assert cells["submission"] == "ada"
    assert cells["first_steps"] == "10" and cells["websockets"] == "11", cells
    assert cells["pydantic_models"] == "0" and cells["status"] == "fail"
    assert (out / "results" / "ada" / "01_first_steps.json").is_file()
    assert "graded ada" in done.stdout
