"""Inside a job process: remember the last HTTP exchange of each test, for the replay.

Every request a test makes goes through httpx (TestClient is an httpx client); the wrapped send
methods keep the last one, and the worker attaches it to a failing test's report. The parent
(graders.replay) turns it into a curl line and the response.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

QUIET_REQUEST_HEADERS = {
    "host", "accept", "accept-encoding", "connection", "user-agent", "content-length",
}  # fmt: skip
TELLING_RESPONSE_HEADERS = ("location", "www-authenticate", "allow", "retry-after")

EARLIER_KEPT = 5  # requests a test made before its last one, kept for the replay
last_exchange: dict[str, Any] | None = None
earlier: list[dict[str, Any]] = []  # the test's requests before the last one, oldest first
last_server_error: str = ""  # why the latest 500 happened: "your code raised KeyError: 3 (…)"


def forget() -> None:
    global last_exchange, last_server_error
    last_exchange, last_server_error = None, ""
    earlier.clear()


def note_server_error(text: str) -> None:
    """Why the app (maybe in another process) failed the current request, as a sentence."""
    global last_server_error
    last_server_error = text


def install() -> None:
    """Wrap httpx's send methods so every exchange a test makes is remembered."""
    import httpx

    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        remember(request, None)
        response = sync_send(self, request, **kwargs)
        remember(request, response)
        return response

    async def asend(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        remember(request, None)
        response = await async_send(self, request, **kwargs)
        remember(request, response)
        return response

    httpx.Client.send = send  # type: ignore[method-assign]
    httpx.AsyncClient.send = asend  # type: ignore[method-assign]
    watch_server_errors()


def watch_server_errors() -> None:
    """Note the exception behind a 500: a test client that turns it into a response hides it."""
    from starlette.middleware.errors import ServerErrorMiddleware

    for name in ("error_response", "debug_response"):
        original = getattr(ServerErrorMiddleware, name)

        def noting(self: Any, request: Any, exc: Exception, original: Any = original) -> Any:
            note_server_error(f"your code raised {raised(exc)}")
            return original(self, request, exc)

        setattr(ServerErrorMiddleware, name, noting)


def raised(exc: BaseException, folder: str | None = None) -> str:
    """`KeyError: 999 (app.py, line 23)`: the exception and the deepest line of the learner's code.

    The learner's code is the modules in `folder` (default: the working folder), not the tests.
    """
    here = folder or os.getcwd()
    mine = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if os.path.dirname(frame.filename) == here
        and not os.path.basename(frame.filename).startswith("test_")
    ]
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, MemoryError):
        text = f"MemoryError: it needed more than the {memory_limit()} MiB it may use"
    text = " ".join(text.split())[:200]
    if mine:
        text += f" ({os.path.basename(mine[-1].filename)}, line {mine[-1].lineno})"
    return text


def memory_limit() -> int:
    """The address space this process may use, in MiB (0: no limit)."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return 0 if soft == resource.RLIM_INFINITY else soft >> 20


def remember(request: Any, response: Any) -> None:
    global last_exchange
    if response is None and last_exchange is not None:  # a new request: the last one was setup
        earlier.append({k: last_exchange[k] for k in ("method", "url", "headers", "body")})
        del earlier[:-EARLIER_KEPT]
    try:
        body = request.content.decode("utf-8", "replace")
    except Exception:  # a streamed body has no content to show
        body = ""
    exchange: dict[str, Any] = {
        "method": request.method,
        "url": str(request.url),
        "headers": {
            k: v for k, v in request.headers.items() if k.lower() not in QUIET_REQUEST_HEADERS
        },
        "body": body[:2000],
    }
    if response is not None:
        try:
            text = response.text
        except Exception:  # not read yet (streaming)
            text = ""
        exchange["status"] = response.status_code
        exchange["response_headers"] = {
            k: v for k, v in response.headers.items() if k.lower() in TELLING_RESPONSE_HEADERS
        }
        exchange["response_body"] = text[:4000]
        if response.status_code >= 500 and last_server_error:
            exchange["server_error"] = last_server_error
    exchange["earlier"] = list(earlier)
    last_exchange = exchange
