"""The boxed half of the bridge: serves the learner's app to the trusted tests.

A host is a job process inside the box. It imports the learner's modules once (a broken one is
named with its file and line, as in any grade), says it is ready, and listens on a Unix socket.
Each connection asks for a fresh app process for one test: the host forks a copy of itself,
which takes the test's environment and working folder and serves that test's ASGI calls on a
socket of its own. When the test ends the trusted side closes the connection, and the host kills
that process and its process group.

Everything here runs with the learner's code and is trusted by nobody: the trusted side checks
every message it gets back (graders.sandbox.remote).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import select
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from graders.sandbox import record, wire
from graders.sandbox.worker import Events, preflight

POLL = 0.05
PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def serve(job: dict[str, Any], events: Events) -> None:
    """Import the learner's modules, then serve app processes until the parent kills this one."""
    directory = Path(job["directory"])
    sys.path.insert(0, str(directory))
    os.chdir(job["work"])
    if preflight(job["modules"], directory, events) is None:
        events.emit("job_end")
        return
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(wire.address(job["socket"]))
    listener.listen(64)
    events.emit("host_ready")
    Host(listener, directory).run()


class Host:
    """Forks an app process per connection; kills it when that connection ends."""

    def __init__(self, listener: socket.socket, directory: Path) -> None:
        self.listener = listener
        self.directory = directory
        self.apps: dict[int, tuple[socket.socket, int]] = {}  # control fd → (socket, pid)

    def run(self) -> None:
        while True:
            listening = self.listener.fileno()
            readable, _, _ = select.select([listening, *self.apps], [], [], POLL)
            for ready in readable:
                if ready == listening:
                    self.accept()
                elif not self.still_open(ready):
                    self.end(ready)
            self.reap()

    def accept(self) -> None:
        control, _ = self.listener.accept()
        control.settimeout(10)
        try:
            request = wire.receive(control)
        except (OSError, wire.WireError):
            control.close()
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                self.listener.close()
                for other, _ in self.apps.values():
                    other.close()
                os.setsid()
                die_with_parent()
                serve_app(control, request, self.directory)
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        self.apps[control.fileno()] = (control, pid)

    def still_open(self, fd: int) -> bool:
        control, _ = self.apps[fd]
        try:
            return control.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def end(self, fd: int) -> None:
        control, pid = self.apps.pop(fd)
        control.close()
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(OSError):
                kill(pid, signal.SIGKILL)

    def reap(self) -> None:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass


def die_with_parent() -> None:
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def serve_app(control: socket.socket, request: dict[str, Any], directory: Path) -> None:
    """In the forked app process: take the test's settings, then answer its calls until killed."""
    env, cwd, output = request.get("env"), request.get("cwd"), request.get("output")
    module, attribute = request.get("module"), request.get("attribute")
    if not (isinstance(env, dict) and isinstance(cwd, str) and isinstance(output, str)):
        return
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in env.items()})
    time.tzset()  # a TZ the test set applies to this process's local time
    printed = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(printed, 1)
    os.dup2(printed, 2)
    try:
        os.chdir(cwd)
    except OSError as error:
        wire.send(control, {"error": f"the test's working folder is not there: {error}"})
        return
    app = getattr(sys.modules.get(str(module)), str(attribute), None)
    if app is None:
        wire.send(
            control,
            {
                "error": f"MISSING NAME — {module}.py has no `{attribute}`: did you misname or delete it?"
            },
        )
        return
    path = str(Path(output).with_name(f"app-{os.getpid()}.sock"))
    asyncio.run(Server(app, directory).serve(path, control))


class Server:
    """Runs each ASGI call that arrives on the socket against the learner's app."""

    def __init__(self, app: Any, directory: Path) -> None:
        self.app = app
        self.directory = str(directory)
        self.state: dict[str, Any] = {}  # the lifespan's state; each request gets a copy

    async def serve(self, path: str, control: socket.socket) -> None:
        server = await asyncio.start_unix_server(self.call, path=wire.address(path))
        wire.send(control, {"ready": path})
        async with server:
            await server.serve_forever()

    async def call(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            scope = await read(reader)
        except (asyncio.IncompleteReadError, wire.WireError):
            writer.close()
            return
        if not isinstance(scope, dict):
            writer.close()
            return
        kind = scope.get("type")
        scope["state"] = self.state if kind == "lifespan" else dict(self.state)
        scope["extensions"] = {}
        for key in ("client", "server"):
            if isinstance(scope.get(key), list):
                scope[key] = tuple(scope[key])
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        pump = asyncio.ensure_future(self.pump(reader, inbox, kind))

        async def send(message: dict[str, Any]) -> None:
            writer.write(wire.encode(message))
            await writer.drain()

        try:
            await self.app(scope, inbox.get, send)
            final: dict[str, Any] = {"bridge": "done"}
        except BaseException as error:
            final = {"bridge": "error", "raised": record.raised(error, self.directory)}
        pump.cancel()
        with contextlib.suppress(OSError, RuntimeError):
            writer.write(wire.encode(final))
            await writer.drain()
            writer.close()

    async def pump(
        self, reader: asyncio.StreamReader, inbox: asyncio.Queue[dict[str, Any]], kind: Any
    ) -> None:
        """The client's messages into the app's inbox; a disconnect when the client goes away."""
        while True:
            try:
                message = await read(reader)
            except (asyncio.IncompleteReadError, wire.WireError, OSError):
                gone = {"http": "http.disconnect", "websocket": "websocket.disconnect"}
                if kind in gone:
                    await inbox.put({"type": gone[kind], "code": 1006})
                return
            if isinstance(message, dict):
                await inbox.put(message)


async def read(reader: asyncio.StreamReader) -> Any:
    header = await reader.readexactly(wire.HEADER.size)
    return wire.decode(await reader.readexactly(wire.length(header)))
