"""Frames on the Unix sockets between the trusted tests and the sandboxed app.

A frame is a 4-byte big-endian length and a JSON document. ASGI messages hold bytes, which JSON
has not: they travel as {"$bytes": base64}. JSON, not pickle, because the trusted side reads what
the learner's process wrote: decoding must never run code, and a frame has a size limit.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from typing import Any

LIMIT = 64 << 20  # bytes a frame may hold: a large upload, but not the trusted side's memory
HEADER = struct.Struct(">I")


class WireError(Exception):
    """The other side sent something that is not a frame, or closed the socket mid-frame."""


def encode(message: Any) -> bytes:
    payload = json.dumps(message, default=_tag, separators=(",", ":")).encode()
    if len(payload) > LIMIT:
        raise WireError(f"a message of {len(payload)} bytes is over the {LIMIT >> 20} MiB limit")
    return HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> Any:
    try:
        return json.loads(payload, object_hook=_untag)
    except (ValueError, TypeError, RecursionError) as error:
        raise WireError(f"not a valid message ({type(error).__name__})") from None


def length(header: bytes) -> int:
    (size,) = HEADER.unpack(header)
    if size > LIMIT:
        raise WireError(f"a message of {size} bytes is over the {LIMIT >> 20} MiB limit")
    return int(size)


def _tag(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot cross to the other process")


def _untag(document: dict[str, Any]) -> Any:
    if len(document) == 1 and "$bytes" in document:
        data = document["$bytes"]
        if not isinstance(data, str):
            raise TypeError("bytes must be base64 text")
        return base64.b64decode(data, validate=True)
    return document


def address(path: str) -> str:
    """A name for the Unix socket at `path` that fits in a socket address (108 bytes at most).

    A long path (a deep temporary folder) is reached through its folder's open descriptor:
    /proc/self/fd/N/name. The descriptor stays open for the life of the process.
    """
    if len(path.encode()) < 100 or not os.path.isdir("/proc/self/fd"):
        return path
    folder, name = os.path.split(path)
    if folder not in _FOLDERS:
        _FOLDERS[folder] = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    return f"/proc/self/fd/{_FOLDERS[folder]}/{name}"


_FOLDERS: dict[str, int] = {}


def send(sock: socket.socket, message: Any) -> None:
    """Write one frame on a blocking socket."""
    sock.sendall(encode(message))


def receive(sock: socket.socket) -> Any:
    """Read one frame from a blocking socket; WireError if it closes first."""
    return decode(_exactly(sock, length(_exactly(sock, HEADER.size))))


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise WireError("the other side closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
