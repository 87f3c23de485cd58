"""A job process: runs pytest on one prepared folder and writes what happened, one JSON line an event.

It decides nothing: the parent (graders.sandbox.runner) reads the events, watches the clock and
computes the score. An untrusted job imports the learner's modules and runs the tests beside them,
inside the box. A trusted job runs the official tests only: `import app` gives them a stand-in
whose `app` is the learner's app in the box, across the bridge (graders.sandbox.remote), so no
line of the learner's code runs in this process.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

import pytest

from graders import fresh_imports
from graders.sandbox import record

PYPROJECT = Path(__file__).resolve().parent.parent.parent / "pyproject.toml"
OUTPUT_LIMIT = 400
FRESH_LIMIT = 1.0  # seconds of import above which each test does not import the modules again


class Events:
    """Appends events to the file the parent watches; flushed at once so a crash loses nothing."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def emit(self, event: str, **fields: Any) -> None:
        fields["event"] = event
        self.stream.write(json.dumps(fields) + "\n")
        self.stream.flush()


def cap(text: str, limit: int = OUTPUT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… ({len(text) - limit} more characters cut)"


class Reporter:
    """The pytest plugin: tells the parent which tests started and how each phase ended."""

    def __init__(self, events: Events) -> None:
        self.events = events

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.events.emit(
                "collect_error", nodeid=report.nodeid, text=cap(report.longreprtext, 4000)
            )

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        record.forget()
        self.events.emit("start", nodeid=nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        crash = getattr(report.longrepr, "reprcrash", None)
        output = "".join(content for _, content in report.sections if content)
        if crash:
            said = cap(crash.message, 4000)
        else:
            said = cap(str(report.longrepr), 4000) if report.failed else ""
        self.events.emit(
            "report",
            nodeid=report.nodeid,
            when=report.when,
            outcome=report.outcome,
            crash=said,
            text=cap(report.longreprtext, 8000) if report.failed else "",
            output=cap(output),
            duration=report.duration,
            exchange=record.last_exchange if report.failed else None,
        )


def preflight(modules: list[str], directory: Path, events: Events) -> float | None:
    """Import the learner's modules once, so a broken one is named with its file and line.

    The seconds it took, or None when an import failed (and the event says how).
    """
    started = time.monotonic()
    for name in modules:
        try:
            importlib.import_module(name)
        except SyntaxError as error:
            where = f"{Path(error.filename or name).name}, line {error.lineno}"
            events.emit("import_error", message=f"{where}: {error.msg}")
            return None
        except BaseException as error:  # SystemExit too: the learner's code is not ours to trust
            frames = [
                frame
                for frame in traceback.extract_tb(error.__traceback__)
                if Path(frame.filename).parent == directory
            ]
            where = (
                f"{Path(frames[-1].filename).name}, line {frames[-1].lineno}: " if frames else ""
            )
            kind = type(error).__name__
            detail = f"{kind}: {error}" if str(error) else kind
            events.emit("import_error", message=f"{where}{detail}")
            return None
    seconds = round(time.monotonic() - started, 3)
    events.emit("imported", seconds=seconds)
    return seconds


def pytest_args(tests: list[str], directory: str, extra: list[str]) -> list[str]:
    return [
        *tests,
        "-c", str(PYPROJECT),
        "--rootdir", directory,
        "--confcutdir", directory,
        "-p", "no:cacheprovider",
        "-q",
        # The fork server loaded pytest's plugins (anyio, pytest-asyncio) before any job ran, so
        # pytest warns it cannot rewrite their asserts.
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        *extra,
    ]  # fmt: skip


def run_job(job: dict[str, Any], stream: TextIO) -> None:
    """Run one job in this process, which the fork server made for it alone."""
    events = Events(stream)
    directory = Path(job["directory"])
    os.chdir(job["work"])  # writable; the tests and modules are in `directory`, maybe read-only
    os.environ["TMPDIR"] = tempfile.tempdir = job["tmp"]  # pytest's tmp_path goes there
    plugins: list[object] = [Reporter(events)]
    if job["trusted"]:
        from graders.sandbox import remote

        plugins.append(remote.install(job["app"]))
    else:
        sys.path.insert(0, str(directory))
        seconds = preflight(job["modules"], directory, events)
        if seconds is None:
            events.emit("job_end")  # nothing to test: the score says why
            return
        # Each test gets a new copy, as a verified test gets a process; not when importing is
        # slow, or every test would pay for it against its timeout.
        if job["fresh_imports"] and seconds < FRESH_LIMIT:
            os.environ[fresh_imports.ASKED] = ",".join(job["modules"])
    # A learner's deprecated call is shown, not a failed test; the solutions are held to more.
    extra = [] if job["strict_warnings"] else ["-W", "default"]
    if job["stop_at_first_failure"]:
        # Only whether a test fails counts here, not why: skip rewriting asserts and tracebacks.
        extra += ["--exitfirst", "--assert=plain", "--tb=no"]
    for nodeid in job["deselect"]:
        extra += ["--deselect", nodeid]
    tests = [str(directory / test) for test in job["tests"]]  # node ids are relative to it
    pytest.main(pytest_args(tests, str(directory), extra), plugins=plugins)
    events.emit("job_end")
