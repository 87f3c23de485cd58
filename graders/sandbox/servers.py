"""The parent's handles on fork servers: how each is started, contained, heard and killed.

A server for a box runs inside bubblewrap (or, without it, under limits alone); the trusted
tests' server runs contained too, with no learner code in it. What a box's server answers is
untrusted: a line that is not what ours writes ends that server, as if it had died.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders.catalog import ROOT
from graders.sandbox import bubblewrap, limits, processes
from graders.vocabulary import Isolation

FORK_SERVER = "graders.sandbox.forkserver"  # the module run as a fork server
LAUNCHES = 3  # servers one box may start in a grading run: the first, and two after deaths
ATTEMPTS = itertools.count(1)  # names each server's log; unique in the parent


@dataclass(frozen=True)
class Containment:
    """How a server and its job processes are contained."""

    isolation: Isolation
    untrusted: bool  # runs the learner's code: limits on every job process
    writable: tuple[
        Path, ...
    ]  # the folders it may write (the rest of the machine: read-only or absent)
    readonly: tuple[Path, ...]  # folders inside those it may only read
    home: Path  # its empty home without bubblewrap
    temporary: Path  # its temporary folder without bubblewrap

    def command(self, argv: list[str]) -> tuple[list[str], dict[str, str]]:
        """The command line and environment that start `argv` contained."""
        if self.isolation == "bubblewrap":
            env = limits.environment(bubblewrap.HOME, "/tmp", str(ROOT))
            wrapped = bubblewrap.command(
                list(self.writable), list(self.readonly), env, ROOT / "graders"
            )
            return wrapped + argv, {"PATH": env["PATH"]}
        return argv, limits.environment(str(self.home), str(self.temporary), str(ROOT))


class ServerProcess:
    """One run of the fork server: the requests sent to it and the answers it gave."""

    def __init__(self, containment: Containment, logs: Path, load_plugins: bool) -> None:
        self.containment = containment
        self.log = logs / f"forkserver-{next(ATTEMPTS)}.log"
        flags = ["--load-plugins"] if load_plugins else []
        flags += ["--untrusted"] if containment.untrusted else []
        command, env = containment.command([sys.executable, "-m", FORK_SERVER, *flags])
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT / "graders",
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        self.lock = threading.Lock()  # guards the answers; writes have a lock of their own
        self.write_lock = threading.Lock()
        self.ended: dict[str, tuple[int, str]] = {}  # key → (exit code, why, if it never started)
        self.broken = ""  # what was wrong with its answers, if anything
        self.ready = False  # it said it was warm: from then on, jobs' code may have run in it
        self.listener = threading.Thread(target=self._listen, daemon=True)
        self.listener.start()

    def _listen(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip() == b'{"ready": true}':
                self.ready = True
                continue
            answer = checked_answer(line)
            if answer is None:
                self.broken = "its fork server answered with something that is not an answer"
                self.kill()
                return
            key, code, why = answer
            with self.lock:
                self.ended[key] = (code, why)

    def send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        with self.write_lock, contextlib.suppress(OSError, ValueError):  # dead: gone() says so
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()

    def outcome(self, key: str) -> tuple[int, str] | None:
        with self.lock:
            return self.ended.get(key)

    def gone(self) -> bool:
        return self.process.poll() is not None and not self.listener.is_alive()

    def how_it_ended(self) -> str:
        if self.broken:
            return f"grading stopped: {self.broken}"
        code = self.process.returncode
        if code is not None and code < 0:
            return f"grading stopped: the grader's fork server was killed by signal {-code}"
        last = tail(self.log, 600).strip().splitlines()
        if self.containment.untrusted and self.ready:
            # Inside a box, once jobs ran, the server is the learner's code's to kill.
            detail = f": {last[-1]}" if last else ""
            return f"grading stopped: the sandbox's fork server exited with code {code}{detail}"
        detail = f": {last[-1]}" if last else ""
        return f"the grader itself failed (its fork server exited with code {code}{detail}); this is not your code"

    def kill(self) -> None:
        """End the server and every process it or its jobs started."""
        if self.containment.isolation == "bubblewrap":
            with contextlib.suppress(OSError):  # the box's processes die with its first one
                os.killpg(self.process.pid, signal.SIGKILL)
        else:
            processes.kill_tree(self.process.pid)
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()

    def ask_to_end(self) -> None:
        """Close its input: the server kills any job still running and ends."""
        if self.process.stdin is not None:
            with self.write_lock, contextlib.suppress(OSError):
                self.process.stdin.close()

    def close(self) -> None:
        self.ask_to_end()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.listener.join(timeout=1)  # its last answers name the jobs it ended itself
        self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()


def checked_answer(line: bytes) -> tuple[str, int, str] | None:
    """(key, exit code, why) from one answer line, or None if it is not one ours would write."""
    try:
        answer = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(answer, dict) or not set(answer) <= {"ended", "code", "why"}:
        return None
    key, code, why = answer.get("ended"), answer.get("code"), answer.get("why", "")
    if not isinstance(key, str) or not isinstance(code, int) or not isinstance(why, str):
        return None
    return key, code, why[:500]


class ForkServer:
    """The parent's handle on a box's (or the trusted tests') fork server.

    If the server dies (a job killed it, the system ran out of memory), the jobs it was running
    are run again on a new one, up to LAUNCHES servers in all; after that they cannot be graded.
    """

    def __init__(self, containment: Containment, logs: Path, load_plugins: bool) -> None:
        self.containment, self.logs, self.load_plugins = containment, logs, load_plugins
        self.lock = threading.Lock()
        self.launched = [ServerProcess(containment, logs, load_plugins)]
        self.owner: dict[str, ServerProcess] = {}

    def start(self, key: str, job: dict[str, Any], events: Path, log: Path) -> None:
        with self.lock:
            server = self.launched[-1]
            if server.gone() and len(self.launched) < LAUNCHES:
                server.kill()
                server = ServerProcess(self.containment, self.logs, self.load_plugins)
                self.launched.append(server)
            self.owner[key] = server
        server.send({"run": key, "job": job, "events": str(events), "log": str(log)})

    def kill(self, key: str) -> None:
        self.owner[key].send({"kill": key})

    def outcome(self, key: str) -> tuple[int, str] | None:
        """The exit code of the job process `key` and, if it never started, why; None while it runs."""
        return self.owner[key].outcome(key)

    def lost(self, key: str) -> str:
        """ "" while the server running `key` is alive; else why it died."""
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

    def ask_to_end(self) -> None:
        """Let its servers end while others are asked to (close() waits for them)."""
        for server in self.launched:
            server.ask_to_end()

    def close(self) -> None:
        for server in self.launched:
            server.close()


def tail(path: Path, limit: int = 4000) -> str:
    try:
        with open(path, "rb") as stream:
            stream.seek(max(0, path.stat().st_size - limit))
            return stream.read().decode("utf-8", "replace")
    except OSError:
        return ""
