"""HTTP replay: the last request a failing test made, as a curl line, and what came back.

The job process records the exchanges (graders.sandbox.record); this, the parent's half, turns
the last one of a failing test into two or three short lines.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

BODY_LIMIT = 300
LOCAL_SERVER = "http://127.0.0.1:8000"  # where `nox -s serve -- <kata>` runs the learner's app


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
    earlier = exchange.get("earlier") or []
    lines = []
    if earlier:  # the failing request depends on what these did: replay them first
        lines.append(f"# after the test's {len(earlier)} earlier request(s), replayed first:")
        lines += [f"$ {curl(request)}" for request in earlier]
    lines.append(f"$ {curl(exchange)}")
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
