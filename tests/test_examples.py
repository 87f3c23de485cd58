"""The examples for instructors (GitHub Actions, Kubernetes) call commands that exist and parse.

Nothing here runs the engines themselves: the workflow's and the Job's commands are parsed with
the grader's own command line, the files are parsed as YAML, and the container recipe is read.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import yaml

from graders.catalog import ROOT
from graders.cli import build_parser

EXAMPLES = ROOT / "examples"
SESSIONS = (ROOT / "noxfile.py").read_text(encoding="utf-8")


def parses(args: list[str]) -> None:
    """Raise unless `python -m graders <args>` is a command the grader accepts."""
    parser, _ = build_parser()
    parser.parse_args(args)


def filled(command: str) -> str:
    """A workflow line with its ${{ … }} expressions replaced by sample values."""
    samples = {"inputs.kata": "first_steps", "matrix.shard": "1", "strategy.job-total": "4"}
    return re.sub(r"\$\{\{\s*([\w.-]+)\s*\}\}", lambda m: samples[m.group(1)], command)


def test_the_workflow_shards_grades_and_merges_with_our_commands() -> None:
    workflow: dict[Any, Any] = yaml.safe_load(
        (EXAMPLES / "github-actions" / "grade-class.yml").read_text()
    )
    grade, merge = workflow["jobs"]["grade"], workflow["jobs"]["merge"]
    assert grade["strategy"]["matrix"]["shard"] == [0, 1, 2, 3]
    assert merge["needs"] == "grade"
    nox_lines = [
        filled(step["run"])
        for job in (grade, merge)
        for step in job["steps"]
        if "run" in step and step["run"].startswith("nox -s ")
    ]
    assert len(nox_lines) == 2, nox_lines
    for line in nox_lines:
        words = shlex.split(line)
        session, args = words[2], words[4:]
        assert f'("{session}", "{session}",' in SESSIONS, f"no nox session {session}"
        parses([session, *args])
    assert "--shard 1/4" in nox_lines[0]
    uploads = [
        s for job in (grade, merge) for s in job["steps"] if "upload-artifact" in s.get("uses", "")
    ]
    assert [u["with"]["path"] for u in uploads] == ["out/", "gradebook/"]


def test_the_indexed_job_runs_one_shard_a_pod_then_merges() -> None:
    grade, merge = yaml.safe_load_all((EXAMPLES / "kubernetes" / "grade-job.yaml").read_text())
    spec = grade["spec"]
    assert (grade["kind"], spec["completionMode"]) == ("Job", "Indexed")
    assert spec["completions"] == spec["parallelism"] == 4
    [container] = spec["template"]["spec"]["containers"]
    args = [a.replace("$(JOB_COMPLETION_INDEX)", "0") for a in container["args"]]
    assert args[args.index("--shard") + 1] == "4", "the index comes from the Indexed Job"
    parses(args)
    [merger] = merge["spec"]["template"]["spec"]["containers"]
    parses(merger["args"])
    assert len([a for a in merger["args"] if a.startswith("/data/out/shard-")]) == 4


def test_the_container_holds_bubblewrap_and_the_pinned_grader() -> None:
    recipe = (EXAMPLES / "kubernetes" / "Containerfile").read_text()
    assert re.search(r"apt-get install .*bubblewrap", recipe)
    assert "nox -s grade -- 1 --solution" in recipe, "the grading venv is built from the pins"
    assert 'ENTRYPOINT ["/katas/.nox/_grader/bin/python", "-m", "graders"]' in recipe
