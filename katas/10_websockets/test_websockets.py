import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlencode

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

import app as kata

TOKEN = "letmein"
WAIT = 2.0  # seconds to wait for a frame that should come; a right app sends it at once
BINARY_FRAME = {"type": "binary_frame", "loc": [], "msg": "Frames must be JSON text, not binary"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    # `with` gives every socket of a test the same event loop, as a real server would.
    with TestClient(kata.app) as client:
        yield client


ROOM_NUMBERS = itertools.count(1)


@pytest.fixture
def room() -> str:
    """A room of this test's own, so no test meets another test's members."""
    return f"room{next(ROOM_NUMBERS)}"


def url(room: str, name: str | None = "alice", token: str | None = TOKEN) -> str:
    query = urlencode(
        {key: value for key, value in [("name", name), ("token", token)] if value is not None}
    )
    return f"/ws/{room}?{query}"


def receive(ws: WebSocketTestSession, expecting: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The next JSON frame the server sends to `ws`, passing over frames whose type is in `skip`.

    TestClient's own `receive_json()` waits forever when nothing comes; this gives up after
    WAIT seconds so a wrong app fails with a message instead of hanging the test.
    """

    async def next_message() -> dict[str, Any]:
        with anyio.fail_after(WAIT):
            return await ws._send_rx.receive()

    while True:
        try:
            message = ws.portal.call(next_message)
        except TimeoutError:
            pytest.fail(f"no frame came within {WAIT} s, expected {expecting}")
        except (anyio.ClosedResourceError, anyio.EndOfStream):
            pytest.fail(
                f"the endpoint stopped without a close frame (did it raise?), expected {expecting}"
            )
        if message["type"] == "websocket.close":
            pytest.fail(
                f"the server closed the socket (code {message.get('code')}), expected {expecting}"
            )
        try:
            frame = json.loads(message["text"])
        except (KeyError, TypeError, ValueError):
            pytest.fail(f"the server sent {message!r}, expected {expecting} as JSON text")
        if not (isinstance(frame, dict) and frame.get("type") in skip):
            return frame


@contextmanager
def connect(client: TestClient, room: str, name: str) -> Iterator[WebSocketTestSession]:
    """A socket for `name` in `room`; fails the test if the server refuses the handshake."""
    session = client.websocket_connect(url(room, name))
    try:
        ws = session.__enter__()
    except WebSocketDisconnect as exc:
        pytest.fail(f"{name} connecting to /ws/{room} → refused with {exc.code}, expected accepted")
    try:
        yield ws
    except BaseException:
        # The test has failed already: hang up quietly, so a server error raised while
        # closing does not hide the reason.
        with suppress(Exception):
            session.__exit__(None, None, None)
        raise
    try:
        session.__exit__(None, None, None)
    except Exception as exc:
        pytest.fail(
            f"{name} hung up and the server raised {exc!r}, expected the endpoint to end cleanly"
        )


def handshake(client: TestClient, path: str) -> str:
    """How the server answers a connection to `path`: "accepted" or "refused with <code>"."""
    try:
        with client.websocket_connect(path):
            return "accepted"
    except WebSocketDisconnect as exc:
        return f"refused with {exc.code}"


@contextmanager
def member(client: TestClient, room: str, name: str) -> Iterator[WebSocketTestSession]:
    """`name`, connected to `room`, with the welcome frame already read."""
    with connect(client, room, name) as ws:
        welcome = receive(ws, f"a welcome frame for {name}")
        assert welcome.get("type") == "welcome", (
            f"{name} joined {room} → first frame {welcome}, expected a welcome frame"
        )
        yield ws


# Task 1 — Welcome a member


@pytest.mark.task(1)
def test_first_frame_welcomes_with_room_and_members(client, room):
    with connect(client, room, "alice") as alice:
        welcome = receive(alice, "a welcome frame")
        expected = {"type": "welcome", "room": room, "members": ["alice"]}
        assert welcome == expected, f"alice joined {room} → {welcome}, expected {expected}"
        with connect(client, room, "bob") as bob:
            welcome = receive(bob, "a welcome frame")
            expected = {"type": "welcome", "room": room, "members": ["alice", "bob"]}
            assert welcome == expected, (
                f"bob joined after alice → {welcome}, expected {expected} (sorted, bob included)"
            )


@pytest.mark.task(1)
def test_members_are_sorted_by_code_point_whatever_the_order_they_came_in(client, room):
    with member(client, room, "bob"), connect(client, room, "alice") as alice:
        members = receive(alice, "a welcome frame").get("members")
        assert members == ["alice", "bob"], (
            f"bob joined, then alice → alice's welcome lists {members}, expected "
            f"['alice', 'bob'] (sorted, not in the order they came in)"
        )
        with connect(client, room, "Zed") as zed:
            members = receive(zed, "a welcome frame").get("members")
            assert members == ["Zed", "alice", "bob"], (
                f"bob, alice, then Zed joined → Zed's welcome lists {members}, expected "
                f"['Zed', 'alice', 'bob']: sorted by code point, as sorted() does, so "
                f"upper case comes first"
            )


@pytest.mark.task(1)
def test_member_list_is_per_room(client, room):
    with member(client, room, "alice"), connect(client, room + "b", "carol") as carol:
        members = receive(carol, "a welcome frame").get("members")
        assert members == ["carol"], (
            f"carol joined a room without alice → members {members}, expected ['carol']"
        )


# Task 2 — Refuse a connection without a name or a token


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("what", "name", "token"),
    [
        pytest.param("no name", None, TOKEN, id="no-name"),
        pytest.param("an empty name", "", TOKEN, id="empty-name"),
        pytest.param("a 21-character name", "a" * 21, TOKEN, id="long-name"),
        pytest.param(
            "a name of 21 non-ASCII characters", "é" * 21, TOKEN, id="long-non-ascii-name"
        ),
        pytest.param("no token", "alice", None, id="no-token"),
        pytest.param("a wrong token", "alice", "letmeout", id="wrong-token"),
    ],
)
def test_bad_handshake_is_refused_with_1008(client, room, what, name, token):
    outcome = handshake(client, url(room, name, token))
    assert outcome == "refused with 1008", (
        f"connecting with {what} → {outcome}, expected refused with 1008 (policy violation)"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("what", "name"),
    [
        pytest.param("a 20-character name", "a" * 20, id="20-characters"),
        pytest.param("a name of 20 non-ASCII characters (40 bytes)", "é" * 20, id="20-non-ascii"),
        pytest.param("a one-character name", "q", id="1-character"),
        pytest.param("a name of one space", " ", id="a-space"),
    ],
)
def test_names_of_1_to_20_characters_are_accepted_as_sent(client, room, what, name):
    with connect(client, room, name) as ws:
        welcome = receive(ws, "a welcome frame")
        expected = {"type": "welcome", "room": room, "members": [name]}
        assert welcome == expected, (
            f"connecting with {what} ({name!r}) → {welcome}, expected {expected}: the limit "
            f"counts characters, and the name is taken exactly as sent"
        )


@pytest.mark.task(2)
def test_name_taken_in_the_room_is_refused_with_1008(client, room):
    with member(client, room, "alice"):
        outcome = handshake(client, url(room, "alice"))
        assert outcome == "refused with 1008", (
            f"a second alice in {room} → {outcome}, expected refused with 1008: the name is taken"
        )
        outcome = handshake(client, url(room + "b", "alice"))
        assert outcome == "accepted", f"alice in another room → {outcome}, expected accepted"


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("what", "name", "token", "reason"),
    [
        pytest.param("no token", "alice", None, "invalid token", id="no-token"),
        pytest.param("a wrong token", "alice", "letmeout", "invalid token", id="wrong-token"),
        pytest.param("a name taken in the room", "alice", TOKEN, "name taken", id="name-taken"),
    ],
)
def test_a_refusal_says_why_in_its_close_reason(client, room, what, name, token, reason):
    with member(client, room, "alice"):
        try:
            with client.websocket_connect(url(room, name, token)):
                pytest.fail(f"connecting with {what} was accepted, expected refused with 1008")
        except WebSocketDisconnect as exc:
            got = (exc.code, exc.reason)
    assert got == (1008, reason), (
        f"connecting with {what} → close code and reason {got}, expected {(1008, reason)}"
    )


# Task 3 — Broadcast to the other members


@pytest.mark.task(3)
def test_message_reaches_every_other_member(client, room):
    with (
        member(client, room, "alice") as alice,
        member(client, room, "bob") as bob,
        member(client, room, "carol") as carol,
    ):
        alice.send_json({"text": "hi all"})
        expected = {"type": "message", "name": "alice", "text": "hi all"}
        for name, ws in [("bob", bob), ("carol", carol)]:
            frame = receive(ws, "alice's message", skip=("join",))
            assert frame == expected, (
                f"alice sent 'hi all' → {name} got {frame}, expected {expected}"
            )


@pytest.mark.task(3)
def test_sender_does_not_get_its_own_message_back(client, room):
    with member(client, room, "alice") as alice, member(client, room, "bob") as bob:
        alice.send_json({"text": "first"})
        receive(bob, "alice's message", skip=("join",))
        bob.send_json({"text": "second"})
        # alice's next message frame must be bob's: her own 'first' must not have come back.
        frame = receive(alice, "bob's message", skip=("join",))
        assert frame.get("text") == "second", (
            f"alice sent 'first', then bob 'second' → alice got {frame}, expected bob's 'second'"
        )


@pytest.mark.task(3)
def test_extra_keys_in_a_frame_are_ignored(client, room):
    with member(client, room, "alice") as alice, member(client, room, "bob") as bob:
        alice.send_json({"text": "hi", "name": "mallory", "room": "elsewhere", "type": "admin"})
        frame = receive(bob, "alice's message", skip=("join",))
        expected = {"type": "message", "name": "alice", "text": "hi"}
        assert frame == expected, (
            f"alice sent {{'text': 'hi'}} with extra keys name, room and type → bob got {frame}, "
            f"expected {expected}: keys other than text are ignored"
        )


@pytest.mark.task(3)
def test_messages_stay_in_their_room(client, room):
    with (
        member(client, room, "alice") as alice,
        member(client, room + "b", "dave") as dave,
        member(client, room + "b", "erin") as erin,
    ):
        alice.send_json({"text": f"only for {room}"})
        erin.send_json({"text": "only for the other room"})
        frame = receive(dave, "erin's message", skip=("join",))
        assert frame.get("text") == "only for the other room", (
            f"alice wrote in {room}, then erin in dave's room → dave got {frame}, expected erin's"
        )


# Task 4 — Join and leave notices


@pytest.mark.task(4)
def test_members_hear_who_joins(client, room):
    with member(client, room, "alice") as alice, member(client, room, "bob") as bob:
        frame = receive(alice, "a join notice for bob")
        assert frame == {"type": "join", "name": "bob"}, (
            f"bob joined → alice got {frame}, expected {{'type': 'join', 'name': 'bob'}}"
        )
        with member(client, room, "carol"):
            # bob's next frame is carol's join: no notice about his own join comes first.
            for name, ws in [("alice", alice), ("bob", bob)]:
                frame = receive(ws, "a join notice for carol")
                assert frame == {"type": "join", "name": "carol"}, (
                    f"carol joined → {name} got {frame}, expected a join notice for carol"
                )


@pytest.mark.task(4)
def test_members_hear_who_leaves_and_the_list_shrinks(client, room):
    with member(client, room, "alice") as alice:
        with member(client, room, "bob") as bob:
            receive(alice, "a join notice for bob")
            bob.close()
            frame = receive(alice, "a leave notice for bob")
            assert frame == {"type": "leave", "name": "bob"}, (
                f"bob disconnected → alice got {frame}, expected {{'type': 'leave', 'name': 'bob'}}"
            )
        with connect(client, room, "carol") as carol:
            members = receive(carol, "a welcome frame").get("members")
            assert members == ["alice", "carol"], (
                f"bob left, then carol joined → members {members}, expected ['alice', 'carol']"
            )


@pytest.mark.task(4)
def test_a_leave_notice_goes_only_to_the_room_left(client, room):
    other = room + "b"
    with member(client, room, "alice") as alice, member(client, other, "dave") as dave:
        with member(client, room, "bob"):
            receive(alice, "a join notice for bob")
        receive(alice, "a leave notice for bob")
        with member(client, other, "erin"):
            # dave's next frame is erin's join: bob's leave must not have reached his room.
            frame = receive(dave, "a join notice for erin")
            assert frame == {"type": "join", "name": "erin"}, (
                f"bob left {room}, then erin joined {other} → dave (in {other}) got {frame}, "
                f"expected erin's join: a leave notice goes only to the room left"
            )


# Task 5 — Answer an invalid frame with an error frame


INVALID_FRAMES = {  # what a member sends → the `loc` of each error in the answer
    "text that is not JSON": ("hello?", [[]]),
    "a JSON list": ('["hi"]', [[]]),
    "a JSON string": ('"hi"', [[]]),
    "no text field": ('{"txt": "hi"}', [["text"]]),
    "a text that is not a string": ('{"text": 5}', [["text"]]),
    "an empty text": ('{"text": ""}', [["text"]]),
    "a 501-character text": (json.dumps({"text": "x" * 501}), [["text"]]),
}


@pytest.mark.task(5)
@pytest.mark.parametrize("what", INVALID_FRAMES)
def test_invalid_frame_gets_an_error_frame(client, room, what):
    raw, locations = INVALID_FRAMES[what]
    with member(client, room, "alice") as alice:
        alice.send_text(raw)
        check_error_frame(receive(alice, "an error frame"), f"alice sent {what}", locations)


def check_error_frame(frame: dict[str, Any], sent: str, locations: list[list[str]]) -> None:
    assert frame.get("type") == "error", f"{sent} → {frame}, expected a frame with type 'error'"
    detail = frame.get("detail")
    assert isinstance(detail, list) and detail, (
        f"{sent} → error detail {detail!r}, expected a non-empty list of errors"
    )
    shaped = all(
        isinstance(e, dict) and isinstance(e.get("loc"), list) and isinstance(e.get("msg"), str)
        for e in detail
    )
    assert shaped, (
        f"{sent} → error detail {detail}, expected each error to have a loc list and a msg"
    )
    echoed = [error for error in detail if "input" in error]
    assert not echoed, (
        f"{sent} → error detail {detail}, expected no 'input' in any error: the frame is not "
        "sent back (errors(include_input=False))"
    )
    found = [error["loc"] for error in detail]
    assert found == locations, (
        f"{sent} → error locations {found}, expected {locations} ([] for the frame as a whole, "
        f"['text'] for its text)"
    )


@pytest.mark.task(5)
def test_a_binary_frame_gets_an_error_frame_and_the_socket_stays_open(client, room):
    with member(client, room, "alice") as alice, member(client, room, "bob") as bob:
        alice.send_bytes(b'{"text": "in binary"}')
        frame = receive(alice, "an error frame", skip=("join",))
        check_error_frame(frame, "alice sent a binary frame", [[]])
        assert frame["detail"] == [BINARY_FRAME], (
            f"alice sent a binary frame → error detail {frame['detail']}, expected exactly "
            f"[{BINARY_FRAME}]"
        )
        alice.send_json({"text": "in text"})
        frame = receive(bob, "alice's message", skip=("join",))
        expected = {"type": "message", "name": "alice", "text": "in text"}
        assert frame == expected, (
            f"alice sent a binary frame, then 'in text' → bob got {frame}, expected {expected}: "
            f"a binary frame is answered, not relayed, and the socket stays open"
        )


@pytest.mark.task(5)
@pytest.mark.parametrize(
    ("what", "text"),
    [
        pytest.param("a 500-character text", "x" * 500, id="500-characters"),
        pytest.param("a text of one space", " ", id="a-space"),
    ],
)
def test_texts_of_1_to_500_characters_are_delivered_as_sent(client, room, what, text):
    with member(client, room, "alice") as alice, member(client, room, "bob") as bob:
        alice.send_json({"text": text})
        frame = receive(bob, "alice's message", skip=("join",))
        expected = {"type": "message", "name": "alice", "text": text}
        assert frame == expected, (
            f"alice sent {what} → bob got {frame if len(str(frame)) < 200 else str(frame)[:200]}, "
            f"expected her message frame with the text exactly as sent (1 to 500 characters)"
        )


@pytest.mark.task(5)
def test_socket_stays_open_after_an_error(client, room):
    with member(client, room, "alice") as alice, member(client, room, "bob") as bob:
        alice.send_text("hello?")
        receive(alice, "an error frame", skip=("join",))
        alice.send_json({"text": "still here"})
        # The error is for alice alone: bob's next message frame is her good one.
        frame = receive(bob, "alice's message", skip=("join",))
        expected = {"type": "message", "name": "alice", "text": "still here"}
        assert frame == expected, (
            f"alice sent a bad frame, then 'still here' → bob got {frame}, expected {expected}"
        )
