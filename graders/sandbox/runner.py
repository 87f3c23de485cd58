"""Run jobs in watched, contained processes and collect what each test did.

The parent trusts nothing a job process does: a test that hangs is stopped after its timeout;
when a job process dies (os._exit, a crash) the tests it had not finished run again in a new one,
each restart charged to the test that was running, at most a few more times than the job has
tests and within one overall deadline, so grading always ends. A job whose events are not ours,
or too many, loses its report and nothing else.
"""

from __future__ import annotations

import itertools
import os
import queue
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from graders import workspace
from graders.sandbox import bubblewrap, processes
from graders.sandbox.jobs import (
    Box,
    ChannelError,
    Job,
    JobReport,
    Layout,
    NodeReport,
    read_events,
)
from graders.sandbox.servers import Containment, ForkServer, tail
from graders.vocabulary import Isolation

# Importing FastAPI, Pydantic and SQLAlchemy takes a few seconds alone and over 20 s on a loaded
# 2-core machine: the limit is for imports that never end, far from a slow honest one.
IMPORT_TIMEOUT = 60.0
LOG_LIMIT = 20 * 1024 * 1024
POLL = 0.02
BUSY_EXTRA = 1  # busy jobs at once: one more than the cores, as jobs also wait on the disk
EXTRA_ATTEMPTS = 2  # process starts a job may use beyond one a test
KEYS = itertools.count(1)  # names each job process; unique in the parent


def run_jobs(
    jobs: list[Job],
    workers: int | None = None,
    isolate: bool = False,
    isolation: Isolation = "none",
    scratch: Path | None = None,
    unit_done: Callable[[list[JobReport]], None] | None = None,
    started: Shared | None = None,
) -> list[JobReport]:
    """Run every job, at most `workers` busy ones at a time; reports come back in job order.

    Every job runs in a fresh process forked from a warm fork server: the trusted jobs from one
    that holds no learner code, the others from their box's. Jobs wait in one queue, the biggest
    first, and the next starts as soon as one ends. Jobs that mostly sleep (the tasks of
    04_async) start at once, beside the busy ones. With `isolate` (submissions from different
    people) each box's jobs run one after another, from a fork server of the box's own, so that
    no submission takes several places at once or sees another's; `unit_done` hears of each
    box's reports as soon as its jobs have ended. `started` is a run whose servers were started
    ahead for these jobs' folders (graders.warm); it is closed with the rest.
    """
    reports = [JobReport(job) for job in jobs]
    for job in jobs:
        job.layout.pending += 1
    run = started or Shared(
        isolation, scratch or workspace.new_root("graders-run-"), jobs, isolate, scratch is None
    )
    run.unit_done = unit_done
    if isolate:
        by_box: dict[int, list[JobReport]] = {}
        for report in reports:
            by_box.setdefault(id(report.job.box), []).append(report)
        units = list(by_box.values())
        default = os.cpu_count() or 1
    else:
        units = [[report] for report in reports]
        default = busy_places()

    def sleeps(unit: list[JobReport]) -> bool:
        return not isolate and all(report.job.waits for report in unit)

    sleepy = [unit for unit in units if sleeps(unit)]
    busy = sorted(
        (unit for unit in units if not sleeps(unit)),
        key=lambda unit: max(report.job.length for report in unit),
        reverse=True,
    )
    work: queue.SimpleQueue[list[JobReport]] = queue.SimpleQueue()
    for unit in busy:
        work.put(unit)
    count = max(1, min(workers or default, len(busy))) if busy else 0
    try:
        if not isolate:  # one box sees every request's folders: they exist before it starts
            for layout in {id(job.layout): job.layout for job in jobs}.values():
                lay_out(layout)
            run.start_servers(jobs)  # both warm up while the first jobs are handed out
        supervisors = [Supervisor(solo(unit), run) for unit in sleepy]
        supervisors += [Supervisor(work, run) for _ in range(count)]
        with ThreadPoolExecutor(max_workers=max(1, len(supervisors))) as pool:
            futures = [pool.submit(supervisor.run) for supervisor in supervisors]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                run.stopping.set()  # Ctrl-C, SIGTERM: every supervisor ends its job at once
                raise
    finally:
        run.close(jobs)
    return reports


def busy_places() -> int:
    """How many busy jobs run at once in one box (a lone kata's tests are split in as many)."""
    return (os.cpu_count() or 1) + BUSY_EXTRA


def solo(unit: list[JobReport]) -> queue.SimpleQueue[list[JobReport]]:
    """A queue of its own for one unit."""
    work: queue.SimpleQueue[list[JobReport]] = queue.SimpleQueue()
    work.put(unit)
    return work


class Shared:
    """What one grading run shares: the fork servers, the hosts, a stop signal."""

    def __init__(
        self, isolation: Isolation, scratch: Path, jobs: list[Job], isolate: bool, own: bool
    ) -> None:
        self.isolation = isolation
        self.scratch = scratch
        self.isolate = isolate
        self.own_scratch = own
        # The trusted tests write their events here, and read and write their boxes' shared folders.
        folders = {f for j in jobs if j.trusted for f in (j.box.root, j.directory)}
        outside = {f for f in folders if not f.is_relative_to(scratch)}
        self.trusted_writable = [scratch, *sorted(outside)]
        self.logs = scratch / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.stopping = threading.Event()
        self.unit_done: Callable[[list[JobReport]], None] | None = None
        self.lock = threading.Lock()
        self.trusted: ForkServer | None = None
        # Inside each box, the folders of official files its jobs may read but not change.
        self.readonly: dict[int, list[Path]] = {}
        for job in jobs:
            sealed = self.readonly.setdefault(id(job.box), [])
            sealed += [folder for folder in job.layout.sealed if folder not in sealed]
        self.boxes: dict[int, ForkServer] = {}
        self.hosts: dict[int, Hosting] = {}
        self.children = processes.children()  # the grader's own, before any box started
        processes.become_subreaper()

    def trusted_server(self) -> ForkServer:
        with self.lock:
            if self.trusted is None:
                containment = Containment(
                    self.isolation, False, tuple(self.trusted_writable), (), self.scratch,
                    self.scratch,
                )  # fmt: skip
                self.trusted = ForkServer(containment, self.logs, load_plugins=True)
            return self.trusted

    def start_servers(self, jobs: list[Job]) -> None:
        """Start the fork servers these jobs will need now, so that they warm up side by side."""
        if any(job.trusted for job in jobs):
            self.trusted_server()
        for box in {id(job.box): job.box for job in jobs}.values():
            self.box_server(box, load_plugins=any(not j.trusted for j in jobs if j.box is box))

    def box_server(self, box: Box, load_plugins: bool) -> ForkServer:
        with self.lock:
            if id(box) not in self.boxes:
                readonly = tuple(self.readonly.get(id(box), ()))
                containment = Containment(
                    self.isolation, True, (box.root,), readonly, box.root, box.root
                )
                self.boxes[id(box)] = ForkServer(containment, self.logs, load_plugins)
            return self.boxes[id(box)]

    def close_box(self, box: Box) -> None:
        with self.lock:
            server = self.boxes.pop(id(box), None)
        if server is not None:
            server.close()

    def close(self, jobs: list[Job]) -> None:
        servers = [*self.boxes.values(), *([self.trusted] if self.trusted else [])]
        for server in servers:
            server.ask_to_end()  # they all end at once
        for server in servers:
            server.close()
        for stray in processes.children() - self.children:  # orphans the grader adopted
            processes.kill_tree(stray)
        for layout in {id(job.layout): job.layout for job in jobs}.values():
            workspace.remove(layout.root)
        workspace.remove(self.logs)
        if self.own_scratch:
            workspace.remove(self.scratch)


class Hosting:
    """The app host of one layout: started once, for every verified job of its request."""

    def __init__(self) -> None:
        self.key = ""
        self.server: ForkServer | None = None
        self.import_error = ""
        self.problem = ""
        self.import_seconds = 0.0


class Supervisor:
    """Takes units of jobs from the shared queue and sees each job through to its end."""

    def __init__(self, work: queue.SimpleQueue[list[JobReport]], run: Shared) -> None:
        self.work = work
        self.shared = run

    def run(self) -> None:
        while not self.shared.stopping.is_set():
            try:
                unit = self.work.get_nowait()
            except queue.Empty:
                return
            try:
                for report in unit:
                    self.see_through(report)
            finally:
                if self.shared.isolate:
                    self.shared.close_box(unit[0].job.box)  # its one submission is graded
            if self.shared.unit_done is not None and not self.shared.stopping.is_set():
                self.shared.unit_done(unit)

    def see_through(self, report: JobReport) -> None:
        """Run one job: its `first` tests, then (unless one already failed and that is enough)
        the rest, in a new process after each crash or hang."""
        job = report.job
        lay_out(job.layout)
        try:
            if self.shared.stopping.is_set():
                report.problem = "grading was interrupted"
                return
            if job.trusted and job.layout.host is not None:
                hosting = self.host(job)
                if hosting.import_error or hosting.problem:
                    report.import_error, report.problem = hosting.import_error, hosting.problem
                    report.ended = report.began = time.monotonic()
                    return
                report.import_seconds = hosting.import_seconds
            deadline = (
                time.monotonic() + IMPORT_TIMEOUT + job.timeout * (len(job.tests) + job.size + 2)
            )
            attempts = len(job.tests) + job.size + EXTRA_ATTEMPTS
            for tests in [job.first, job.tests] if job.first else [job.tests]:
                attempts = self.run_phase(report, tests, deadline, attempts)
                if report.problem:
                    return  # the whole job is lost: nothing left to run
                if job.stop_at_first_failure and any(
                    r.status != "pass" for r in report.nodes.values()
                ):
                    return
        finally:
            self.release(job.layout)

    def run_phase(
        self, report: JobReport, tests: tuple[str, ...], deadline: float, attempts: int
    ) -> int:
        while not report.problem:
            if attempts <= 0 or time.monotonic() > deadline:
                report.problem = (
                    "grading gave up on this job: it kept crashing or hanging "
                    "(each time a test was charged with it)"
                )
                return attempts
            attempts -= 1
            if self.run_once(report, tests):
                return attempts
        return attempts

    def server_of(self, job: Job) -> ForkServer:
        if job.trusted:
            return self.shared.trusted_server()
        return self.shared.box_server(job.box, load_plugins=job.layout.pending > 1)

    def files_of(self, job: Job, key: str, in_box: bool) -> tuple[Path, Path]:
        """Where a process writes its events and its output: inside the job's box, or not."""
        folder = job.layout.root / "events" if in_box else self.shared.logs
        folder.mkdir(parents=True, exist_ok=True)
        events, log = folder / f"{key}.events.jsonl", folder / f"{key}.log"
        events.touch()
        log.touch()
        return events, log

    def run_once(self, report: JobReport, tests: tuple[str, ...]) -> bool:
        """Run `report`'s job in a new process and watch it; False when it was stopped or died."""
        job = report.job
        key = f"{next(KEYS)}"
        events, log = self.files_of(job, key, in_box=not job.trusted)
        started = time.monotonic()
        report.began = report.began or started
        server = self.server_of(job)
        server.start(key, self.spec(report, tests), events, log)
        try:
            return self.watch(report, server, key, events, log, started)
        finally:
            report.log = tail(log)

    def watch(
        self, report: JobReport, server: ForkServer, key: str, events: Path, log: Path, since: float
    ) -> bool:
        running: str | None = None  # the node id of the test that started and has not ended
        offset = 0
        while True:
            outcome = server.outcome(key)
            try:
                new, offset = read_events(events, offset)
            except ChannelError as error:
                self.end(server, key)
                report.ended = time.monotonic()
                report.problem = (
                    f"this job's report was tampered with ({error}), so none of it counts"
                )
                return False
            for event in new:
                done = report.record(event)
                if event["event"] == "start":
                    running, since = event["nodeid"], time.monotonic()
                elif event["event"] == "report" and event["when"] == "teardown":
                    running, since = None, time.monotonic()  # the gap is timed from here
                if done:
                    report.ended = time.monotonic()
                    return True
            if outcome is not None:
                code, why = outcome
                self.give_up(report, running, why or died(code))
                return False
            lost = server.lost(key)
            if lost:  # not this job's doing, as far as anyone can tell: run it again
                if not server.can_relaunch():
                    report.ended, report.problem = time.monotonic(), lost
                return False
            limit = report.job.timeout if running else IMPORT_TIMEOUT
            stop = ""
            if self.shared.stopping.is_set():
                stop = "grading was interrupted"
            elif time.monotonic() - since > limit:
                stop = timed_out(limit, running is not None)
            elif log.stat().st_size > LOG_LIMIT or events.stat().st_size > LOG_LIMIT:
                stop = "printed more than 20 MB, so grading stopped it"
            if stop and self.shared.stopping.is_set():
                report.ended, report.problem = time.monotonic(), stop
                return False  # closing the servers kills every job at once
            if stop:
                self.end(server, key)
                self.give_up(report, running, stop)
                return False
            time.sleep(POLL)

    def end(self, server: ForkServer, key: str) -> None:
        """Kill the job process `key` and wait until it is gone, so its folder is free again."""
        server.kill(key)
        deadline = time.monotonic() + 5
        while server.outcome(key) is None and time.monotonic() < deadline:
            time.sleep(POLL)
        if server.outcome(key) is None:
            server.abandon(key)

    def spec(self, report: JobReport, tests: tuple[str, ...]) -> dict[str, Any]:
        job = report.job
        host = job.layout.host
        in_box_tmp = not job.trusted and self.shared.isolation == "bubblewrap"
        return {
            "kind": "tests",
            "trusted": job.trusted,
            "directory": str(job.directory),
            "work": str(job.work),
            "tmp": "/tmp" if in_box_tmp else str(job.tmp),
            "tests": list(tests),
            "modules": list(job.modules),
            "memory_mb": job.memory_mb,
            "strict_warnings": job.strict_warnings,
            "stop_at_first_failure": job.stop_at_first_failure,
            "fresh_imports": job.fresh_imports,
            "deselect": sorted(nodeid for nodeid, run in report.nodes.items() if run.finished),
            "app": {
                "socket": str(host.socket),
                "shared": str(host.socket.parent),
                "modules": list(host.modules),
            }
            if job.trusted and host is not None
            else None,
        }

    def give_up(self, report: JobReport, running: str | None, why: str) -> None:
        """Charge the failure to the test that was running, or to the whole job if none was.

        A test the job was not asked to run is no one to charge: the whole job is lost.
        """
        report.ended = time.monotonic()
        if running is not None and asked(report.job, running):
            run = report.nodes.setdefault(running, NodeReport(running))
            run.status, run.message, run.finished = "error", why, True
        elif running is not None:
            report.problem = f"{why}, in a test it was never asked to run ({running[:80]})"
        else:
            report.problem = why

    # The layout of a request, and its app host

    def release(self, layout: Layout) -> None:
        """One job of `layout` ended; after the last, stop its host, check it and remove it."""
        with layout.lock:
            layout.pending -= 1
            if layout.pending > 0:
                return
        hosting = self.shared.hosts.pop(id(layout), None)
        stopping = self.shared.stopping.is_set()  # then closing the servers kills the host
        if hosting is not None and hosting.server is not None and hosting.key and not stopping:
            self.end(hosting.server, hosting.key)
        layout.tampered = tampering(layout)
        workspace.remove(layout.root)

    def host(self, job: Job) -> Hosting:
        """The app host of the job's request, started and ready (or why it is not)."""
        layout, host = job.layout, job.layout.host
        assert host is not None
        with layout.lock:
            hosting = self.shared.hosts.get(id(layout))
            if hosting is not None:
                return hosting
            hosting = Hosting()
            self.shared.hosts[id(layout)] = hosting
            server = self.shared.box_server(job.box, load_plugins=layout.pending > 1)
            hosting.server, hosting.key = server, f"{next(KEYS)}"
            events, log = self.files_of(job, hosting.key, in_box=True)
            spec = {
                "kind": "host",
                "directory": str(host.directory),
                "work": str(host.work),
                "modules": list(host.modules),
                "socket": str(host.socket),
                "memory_mb": host.memory_mb,
            }
            server.start(hosting.key, spec, events, log)
            self.wait_for_host(hosting, server, events)
            return hosting

    def wait_for_host(self, hosting: Hosting, server: ForkServer, events: Path) -> None:
        started, offset = time.monotonic(), 0
        while not (hosting.import_error or hosting.problem):
            try:
                new, offset = read_events(events, offset)
            except ChannelError as error:
                hosting.problem = f"the app host's report was tampered with ({error})"
                return
            for event in new:
                if event["event"] == "host_ready":
                    return
                if event["event"] == "imported":
                    hosting.import_seconds = event["seconds"]
                elif event["event"] == "import_error":
                    hosting.import_error = event["message"]
            outcome = server.outcome(hosting.key)
            if hosting.import_error:
                return
            if outcome is not None:
                code, why = outcome
                hosting.problem = why or died(code)
            elif lost := server.lost(hosting.key):
                hosting.problem = lost
            elif self.shared.stopping.is_set():
                hosting.problem = "grading was interrupted"
            elif time.monotonic() - started > IMPORT_TIMEOUT:
                hosting.problem = (
                    f"importing your modules did not finish within {IMPORT_TIMEOUT:g} s, so "
                    "grading stopped it (an endless loop at import, or a slow call at module level?)"
                )
            else:
                time.sleep(POLL)


def lay_out(layout: Layout) -> None:
    """Write a request's folders, the first time one of its jobs needs them."""
    with layout.lock:
        if layout.laid_out:
            return
        for folder, files in layout.files.items():
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                (folder / name).write_bytes(data)
        for folder in layout.sealed:  # a speed bump without bubblewrap; a wall with it
            for path in folder.iterdir():
                path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            folder.chmod(0o555)
        layout.laid_out = True


def asked(job: Job, nodeid: str) -> bool:
    """Whether `nodeid` is one of the tests `job` runs (a file, a test, or a case of one)."""
    return any(nodeid == test or nodeid.startswith((test + "::", test + "[")) for test in job.tests)


def tampering(layout: Layout) -> str:
    """What changed in the sealed folders of `layout` since they were laid out, or ""."""
    for folder in layout.sealed:
        wanted = layout.files.get(folder, {})
        try:
            found = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
            extra = [path.name for path in folder.iterdir() if not path.is_file()]
        except OSError as error:
            return f"the grading folder {folder.name} could not be read back: {error.strerror}"
        added = sorted(set(found) - set(wanted)) + sorted(extra)
        if added:
            return f"files were added to the grading folder while it was graded: {', '.join(added)}"
        changed = sorted(name for name in wanted if found.get(name) != wanted[name])
        if changed:
            return f"files of the grading folder were changed while it was graded: {', '.join(changed)}"
    return ""


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


def isolation_here() -> tuple[Isolation, str]:
    """How learner code is contained on this machine, and, if not by bubblewrap, why not."""
    wanted = os.environ.get("GRADERS_SANDBOX", "auto")
    if wanted == "none":
        return "none", "the sandbox is off (GRADERS_SANDBOX=none)"
    reason = bubblewrap.probe()
    return ("none", reason) if reason else ("bubblewrap", "")
