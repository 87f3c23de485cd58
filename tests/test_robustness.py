"""The learner's code is untrusted: broken, hanging, exiting, greedy or hostile code gets an honest
verdict, harms no one else, and leaves nothing behind.

Each case is a folder of tests/robustness/cases/: a submission of the engine's own kata
(tests/robustness/katas/98_engine, stable on purpose) and what its grade must say. case.toml
holds `about` (the sentence the case proves), `base` (the kata's "stub" or "solution"), how the
submission differs from it — `change.diff` (a diff of the solution), `prepend.py`/`append.py` or a
`prepend`/`append` line (code before or after the module), other files copied as they are — and
`[expect]`/`[after]`. Adding a case is adding a folder. Placeholders in the files and in case.toml:
{repo} (this repository), {site} (the grading venv's packages), {home} (the grader's home, holding
.ssh/id_rsa), {port} (a listener on the loopback), {token} (a secret nobody else knows).

Every case runs in the sandbox found here; those marked `fallback = true` run again without it
(GRADERS_SANDBOX=none), and those that `require = "bubblewrap"` run only with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from graders import export, patch
from graders.catalog import ROOT, load_kata
from graders.grade import grade_many
from graders.sandbox import isolation_here
from graders.score import KataGrade
from graders.vocabulary import Request
from tests.conftest import check_schema, with_token

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

HERE = ROOT / "tests" / "robustness"
KATA = load_kata(HERE / "katas" / "98_engine")
SANDBOX = isolation_here()[0]


@dataclass(frozen=True)
class Case:
    name: str
    about: str
    base: str
    files: dict[str, str]
    fallback: bool
    requires: str
    conftest_above: bool
    expect: dict[str, Any]
    after: dict[str, Any] = field(default_factory=dict)


def load(folder: Path) -> Case:
    spec = tomllib.loads((folder / "case.toml").read_text(encoding="utf-8"))
    extra = {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(folder.iterdir())
        if p.name not in {"case.toml", "change.diff", "prepend.py", "append.py"}
    }
    for part in ("prepend", "append", "change"):
        file = folder / ("change.diff" if part == "change" else f"{part}.py")
        if file.is_file():
            extra[f"<{part}>"] = file.read_text(encoding="utf-8")
        elif part in spec:
            extra[f"<{part}>"] = spec[part] + "\n"
    return Case(
        name=folder.name,
        about=spec["about"],
        base=spec["base"],
        files=extra,
        fallback=spec.get("fallback", False),
        requires=spec.get("requires", ""),
        conftest_above=spec.get("conftest_above", False),
        expect=spec.get("expect", {}),
        after=spec.get("after", {}),
    )


CASES = [load(folder) for folder in sorted((HERE / "cases").iterdir()) if folder.is_dir()]


@dataclass
class World:
    """What the cases' placeholders stand for, and what grading them changed."""

    values: dict[str, str]
    connections: list[tuple[str, int]]

    def fill(self, text: str) -> str:
        for name, value in self.values.items():
            text = text.replace("{" + name + "}", value)
        return text


def submission(case: Case, root: Path, world: World) -> Path:
    """The folder a case hands in."""
    source = KATA.solution_path if case.base == "solution" else KATA.path
    app = (source / "app.py").read_text(encoding="utf-8")
    files = dict(case.files)
    if "<change>" in files:
        app = patch.apply_to_files(files.pop("<change>"), {"app.py": app.encode()})[
            "app.py"
        ].decode()
    app = files.pop("<prepend>", "") + app + files.pop("<append>", "")
    folder = root / case.name / "hand-in"
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(world.fill(app), encoding="utf-8")
    for name, text in files.items():
        (folder / name).write_text(world.fill(text), encoding="utf-8")
        if name == "conftest.py" and case.conftest_above:
            (folder.parent / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    token = f"robustness-secret-{os.getpid()}-{time.monotonic_ns()}"
    home = tmp_path_factory.mktemp("home")
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text(token)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    connections: list[tuple[str, int]] = []
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            try:
                connection, peer = listener.accept()
            except OSError:
                continue
            connections.append(peer)
            connection.close()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    values = {
        "repo": str(ROOT),
        "site": sysconfig.get_paths()["purelib"],
        "home": str(home),
        "port": str(listener.getsockname()[1]),
        "token": token,
    }
    saved = {name: os.environ.get(name) for name in ("HOME", "GRADERS_TEST_SECRET")}
    os.environ.update(HOME=str(home), GRADERS_TEST_SECRET=token)
    try:
        yield World(values, connections)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        stop.set()
        thread.join()
        listener.close()


def fingerprint(path: str) -> str:
    file = Path(path)
    return hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else "absent"


def grade_cases(
    cases: list[Case], root: Path, world: World
) -> dict[str, tuple[KataGrade, dict[str, str]]]:
    """Grade every case in one batch of sandboxes, each its own; also fingerprint what it may touch."""
    before = {
        case.name: {p: fingerprint(world.fill(p)) for p in case.after.get("unchanged", [])}
        for case in cases
    }
    requests = [Request(KATA, "path", submission(case, root, world)) for case in cases]
    grades = grade_many(requests, isolate=True)
    return {
        case.name: (check_schema(grade), before[case.name])
        for case, grade in zip(cases, grades, strict=True)
    }


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory: pytest.TempPathFactory, world: World) -> dict[str, Any]:
    cases = [case for case in CASES if case.requires in ("", SANDBOX)]
    return grade_cases(cases, tmp_path_factory.mktemp("sandboxed"), world)


@pytest.fixture(scope="module")
def unsandboxed(tmp_path_factory: pytest.TempPathFactory, world: World) -> Iterator[dict[str, Any]]:
    os.environ["GRADERS_SANDBOX"] = "none"
    try:
        cases = [case for case in CASES if case.fallback]
        yield grade_cases(cases, tmp_path_factory.mktemp("unsandboxed"), world)
    finally:
        del os.environ["GRADERS_SANDBOX"]


def check(case: Case, grade: KataGrade, before: dict[str, str], world: World) -> None:
    """Everything `case` expects of its grade and of the machine afterwards."""
    said = f"{case.name} ({case.about}): {grade.status} {grade.score:g}, {grade.message}"
    expect: dict[str, Any] = {
        key: world.fill(value) if isinstance(value, str) else value
        for key, value in case.expect.items()
    }
    tests = {test.name: test for test in grade.tests}
    if "status" in expect:
        assert grade.status == expect["status"], said
    if "status_in" in expect:
        assert grade.status in expect["status_in"], said
    if "score" in expect:
        assert grade.score == expect["score"], said
    for text in expect.get("message", []):
        assert text in (grade.message or ""), f"{said}: the message lacks {text!r}"
    for text in expect.get("notes", []):
        assert any(text in note for note in grade.notes), (
            f"{said}: no note says {text!r}: {grade.notes}"
        )
    if "every_test" in expect:
        assert {t.status for t in grade.tests} == {expect["every_test"]}, said
    if "tests" in expect:
        assert len(grade.tests) == expect["tests"], f"{said}: every expected test is listed"
    if "passed_tasks" in expect:
        passed = [task.id for task in KATA.tasks if grade.task_passed(task.id)]
        assert passed == expect["passed_tasks"], f"{said}: tasks passed {passed}"
    if "verified_points" in expect:
        verified = sum(t.score for t in grade.tests if t.verified)
        assert verified == expect["verified_points"], f"{said}: verified points {verified}"
        if grade.isolation == "bubblewrap":
            assert any(t.verified for t in grade.tests), f"{said}: some results are verified"
    if "output_at_most" in expect:
        assert all(len(t.output) <= expect["output_at_most"] for t in grade.tests), said
    if "no_test_named" in expect:
        assert expect["no_test_named"] not in tests, said
    text = json.dumps(export.as_json(grade))
    if "nowhere" in expect:
        assert expect["nowhere"] not in text + grade.log, f"{said}: the secret reached the result"
    if "anywhere" in expect:
        assert expect["anywhere"] in text, f"{said}: nothing says {expect['anywhere']!r}"
    named = expect.get("test", {})
    for name, wanted in named.items():
        test = tests[name]
        assert test.status == wanted["status"], f"{said}: {name} is {test.status}: {test.message}"
        for part in wanted.get("message", []):
            assert part in test.message, f"{said}: {name} says {test.message!r}"
        if "message_starts" in wanted:
            assert test.message.startswith(wanted["message_starts"]), f"{said}: {test.message!r}"
        for part in wanted.get("output", []):
            assert part in test.output, f"{said}: {name} printed {test.output!r}"
        if "replay" in wanted:
            assert test.replay[: len(wanted["replay"])] == wanted["replay"], (
                f"{said}: {test.replay}"
            )
    if expect.get("others_pass"):
        others = {n: t.status for n, t in tests.items() if n not in named}
        assert set(others.values()) == {"pass"}, (
            f"{said}: the other tests keep their results: {others}"
        )
    after = case.after
    for path, print_before in before.items():
        assert fingerprint(world.fill(path)) == print_before, f"{said}: {world.fill(path)} changed"
    if "no_process_with" in after:
        token = world.fill(after["no_process_with"])
        deadline = time.monotonic() + 5
        while with_token(token) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not with_token(token), f"{said}: a process it started is still running"
    if after.get("no_connection"):
        assert not world.connections, f"{said}: the learner's code reached the loopback"


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.requires in ("", SANDBOX)], ids=lambda c: c.name
)
def test_case_in_the_sandbox(case: Case, sandboxed: dict[str, Any], world: World) -> None:
    grade, before = sandboxed[case.name]
    check(case, grade, before, world)


@pytest.mark.once
@pytest.mark.parametrize("case", [c for c in CASES if c.fallback], ids=lambda c: c.name)
def test_case_without_the_sandbox(case: Case, unsandboxed: dict[str, Any], world: World) -> None:
    grade, before = unsandboxed[case.name]
    assert grade.isolation == "none"
    check(case, grade, before, world)


def test_every_case_says_what_it_proves() -> None:
    for case in CASES:
        assert case.about.strip().endswith("."), f"{case.name}: `about` is one sentence"
        assert case.base in ("stub", "solution"), f"{case.name}: base is stub or solution"
        assert case.expect, f"{case.name}: say what is expected"
