"""The fork server: one warm process that starts every job process as a copy of itself.

Importing pytest, FastAPI and their plugins costs most of a second; a fork costs milliseconds. This
process pays for the imports once, then forks a fresh process for each job the parent asks for.
A job process runs one job in a session of its own and exits, so no job sees what another left.

Each box runs one of these inside its sandbox (`--untrusted`: every job process gets the limits of
graders.sandbox.limits first); the trusted tests have one of their own. It runs none of the
learner's code itself. Protocol, one JSON object a line: the parent writes
{"run": key, "job": {...}, "events": path, "log": path} or {"kill": key}; this process answers
{"ready": true} once it is warm (no learner code has run before), then {"ended": key, "code":
exit code} when a job process ends (negative: the signal that ended it), with "why" when none
could be started.
"""

import contextlib
import ctypes
import gc
import importlib
import json
import os
import select
import signal
import sys
import tempfile
import traceback
from typing import Any, NoReturn, TextIO

import pytest

from graders.sandbox import apphost, limits, record, worker

POLL = 0.01  # seconds between looks for ended jobs while no request comes in
PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
# anyio's pytest plugin too: imported here it is not rewritten for asserts (pytest would do it in
# the warm-up session, at a cost of 50 ms on every grade's first job).
PRELOADED = (
    "fastapi", "fastapi.testclient", "httpx", "pydantic", "pytest_asyncio", "anyio",
    "anyio.pytest_plugin",
)  # fmt: skip


def warm_up(load_plugins: bool = True) -> None:
    """Import what every kata's tests use and load pytest's plugins once, for all forks to share.

    Loading the plugins costs a pytest session: worth it only when more than one job will fork.
    What is imported is frozen out of the garbage collector's sight: pytest collects garbage at
    the end of every session (this one too), and walking FastAPI's and pydantic's objects each
    time would cost more than the tests of a small kata.
    """
    for name in PRELOADED:
        importlib.import_module(name)
    declare_an_app()  # FastAPI imports more on its first route and schema than at its import
    record.install()
    gc.collect()
    gc.freeze()
    if load_plugins:
        with tempfile.TemporaryDirectory(prefix="graders-warm-up-") as empty:
            # Collecting an empty folder loads the configuration and every plugin, runs nothing.
            pytest.main(worker.pytest_args([empty], empty, ["--collect-only"]))
        gc.collect()
        gc.freeze()


def declare_an_app() -> None:
    """Declare routes, build their OpenAPI schema and serve a few requests, as every kata does.

    The first request to any FastAPI app compiles what every later one reuses: the tokenizer's
    patterns (FastAPI reads an endpoint's source line for its error messages), the serializers,
    the test client's transport. Paid here, once, it is inherited by every process forked from
    this one; paid in each app process, it was most of the cost of a short test. The endpoints
    are `async`, so that no worker thread is left running when this process forks.
    """
    from typing import Annotated

    from fastapi import Depends, FastAPI, Query
    from fastapi.testclient import TestClient
    from pydantic import BaseModel, Field

    class Item(BaseModel):
        name: str = Field(min_length=1)
        price: float = 0

    async def paging(limit: Annotated[int, Query(le=50)] = 10) -> int:
        return limit

    app = FastAPI()

    @app.post("/items/{item_id}", status_code=201)
    async def put_item(item_id: int, item: Item, limit: Annotated[int, Depends(paging)]) -> Item:
        return item

    app.openapi()
    with TestClient(app) as client:
        client.post("/items/1", params={"limit": 5}, json={"name": "a"})  # 201
        client.post("/items/one", json={"name": ""})  # 422
        client.get("/items/1")  # 405


class Server:
    """Forks job processes on request, kills them on request, and reports how each one ended."""

    def __init__(self, requests: int, answers: TextIO, untrusted: bool) -> None:
        self.requests = requests
        self.answers = answers
        self.untrusted = untrusted
        self.running: dict[int, str] = {}  # pid → key
        self.pids: dict[str, int] = {}

    def serve(self) -> None:
        pending = b""
        while True:
            readable, _, _ = select.select([self.requests], [], [], POLL)
            if readable:
                chunk = os.read(self.requests, 1 << 16)
                if not chunk:
                    break  # the parent is done
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self.handle(json.loads(line))
            self.reap()
        for key in list(self.running.values()):
            self.kill(key)
        while self.running:
            self.reap(block=True)

    def handle(self, request: dict[str, Any]) -> None:
        if "kill" in request:
            self.kill(request["kill"])
            return
        key, server = request["run"], os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()  # or the fork would print what this process had buffered
        try:
            pid = os.fork()
        except OSError as error:  # out of processes or memory, maybe because of another job
            why = f"no process could be started for it: {error.strerror}"
            self.answer({"ended": key, "code": 1, "why": why})
            return
        if pid == 0:
            self.become_job(request, server)
        self.running[pid] = key
        self.pids[key] = pid

    def become_job(self, request: dict[str, Any], server: int) -> NoReturn:
        code = 0
        try:
            die_with(server)
            os.setsid()
            os.close(self.requests)
            self.answers.close()
            job = request["job"]
            if self.untrusted:
                limits.apply(job["memory_mb"])
            log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.close(log)
            with open(request["events"], "a", encoding="utf-8") as events:
                if job["kind"] == "host":
                    apphost.serve(job, worker.Events(events))
                else:
                    worker.run_job(job, events)
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # the parent sees no job_end event and says the job died
            with contextlib.suppress(BaseException):
                traceback.print_exc()
            code = 70
        finally:
            os._exit(code)

    def kill(self, key: str) -> None:
        pid = self.pids.get(key)
        if pid is None or self.running.get(pid) != key:
            return  # it has ended already, and its pid may belong to another job by now
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:  # not yet in a session of its own, or (macOS) ending as we speak
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def answer(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):  # the parent is gone: its end of input comes next
            self.answers.write(json.dumps(message) + "\n")
            self.answers.flush()

    def reap(self, block: bool = False) -> None:
        while self.running:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            if pid == 0:
                return
            key = self.running.pop(pid, None)
            if key is None:
                continue  # not one of its jobs: nothing to report
            del self.pids[key]
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)  # whatever the job started and left running
            self.answer({"ended": key, "code": os.waitstatus_to_exitcode(status)})
            if block:
                return


def die_with(server: int) -> None:
    """On Linux, have the kernel kill this job process if the fork server dies before it."""
    if sys.platform != "linux":
        return  # elsewhere the parent kills what a server that died left behind
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server:  # it died between the fork and the prctl call
        os._exit(1)


def main() -> None:
    requests = os.dup(0)
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    # The learner's code gets an empty standard input, and what it prints goes to its job's log.
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - open for the process's life
    os.dup2(2, 1)
    warm_up(load_plugins="--load-plugins" in sys.argv[1:])
    server = Server(requests, answers, untrusted="--untrusted" in sys.argv[1:])
    server.answer({"ready": True})
    server.serve()
    # Every job has ended: nothing is left to clean up, and tearing down the interpreter (every
    # module of FastAPI, pydantic and pytest) would only delay the parent, which waits for this.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
