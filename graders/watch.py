"""`watch`: grade again on every save, rustlings-style.

With a kata it watches that kata; without one it follows the first unfinished kata and moves on
to the next when it passes. While it waits for a save, the next grade's sandbox warms up
(graders.warm), so a save is graded without paying for the sandbox's start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, TimeoutError
from pathlib import Path

from rich.console import Console
from watchfiles import watch as watch_files

from graders import progress, report, review, slow
from graders.catalog import Kata, load_catalog
from graders.grade import grade
from graders.score import KataGrade
from graders.vocabulary import Request
from graders.warm import WarmStart

DEBOUNCE_MS = 50  # an editor's save is often several writes; gather them, but barely wait
LONG = 2.0  # seconds of grading after which watch shows how long it has been running


def request_of(kata: Kata, path: Path | None) -> Request:
    return Request(kata, "path", path) if path else Request(kata)


def check(
    kata: Kata,
    console: Console,
    path: Path | None,
    clear: bool = True,
    warm: WarmStart | None = None,
) -> KataGrade:
    if clear:
        console.clear()
    console.print("[dim]checking…[/]")
    result = timed(lambda: grade(request_of(kata, path), warm), console)
    result.notes += slow.notes(result)
    result.review = review.after_a_pass(result, path or kata.path)
    progress.record_grade(result)
    if clear:
        console.clear()
    report.show(result, console, where=str(path) if path else "")
    return result


def timed(work: Callable[[], KataGrade], console: Console) -> KataGrade:
    """Run `work`; in a terminal, once it takes a while, say how long it has been running."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(work)
        try:
            return future.result(timeout=LONG)
        except TimeoutError:
            pass
        started = time.monotonic() - LONG
        with console.status("still checking…") as status:
            while True:
                try:
                    return future.result(timeout=1)
                except TimeoutError:
                    status.update(f"still checking… {time.monotonic() - started:.0f} s")


def next_unfinished(after: Kata | None = None) -> Kata | None:
    katas = load_catalog()
    done = {slug for slug, entry in progress.load().items() if entry.get("status") == "pass"}
    start = katas.index(after) + 1 if after in katas else 0
    return next((kata for kata in katas[start:] if kata.slug not in done), None)


def watch(kata: Kata | None, console: Console, path: Path | None = None) -> int:
    following = kata is None
    current = kata or next_unfinished()
    if current is None:
        console.print("[green bold]Every kata passes.[/] Nothing left to watch.")
        return 0
    clear = True
    warm: WarmStart | None = None
    try:
        while True:
            graded = snapshot(path or current.path)
            result = check(current, console, path, clear, warm)
            warm, clear = None, True
            if result.status == "pass":
                upcoming = next_unfinished(current)
                if upcoming is None:
                    console.print("[green bold]That was the last unfinished kata — well done.[/]")
                elif following:
                    console.print(
                        f"\nMoving on to {upcoming.folder}: edit katas/{upcoming.folder}/ …\n"
                    )
                    current, clear = upcoming, False  # keep the "Done" on screen
                    continue
                else:
                    console.print(f"Next kata: nox -s watch -- {upcoming.slug}")
            folder = path or current.path
            if snapshot(folder) != graded:
                continue  # saved while grading: grade that version now
            warm = WarmStart(request_of(current, path))
            console.print(
                f"[dim]Watching {folder} — save a file to grade again, Ctrl-C to stop.[/]"
            )
            try:
                for changes in watch_files(folder, debounce=DEBOUNCE_MS, step=20):
                    if any(changed.endswith(".py") for _, changed in changes):
                        break
            except KeyboardInterrupt:
                console.print("Stopped watching.")
                return 0
    finally:
        if warm is not None:
            warm.close()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.py"))}
