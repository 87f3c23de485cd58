"""Result files other tools read: the JSON result (Exercism v3 plus points) and JUnit XML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from graders.score import KataGrade

SCHEMA = Path(__file__).resolve().parent / "result.schema.json"
OUTPUT_LIMIT = 500


def as_json(result: KataGrade) -> dict[str, Any]:
    return {
        "version": 3,
        "kata": result.kata.slug,
        "target": result.target,
        "status": result.status,
        "message": result.message,
        "score": result.score,
        "max_score": result.max_score,
        "duration": result.duration,
        "isolation": result.isolation,
        "tests": [
            {
                "name": test.name,
                "task_id": test.task_id,
                "status": test.status,
                "score": test.score,
                "max_score": test.max_score,
                "message": "\n".join([test.message, *test.replay]) if test.message else None,
                "output": test.output[:OUTPUT_LIMIT] or None,
                "duration": test.duration,
                "verified": test.verified,
            }
            for test in result.tests
        ],
    }


def write_json(result: KataGrade, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(as_json(result), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def write_junit(result: KataGrade, path: Path) -> None:
    suite = ElementTree.Element(
        "testsuite",
        name=result.kata.folder,
        tests=str(len(result.tests)),
        failures=str(sum(t.status == "fail" for t in result.tests)),
        errors=str(sum(t.status == "error" for t in result.tests)),
        time=f"{result.duration:.3f}",
    )
    if result.message:
        ElementTree.SubElement(suite, "system-err").text = result.message
    for test in result.tests:
        case = ElementTree.SubElement(
            suite, "testcase", classname=f"{result.kata.folder}.task{test.task_id}",
            name=test.name, time=f"{test.duration:.3f}",
        )  # fmt: skip
        if test.status != "pass":
            tag = "failure" if test.status == "fail" else "error"
            ElementTree.SubElement(case, tag, message=test.message).text = (
                test.details or test.message
            )
        if test.output:
            ElementTree.SubElement(case, "system-out").text = test.output[:OUTPUT_LIMIT]
    path.parent.mkdir(parents=True, exist_ok=True)
    root = ElementTree.Element("testsuites")
    root.append(suite)
    ElementTree.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def as_gradescope(result: KataGrade) -> dict[str, Any]:
    """Gradescope's autograder results.json: one test entry a test, statuses passed/failed."""
    tests = []
    for number, test in enumerate(result.tests, start=1):
        said = "verified" if test.verified else "self-reported"
        output = "\n".join(part for part in (test.message, *test.replay, test.output, said) if part)
        tests.append(
            {
                "name": f"Task {test.task_id} · {test.name}" if test.task_id else test.name,
                "number": f"{test.task_id}.{number}",
                "score": test.score,
                "max_score": test.max_score,
                "status": "passed" if test.status == "pass" else "failed",
                "output": output[: 4 * OUTPUT_LIMIT],
                "visibility": "visible",
                "tags": [said],
            }
        )
    return {
        "score": result.score,
        "max_score": result.max_score,
        "execution_time": round(result.duration, 2),
        "output": result.message
        or f"{result.kata.folder}: {result.tasks_passed} of {len(result.kata.tasks)} tasks pass",
        "visibility": "visible",
        "tests": tests,
    }


def write_gradescope(result: KataGrade, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(as_gradescope(result), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
