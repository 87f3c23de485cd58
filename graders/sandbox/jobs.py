"""What the sandbox runs (a Job, in a Box) and what it hears back (a JobReport of NodeReports).

A job process reports by appending JSON events to a file. An untrusted job's file is written by
the learner's code as much as by ours, so every event is checked here, field by field, with a
size limit: a malformed one voids that job's report (`ChannelError`), nothing more.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.vocabulary import Status

TEXT_LIMIT = 8000  # characters kept of any text an event carries


class ChannelError(Exception):
    """An event that our worker would never write: the job's code wrote to the channel."""


@dataclass(frozen=True)
class Host:
    """The app host of a request: the learner's modules, imported once, serving app processes."""

    directory: Path  # the learner's modules (read-only in the box)
    modules: tuple[str, ...]
    socket: Path  # where it listens for the trusted tests
    work: Path  # its working folder (writable)
    memory_mb: int


@dataclass(eq=False)
class Box:
    """One sandbox: a fork server whose processes may write below `root` and nowhere else.

    One a submission in batch; one for all katas when the learner grades their own code.
    """

    key: str
    root: Path


@dataclass(eq=False)
class Layout:
    """The folders of one request, written when its first job starts and removed after its last,
    so that a submission's code is on disk only while it is graded.

    The folders in `sealed` hold official files: after the last job they must hold exactly what
    was written, or `tampered` says what changed and the grade is void.
    """

    root: Path  # every folder below it is removed after the last job
    files: dict[Path, dict[str, bytes]]  # folder → file name → content
    sealed: tuple[Path, ...] = ()
    host: Host | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    laid_out: bool = False
    pending: int = 0  # jobs not yet ended
    tampered: str = ""


@dataclass(frozen=True, eq=False)
class Job:
    """One pytest run in a process of its own."""

    key: str  # unique in a run: names its files and its lines in logs
    box: Box
    layout: Layout
    trusted: bool  # official tests only, against the box's app host; else inside the box
    directory: Path  # pytest's rootdir: the test files (and, untrusted, the modules)
    work: Path  # its working folder, writable
    tmp: Path  # its temporary folder (an untrusted job in bubblewrap gets the box's own /tmp)
    tests: tuple[str, ...]  # files or node ids to run
    modules: tuple[str, ...] = ()  # untrusted: imported first, so a broken one is named
    timeout: float = 10.0
    memory_mb: int = 2048  # address space of the job process (untrusted jobs)
    task_id: int | None = None  # the task it runs alone (parallel tasks), if any
    variant: str | None = None  # the buggy variant of the given app it runs against, if any
    strict_warnings: bool = False
    stop_at_first_failure: bool = False  # enough to know a buggy variant was caught
    fresh_imports: bool = False  # import `modules` again before each test (graders.fresh_imports)
    first: tuple[str, ...] = ()  # node ids to try before the rest, if any
    size: int = 0  # test cases it runs, as far as the source tells
    length: float = 0.0  # a guess at how long it runs (seconds, or cases): the longest start first
    waits: bool = False  # its tests mostly sleep: it starts at once, beside the busy jobs


@dataclass
class NodeReport:
    """What one pytest node did: its phases' outcomes, the first failure and the output."""

    nodeid: str
    status: Status = "pass"
    message: str = ""
    text: str = ""
    output: str = ""
    duration: float = 0.0
    finished: bool = False
    exchange: dict[str, Any] | None = None


@dataclass
class JobReport:
    """Everything the parent learned about one job, from its events and from watching it."""

    job: Job
    nodes: dict[str, NodeReport] = field(default_factory=dict)
    import_error: str = ""
    import_seconds: float = 0.0
    collect_errors: dict[str, str] = field(default_factory=dict)
    problem: str = ""  # the job could not finish: timeout on import, crash on import, …
    log: str = ""
    began: float = 0.0  # when the job was first handed to a process (time.monotonic)
    ended: float = 0.0  # when it last ended

    def record(self, event: dict[str, Any]) -> bool:
        """Take in one checked event; True when it says the job is done."""
        kind = event["event"]
        if kind == "import_error":
            self.import_error = event["message"]
        elif kind == "imported":
            self.import_seconds = event["seconds"]
        elif kind == "collect_error":
            self.collect_errors[event["nodeid"]] = event["text"]
        elif kind == "start":
            self.nodes.setdefault(event["nodeid"], NodeReport(event["nodeid"]))
        elif kind == "report":
            self._record_report(event)
        return bool(kind == "job_end")

    def _record_report(self, event: dict[str, Any]) -> None:
        run = self.nodes.setdefault(event["nodeid"], NodeReport(event["nodeid"]))
        run.duration += event["duration"]
        run.output = run.output or event["output"]
        if event["outcome"] == "failed" and run.status == "pass":
            run.status = "fail" if event["when"] == "call" else "error"
            run.message, run.text = event["crash"], event["text"]
            run.exchange = event["exchange"]
        elif event["outcome"] == "skipped" and run.status == "pass":
            run.status, run.message = "fail", "skipped: " + event["crash"]
        if event["when"] == "teardown":
            run.finished = True


# The fields of each event the worker writes, and their types: anything else is refused.
EVENTS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "import_error": {"message": str},
    "imported": {"seconds": (int, float)},
    "host_ready": {},
    "collect_error": {"nodeid": str, "text": str},
    "start": {"nodeid": str},
    "report": {
        "nodeid": str,
        "when": str,
        "outcome": str,
        "crash": str,
        "text": str,
        "output": str,
        "duration": (int, float),
        "exchange": (dict, type(None)),
    },
    "job_end": {},
}
PHASES = {"setup", "call", "teardown"}
OUTCOMES = {"passed", "failed", "skipped"}


def parse_event(line: bytes) -> dict[str, Any]:
    """One event line, checked; ChannelError if it is not exactly what our worker writes."""
    try:
        event = json.loads(line)
    except (ValueError, RecursionError):
        raise ChannelError("a line that is not JSON") from None
    if not isinstance(event, dict) or event.get("event") not in EVENTS:
        raise ChannelError("an event of an unknown kind")
    fields = EVENTS[event["event"]]
    if set(event) != {"event", *fields}:
        raise ChannelError(f"a {event['event']} event with other fields than ours")
    for name, kind in fields.items():
        if not isinstance(event[name], kind) or isinstance(event[name], bool):
            raise ChannelError(f"a {event['event']} event whose {name} is not a {kind}")
        if isinstance(event[name], str):
            event[name] = event[name][:TEXT_LIMIT]
    if event["event"] == "report":
        if event["when"] not in PHASES or event["outcome"] not in OUTCOMES:
            raise ChannelError("a report of an unknown phase or outcome")
        event["exchange"] = checked_exchange(event["exchange"])
    return event


def checked_exchange(exchange: dict[str, Any] | None) -> dict[str, Any] | None:
    """An HTTP exchange for the replay, with only the fields it shows, each of the right type."""
    if exchange is None:
        return None
    texts = ("method", "url", "body", "response_body", "server_error")
    clean: dict[str, Any] = {}
    for name in texts:
        if name in exchange:
            if not isinstance(exchange[name], str):
                raise ChannelError(f"an exchange whose {name} is not text")
            clean[name] = exchange[name][:TEXT_LIMIT]
    for name in ("headers", "response_headers"):
        headers = exchange.get(name, {})
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ChannelError(f"an exchange whose {name} are not text")
        clean[name] = {k[:200]: v[:TEXT_LIMIT] for k, v in list(headers.items())[:50]}
    if "status" in exchange:
        if not isinstance(exchange["status"], int) or isinstance(exchange["status"], bool):
            raise ChannelError("an exchange whose status is not a number")
        clean["status"] = exchange["status"]
    if "method" not in clean or "url" not in clean:
        raise ChannelError("an exchange without a method or a url")
    clean.setdefault("body", "")
    earlier = exchange.get("earlier", [])
    if not isinstance(earlier, list) or not all(isinstance(e, dict) for e in earlier):
        raise ChannelError("an exchange whose earlier requests are not a list of requests")
    clean["earlier"] = [checked_exchange({**e, "earlier": []}) for e in earlier[-5:]]
    return clean


def read_events(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """The complete event lines written to `path` after `offset`, and the offset after them."""
    with open(path, "rb") as stream:
        stream.seek(offset)
        chunk = stream.read(1 << 22)
    complete = chunk[: chunk.rfind(b"\n") + 1]
    return [parse_event(line) for line in complete.splitlines() if line], offset + len(complete)
