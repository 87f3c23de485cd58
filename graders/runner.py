"""Run pytest jobs in watched processes and collect what each test did.

The parent trusts nothing a job process does: a test that hangs is stopped after its timeout, and
when a job process dies (os._exit, a crash) the tests it had not finished run again in a new one.
Each restart drops at least one test or job, so grading always ends.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.catalog import ROOT

IMPORT_TIMEOUT = 20.0
LOG_LIMIT = 20 * 1024 * 1024
POLL = 0.02
BUSY_EXTRA = 1  # busy jobs at once: one more than the cores, as jobs also wait on the disk
FORK_SERVER = "graders.forkserver"  # the module run as the fork server
ATTEMPTS = itertools.count(1)  # names each job process; unique in the parent


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
    size: int = 0  # test functions it runs, a guess at its length: the biggest start first
    waits: bool = False  # its tests mostly sleep: it starts at once, beside the busy jobs


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
    """Run every job, at most `workers` busy ones at a time; results come back in job order.

    Every job runs in a fresh process forked from one warm fork server, so FastAPI is imported
    once for the whole run and no job can touch another's grade. Jobs wait in one queue, the
    biggest first, and the next starts as soon as one ends. Jobs that mostly sleep (the tasks of
    04_async) do not wait in that queue: each starts at once, beside the busy ones, so their
    sleeps overlap the others' work. `groups` (a group number a job) keeps each group's jobs
    together, one after another, so that one submission cannot take several places at once.
    """
    results = [JobResult(job) for job in jobs]
    if groups is None:
        units = [[result] for result in results]
        default = (os.cpu_count() or 1) + BUSY_EXTRA
    else:
        by_group: dict[int, list[JobResult]] = {}
        for group, result in zip(groups, results, strict=True):
            by_group.setdefault(group, []).append(result)
        units = list(by_group.values())
        default = os.cpu_count() or 1
    sleepy = [u for u in units if groups is None and all(r.job.waits for r in u)]
    busy = [u for u in units if not any(u is s for s in sleepy)]
    work: queue.SimpleQueue[list[JobResult]] = queue.SimpleQueue()
    for unit in sorted(
        busy, key=lambda unit: max(result.job.size for result in unit), reverse=True
    ):
        work.put(unit)
    count = max(1, min(workers or default, len(busy))) if busy else 0
    scratch = Path(tempfile.mkdtemp(prefix="graders-run-"))
    server = ForkServer(scratch, load_plugins=len(jobs) > 1)
    supervisors = [Supervisor(solo(unit), server, scratch) for unit in sleepy]
    supervisors += [Supervisor(work, server, scratch) for _ in range(count)]
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(supervisors))) as pool:
            for done in [pool.submit(supervisor.run) for supervisor in supervisors]:
                done.result()
    finally:
        server.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def solo(unit: list[JobResult]) -> queue.SimpleQueue[list[JobResult]]:
    """A queue of its own for one unit."""
    work: queue.SimpleQueue[list[JobResult]] = queue.SimpleQueue()
    work.put(unit)
    return work


class ForkServer:
    """The parent's handle on graders.forkserver: starts job processes and hears how they end."""

    def __init__(self, scratch: Path, load_plugins: bool) -> None:
        self.log = scratch / "forkserver.log"
        flags = ["--load-plugins"] if load_plugins else []
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", FORK_SERVER, *flags],
                cwd=scratch,
                env=child_environment(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        self.lock = threading.Lock()
        self.codes: dict[str, int] = {}
        self.listener = threading.Thread(target=self._listen, daemon=True)
        self.listener.start()

    def _listen(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = json.loads(line)
            with self.lock:
                self.codes[message["ended"]] = message["code"]

    def _send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        with self.lock, contextlib.suppress(OSError):  # it died: exit_code says so
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()

    def start(self, key: str, job: dict[str, Any], events: Path, log: Path) -> None:
        self._send({"run": key, "job": job, "events": str(events), "log": str(log)})

    def kill(self, key: str) -> None:
        self._send({"kill": key})

    def exit_code(self, key: str) -> int | None:
        """How the job process `key` ended, or None while it runs (or if the server is gone)."""
        with self.lock:
            return self.codes.get(key)

    def failure(self) -> str:
        """Why the fork server stopped before its time, or "" while it serves."""
        if self.process.poll() is None or self.listener.is_alive():
            return ""
        last = tail(self.log, 600).strip().splitlines()
        why = last[-1] if last else f"exit code {self.process.returncode}"
        return f"the grader itself failed (its fork server stopped: {why}); this is not your code"

    def close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()  # the server kills any job still running and ends
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        stop(self.process)
        self.listener.join(timeout=1)
        if self.process.stdout is not None:
            self.process.stdout.close()


class Supervisor:
    """Takes units of jobs from the shared queue and sees each job through to its end."""

    def __init__(
        self, work: queue.SimpleQueue[list[JobResult]], server: ForkServer, scratch: Path
    ) -> None:
        self.work = work
        self.server = server
        self.scratch = scratch

    def run(self) -> None:
        while True:
            try:
                unit = self.work.get_nowait()
            except queue.Empty:
                return
            for result in unit:
                self._see_through(result)

    def _see_through(self, result: JobResult) -> None:
        """Run one job: its `first` tests, then (unless one already failed and that is enough)
        the rest, in a new process after each crash or hang."""
        job = result.job
        for tests in [job.first, job.tests] if job.first else [job.tests]:
            self._run_phase(result, tests)
            if result.problem:
                return  # the whole job is lost: nothing left to run
            if job.stop_at_first_failure and any(r.status != "pass" for r in result.tests.values()):
                return

    def _run_phase(self, result: JobResult, tests: list[str]) -> None:
        while not self._run_once(result, tests) and not result.problem:
            pass  # a test was charged with the crash or hang: run the rest again

    def _run_once(self, result: JobResult, tests: list[str]) -> bool:
        """Run `result`'s job in a new process and watch it; False when it was stopped or died."""
        key = f"{next(ATTEMPTS)}"
        events, log = self.scratch / f"{key}.events.jsonl", self.scratch / f"{key}.log"
        events.touch()
        log.touch()
        started = time.monotonic()
        result.began = result.began or started
        self.server.start(key, self._spec(result, tests), events, log)
        try:
            return self._watch(result, key, events, log, started)
        finally:
            result.log = tail(log)

    def _watch(self, result: JobResult, key: str, events: Path, log: Path, since: float) -> bool:
        running: str | None = None  # the node id of the test that started and has not ended
        offset = 0
        while True:
            code = self.server.exit_code(key)
            new, offset = read_events(events, offset)
            for event in new:
                result.record(event)
                kind = event["event"]
                if kind == "start":
                    running, since = event["nodeid"], time.monotonic()
                elif kind == "report" and event["when"] == "teardown":
                    running = None
                elif kind == "job_end":
                    result.ended = time.monotonic()
                    return True
            if code is not None:
                self._give_up(result, running, died(code))
                return False
            if self.server.failure():
                result.ended, result.problem = time.monotonic(), self.server.failure()
                return False
            limit = result.job.timeout if running else IMPORT_TIMEOUT
            if time.monotonic() - since > limit:
                self._end(key)
                self._give_up(result, running, timed_out(limit, running is not None))
                return False
            if log.stat().st_size > LOG_LIMIT:
                self._end(key)
                self._give_up(result, running, "printed more than 20 MB, so grading stopped it")
                return False
            time.sleep(POLL)

    def _end(self, key: str) -> None:
        """Kill the job process `key` and wait until it is gone, so its folder is free again."""
        self.server.kill(key)
        deadline = time.monotonic() + 5
        while self.server.exit_code(key) is None and time.monotonic() < deadline:
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


def read_events(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """The complete event lines written to `path` after `offset`, and the offset after them."""
    with open(path, "rb") as stream:
        stream.seek(offset)
        chunk = stream.read()
    complete = chunk[: chunk.rfind(b"\n") + 1]
    return [json.loads(line) for line in complete.splitlines()], offset + len(complete)


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


def child_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    env.update(
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
