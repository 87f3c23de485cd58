"""Kata 13 · Files and streaming — what the files API must do. Run: nox -s files_and_streaming

Every test talks HTTP to `kata.app` and reads the folder it chose through FILES_DIR, so every
result is verified. Most requests go through TestClient or httpx. Those two hand the app the
whole request body in one message and give the test the response only once the app has
finished. So they cannot show an upload refused while it is still arriving, or a response that
leaves while it is being produced. For those the tests drive the app's ASGI interface the way
Uvicorn does (`exchange` below): the body goes out in chunks and can stop halfway, as a slow
client's would. Each response message reaches the test when the app sends it, and the client
can hang up at any moment.

Every wait is bounded (WAIT seconds for what a right app does at once), and the one timing check
compares against the same app's own time for a small request, so a busy machine slows both.
"""

import hashlib
import json
import math
import re
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

import app as kata

WAIT = 3.0  # seconds for something a right app does at once
LIMIT = 262_144  # FILES_MAX_BYTES in most tests: 256 KiB
CHUNK = 64 * 1024  # how much of a body a client sends at a time
BOUNDARY = "kata13-boundary"
FILE_INFO_FIELDS = ["content_type", "filename", "id", "sha256", "size", "tags", "title"]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(200)
PDF = b"%PDF-1.7\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 20 + b"%%EOF\n"
GIF = b"GIF89a" + bytes(100)


@pytest.fixture(autouse=True)
def store(monkeypatch, tmp_path) -> Path:
    """FILES_DIR, a folder that does not exist yet, and a 256 KiB limit, set before the app starts."""
    folder = tmp_path / "store"
    monkeypatch.setenv("FILES_DIR", str(folder))
    monkeypatch.setenv("FILES_MAX_BYTES", str(LIMIT))
    return folder


@pytest.fixture
def client():
    # A server error comes back as a 500 response, as a real client would see it. The app
    # starts here, with the environment set so far: a test that changes it does so first.
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def no_limit_set(monkeypatch) -> None:
    """No FILES_MAX_BYTES, before `client` starts: the default limit applies."""
    monkeypatch.delenv("FILES_MAX_BYTES")


@pytest.fixture
def limit(request, monkeypatch) -> int:
    """FILES_MAX_BYTES for this test (parametrized indirectly), set before `client` starts."""
    monkeypatch.setenv("FILES_MAX_BYTES", str(request.param))
    return request.param


@asynccontextmanager
async def async_client() -> AsyncIterator[httpx.AsyncClient]:
    """httpx over ASGI, in the test's own event loop: for requests made while a stream is open."""
    transport = httpx.ASGITransport(app=kata.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def payload(response: httpx.Response) -> Any:
    """The JSON body, or the text when it is not JSON (a crash's 500 is plain text)."""
    try:
        return response.json()
    except ValueError:
        return response.text


def error_locs(response: httpx.Response) -> list[Any] | None:
    try:
        return [error["loc"] for error in response.json()["detail"]]
    except (ValueError, KeyError, TypeError):
        return None


def stored_files(folder: Path) -> list[str]:
    """The names in FILES_DIR (none when the app never made it)."""
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def multipart(
    *,
    title: str | None = "Scan",
    content: bytes = PNG,
    filename: str = "scan.png",
    content_type: str | None = "image/png",
    tags: Iterable[str] = (),
) -> bytes:
    """A multipart/form-data body, byte for byte, as a browser sends it (boundary BOUNDARY)."""
    parts = []
    if title is not None:
        parts.append(f'Content-Disposition: form-data; name="title"\r\n\r\n{title}'.encode())
    for tag in tags:
        parts.append(f'Content-Disposition: form-data; name="tags"\r\n\r\n{tag}'.encode())
    head = f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    parts.append(head.encode() + b"\r\n" + content)
    body = b"".join(f"--{BOUNDARY}\r\n".encode() + part + b"\r\n" for part in parts)
    return body + f"--{BOUNDARY}--\r\n".encode()


MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def png_body_of(size: int) -> bytes:
    """A multipart upload of a PNG whose whole body is exactly `size` bytes."""
    framing = len(multipart(content=PNG[:8]))
    body = multipart(content=PNG[:8] + b"\x00" * (size - framing))
    assert len(body) == size
    return body


def upload(client: TestClient, **fields: Any) -> httpx.Response:
    return client.post("/files", content=multipart(**fields), headers=MULTIPART)


def uploaded(client: TestClient, **fields: Any) -> dict[str, Any]:
    r = upload(client, **fields)
    assert r.status_code == 201, f"POST /files → {r.status_code} {payload(r)}, expected 201"
    return r.json()


@asynccontextmanager
async def exchange(
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: Iterable[bytes] = (),
    hold: bool = False,
) -> AsyncIterator[SimpleNamespace]:
    """One HTTP request driven through the app's ASGI interface, the way Uvicorn drives it.

    The body goes to the app in the chunks given, as `http.request` messages with
    `more_body: True`. Then it ends with an empty last message, or, with `hold=True`, it never
    ends: like a client that is still uploading, `receive` waits until the client hangs up. The
    app's messages come back one at a time, as it sends them: `await call.status()`,
    `await call.chunk()`, `await call.whole_body()`, `call.header(name)`. `call.hang_up()` makes
    the next `receive` return `http.disconnect`, as when a browser tab is closed, and
    `await call.ended()` says whether the app's ASGI call then returned. The client hangs up
    when the block ends.
    """
    raw = [(b"host", b"testserver")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},  # what Uvicorn 0.54 says
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    chunks = iter(body)
    gone, finished = anyio.Event(), anyio.Event()
    outbox, inbox = anyio.create_memory_object_stream[dict[str, Any]](math.inf)
    call = SimpleNamespace(sent=0, body_ended=False, start=None, hang_up=gone.set)

    async def receive() -> dict[str, Any]:
        if not gone.is_set():
            chunk = next(chunks, None)
            if chunk is not None:
                call.sent += len(chunk)  # body bytes handed to the app so far
                return {"type": "http.request", "body": chunk, "more_body": True}
            if not (hold or call.body_ended):
                call.body_ended = True
                return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        await outbox.send(dict(message))

    async def run() -> None:
        try:
            await kata.app(scope, receive, send)
        except Exception:  # the app crashed: the test says what it expected instead
            pass
        finally:
            finished.set()
            outbox.close()

    async def message(within: float) -> dict[str, Any] | None:
        """The app's next message, or None when none came within `within` s or the app ended."""
        with anyio.move_on_after(within):
            try:
                return await inbox.receive()
            except anyio.EndOfStream:
                return None
        return None

    async def status(within: float = WAIT) -> int | None:
        """The response's status, once the app has started it (None if it did not in time)."""
        if call.start is None:
            first = await message(within)
            if first is not None and first["type"] == "http.response.start":
                call.start = first
        return None if call.start is None else call.start["status"]

    def header(name: str) -> str | None:
        for key, value in call.start.get("headers", []) if call.start else []:
            if key.decode().lower() == name:
                return value.decode()
        return None

    async def chunk(within: float = WAIT) -> tuple[bytes, bool] | None:
        """The next piece of the body and whether more follows; None if none came in time."""
        piece = await message(within)
        if piece is None or piece["type"] != "http.response.body":
            return None
        return piece.get("body", b""), piece.get("more_body", False)

    async def whole_body(within: float = WAIT) -> list[bytes] | None:
        """Every piece of the body, up to the last; None if the app stopped sending before it
        (or never started the response: ask for `status()` first)."""
        if call.start is None:
            return None
        pieces = []
        with anyio.move_on_after(within):
            while (piece := await chunk(within)) is not None:
                pieces.append(piece[0])
                if not piece[1]:
                    return pieces
        return None

    async def ended(within: float = WAIT) -> bool:
        """Whether the app's ASGI call returned within `within` s."""
        with anyio.move_on_after(within):
            async for _ in inbox:  # what the app still sends after the hang-up
                pass
            await finished.wait()
        return finished.is_set()

    call.status, call.header, call.chunk, call.whole_body, call.ended = (
        status, header, chunk, whole_body, ended,
    )  # fmt: skip
    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(run)
        try:
            yield call
        except Exception as raised:  # the test's own assertion: raised again, unwrapped, below
            failure = raised
        finally:
            gone.set()
            await ended(WAIT)
            group.cancel_scope.cancel()
    inbox.close()
    if failure is not None:
        raise failure


async def refusal(
    path: str, *, query: str = "", headers: dict[str, str] | None = None
) -> tuple[int | str, Any]:
    """GET `path` through ASGI: (status, error locations) of an error answer, or (200, None)
    for a response that started, its body unread: it may be endless or huge."""
    async with exchange("GET", path, query=query, headers=headers) as call:
        status = await call.status()
        if status is None:  # an event stream may start only with its first event
            return f"no answer within {WAIT:g} s", None
        if status == 200:
            return status, None
        body = b"".join(await call.whole_body() or [])
    try:
        return status, [error["loc"] for error in json.loads(body)["detail"]]
    except (ValueError, KeyError, TypeError):
        return status, body[:200]


# --- Task 1: an upload with form fields ----------------------------------------------------


@pytest.mark.task(1)
@pytest.mark.parametrize(
    ("filename", "content_type", "content"),
    [("scan.png", "image/png", PNG), ("Übersicht 2026.pdf", "application/pdf", PDF)],
    ids=["png", "pdf-non-ascii-name"],
)
def test_upload_stores_the_file_and_its_form_fields(client, store, filename, content_type, content):
    r = upload(
        client, title="Quarterly scan", tags=["finance", "q3"], filename=filename,
        content=content, content_type=content_type,
    )  # fmt: skip
    assert r.status_code == 201, (
        f"POST /files {filename} → {r.status_code} {payload(r)}, expected 201"
    )
    info = r.json()
    assert isinstance(info, dict) and sorted(info) == FILE_INFO_FIELDS, (
        f"POST /files → {info}, expected exactly the fields {FILE_INFO_FIELDS}"
    )
    assert isinstance(info["id"], str) and re.fullmatch(r"[0-9a-f]{32}", info["id"]), (
        f"POST /files → id {info['id']!r}, expected 32 lowercase hex digits (uuid4().hex)"
    )
    expected = {
        "id": info["id"],
        "filename": filename,
        "title": "Quarterly scan",
        "tags": ["finance", "q3"],
        "content_type": content_type,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    assert info == expected, f"POST /files → {info}, expected {expected}"
    names = stored_files(store)
    assert names == sorted([info["id"], f"{info['id']}.json"]), (
        f"after one upload FILES_DIR holds {names}, expected exactly "
        f"['{info['id']}', '{info['id']}.json']: the bytes and the FileInfo, nothing else"
    )
    on_disk = (store / info["id"]).read_bytes()
    assert on_disk == content, (
        f"FILES_DIR/{info['id']} holds {len(on_disk)} bytes, expected the {len(content)} uploaded"
    )
    sidecar = json.loads((store / f"{info['id']}.json").read_text(encoding="utf-8"))
    assert sidecar == expected, f"FILES_DIR/{info['id']}.json holds {sidecar}, expected {expected}"


@pytest.mark.task(1)
@pytest.mark.parametrize(
    "tags", [[], ["b"], ["b", "a", "b"]], ids=["no-tags", "one-tag", "repeated-in-order"]
)
def test_tags_are_a_repeated_optional_field_kept_in_order(client, tags):
    r = upload(client, tags=tags)
    got = payload(r).get("tags") if isinstance(payload(r), dict) else payload(r)
    assert (r.status_code, got) == (201, tags), (
        f"POST /files with tags {tags} → {r.status_code} tags {got}, expected 201 with {tags}: "
        "every `tags` field of the form, in the order sent ([] without any)"
    )


@pytest.mark.task(1)
@pytest.mark.parametrize(
    "title",
    ["T", "x" * 100, "  Scan  ", "   ", " " + "x" * 98 + " "],
    ids=["1-char", "100-chars", "spaces-around", "only-spaces", "100-with-spaces"],
)
def test_a_title_of_1_to_100_characters_is_accepted_as_sent(client, store, title):
    r = upload(client, title=title)
    got = payload(r).get("title") if isinstance(payload(r), dict) else payload(r)
    assert (r.status_code, got) == (201, title), (
        f"POST /files with the {len(title)}-character title {title!r} → {r.status_code} "
        f"{got!r}, expected 201 with the title as sent: spaces are characters, kept and counted"
    )
    sidecar = json.loads((store / f"{r.json()['id']}.json").read_text(encoding="utf-8"))
    assert sidecar.get("title") == title, (
        f"FILES_DIR/<id>.json holds the title {sidecar.get('title')!r}, expected {title!r}"
    )


@pytest.mark.task(1)
@pytest.mark.parametrize(
    ("body", "headers", "loc"),
    [
        (multipart(title=None), MULTIPART, ["body", "title"]),
        (multipart(title=""), MULTIPART, ["body", "title"]),
        (multipart(title="x" * 101), MULTIPART, ["body", "title"]),
        (multipart(title=" " + "x" * 99 + " "), MULTIPART, ["body", "title"]),
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nScan\r\n'
            f"--{BOUNDARY}--\r\n".encode(),
            MULTIPART,
            ["body", "file"],
        ),
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nScan\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\n\r\nnot a file\r\n'
            f"--{BOUNDARY}--\r\n".encode(),
            MULTIPART,
            ["body", "file"],
        ),
    ],
    ids=[
        "no-title",
        "empty-title",
        "101-char-title",
        "101-with-spaces",
        "no-file",
        "file-sent-as-text",
    ],
)
def test_a_broken_form_is_422_and_stores_nothing(client, store, body, headers, loc):
    r = client.post("/files", content=body, headers=headers)
    assert r.status_code == 422, f"POST /files ({loc[-1]} wrong) → {r.status_code}, expected 422"
    assert error_locs(r) == [loc], (
        f"POST /files ({loc[-1]} wrong) → {payload(r)}, expected one error at {loc}"
    )
    assert stored_files(store) == [], f"after a 422 FILES_DIR holds {stored_files(store)}"


@pytest.mark.task(1)
def test_json_instead_of_a_form_is_422(client, store):
    r = client.post("/files", json={"title": "Scan", "file": "iVBORw0KGgo="})
    assert r.status_code == 422, (
        f"POST /files with a JSON body → {r.status_code}, expected 422: the route reads a form"
    )
    assert stored_files(store) == [], f"after a 422 FILES_DIR holds {stored_files(store)}"


@pytest.mark.task(1)
def test_each_upload_gets_its_own_id_and_is_served_by_it(client, store):
    first, second = uploaded(client, title="One"), uploaded(client, title="Two")
    assert first.get("id") != second.get("id"), (
        f"two uploads of the same file → ids {first.get('id')} and {second.get('id')}, "
        "expected two different ids"
    )
    for info in (first, second):
        r = client.get(f"/files/{info['id']}")
        assert (r.status_code, payload(r)) == (200, info), (
            f"GET /files/{info['id']} → {r.status_code} {payload(r)}, expected 200 {info}"
        )
    assert len(stored_files(store)) == 4, (
        f"after two uploads FILES_DIR holds {stored_files(store)}, expected two files and two .json"
    )


@pytest.mark.task(1)
@pytest.mark.parametrize("file_id", ["0" * 32, "abc", "0" * 31 + "G"])
def test_info_of_an_unknown_file_is_404(client, file_id):
    r = client.get(f"/files/{file_id}")
    assert (r.status_code, payload(r)) == (404, {"detail": "File not found"}), (
        f"GET /files/{file_id} → {r.status_code} {payload(r)}, "
        "expected 404 {'detail': 'File not found'}"
    )


@pytest.mark.task(1)
def test_the_clients_filename_is_never_a_path(client, store, tmp_path):
    info = uploaded(client, filename="../escape.png")
    assert info.get("filename") == "../escape.png", (
        f"POST /files with filename '../escape.png' → filename {info.get('filename')!r}, "
        "expected it kept as the client sent it: it is data"
    )
    outside = sorted(p.name for p in tmp_path.iterdir())
    assert outside == ["store"], (
        f"after uploading '../escape.png' the folder above FILES_DIR holds {outside}, expected "
        "only FILES_DIR: the file is stored under its id, never under the client's name"
    )
    assert stored_files(store) == sorted([info["id"], f"{info['id']}.json"]), (
        f"FILES_DIR holds {stored_files(store)}, expected the file under its id and its .json"
    )


# --- Task 2: a size limit enforced while the body arrives ----------------------------------


@pytest.mark.task(2)
@pytest.mark.parametrize("limit", [LIMIT, 100_000], indirect=True)
def test_a_body_one_byte_over_the_limit_is_413(limit, client, store):
    r = client.post("/files", content=png_body_of(limit + 1), headers=MULTIPART)
    expected = {"detail": f"Request body too large: the limit is {limit} bytes"}
    assert (r.status_code, payload(r)) == (413, expected), (
        f"POST /files with a {limit + 1}-byte body (FILES_MAX_BYTES={limit}) → "
        f"{r.status_code} {payload(r)}, expected 413 {expected}"
    )
    assert stored_files(store) == [], f"after a 413 FILES_DIR holds {stored_files(store)}"


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/nowhere"), ("PUT", "/files"), ("POST", f"/files/{'0' * 32}"),
     ("PATCH", "/exports/readings.csv")],
    ids=["no-such-path", "other-method", "other-route", "get-route"],
)  # fmt: skip
def test_the_limit_holds_for_every_request(client, method, path):
    r = client.request(method, path, content=b"x" * (LIMIT + 1), headers=MULTIPART)
    expected = {"detail": f"Request body too large: the limit is {LIMIT} bytes"}
    assert (r.status_code, payload(r)) == (413, expected), (
        f"{method} {path} with a {LIMIT + 1}-byte body (FILES_MAX_BYTES={LIMIT}) → "
        f"{r.status_code} {str(payload(r))[:200]}, expected 413 {expected}: FILES_MAX_BYTES is "
        "the largest body the app accepts on any request, so the middleware checks them all"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize("limit", [LIMIT, 100_000], indirect=True)
def test_a_body_of_exactly_the_limit_is_stored(limit, client, store):
    r = client.post("/files", content=png_body_of(limit), headers=MULTIPART)
    assert r.status_code == 201, (
        f"POST /files with a body of exactly {limit} bytes (FILES_MAX_BYTES={limit}) → "
        f"{r.status_code} {payload(r)}, expected 201: the limit itself is allowed"
    )


@pytest.mark.task(2)
@pytest.mark.asyncio
async def test_the_default_limit_is_10_mib(no_limit_set):
    headers = {**MULTIPART, "content-length": "10485761"}
    async with exchange("POST", "/files", headers=headers, hold=True) as call:
        status = await call.status()
        body = await call.whole_body()
    got = (status, json.loads(b"".join(body)) if body else None)
    expected = (413, {"detail": "Request body too large: the limit is 10485760 bytes"})
    assert got == expected, (
        f"POST /files declaring 10 MiB + 1 byte, FILES_MAX_BYTES unset → {got}, "
        f"expected {expected}: the default limit is 10485760 bytes"
    )
    async with async_client() as client:
        r = await client.post("/files", content=png_body_of(10_485_760), headers=MULTIPART)
    assert r.status_code == 201, (
        f"POST /files with a 10 MiB body, FILES_MAX_BYTES unset → {r.status_code} "
        f"{str(payload(r))[:200]}, expected 201: a body of exactly the default limit is allowed"
    )


@pytest.mark.task(2)
@pytest.mark.asyncio
async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(store):
    headers = {**MULTIPART, "content-length": str(LIMIT + 1), "expect": "100-continue"}
    async with exchange("POST", "/files", headers=headers, hold=True) as call:
        status = await call.status(WAIT)
        assert status == 413, (
            f"POST /files declaring Content-Length: {LIMIT + 1} (FILES_MAX_BYTES={LIMIT}), "
            f"body not sent yet → {status or f'no answer within {WAIT:g} s'}, expected 413 at "
            "once: refuse on the header, before reading the body (a dependency or the route "
            "runs only after FastAPI has read the whole form)"
        )
        body = await call.whole_body()
    expected = {"detail": f"Request body too large: the limit is {LIMIT} bytes"}
    got = json.loads(b"".join(body)) if body else None
    assert got == expected, f"the 413 says {got}, expected {expected}"


# Refused halfway through the form, Starlette's multipart parser leaves the spooled temporary file
# it had opened for the upload to the garbage collector (it closes its files only on its own
# parse errors); Python 3.11 then warns. That is Starlette's, not the app's: ignore it here.
SPOOLED_FILE_LEFT_OPEN = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <function SpooledTemporaryFile.__del__"
    ":pytest.PytestUnraisableExceptionWarning"
)


def endless_upload() -> Iterator[bytes]:
    """A chunked PNG upload that would never end: the multipart head, then 64 KiB chunks."""
    head = multipart(content=b"")
    yield head[: head.index(b"\r\n\r\n", head.index(b'name="file"')) + 4] + PNG[:8]
    while True:
        yield b"\x00" * CHUNK


def passing(limit: int, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks up to and including the one that takes the total past `limit`."""
    total = 0
    for chunk in chunks:
        yield chunk
        total += len(chunk)
        if total > limit:
            return


@pytest.mark.task(2)
@pytest.mark.asyncio
@SPOOLED_FILE_LEFT_OPEN
async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(store):
    # No Content-Length: the client streams (Transfer-Encoding: chunked). The test sends the
    # chunk that passes the limit, then holds the rest (the upload would be endless), so only an
    # app that counts as the body arrives can answer.
    headers = {**MULTIPART, "transfer-encoding": "chunked"}
    body = passing(LIMIT, endless_upload())
    async with exchange("POST", "/files", headers=headers, body=body, hold=True) as call:
        status = await call.status(WAIT)
        assert status == 413, (
            f"POST /files, chunked, FILES_MAX_BYTES={LIMIT}: after {call.sent} bytes the client "
            f"holds the rest → {status or f'no answer within {WAIT:g} s'}, expected 413 at once: "
            "count the bytes as they arrive and refuse on the chunk that passes the limit. With "
            "UploadFile the route runs only once the whole body is in, too late to refuse it"
        )
        body = await call.whole_body()
    expected = {"detail": f"Request body too large: the limit is {LIMIT} bytes"}
    got = json.loads(b"".join(body)) if body else None
    assert got == expected, f"the 413 says {got}, expected {expected}"
    assert stored_files(store) == [], (
        f"after refusing a chunked upload FILES_DIR holds {stored_files(store)}, expected nothing"
    )


def in_chunks(body: bytes, size: int = CHUNK) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.task(2)
@pytest.mark.asyncio
@SPOOLED_FILE_LEFT_OPEN
@pytest.mark.parametrize(("size", "status"), [(LIMIT, 201), (LIMIT + 1, 413)])
async def test_a_chunked_body_is_measured_to_the_byte(store, size, status):
    headers = {**MULTIPART, "transfer-encoding": "chunked"}
    body = png_body_of(size)
    async with exchange("POST", "/files", headers=headers, body=in_chunks(body)) as call:
        got = await call.status(WAIT)
        answer = b"".join(await call.whole_body() or [])
    assert got == status, (
        f"POST /files, chunked, {size} bytes in all (FILES_MAX_BYTES={LIMIT}) → {got} "
        f"{answer[:200].decode(errors='replace')}, expected {status}: the limit counts every "
        "byte of the body, and a body of exactly the limit is allowed"
    )
    if status == 201:
        file_id = json.loads(answer)["id"]
        content = body[body.index(PNG[:8]) : body.rindex(f"\r\n--{BOUNDARY}--".encode())]
        assert (store / file_id).read_bytes() == content, (
            "the file stored from a chunked upload differs from the one sent"
        )


# --- Task 3: only the file types we store ------------------------------------------------


@pytest.mark.task(3)
@pytest.mark.parametrize(
    ("declared", "content", "stored"),
    [
        ("image/png", PNG, "image/png"),
        ("image/jpeg", JPEG, "image/jpeg"),
        ("application/pdf", PDF, "application/pdf"),
        ("Image/PNG", PNG, "image/png"),
        ("image/png; name=scan", PNG, "image/png"),
    ],
    ids=["png", "jpeg", "pdf", "capitals", "with-parameter"],
)
def test_allowed_types_whose_content_matches_are_stored(client, declared, content, stored):
    r = upload(client, content_type=declared, content=content)
    got = payload(r).get("content_type") if isinstance(payload(r), dict) else payload(r)
    assert (r.status_code, got) == (201, stored), (
        f"POST /files, a {declared!r} file that starts as one → {r.status_code} {got!r}, "
        f"expected 201 with content_type {stored!r} (the media type, lower case, no parameters)"
    )


@pytest.mark.task(3)
@pytest.mark.parametrize(
    ("declared", "content", "named"),
    [
        ("text/plain", b"hello", "text/plain"),
        ("image/gif", GIF, "image/gif"),
        ("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        ("application/octet-stream", PNG, "application/octet-stream"),
        (None, PNG, "application/octet-stream"),
        ("Text/Plain; charset=utf-8", b"hello", "text/plain"),
        ("IMAGE/GIF", GIF, "image/gif"),
    ],
    ids=["text", "gif", "svg", "octet-stream", "no-content-type", "text-with-charset", "capitals"],
)
def test_a_type_outside_the_allow_list_is_415(client, store, declared, content, named):
    r = upload(client, content_type=declared, content=content)
    expected = {"detail": f"Unsupported file type: {named}"}
    assert (r.status_code, payload(r)) == (415, expected), (
        f"POST /files, a file declared {declared!r} → {r.status_code} {payload(r)}, "
        f"expected 415 {expected}"
    )
    assert stored_files(store) == [], f"after a 415 FILES_DIR holds {stored_files(store)}"


@pytest.mark.task(3)
@pytest.mark.parametrize(
    ("declared", "content"),
    [
        ("image/png", PDF),
        ("application/pdf", PNG),
        ("image/jpeg", PNG),
        ("image/png", PNG[:7]),
        ("image/png", b"x" + PNG),
        ("image/jpeg", b""),
    ],
    ids=["pdf-as-png", "png-as-pdf", "png-as-jpeg", "truncated-png", "png-not-at-start", "empty"],
)
def test_content_that_does_not_start_as_declared_is_415(client, store, declared, content):
    r = upload(client, content_type=declared, content=content)
    expected = {"detail": f"File content does not match {declared}"}
    assert (r.status_code, payload(r)) == (415, expected), (
        f"POST /files, declared {declared!r}, content starting {content[:8]!r} → "
        f"{r.status_code} {payload(r)}, expected 415 {expected}: the first bytes must be "
        "that type's signature"
    )
    assert stored_files(store) == [], f"after a 415 FILES_DIR holds {stored_files(store)}"


# --- Task 4: downloads with Content-Disposition and ranges ---------------------------------


@pytest.mark.task(4)
@pytest.mark.parametrize(
    ("filename", "disposition"),
    [
        ("scan.png", 'attachment; filename="scan.png"'),
        ("quarterly report.png", "attachment; filename*=utf-8''quarterly%20report.png"),
        ("résumé.png", "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.png"),
        ("Отчёт.png", "attachment; filename*=utf-8''%D0%9E%D1%82%D1%87%D1%91%D1%82.png"),
        ("../escape.png", 'attachment; filename="escape.png"'),
        ("..\\escape.png", 'attachment; filename="escape.png"'),
        ("photos/2026\\scan.png", 'attachment; filename="scan.png"'),
    ],
    ids=["ascii", "space", "accents", "cyrillic", "folders", "windows-folders", "mixed-folders"],
)
def test_download_sends_the_bytes_the_type_and_the_name(client, filename, disposition):
    info = uploaded(client, filename=filename)
    r = client.get(f"/files/{info['id']}/download")
    assert r.status_code == 200, f"GET /files/<id>/download → {r.status_code}, expected 200"
    assert r.content == PNG, (
        f"GET /files/<id>/download → {len(r.content)} bytes, expected the {len(PNG)} uploaded"
    )
    wanted = {
        "content-type": "image/png",
        "content-disposition": disposition,
        "content-length": str(len(PNG)),
        "accept-ranges": "bytes",
        "x-content-type-options": "nosniff",
    }
    got = {name: r.headers.get(name) for name in wanted}
    assert got == wanted, (
        f"GET /files/<id>/download of {filename!r} → headers {got}, expected {wanted}"
    )


@pytest.mark.task(4)
@pytest.mark.parametrize("filename", ["photos/", "../..", "."], ids=["folder", "dots", "dot"])
def test_a_filename_without_a_name_downloads_as_the_id(client, filename):
    info = uploaded(client, filename=filename)
    r = client.get(f"/files/{info['id']}/download")
    expected = (200, f'attachment; filename="{info["id"]}"')
    got = (r.status_code, r.headers.get("content-disposition"))
    assert got == expected, (
        f"GET /files/<id>/download of a file uploaded as {filename!r} → {got}, expected "
        f"{expected}: with no name left after the last / or \\, the download is named by its id"
    )


@pytest.mark.task(4)
@pytest.mark.parametrize(
    ("filename", "declared", "content"),
    [("scan.bin", "image/png", PNG), ("scan", "image/png", PNG),
     ("photo.pdf", "image/png", PNG), ("report.png", "application/pdf", PDF),
     ("IMG_0001", "image/jpeg", JPEG)],
    ids=["bin-extension", "no-extension", "pdf-extension", "png-named-pdf", "jpeg-no-extension"],
)  # fmt: skip
def test_the_download_type_is_the_stored_one_whatever_the_name(client, filename, declared, content):
    info = uploaded(client, filename=filename, content_type=declared, content=content)
    r = client.get(f"/files/{info['id']}/download")
    got = (r.status_code, r.headers.get("content-type"))
    assert got == (200, declared), (
        f"GET /files/<id>/download of a {declared} file uploaded as {filename!r} → status and "
        f"Content-Type {got}, expected (200, {declared!r}): the stored type, not a guess from "
        "the filename's extension"
    )


def sized(size: int) -> bytes:
    """A PNG of exactly `size` bytes whose every byte tells where it is."""
    return (PNG[:8] + bytes(i % 251 for i in range(size)))[:size]


@pytest.mark.task(4)
@pytest.mark.parametrize(
    ("asked", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=100-199", 100, 199), ("bytes=900-", 900, 999),
     ("bytes=-10", 990, 999), ("bytes=950-5000", 950, 999)],
    ids=["first-100", "middle", "open-end", "suffix", "end-past-the-size"],
)  # fmt: skip
def test_a_range_is_a_206_with_only_those_bytes(client, asked, start, end):
    content = sized(1000)
    info = uploaded(client, content=content)
    r = client.get(f"/files/{info['id']}/download", headers={"Range": asked})
    wanted = (206, f"bytes {start}-{end}/1000", str(end - start + 1))
    got = (r.status_code, r.headers.get("content-range"), r.headers.get("content-length"))
    assert got == wanted, (
        f"GET /files/<id>/download, Range: {asked}, of a 1000-byte file → status, Content-Range "
        f"and Content-Length {got}, expected {wanted}"
    )
    assert r.content == content[start : end + 1], (
        f"Range: {asked} → {len(r.content)} bytes, expected bytes {start} to {end} of the file"
    )


@pytest.mark.task(4)
def test_a_range_past_the_end_is_416(client):
    info = uploaded(client, content=sized(1000))
    r = client.get(f"/files/{info['id']}/download", headers={"Range": "bytes=1000-"})
    got = (r.status_code, r.headers.get("content-range"))
    assert got == (416, "bytes */1000"), (
        f"GET /files/<id>/download, Range: bytes=1000- of a 1000-byte file → {got}, "
        "expected (416, 'bytes */1000')"
    )


@pytest.mark.task(4)
def test_if_range_resumes_only_the_same_version_of_the_file(client):
    content = sized(1000)
    info = uploaded(client, content=content)
    first = client.get(f"/files/{info['id']}/download")
    etag = first.headers.get("etag")
    assert etag, f"GET /files/<id>/download → headers {dict(first.headers)}, expected an ETag"
    url = f"/files/{info['id']}/download"
    same = client.get(url, headers={"Range": "bytes=500-", "If-Range": etag})
    assert (same.status_code, same.content) == (206, content[500:]), (
        f"Range: bytes=500- with If-Range: {etag} (the current ETag) → {same.status_code}, "
        f"{len(same.content)} bytes, expected 206 with bytes 500 to 999"
    )
    other = client.get(url, headers={"Range": "bytes=500-", "If-Range": '"another-version"'})
    assert (other.status_code, other.content) == (200, content), (
        f"Range: bytes=500- with an If-Range ETag of another version → {other.status_code}, "
        f"{len(other.content)} bytes, expected 200 with the whole file"
    )


@pytest.mark.task(4)
def test_only_stored_files_are_downloads(client):
    info = uploaded(client)
    for path in [
        f"/files/{'0' * 32}/download",
        "/files/abc/download",
        f"/files/{info['id']}.json/download",
        f"/files/{info['id'].upper()}/download",
    ]:
        r = client.get(path)
        assert (r.status_code, payload(r)) == (404, {"detail": "File not found"}), (
            f"GET {path} → {r.status_code} {str(payload(r))[:100]}, "
            "expected 404 {'detail': 'File not found'}: only ids the app handed out are files"
        )


@pytest.mark.task(4)
def test_files_are_served_from_the_folder(client, store):
    # The app keeps nothing about files in memory: what FILES_DIR holds is what it serves.
    file_id = "5" * 32
    content = sized(300)
    info = {
        "id": file_id, "filename": "placed.png", "title": "Placed by hand", "tags": ["seed"],
        "content_type": "image/png", "size": 300, "sha256": hashlib.sha256(content).hexdigest(),
    }  # fmt: skip
    store.mkdir()
    (store / file_id).write_bytes(content)
    (store / f"{file_id}.json").write_text(json.dumps(info), encoding="utf-8")
    r = client.get(f"/files/{file_id}")
    assert (r.status_code, payload(r)) == (200, info), (
        f"GET /files/{file_id}, written into FILES_DIR by the test → {r.status_code} "
        f"{payload(r)}, expected 200 {info}"
    )
    r = client.get(f"/files/{file_id}/download")
    got = (r.status_code, r.content == content, r.headers.get("content-disposition"))
    assert got == (200, True, 'attachment; filename="placed.png"'), (
        f"GET /files/{file_id}/download → status, same bytes, Content-Disposition {got}, "
        "expected (200, True, 'attachment; filename=\"placed.png\"')"
    )


# --- Task 5: a CSV export streamed from a generator ----------------------------------------


def readings_csv(rows: int) -> str:
    lines = ["reading,sensor,value"]
    lines += [f"{n},sensor-{n % 4},{n * 37 % 1000}" for n in range(1, rows + 1)]
    return "".join(line + "\r\n" for line in lines)


@pytest.mark.task(5)
def test_the_export_is_csv_with_a_header_and_crlf_lines(client):
    r = client.get("/exports/readings.csv", params={"rows": 3})
    expected = "reading,sensor,value\r\n1,sensor-1,37\r\n2,sensor-2,74\r\n3,sensor-3,111\r\n"
    assert (r.status_code, r.text) == (200, expected), (
        f"GET /exports/readings.csv?rows=3 → {r.status_code} {r.text!r}, expected 200 {expected!r}"
    )
    wanted = {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": 'attachment; filename="readings.csv"',
    }
    got = {name: r.headers.get(name) for name in wanted}
    assert got == wanted, f"GET /exports/readings.csv → headers {got}, expected {wanted}"


@pytest.mark.task(5)
@pytest.mark.parametrize(("params", "rows"), [({}, 1000), ({"rows": 1}, 1), ({"rows": 2500}, 2500)])
def test_the_export_has_the_rows_asked_for(client, params, rows):
    r = client.get("/exports/readings.csv", params=params)
    asked = f"?rows={params['rows']}" if params else ""
    assert r.status_code == 200 and r.text == readings_csv(rows), (
        f"GET /exports/readings.csv{asked} → {r.status_code}, {r.text.count(chr(10))} lines "
        f"ending {r.text[-40:]!r}, expected 200 with the header and {rows} rows"
    )


@pytest.mark.task(5)
@pytest.mark.asyncio
@pytest.mark.parametrize("rows", ["0", "-1", "10000001", "abc"])
async def test_rows_outside_1_to_10_million_is_422(rows):
    # Read through ASGI so that a wrong 200 (10 000 001 rows streamed) is seen at its first
    # message, not after 220 MB.
    got = await refusal("/exports/readings.csv", query=f"rows={rows}")
    assert got == (422, [["query", "rows"]]), (
        f"GET /exports/readings.csv?rows={rows} → status and error locations {got}, expected "
        "(422, [['query', 'rows']]): rows is bounded on both sides, 1 to 10 000 000"
    )


@pytest.mark.task(5)
@pytest.mark.asyncio
async def test_the_export_goes_out_in_chunks_of_at_most_1000_rows():
    async with exchange("GET", "/exports/readings.csv", query="rows=2500") as call:
        status = await call.status()
        pieces = await call.whole_body()
    assert status == 200 and pieces is not None, (
        f"GET /exports/readings.csv?rows=2500 → {status}, body complete: {pieces is not None}"
    )
    assert b"".join(pieces).decode() == readings_csv(2500), (
        "GET /exports/readings.csv?rows=2500 → a body other than the header and 2500 rows"
    )
    lines = [piece.count(b"\n") for piece in pieces if piece]
    assert len(lines) >= 3 and max(lines) <= 1001, (
        f"GET /exports/readings.csv?rows=2500 came in {len(lines)} chunk(s) of {lines} lines, "
        "expected chunks of at most 1000 rows (the first may add the header): yield the rows "
        "a batch at a time, not the whole file at once"
    )


@pytest.mark.task(5)
@pytest.mark.asyncio
async def test_a_large_export_starts_at_once_and_stops_when_the_client_leaves():
    started = time.perf_counter()
    async with exchange("GET", "/exports/readings.csv", query="rows=10") as call:
        small = await call.status(), await call.whole_body()
    small_time = time.perf_counter() - started
    assert small[0] == 200 and b"".join(small[1] or []).decode() == readings_csv(10), (
        f"GET /exports/readings.csv?rows=10 → {small[0]}, expected 200 with 10 rows"
    )
    # 10 million rows are some 220 MB of CSV: built in memory first, they take many seconds
    # before the first byte leaves. Streamed, the first rows leave as soon as the first ones
    # for a small export do; a busy machine slows both.
    budget = 1.0 + 10 * small_time
    async with exchange("GET", "/exports/readings.csv", query="rows=10000000") as call:
        started = time.perf_counter()
        status = await call.status(budget)
        first = await call.chunk(max(0.0, budget - (time.perf_counter() - started)))
        first_time = time.perf_counter() - started
        assert status == 200 and first is not None, (
            f"GET /exports/readings.csv?rows=10000000 → status {status}, "
            f"{'a first chunk' if first else 'no body'} within {budget:.1f} s, expected the first "
            "rows at once: produce the CSV while it is sent, never the whole file first"
        )
        assert first[1], (
            "GET /exports/readings.csv?rows=10000000 → the whole body in one message, "
            "expected it in chunks"
        )
        assert call.header("content-length") is None, (
            f"GET /exports/readings.csv?rows=10000000 → Content-Length: "
            f"{call.header('content-length')}, expected none: a stream does not know its length"
        )
        text = first[0]
        while text.count(b"\n") < 2001 and (piece := await call.chunk()) is not None:
            text += piece[0]
        head = readings_csv(2000)
        assert text.decode().startswith(head), (
            "the first 2000 rows of GET /exports/readings.csv?rows=10000000 differ from "
            "readings 1 to 2000"
        )
        call.hang_up()
        assert await call.ended(WAIT), (
            f"the client hung up after {first_time:.2f} s and 2000 rows, and the app was still "
            f"sending {WAIT:g} s later, expected it to stop: StreamingResponse stops the "
            "generator when it sees http.disconnect"
        )


# --- Task 6: server-sent events with resume ------------------------------------------------


def parse_events(text: str) -> list[dict[str, str]]:
    """The events of an event stream, by the HTML standard's rules: a blank line ends one.

    Each event is a dict of its fields (`data` lines joined with newlines); comments (lines
    starting with a colon, such as keep-alive pings) are skipped, and so is an unfinished event.
    """
    events, fields = [], {}
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")[:-1]:
        if not line:
            if fields:
                events.append(fields)
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            fields[name] = (
                f"{fields[name]}\n{value}" if name == "data" and name in fields else value
            )
    return events


@asynccontextmanager
async def event_stream(last_event_id: str | None = None) -> AsyncIterator[SimpleNamespace]:
    """An open GET /events: `await stream.events(n)` reads its next `n` events as they come."""
    headers = {"accept": "text/event-stream"}
    if last_event_id is not None:
        headers["last-event-id"] = last_event_id
    async with exchange("GET", "/events", headers=headers) as call:
        status = await call.status()
        assert status == 200, (
            f"GET /events (Last-Event-ID: {last_event_id}) → {status or 'no answer'}, expected 200"
        )
        stream = SimpleNamespace(call=call, text="", seen=0)

        async def events(count: int, within: float = WAIT) -> list[dict[str, str]]:
            """The next `count` events, or fewer if no more came within `within` s."""
            with anyio.move_on_after(within):
                while len(parse_events(stream.text)) < stream.seen + count:
                    piece = await call.chunk(within)
                    if piece is None:
                        break
                    stream.text += piece[0].decode()
            new = parse_events(stream.text)[stream.seen : stream.seen + count]
            stream.seen += len(new)
            return new

        stream.events = events
        yield stream


def as_event(event_id: int, info: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(event_id), "event": "file-stored", "data": info}


def decoded(events: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The events with their data read as JSON (left as text when it is not JSON)."""
    out = []
    for event in events:
        try:
            out.append({**event, "data": json.loads(event.get("data", ""))})
        except ValueError:
            out.append(event)
    return out


async def upload_async(client: httpx.AsyncClient, title: str) -> dict[str, Any]:
    r = await client.post("/files", content=multipart(title=title), headers=MULTIPART)
    assert r.status_code == 201, f"POST /files → {r.status_code} {payload(r)}, expected 201"
    return r.json()


async def status_until(client: httpx.AsyncClient, listeners: int) -> dict[str, Any]:
    """GET /events/status until it counts `listeners` open streams, or WAIT s have passed."""
    deadline = time.perf_counter() + WAIT
    while True:
        status = payload(await client.get("/events/status"))
        if status.get("listeners") == listeners or time.perf_counter() > deadline:
            return status
        await anyio.sleep(0.02)


@pytest.mark.task(6)
@pytest.mark.asyncio
async def test_the_stream_sends_each_stored_file_as_an_event():
    async with async_client() as client:
        infos = [await upload_async(client, "One"), await upload_async(client, "Two")]
        async with event_stream() as stream:
            wanted = {
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
                "x-accel-buffering": "no",
            }
            got = {name: stream.call.header(name) for name in wanted}
            assert got == wanted, f"GET /events → headers {got}, expected {wanted}"
            events = decoded(await stream.events(2))
    expected = [as_event(1, infos[0]), as_event(2, infos[1])]
    assert events == expected, (
        f"GET /events after two uploads → events {events}, expected {expected}: each one an "
        "`id:`, an `event: file-stored` and a `data:` line holding the FileInfo as JSON, "
        "ended by a blank line"
    )


@pytest.mark.task(6)
@pytest.mark.asyncio
async def test_new_events_arrive_while_the_stream_is_open():
    async with async_client() as client, event_stream() as stream:
        for number, title in enumerate(["First", "Second"], start=1):
            info = await upload_async(client, title)
            events = decoded(await stream.events(1))
            assert events == [as_event(number, info)], (
                f"GET /events was open when upload {number} was stored → events {events} within "
                f"{WAIT:g} s, expected [{as_event(number, info)}]: after the events it has, the "
                "stream waits for new ones"
            )


@pytest.mark.task(6)
@pytest.mark.asyncio
@pytest.mark.parametrize(("last", "first"), [("0", 1), ("1", 2), ("2", 3)])
async def test_last_event_id_resumes_after_that_event(last, first):
    async with async_client() as client:
        infos = [await upload_async(client, title) for title in ["One", "Two", "Three"]]
        async with event_stream(last) as stream:
            events = decoded(await stream.events(4 - first))
            expected = [as_event(n, infos[n - 1]) for n in range(first, 4)]
            assert events == expected, (
                f"GET /events with Last-Event-ID: {last}, after three uploads → events {events}, "
                f"expected {expected}: continue right after event {last}"
            )
            fourth = await upload_async(client, "Four")
            events = decoded(await stream.events(1))
            assert events == [as_event(4, fourth)], (
                f"GET /events with Last-Event-ID: {last}, then a fourth upload → {events}, "
                f"expected [{as_event(4, fourth)}]"
            )


@pytest.mark.task(6)
@pytest.mark.asyncio
async def test_resuming_at_the_latest_event_waits_for_the_next_one():
    async with async_client() as client:
        await upload_async(client, "One")
        async with event_stream("1") as stream:
            early = await stream.events(1, within=0.3)
            assert early == [], (
                f"GET /events with Last-Event-ID: 1, the latest → {early}, expected no event "
                "until a new file is stored"
            )
            second = await upload_async(client, "Two")
            events = decoded(await stream.events(1))
            assert events == [as_event(2, second)], (
                f"GET /events with Last-Event-ID: 1, then an upload → {events}, "
                f"expected [{as_event(2, second)}]"
            )


@pytest.mark.task(6)
@pytest.mark.asyncio
async def test_only_stored_files_make_events():
    async with async_client() as client:
        refused = await client.post(
            "/files", content=multipart(content_type="text/plain"), headers=MULTIPART
        )
        assert refused.status_code == 415, f"POST /files (text/plain) → {refused.status_code}"
        info = await upload_async(client, "Kept")
        async with event_stream() as stream:
            events = decoded(await stream.events(2, within=0.5))
    assert events == [as_event(1, info)], (
        f"GET /events after a refused upload and a stored one → {events}, "
        f"expected only [{as_event(1, info)}]"
    )


@pytest.mark.task(6)
@pytest.mark.asyncio
@pytest.mark.parametrize("last", ["abc", "-1", "1.5"])
async def test_a_last_event_id_that_is_not_a_whole_number_is_422(last):
    # Read through ASGI so that a wrong 200 (an event stream that stays open) is seen at once.
    got = await refusal("/events", headers={"accept": "text/event-stream", "last-event-id": last})
    assert got == (422, [["header", "last-event-id"]]), (
        f"GET /events with Last-Event-ID: {last} → status and error locations {got}, expected "
        "(422, [['header', 'last-event-id']]): the id is a whole number of 0 or more"
    )


@pytest.mark.task(6)
@pytest.mark.asyncio
async def test_an_id_past_the_latest_waits_for_events_after_it():
    async with async_client() as client:
        await upload_async(client, "One")
        async with event_stream("3") as stream:
            early = await stream.events(1, within=0.3)
            assert early == [], (
                f"GET /events with Last-Event-ID: 3 while there is one event → {early}, "
                "expected no event"
            )
            for title in ["Two", "Three"]:
                await upload_async(client, title)
            between = decoded(await stream.events(1, within=0.3))
            assert between == [], (
                f"GET /events with Last-Event-ID: 3, then events 2 and 3 → {between}, expected "
                "no event: only events after the id the client gave, even one past the latest"
            )
            fourth = await upload_async(client, "Four")
            events = decoded(await stream.events(1))
            assert events == [as_event(4, fourth)], (
                f"GET /events with Last-Event-ID: 3, then event 4 → {events}, "
                f"expected [{as_event(4, fourth)}]"
            )


@pytest.mark.task(6)
@pytest.mark.asyncio
async def test_a_stream_is_released_when_its_client_goes_away():
    async with async_client() as client:
        await upload_async(client, "One")
        async with event_stream() as first:
            assert len(await first.events(1)) == 1, "GET /events → no event for the stored file"
            async with event_stream("1"):
                status = await status_until(client, 2)
                assert status == {"last_event_id": 1, "listeners": 2}, (
                    f"GET /events/status with two streams open → {status}, "
                    "expected {'last_event_id': 1, 'listeners': 2}"
                )
            status = await status_until(client, 1)
            assert status == {"last_event_id": 1, "listeners": 1}, (
                f"GET /events/status {WAIT:g} s after one of two clients hung up → {status}, "
                "expected {'last_event_id': 1, 'listeners': 1}: the stream's cleanup (a "
                "`finally` in the generator) runs when its client goes away"
            )
        status = await status_until(client, 0)
    assert status == {"last_event_id": 1, "listeners": 0}, (
        f"GET /events/status {WAIT:g} s after the last client hung up → {status}, "
        "expected {'last_event_id': 1, 'listeners': 0}"
    )
