"""Run pytest jobs in watched child processes and collect what each test did.

The parent trusts nothing the child does: a test that hangs is stopped after its timeout, a child
that dies (os._exit, a crash) is replaced, and the tests it had not finished are run again in the
new child. Each restart drops at least one test or job, so grading always ends.
"""

from __future__ import annotations

import contextlib
import json
import os
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
    seconds: float = 0.0  # wall time in the child, process start-up included for the first job

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

    Without `groups`, the jobs are dealt out so each process runs a share of them (FastAPI is
    imported once a process). With `groups` (a group number a job), each group gets a fresh
    process of its own, so one submission can never touch another's grade.
    """
    results = [JobResult(job) for job in jobs]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    if groups is None:
        units = [results[i::workers] for i in range(workers)]
    else:
        by_group: dict[int, list[JobResult]] = {}
        for group, result in zip(groups, results, strict=True):
            by_group.setdefault(group, []).append(result)
        units = list(by_group.values())
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in pool.map(lambda unit: Supervisor(unit).run(), units):
            assert done is None
    return results


class Supervisor:
    """Keeps one child process running until every job of its queue has ended."""

    def __init__(self, queue: list[JobResult]) -> None:
        self.pending = list(queue)
        self.by_id = {result.job.id: result for result in queue}
        self.scratch = Path(tempfile.mkdtemp(prefix="graders-run-"))

    def run(self) -> None:
        attempt = 0
        try:
            while self.pending:
                attempt += 1
                self._run_child(attempt)
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _run_child(self, attempt: int) -> None:
        jobs_file = self.scratch / f"jobs-{attempt}.json"
        events_file = self.scratch / f"events-{attempt}.jsonl"
        log_file = self.scratch / f"log-{attempt}.txt"
        jobs_file.write_text(json.dumps([self._spec(r) for r in self.pending]), encoding="utf-8")
        events_file.touch()
        env = child_environment(events_file)
        with open(log_file, "wb") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "graders.worker", str(jobs_file)],
                cwd=self.scratch,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        running = list(self.pending)
        try:
            self._watch(child, events_file, log_file)
        finally:
            stop(child)
        for result in running:
            result.log = tail(log_file)

    def _spec(self, result: JobResult) -> dict[str, Any]:
        job = result.job
        return {
            "id": job.id,
            "directory": str(job.directory),
            "tests": job.tests,
            "modules": job.modules,
            "strict_warnings": job.strict_warnings,
            "deselect": sorted(nodeid for nodeid, run in result.tests.items() if run.finished),
        }

    def _watch(self, child: subprocess.Popen[bytes], events_file: Path, log_file: Path) -> None:
        current: JobResult | None = None
        running: str | None = None  # the node id of the test that started and has not ended
        since = mark = time.monotonic()
        offset = 0
        while True:
            exited = child.poll() is not None
            with open(events_file, "rb") as stream:
                stream.seek(offset)
                chunk = stream.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            offset += len(complete)
            for line in complete.splitlines():
                event = json.loads(line)
                result = self.by_id[event["job"]]
                result.record(event)
                kind = event["event"]
                if kind == "job_start":
                    current, running, since = result, None, time.monotonic()
                elif kind == "start":
                    running, since = event["nodeid"], time.monotonic()
                elif kind == "report" and event["when"] == "teardown":
                    running = None
                elif kind == "job_end":
                    self.pending.remove(result)
                    current = None
                    result.seconds += time.monotonic() - mark
                    mark = time.monotonic()
            if not self.pending:
                return
            if exited:
                self._give_up(current, running, died(child.returncode), mark)
                return
            elapsed = time.monotonic() - since
            limit = current.job.timeout if current and running else IMPORT_TIMEOUT
            if current and elapsed > limit:
                self._give_up(current, running, timed_out(limit, running is not None), mark)
                return
            if log_file.stat().st_size > LOG_LIMIT:
                self._give_up(
                    current, running, "printed more than 20 MB, so grading stopped it", mark
                )
                return
            time.sleep(POLL)

    def _give_up(
        self, current: JobResult | None, running: str | None, why: str, mark: float
    ) -> None:
        """Charge the failure to the test that was running, or to the whole job if none was."""
        target = current or self.pending[0]
        target.seconds += time.monotonic() - mark
        if running is not None:
            run = target.tests.setdefault(running, TestRun(running))
            run.status, run.message, run.finished = "error", why, True
        else:
            target.problem = why
            self.pending.remove(target)


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
