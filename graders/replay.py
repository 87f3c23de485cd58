"""HTTP replay: the last request a failing test made, as a curl line, and what came back.

The worker records every exchange that goes through httpx (TestClient is an httpx client); the
parent turns the last one of a failing test into two or three short lines.
"""

from __future__ import annotations

import json
import os
import shlex
import traceback
from typing import Any

QUIET_REQUEST_HEADERS = {
    "host", "accept", "accept-encoding", "connection", "user-agent", "content-length",
}  # fmt: skip
TELLING_RESPONSE_HEADERS = ("location", "www-authenticate", "allow", "retry-after")
BODY_LIMIT = 300
LOCAL_SERVER = "http://127.0.0.1:8000"  # where `nox -s serve -- <kata>` runs the learner's app

last_exchange: dict[str, Any] | None = None
last_server_error: str = ""  # what the app raised behind the latest 500, in the learner's words


def forget() -> None:
    global last_exchange, last_server_error
    last_exchange, last_server_error = None, ""


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
            global last_server_error
            last_server_error = raised(exc)
            return original(self, request, exc)

        setattr(ServerErrorMiddleware, name, noting)


def raised(exc: BaseException) -> str:
    """`KeyError: 999 (app.py, line 23)`: the exception and the deepest line of the learner's code."""
    here = os.getcwd()
    mine = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if os.path.dirname(frame.filename) == here
        and not os.path.basename(frame.filename).startswith("test_")
    ]
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = " ".join(text.split())[:200]
    if mine:
        text += f" ({os.path.basename(mine[-1].filename)}, line {mine[-1].lineno})"
    return text


def remember(request: Any, response: Any) -> None:
    global last_exchange
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
    last_exchange = exchange


def curl(exchange: dict[str, Any]) -> str:
    """The request as a curl line against `nox -s serve` (the test client's host is not real)."""
    url = exchange["url"].replace("http://testserver", LOCAL_SERVER, 1)
    parts = ["curl", "-X", exchange["method"], url]
    for name, value in exchange["headers"].items():
        parts += ["-H", f"{name}: {value}"]
    if exchange["body"]:
        parts += ["-d", exchange["body"]]
    return shlex.join(parts)


def validation_sentences(body: str) -> list[str] | None:
    """FastAPI's 422 `detail` list as sentences: `body → price: Field required`."""
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        return None
    if not isinstance(detail, list):
        return None
    sentences = []
    for error in detail:
        if isinstance(error, dict) and "loc" in error:
            where = " → ".join(str(part) for part in error["loc"])
            sentences.append(f"{where}: {error.get('msg', '')}")
    return sentences or None


def describe(exchange: dict[str, Any] | None) -> list[str]:
    """Two or three lines: the request as curl, and the response."""
    if not exchange:
        return []
    lines = [f"$ {curl(exchange)}"]
    if "status" not in exchange:
        return [*lines, "← no response: the app raised an exception"]
    extra = "".join(f" {k}: {v};" for k, v in exchange["response_headers"].items())
    body = exchange["response_body"]
    sentences = validation_sentences(body) if exchange["status"] == 422 else None
    if sentences:
        lines.append(f"← {exchange['status']}{extra} {'; '.join(sentences)}")
    else:
        shown = body if len(body) <= BODY_LIMIT else body[:BODY_LIMIT] + "…"
        lines.append(f"← {exchange['status']}{extra} {shown}".rstrip())
    return lines
