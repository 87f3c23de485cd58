"""The learner's progress, kept in .learner/progress.json (git-ignored, outside the kata folders)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from graders.catalog import ROOT
from graders.score import KataGrade

LEARNER_DIR = ROOT / ".learner"


def path() -> Path:
    return Path(os.environ.get("GRADERS_PROGRESS", LEARNER_DIR / "progress.json"))


def load() -> dict[str, Any]:
    """The stored progress; a file that cannot be read is moved aside (and said), never lost."""
    target = path()
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        return set_aside(target, str(error))
    try:
        data = json.loads(text)
    except ValueError as error:
        return set_aside(target, f"not JSON: {error}")
    if not isinstance(data, dict):
        return set_aside(target, "not a JSON object")
    return data


def set_aside(target: Path, why: str) -> dict[str, Any]:
    """Keep a broken progress file under another name and start afresh; say so on stderr."""
    kept = target.with_name(f"{target.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(target, kept)
    except OSError:
        raise OSError(f"{target} cannot be read ({why}) nor moved aside") from None
    print(f"note: {target} could not be read ({why}); it is kept as {kept.name}", file=sys.stderr)
    return {}


def save(data: dict[str, Any]) -> None:
    """Write atomically, so an interrupted grade never leaves a broken file."""
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".progress-")
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2, sort_keys=True)
    os.replace(temporary, target)


def entry(data: dict[str, Any], slug: str) -> dict[str, Any]:
    kata: dict[str, Any] = data.setdefault(slug, {})
    return kata


def record_grade(result: KataGrade) -> None:
    if result.target != "learner":
        return
    data = load()
    kata = entry(data, result.kata.slug)
    kata.update(
        status=result.status,
        score=result.score,
        max_score=result.max_score,
        tasks_passed=[task.id for task in result.kata.tasks if result.task_passed(task.id)],
    )
    save(data)


def forget_grade(slug: str) -> None:
    """After a reset the last grade no longer describes the files; hints and quiz results stay."""
    data = load()
    for key in ("status", "score", "max_score", "tasks_passed"):
        entry(data, slug).pop(key, None)
    save(data)


def record_hint(slug: str, task_id: int, level: int) -> None:
    data = load()
    hints = entry(data, slug).setdefault("hints", {})
    hints[str(task_id)] = max(level, hints.get(str(task_id), 0))
    save(data)


def record_quiz(slug: str, correct: int, total: int) -> None:
    data = load()
    entry(data, slug)["quiz"] = {"correct": correct, "total": total}
    save(data)


def hint_level(slug: str, task_id: int) -> int:
    level: int = load().get(slug, {}).get("hints", {}).get(str(task_id), 0)
    return level
