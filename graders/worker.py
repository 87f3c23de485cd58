"""The child process: runs pytest on prepared folders and writes what happened, one JSON line an event.

It runs untrusted code, so it decides nothing: the parent (graders.runner) reads the events,
watches the clock and computes the score. Several jobs run in one process, one after another,
so FastAPI and pytest are imported once.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

import pytest

from graders import replay

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
OUTPUT_LIMIT = 400


class Events:
    """Appends events to the file the parent watches; flushed at once so a crash loses nothing."""

    def __init__(self, stream: TextIO, job: str) -> None:
        self.stream = stream
        self.job = job

    def emit(self, event: str, **fields: Any) -> None:
        fields.update(event=event, job=self.job, at=time.monotonic())
        self.stream.write(json.dumps(fields) + "\n")
        self.stream.flush()


def cap(text: str, limit: int = OUTPUT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… ({len(text) - limit} more characters cut)"


class Reporter:
    """The pytest plugin: tells the parent which tests exist, which started, and how each ended."""

    def __init__(self, events: Events) -> None:
        self.events = events

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.events.emit(
                "collect_error", nodeid=report.nodeid, text=cap(report.longreprtext, 4000)
            )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.events.emit("collected", nodeids=[item.nodeid for item in session.items])

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        replay.forget()
        self.events.emit("start", nodeid=nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        crash = getattr(report.longrepr, "reprcrash", None)
        output = "".join(content for _, content in report.sections if content)
        self.events.emit(
            "report",
            nodeid=report.nodeid,
            when=report.when,
            outcome=report.outcome,
            crash=cap(crash.message, 4000)
            if crash
            else (cap(str(report.longrepr), 4000) if report.failed else ""),
            text=cap(report.longreprtext, 8000) if report.failed else "",
            output=cap(output),
            duration=report.duration,
            exchange=replay.last_exchange if report.failed else None,
        )


def preflight(modules: list[str], directory: Path, events: Events) -> bool:
    """Import the learner's modules once, so a broken one is named with its file and line."""
    for name in modules:
        try:
            importlib.import_module(name)
        except SyntaxError as error:
            where = f"{Path(error.filename or name).name}, line {error.lineno}"
            events.emit("import_error", module=name, message=f"{where}: {error.msg}")
            return False
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
            events.emit("import_error", module=name, message=f"{where}{detail}")
            return False
    return True


def run_job(job: dict[str, Any], stream: TextIO) -> None:
    events = Events(stream, job["id"])
    directory = Path(job["directory"])
    os.chdir(directory)
    sys.path.insert(0, str(directory))
    events.emit("job_start")
    if not preflight(job["modules"], directory, events):
        events.emit("job_end", exit_code=-1)  # nothing to test: the score says why
        forget(directory)
        return
    args = [
        *job["tests"],
        "-c", str(PYPROJECT),
        "--rootdir", str(directory),
        "--confcutdir", str(directory),
        "-p", "no:cacheprovider",
        "-q",
        # One worker runs many jobs, so pytest's plugins (anyio, pytest-asyncio) are already
        # imported on every run after the first: pytest warns it cannot rewrite their asserts.
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
    ]  # fmt: skip
    if not job["strict_warnings"]:
        args += ["-W", "default"]  # a learner's deprecated call is shown, not a failed test
    if job["stop_at_first_failure"]:
        args.append("--exitfirst")
    for nodeid in job["deselect"]:
        args += ["--deselect", nodeid]
    exit_code = pytest.main(args, plugins=[Reporter(events)])
    events.emit("job_end", exit_code=int(exit_code))
    forget(directory)


def forget(directory: Path) -> None:
    """Drop the job's modules so the next job imports its own `app`."""
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and Path(path).parent == directory:
            del sys.modules[name]
    while str(directory) in sys.path:
        sys.path.remove(str(directory))


def main() -> None:
    """Run the jobs the parent writes on standard input, one JSON line each, until it closes it."""
    events_path = os.environ.pop("GRADERS_EVENTS")
    jobs = os.fdopen(os.dup(0), "r", encoding="utf-8")
    # The learner's code gets an empty standard input: an input() call must not eat the jobs.
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - open for the process's life
    replay.install()
    with open(events_path, "a", encoding="utf-8") as stream:
        for line in jobs:
            run_job(json.loads(line), stream)


if __name__ == "__main__":
    main()
