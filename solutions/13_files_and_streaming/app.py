# Kata 13 · Files and streaming: uploads with a size limit, downloads with ranges, a streamed
# CSV export and a feed of server-sent events. Reference solution.

import asyncio
import contextlib
import csv
import hashlib
import io
import re
import threading
import uuid
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Header, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel
from pydantic_settings import BaseSettings
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Settings(BaseSettings):
    """FILES_DIR and FILES_MAX_BYTES, read from the environment on the first request."""

    files_dir: Path = Path("uploads")
    files_max_bytes: int = 10 * 1024 * 1024


@lru_cache
def get_settings() -> Settings:
    return Settings()


SettingsDep = Annotated[Settings, Depends(get_settings)]


class FileInfo(BaseModel):
    """What the app knows about a stored file: the upload's answer, and FILES_DIR/<id>.json."""

    id: str
    filename: str
    title: str
    tags: list[str]
    content_type: str
    size: int
    sha256: str


# The file types we store, and the bytes each one's content starts with.
SIGNATURES = {
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
    "application/pdf": b"%PDF-",
}
FILE_ID = re.compile(r"[0-9a-f]{32}")
CHUNK = 64 * 1024


@dataclass(frozen=True)
class FeedEvent:
    id: int
    name: str
    data: dict[str, Any]


class Feed:
    """Every event since start-up, numbered from 1, and the streams waiting for the next one.

    Given, nothing to do. `publish` may be called from any thread: a plain `def` route runs in
    the thread pool.
    """

    def __init__(self) -> None:
        self.events: list[FeedEvent] = []
        self.listeners = 0  # the event streams open right now
        self._lock = threading.Lock()
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def publish(self, name: str, data: dict[str, Any]) -> FeedEvent:
        with self._lock:
            event = FeedEvent(len(self.events) + 1, name, data)
            self.events.append(event)
            waiting, self._waiting = self._waiting, []
        for loop, woken in waiting:
            with contextlib.suppress(RuntimeError):  # that stream's loop has closed
                loop.call_soon_threadsafe(woken.set)
        return event

    def after(self, last_id: int) -> list[FeedEvent]:
        """The events whose id is greater than `last_id`, oldest first."""
        with self._lock:
            return self.events[last_id:]

    async def wait(self, last_id: int) -> None:
        """Return once there is an event whose id is greater than `last_id`."""
        woken = asyncio.Event()
        with self._lock:
            if len(self.events) > last_id:
                return
            self._waiting.append((asyncio.get_running_loop(), woken))
        await woken.wait()


feed = Feed()


class LimitRequestBody:
    """Refuse a request body over FILES_MAX_BYTES while it arrives, before any route reads it.

    A declared Content-Length over the limit is refused at once, without reading the body; a
    body without one (chunked) is counted as it comes, and refused on the chunk that passes it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = get_settings().files_max_bytes
        detail = f"Request body too large: the limit is {limit} bytes"
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI lets an HTTPException raised while it reads the body through.
                    raise HTTPException(status_code=413, detail=detail)
            return message

        await self.app(scope, counted, send)


app = FastAPI(title="Files and streams")
app.add_middleware(LimitRequestBody)


def check_file_type(file: UploadFile) -> str:
    """The declared media type, once it is allowed and the content starts as that type does."""
    declared = (file.content_type or "application/octet-stream").split(";")[0].strip().lower()
    signature = SIGNATURES.get(declared)
    if signature is None:
        raise HTTPException(status_code=415, detail=f"Unsupported file type: {declared}")
    head = file.file.read(len(signature))
    file.file.seek(0)
    if head != signature:
        raise HTTPException(status_code=415, detail=f"File content does not match {declared}")
    return declared


@app.post("/files", status_code=201)
def upload_file(
    file: UploadFile,
    title: Annotated[str, Form(min_length=1, max_length=100)],
    tags: Annotated[list[str], Form(default_factory=list)],
    settings: SettingsDep,
) -> FileInfo:
    content_type = check_file_type(file)
    folder = settings.files_dir
    folder.mkdir(parents=True, exist_ok=True)
    file_id = uuid.uuid4().hex  # the client's filename is data, never a path
    partial = folder / f"{file_id}.part"
    digest, size = hashlib.sha256(), 0
    with partial.open("wb") as out:
        while chunk := file.file.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    partial.rename(folder / file_id)
    info = FileInfo(
        id=file_id,
        filename=file.filename or file_id,
        title=title,
        tags=tags,
        content_type=content_type,
        size=size,
        sha256=digest.hexdigest(),
    )
    (folder / f"{file_id}.json").write_text(info.model_dump_json(), encoding="utf-8")
    feed.publish("file-stored", info.model_dump())
    return info


def stored(settings: Settings, file_id: str) -> FileInfo:
    """The FileInfo of a file in FILES_DIR, or 404 for any id the app did not hand out."""
    path = settings.files_dir / f"{file_id}.json"
    if not FILE_ID.fullmatch(file_id) or not path.is_file():
        raise HTTPException(status_code=404, detail="File not found")
    return FileInfo.model_validate_json(path.read_bytes())


@app.get("/files/{file_id}")
def read_file_info(file_id: str, settings: SettingsDep) -> FileInfo:
    return stored(settings, file_id)


def download_name(info: FileInfo) -> str:
    """The client's filename without its folders, or the id when no name is left."""
    name = re.split(r"[/\\]", info.filename)[-1]  # after the last / or \ (Windows folders)
    return info.id if name in {"", ".", ".."} else name


@app.get("/files/{file_id}/download")
def download_file(file_id: str, settings: SettingsDep) -> FileResponse:
    info = stored(settings, file_id)
    return FileResponse(
        settings.files_dir / info.id,
        media_type=info.content_type,  # without it, FileResponse guesses from the file name
        filename=download_name(info),
        headers={"X-Content-Type-Options": "nosniff"},
    )


def readings(rows: int, batch: int = 1000) -> Iterator[str]:
    """The CSV text of `rows` readings, a batch of rows at a time: never the whole file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # RFC 4180: CRLF line ends, quoting when a value needs it
    writer.writerow(["reading", "sensor", "value"])
    for first in range(1, rows + 1, batch):
        for n in range(first, min(first + batch, rows + 1)):
            writer.writerow([n, f"sensor-{n % 4}", n * 37 % 1000])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@app.get("/exports/readings.csv")
def export_readings(
    rows: Annotated[int, Query(ge=1, le=10_000_000)] = 1000,
) -> StreamingResponse:
    return StreamingResponse(
        readings(rows),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="readings.csv"'},
    )


@app.get("/events", response_class=EventSourceResponse)
async def stream_events(
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> AsyncIterable[ServerSentEvent]:
    feed.listeners += 1
    try:
        seen = last_event_id or 0
        while True:
            for event in feed.after(seen):
                yield ServerSentEvent(id=str(event.id), event=event.name, data=event.data)
                seen = event.id
            await feed.wait(seen)
    finally:  # runs when the client goes away: FastAPI cancels the stream
        feed.listeners -= 1


@app.get("/events/status")
def events_status() -> dict[str, int]:
    """Given: the id of the latest event and the number of streams open right now."""
    return {"last_event_id": len(feed.events), "listeners": feed.listeners}
