"""The trusted half of the bridge: the official tests drive the learner's app in the box.

In a trusted job, `import app` (or any of the learner's module names) gives a stand-in module.
Its `app` is a `RemoteApp`: an ASGI app that, on the first call of a test, asks the box's app host
for a fresh process of the learner's app — with the test's environment and working folder at that
moment — and then carries every ASGI message of every call across a Unix socket to it. Any other
name of the stand-in is out of reach: a test that needs one is white-box (`@pytest.mark.white_box`)
and runs inside the box instead. When the test ends, its app process is stopped, and what the app
printed is attached to the test's output.

Everything that comes back is data: it is decoded as JSON, checked to be an ASGI message, and
handed to the test client, which holds the learner's app to the protocol.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import itertools
import os
import socket
import sys
import threading
import types
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from graders.sandbox import record, wire

START_TIMEOUT = 15.0  # seconds for the host to fork a fresh app process and answer
OUTPUT_LIMIT = 4000  # characters of what the app printed that come back to the test
SCOPE_KEYS = (
    "type", "asgi", "http_version", "method", "scheme", "path", "raw_path", "query_string",
    "root_path", "headers", "client", "server", "subprotocols",
)  # fmt: skip
LAST_MESSAGES = {"http.disconnect", "websocket.disconnect", "lifespan.shutdown"}

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class AppError(Exception):
    """What the learner's app raised, or why it could not answer, in a sentence for the learner."""


class RemoteApp:
    """One ASGI app of the learner's, served from the box: a fresh process for every test."""

    def __init__(self, module: str, attribute: str, bridge: Bridge) -> None:
        self.module, self.attribute, self.bridge = module, attribute, bridge
        self.lock = threading.Lock()
        self.control: socket.socket | None = None
        self.path = ""
        self.output: Path | None = None

    def start(self) -> str:
        """The socket of this test's app process, started on first use."""
        with self.lock:
            if self.control is None:
                self.control, self.path, self.output = self.bridge.spawn(
                    self.module, self.attribute
                )
            return self.path

    def stop(self) -> str:
        """End this test's app process; what it printed."""
        with self.lock:
            control, output = self.control, self.output
            self.control, self.path, self.output = None, "", None
        if control is None:
            return ""
        control.close()  # the host sees the end of the connection and kills the process
        if output is None:
            return ""
        try:
            with open(output, encoding="utf-8", errors="replace") as stream:
                return stream.read(OUTPUT_LIMIT)
        except OSError:
            return ""

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        path = self.path or await anyio.to_thread.run_sync(self.start)
        try:
            stream = await anyio.connect_unix(wire.address(path))
        except OSError:
            raise AppError(
                "the process running your app is gone (it exited or crashed in an earlier request)"
            ) from None
        async with stream:
            await stream.send(wire.encode(outgoing(scope)))
            await Call(stream, receive, send).run()


class Call:
    """One ASGI call across the socket: the client's messages out, the app's messages back."""

    def __init__(self, stream: anyio.abc.ByteStream, receive: Receive, send: Send) -> None:
        self.stream, self.receive, self.send = stream, receive, send
        self.incoming = BufferedByteReceiveStream(stream)

    async def run(self) -> None:
        error: Exception | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(self.forward)
            try:
                await self.answer()
            except Exception as raised:  # raised below, once the other direction is stopped
                error = raised
            group.cancel_scope.cancel()
        if error is not None:
            raise error

    async def forward(self) -> None:
        """The client's messages (request body, disconnect, websocket frames) to the app."""
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            while True:
                message = await self.receive()
                await self.stream.send(wire.encode(dict(message)))
                if message.get("type") in LAST_MESSAGES:
                    return

    async def answer(self) -> None:
        """The app's messages to the client, until the app says it is done or fails."""
        while True:
            frame = await self.frame()
            if frame is None:
                said = (
                    "the process running your app exited during this request "
                    "(an os._exit() or sys.exit() call, or a crash?)"
                )
                record.note_server_error(said)
                raise AppError(said)
            if "bridge" in frame:
                if frame["bridge"] == "done":
                    return
                said = f"your code raised {str(frame.get('raised', 'an error'))[:500]}"
                record.note_server_error(said)
                raise AppError(said)
            if not isinstance(frame.get("type"), str):
                raise AppError("your app sent something that is not an ASGI message")
            await self.send(frame)

    async def frame(self) -> dict[str, Any] | None:
        """The app's next frame, or None when its process closed the socket."""
        try:
            header = await self.incoming.receive_exactly(wire.HEADER.size)
            message = wire.decode(await self.incoming.receive_exactly(wire.length(header)))
        except (anyio.IncompleteRead, anyio.EndOfStream, anyio.BrokenResourceError):
            return None
        except wire.WireError as error:
            raise AppError(f"your app's process sent a broken message: {error}") from None
        if not isinstance(message, dict):
            raise AppError("your app sent something that is not an ASGI message")
        return message


def outgoing(scope: Message) -> dict[str, Any]:
    """The parts of a scope that cross: no state, no extensions (they hold live objects)."""
    return {key: scope[key] for key in SCOPE_KEYS if key in scope}


class Bridge:
    """This trusted job's link to its box: the host socket and where app processes keep output."""

    def __init__(self, host: str, shared: str, modules: list[str]) -> None:
        self.host, self.shared, self.modules = host, shared, modules
        self.apps: dict[tuple[str, str], RemoteApp] = {}
        self.count = itertools.count(1)

    def app(self, module: str, attribute: str) -> RemoteApp:
        key = (module, attribute)
        if key not in self.apps:
            self.apps[key] = RemoteApp(module, attribute, self)
        return self.apps[key]

    def spawn(self, module: str, attribute: str) -> tuple[socket.socket, str, Path]:
        """Ask the host for a fresh app process; its control socket, its socket and output."""
        output = Path(self.shared) / f"app-output-{os.getpid()}-{next(self.count)}.txt"
        control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        control.settimeout(START_TIMEOUT)
        try:
            control.connect(wire.address(self.host))
        except OSError:
            control.close()
            raise AppError(
                "your app could not be started: the sandbox that runs it has ended "
                "(did your code exit or kill it?)"
            ) from None
        request = {
            "module": module,
            "attribute": attribute,
            "env": dict(os.environ),
            "cwd": os.getcwd(),
            "output": str(output),
        }
        try:
            wire.send(control, request)
            reply = wire.receive(control)
        except TimeoutError:
            control.close()
            raise AppError(f"your app did not start within {START_TIMEOUT:g} s") from None
        except (OSError, wire.WireError):
            control.close()
            raise AppError("your app's process ended while it was being started") from None
        path = reply.get("ready") if isinstance(reply, dict) else None
        if not isinstance(path, str) or not path.startswith(self.shared + os.sep):
            control.close()
            said = reply.get("error") if isinstance(reply, dict) else None
            raise AppError(str(said)[:500] if said else "your app could not be started")
        control.settimeout(None)
        return control, path, output

    def stop_all(self) -> str:
        return "".join(app.stop() for app in self.apps.values())


class StandIn(types.ModuleType):
    """A learner's module as a trusted test sees it: only its `app`, and only as an app."""

    def __init__(self, name: str, bridge: Bridge) -> None:
        super().__init__(name)
        self.__bridge = bridge

    def __getattr__(self, attribute: str) -> Any:
        if attribute == "app":
            return self.__bridge.app(self.__name__, attribute)
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        raise AttributeError(
            f"{self.__name__}.{attribute} is out of reach of a verified test: the app runs in "
            "another process. Test it over HTTP, or mark the test @pytest.mark.white_box."
        )


class StandIns(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers `import <learner module>` with a stand-in, before any real module could load."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name in self.bridge.modules:
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return StandIn(spec.name, self.bridge)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class Lifetimes:
    """The pytest plugin that ends each test's app processes when the test ends."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[None]:
        yield
        printed = self.bridge.stop_all()
        if printed:
            item.add_report_section("teardown", "stdout", printed)


def install(spec: dict[str, Any]) -> Lifetimes:
    """Put the stand-ins in place for this trusted job; the plugin that goes with them."""
    bridge = Bridge(spec["socket"], spec["shared"], list(spec["modules"]))
    sys.meta_path.insert(0, StandIns(bridge))
    return Lifetimes(bridge)
