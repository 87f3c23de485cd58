import secrets
from collections import defaultdict
from typing import Annotated, Any

from fastapi import (
    Depends,
    FastAPI,
    Query,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
    status,
)
from pydantic import BaseModel, Field, ValidationError

app = FastAPI()

CHAT_TOKEN = "letmein"

Frame = dict[str, Any]
BINARY_FRAME = {"type": "binary_frame", "loc": [], "msg": "Frames must be JSON text, not binary"}


class ChatMessage(BaseModel):
    text: str = Field(min_length=1, max_length=500)


class Rooms:
    """Who is connected, per room: room → {member name → socket}."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, WebSocket]] = defaultdict(dict)

    def members(self, room: str) -> list[str]:
        return sorted(self._rooms[room])

    def add(self, room: str, name: str, websocket: WebSocket) -> None:
        self._rooms[room][name] = websocket

    def remove(self, room: str, name: str) -> None:
        self._rooms[room].pop(name, None)

    async def broadcast(self, room: str, frame: Frame, *, exclude: str | None = None) -> None:
        # A snapshot: a member may leave while we are awaiting a send.
        for name, websocket in list(self._rooms[room].items()):
            if name != exclude:
                await websocket.send_json(frame)


rooms = Rooms()


async def next_text(websocket: WebSocket) -> str | None:
    """The member's next frame: its text, or None for a binary frame. Raises when they have gone."""
    # Not receive_text(): it fails with KeyError on a binary frame and would end the connection.
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    return message.get("text")


def check_token(token: Annotated[str | None, Query()] = None) -> None:
    # Browsers cannot set headers on a WebSocket, so the token travels in the query string.
    if token is None or not secrets.compare_digest(token, CHAT_TOKEN):
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="invalid token")


@app.websocket("/ws/{room}", dependencies=[Depends(check_token)])
async def chat(
    websocket: WebSocket,
    room: str,
    name: Annotated[str, Query(min_length=1, max_length=20)],
) -> None:
    # A missing or invalid `name` never gets here: FastAPI closes the handshake with 1008.
    if name in rooms.members(room):
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="name taken")

    await websocket.accept()
    rooms.add(room, name, websocket)
    await websocket.send_json({"type": "welcome", "room": room, "members": rooms.members(room)})
    await rooms.broadcast(room, {"type": "join", "name": name}, exclude=name)

    try:
        while True:
            raw = await next_text(websocket)
            if raw is None:
                await websocket.send_json({"type": "error", "detail": [BINARY_FRAME]})
                continue
            try:
                message = ChatMessage.model_validate_json(raw)
            except ValidationError as exc:
                # Answer the sender and keep the socket: one bad frame is not a reason to hang up.
                errors = exc.errors(include_url=False, include_context=False, include_input=False)
                await websocket.send_json({"type": "error", "detail": errors})
                continue
            frame = {"type": "message", "name": name, "text": message.text}
            await rooms.broadcast(room, frame, exclude=name)
    except WebSocketDisconnect:
        rooms.remove(room, name)
        await rooms.broadcast(room, {"type": "leave", "name": name})
