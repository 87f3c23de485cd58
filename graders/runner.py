"""Run pytest jobs in watched child processes and collect what each test did.

The parent trusts nothing the child does: a test that hangs is stopped after its timeout, a child
that dies (os._exit, a crash) is replaced, and the tests it had not finished are run again in the
new child. Each restart drops at least one test or job, so grading always ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.catalog import ROOT

IMPORT_TIMEOUT = 20.0
LOG_LIMIT = 20 * 1024 * 1024
POLL = 0.02


@dataclass
class Job:
    """One pytest run: a prepared folder, the test files to run and the modules to import first."""

    id: str
    directory: Path
    tests: list[str]
    modules: list[str]
    timeout: float
    strict_warnings: bool = False
    stop_at_first_failure: bool = False  # enough to know a buggy variant was caught
    first: list[str] = field(default_factory=list)  # node ids to try before the rest, if any


@dataclass
class TestRun:
    """What one pytest node did: its phases' outcomes, the first failure and the output."""

    nodeid: str
    status: str = "pass"  # pass | fail | error
    message: str = ""
    text: str = ""
    output: str = ""
    duration: float = 0.0
    finished: bool = False
    exchange: dict[str, Any] | None = None


@dataclass
class JobResult:
    job: Job
    tests: dict[str, TestRun] = field(default_factory=dict)
    import_error: str = ""
    collect_errors: dict[str, str] = field(default_factory=dict)
    problem: str = ""  # the job could not finish: timeout on import, crash on import, …
    log: str = ""
    began: float = 0.0  # when the job was first handed to a child (time.monotonic)
    ended: float = 0.0  # when it last ended

    def record(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "import_error":
            self.import_error = event["message"]
        elif kind == "collect_error":
            self.collect_errors[event["nodeid"]] = event["text"]
        elif kind == "start":
            self.tests.setdefault(event["nodeid"], TestRun(event["nodeid"]))
        elif kind == "report":
            run = self.tests.setdefault(event["nodeid"], TestRun(event["nodeid"]))
            run.duration += event["duration"]
            run.output = run.output or event["output"]
            if event["outcome"] == "failed" and run.status == "pass":
                run.status = "fail" if event["when"] == "call" else "error"
                run.message, run.text = event["crash"], event["text"]
                run.exchange = event.get("exchange")
            elif event["outcome"] == "skipped" and run.status == "pass":
                run.status, run.message = "fail", "skipped: " + event["crash"]
            if event["when"] == "teardown":
                run.finished = True


def run_jobs(
    jobs: list[Job], workers: int | None = None, groups: list[int] | None = None
) -> list[JobResult]:
    """Run every job over at most `workers` child processes; results come back in job order.

    Jobs wait in one queue and each child takes the next as soon as it is free, so a kata that
    mostly sleeps (04_async) never holds the others up. Without `groups` a child runs many jobs
    (FastAPI is imported once a child). With `groups` (a group number a job), each group gets a
    fresh child of its own, so one submission can never touch another's grade.
    """
    results = [JobResult(job) for job in jobs]
    if groups is None:
        units = [[result] for result in results]
        default = (os.cpu_count() or 1) + 1  # one more than the cores: some jobs mostly wait
    else:
        by_group: dict[int, list[JobResult]] = {}
        for group, result in zip(groups, results, strict=True):
            by_group.setdefault(group, []).append(result)
        units = list(by_group.values())
        default = os.cpu_count() or 1
    work: queue.SimpleQueue[list[JobResult]] = queue.SimpleQueue()
    for unit in units:
        work.put(unit)
    count = max(1, min(workers or default, len(units)))
    with ThreadPoolExecutor(max_workers=count) as pool:
        for done in [
            pool.submit(Supervisor(work, fresh=groups is not None).run) for _ in range(count)
        ]:
            done.result()
    return results


class Child:
    """One worker process, fed jobs one at a time on its standard input."""

    def __init__(self, scratch: Path, number: int) -> None:
        self.events = scratch / f"events-{number}.jsonl"
        self.log = scratch / f"log-{number}.txt"
        self.events.touch()
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "graders.worker"],
                cwd=scratch,
                env=child_environment(self.events),
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.offset = 0

    def send(self, spec: dict[str, Any]) -> bool:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(spec) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return False  # it died already; the watch loop reports how
        return True

    def new_events(self) -> list[dict[str, Any]]:
        with open(self.events, "rb") as stream:
            stream.seek(self.offset)
            chunk = stream.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        return [json.loads(line) for line in complete.splitlines()]

    def close(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        stop(self.process)


class Supervisor:
    """Takes units of jobs from the shared queue and sees each job through to its end."""

    def __init__(self, work: queue.SimpleQueue[list[JobResult]], fresh: bool) -> None:
        self.work = work
        self.fresh = fresh  # a new child for every unit
        self.scratch = Path(tempfile.mkdtemp(prefix="graders-run-"))
        self.children = 0
        self.child: Child | None = None

    def run(self) -> None:
        try:
            while True:
                try:
                    unit = self.work.get_nowait()
                except queue.Empty:
                    return
                for result in unit:
                    self._see_through(result)
                if self.fresh:
                    self._drop_child()
        finally:
            self._drop_child()
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _drop_child(self) -> None:
        if self.child is not None:
            self.child.close()
            self.child = None

    def _see_through(self, result: JobResult) -> None:
        """Run one job: its `first` tests, then (unless one already failed and that is enough)
        the rest, in a new child after each crash or hang."""
        job = result.job
        for tests in [job.first, job.tests] if job.first else [job.tests]:
            self._run_phase(result, tests)
            if result.problem:
                return  # the whole job is lost: nothing left to run
            if job.stop_at_first_failure and any(r.status != "pass" for r in result.tests.values()):
                return

    def _run_phase(self, result: JobResult, tests: list[str]) -> None:
        while True:
            if self.child is None:
                self.children += 1
                self.child = Child(self.scratch, self.children)
            child = self.child
            ended = self._run_once(child, result, tests)
            result.log = tail(child.log)
            if ended:
                return
            self._drop_child()
            if result.problem:
                return

    def _run_once(self, child: Child, result: JobResult, tests: list[str]) -> bool:
        """Watch `child` run `result`'s job; False when it had to be stopped or died."""
        started = time.monotonic()
        result.began = result.began or started
        child.send(self._spec(result, tests))
        running: str | None = None  # the node id of the test that started and has not ended
        since = started
        while True:
            exited = child.process.poll() is not None
            for event in child.new_events():
                result.record(event)
                kind = event["event"]
                if kind == "start":
                    running, since = event["nodeid"], time.monotonic()
                elif kind == "report" and event["when"] == "teardown":
                    running = None
                elif kind == "job_end":
                    result.ended = time.monotonic()
                    return True
            if exited:
                self._give_up(result, running, died(child.process.returncode))
                return False
            limit = result.job.timeout if running else IMPORT_TIMEOUT
            if time.monotonic() - since > limit:
                self._give_up(result, running, timed_out(limit, running is not None))
                return False
            if child.log.stat().st_size > LOG_LIMIT:
                self._give_up(result, running, "printed more than 20 MB, so grading stopped it")
                return False
            time.sleep(POLL)

    def _spec(self, result: JobResult, tests: list[str]) -> dict[str, Any]:
        job = result.job
        return {
            "id": job.id,
            "directory": str(job.directory),
            "tests": tests,
            "modules": job.modules,
            "strict_warnings": job.strict_warnings,
            "stop_at_first_failure": job.stop_at_first_failure,
            "deselect": sorted(nodeid for nodeid, run in result.tests.items() if run.finished),
        }

    def _give_up(self, result: JobResult, running: str | None, why: str) -> None:
        """Charge the failure to the test that was running, or to the whole job if none was."""
        result.ended = time.monotonic()
        if running is not None:
            run = result.tests.setdefault(running, TestRun(running))
            run.status, run.message, run.finished = "error", why, True
        else:
            result.problem = why


def died(code: int | None) -> str:
    if code is not None and code < 0:
        return f"the test process was killed by signal {-code}"
    return f"the test process exited with code {code} (is there an os._exit() or sys.exit() call?)"


def timed_out(limit: float, in_test: bool) -> str:
    where = "this test" if in_test else "importing and collecting the tests"
    return (
        f"{where} did not finish within {limit:g} s, so grading stopped it "
        "(an endless loop, or a blocking call that never returns?)"
    )


def child_environment(events_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    env.update(
        GRADERS_EVENTS=str(events_file),
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        PYTHONIOENCODING="utf-8",
    )
    return env


def stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
            os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def tail(path: Path, limit: int = 4000) -> str:
    with open(path, "rb") as stream:
        stream.seek(max(0, path.stat().st_size - limit))
        return stream.read().decode("utf-8", "replace")
