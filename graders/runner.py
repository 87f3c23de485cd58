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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders import workspace
from graders.catalog import ROOT

IMPORT_TIMEOUT = 20.0
LOG_LIMIT = 20 * 1024 * 1024
POLL = 0.02
BUSY_EXTRA = 1  # busy jobs at once: one more than the cores, as jobs also wait on the disk
FORK_SERVER = "graders.forkserver"  # the module run as the fork server
LAUNCHES = 3  # fork servers one grading run may start: the first, and two after deaths
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

    Every job runs in a fresh process forked from a warm fork server, so FastAPI is imported
    once for the whole run and no job can touch another's grade. Jobs wait in one queue, the
    biggest first, and the next starts as soon as one ends. Jobs that mostly sleep (the tasks of
    04_async) do not wait in that queue: each starts at once, beside the busy ones, so their
    sleeps overlap the others' work. `groups` (a group number a job) is for submissions from
    different people: each group's jobs run one after another, from a fork server of its own,
    so that no submission can take several places at once or bring down another's grading.
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

    def sleeps(unit: list[JobResult]) -> bool:
        return groups is None and all(result.job.waits for result in unit)

    sleepy = [unit for unit in units if sleeps(unit)]
    busy = [unit for unit in units if not sleeps(unit)]
    work: queue.SimpleQueue[list[JobResult]] = queue.SimpleQueue()
    for unit in sorted(
        busy, key=lambda unit: max(result.job.size for result in unit), reverse=True
    ):
        work.put(unit)
    count = max(1, min(workers or default, len(busy))) if busy else 0
    scratch = workspace.new_root("graders-run-")
    shared: ForkServer | None = None
    try:
        if groups is None:
            shared = ForkServer(scratch, load_plugins=len(jobs) > 1)
        supervisors = [Supervisor(solo(unit), scratch, shared) for unit in sleepy]
        supervisors += [Supervisor(work, scratch, shared) for _ in range(count)]
        with ThreadPoolExecutor(max_workers=max(1, len(supervisors))) as pool:
            for done in [pool.submit(supervisor.run) for supervisor in supervisors]:
                done.result()
    finally:
        if shared is not None:
            shared.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def solo(unit: list[JobResult]) -> queue.SimpleQueue[list[JobResult]]:
    """A queue of its own for one unit."""
    work: queue.SimpleQueue[list[JobResult]] = queue.SimpleQueue()
    work.put(unit)
    return work


class ServerProcess:
    """One run of graders.forkserver: the requests sent to it and the answers it gave."""

    def __init__(self, scratch: Path, load_plugins: bool) -> None:
        self.log = scratch / f"forkserver-{next(ATTEMPTS)}.log"
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
        self.lock = threading.Lock()  # guards the answers; writes have a lock of their own
        self.write_lock = threading.Lock()
        self.pids: dict[str, int] = {}
        self.ended: dict[str, tuple[int, str]] = {}  # key → (exit code, why, if it never started)
        self.listener = threading.Thread(target=self._listen, daemon=True)
        self.listener.start()

    def _listen(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            answer = json.loads(line)
            with self.lock:
                if "started" in answer:
                    self.pids[answer["started"]] = answer["pid"]
                else:
                    self.ended[answer["ended"]] = (answer["code"], answer.get("why", ""))

    def send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        with self.write_lock, contextlib.suppress(OSError):  # it died: gone() says so
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()

    def outcome(self, key: str) -> tuple[int, str] | None:
        with self.lock:
            return self.ended.get(key)

    def gone(self) -> bool:
        return self.process.poll() is not None and not self.listener.is_alive()

    def how_it_ended(self) -> str:
        code = self.process.returncode
        if code is not None and code < 0:
            return f"grading stopped: the grader's fork server was killed by signal {-code}"
        last = tail(self.log, 600).strip().splitlines()
        detail = f": {last[-1]}" if last else ""
        return f"the grader itself failed (its fork server exited with code {code}{detail}); this is not your code"

    def kill(self) -> None:
        """Kill the server and every job it started that has not ended (it reaps them no more)."""
        stop(self.process)
        with self.lock:
            left = [pid for key, pid in self.pids.items() if key not in self.ended]
        for pid in left:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)

    def close(self) -> None:
        if self.process.stdin is not None:
            with self.write_lock, contextlib.suppress(OSError):
                self.process.stdin.close()  # the server kills any job still running and ends
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.listener.join(timeout=1)  # its last answers name the jobs it ended itself
        self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()


class ForkServer:
    """The parent's handle on the fork server: starts job processes and hears how they end.

    If the server dies (a job killed it, the system ran out of memory), the jobs it was running
    are run again on a new one, up to LAUNCHES servers in all; after that they cannot be graded.
    """

    def __init__(self, scratch: Path, load_plugins: bool) -> None:
        self.scratch = scratch
        self.load_plugins = load_plugins
        self.lock = threading.Lock()
        self.launched = [ServerProcess(scratch, load_plugins)]
        self.owner: dict[str, ServerProcess] = {}

    def start(self, key: str, job: dict[str, Any], events: Path, log: Path) -> None:
        with self.lock:
            server = self.launched[-1]
            if server.gone() and len(self.launched) < LAUNCHES:
                server.kill()
                server = ServerProcess(self.scratch, self.load_plugins)
                self.launched.append(server)
            self.owner[key] = server
        server.send({"run": key, "job": job, "events": str(events), "log": str(log)})

    def kill(self, key: str) -> None:
        self.owner[key].send({"kill": key})

    def outcome(self, key: str) -> tuple[int, str] | None:
        """The exit code of the job process `key` and, if it never started, why; None while it runs."""
        return self.owner[key].outcome(key)

    def lost(self, key: str) -> str:
        """ "" while the server running `key` is alive; else why it died, and kills what it left."""
        server = self.owner[key]
        if not server.gone():
            return ""
        server.kill()
        return server.how_it_ended()

    def can_relaunch(self) -> bool:
        with self.lock:
            return len(self.launched) < LAUNCHES or not self.launched[-1].gone()

    def abandon(self, key: str) -> None:
        """The server running `key` does not answer: kill it, so that a new one takes over."""
        self.owner[key].kill()

    def close(self) -> None:
        for server in self.launched:
            server.close()


class Supervisor:
    """Takes units of jobs from the shared queue and sees each job through to its end."""

    def __init__(
        self, work: queue.SimpleQueue[list[JobResult]], scratch: Path, shared: ForkServer | None
    ) -> None:
        self.work = work
        self.scratch = scratch
        self.shared = shared  # None: a fork server of its own for each unit

    def run(self) -> None:
        while True:
            try:
                unit = self.work.get_nowait()
            except queue.Empty:
                return
            self.server = self.shared or ForkServer(self.scratch, load_plugins=len(unit) > 1)
            try:
                for result in unit:
                    self._see_through(result)
            finally:
                if self.server is not self.shared:
                    self.server.close()

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
            outcome = self.server.outcome(key)
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
            if outcome is not None:
                code, why = outcome
                self._give_up(result, running, why or died(code))
                return False
            lost = self.server.lost(key)
            if lost:  # not this job's doing, as far as anyone can tell: run it again
                if not self.server.can_relaunch():
                    result.ended, result.problem = time.monotonic(), lost
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
        while self.server.outcome(key) is None and time.monotonic() < deadline:
            time.sleep(POLL)
        if self.server.outcome(key) is None:
            self.server.abandon(key)

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
    memory = workspace.scratch_parent()
    if memory is not None:
        env["TMPDIR"] = str(memory)  # pytest's tmp_path too, for the tests' databases
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
