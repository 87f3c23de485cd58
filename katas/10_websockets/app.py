# Build a chat room over WebSocket: members join with a name, talk, and hear who comes and goes.
# The frames are described in README.md. Run `nox -s websockets` to grade.

from collections import defaultdict
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, WebSocket
from pydantic import BaseModel

app = FastAPI()

CHAT_TOKEN = "letmein"

Frame = dict[str, Any]


class ChatMessage(BaseModel):
    """TODO (task 5): what a member may send: `{"text": "..."}`, 1 to 500 characters."""

    text: str


class Rooms:
    """Who is connected, per room: room → {member name → socket}. Given; use it or change it."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, WebSocket]] = defaultdict(dict)

    def members(self, room: str) -> list[str]:
        return sorted(self._rooms[room])

    def add(self, room: str, name: str, websocket: WebSocket) -> None:
        self._rooms[room][name] = websocket

    def remove(self, room: str, name: str) -> None:
        self._rooms[room].pop(name, None)

    async def broadcast(self, room: str, frame: Frame, *, exclude: str | None = None) -> None:
        """TODO (task 3): send `frame` to every member of `room` except `exclude`."""
        raise NotImplementedError


rooms = Rooms()


def check_token(token: Annotated[str | None, Query()] = None) -> None:
    """TODO (task 2): refuse the handshake (close code 1008) unless `token` equals CHAT_TOKEN."""


@app.websocket("/ws/{room}", dependencies=[Depends(check_token)])
async def chat(websocket: WebSocket, room: str, name: str | None = None) -> None:
    """One member's connection, from handshake to goodbye.

    TODO (task 2): `name` is required, 1 to 20 characters, and not taken in the room (else 1008).
    TODO (task 1): accept, then send {"type": "welcome", "room": ..., "members": [...]}.
    TODO (task 4): tell the others {"type": "join", ...}, and at the end {"type": "leave", ...}.
    TODO (task 3): relay each {"text": ...} as {"type": "message", "name": ..., "text": ...}.
    TODO (task 5): answer an invalid frame, binary ones too, with {"type": "error", "detail": [...]}
                   and go on.
    """
    await websocket.close()  # placeholder: refuses everyone
