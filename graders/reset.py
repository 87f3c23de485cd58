"""`reset`: bring a kata's stub back as shipped, after backing up what the learner wrote.

Nothing the learner wrote is deleted without a backup: every file is copied into
.learner/backups/<kata>-<time>/ and the copy is checked before the kata folder is touched.
"""

from __future__ import annotations

import filecmp
import shutil
import time
from pathlib import Path

from rich.console import Console

from graders import pristine
from graders.catalog import ROOT, Kata, UsageError
from graders.progress import LEARNER_DIR

BACKUPS = LEARNER_DIR / "backups"


def backups(kata: Kata) -> list[Path]:
    return sorted(p for p in BACKUPS.glob(f"{kata.folder}-*") if p.is_dir())


def back_up(kata: Kata) -> Path | None:
    """Copy the learner's files of `kata` into a new timestamped backup; None if there are none."""
    files = kata.learner_files(kata.path)
    if not files:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = BACKUPS / f"{kata.folder}-{stamp}"
    suffix = 1
    while target.exists():
        suffix += 1
        target = BACKUPS / f"{kata.folder}-{stamp}-{suffix}"
    target.mkdir(parents=True)
    for path in files:
        shutil.copy2(path, target / path.name)
        if not filecmp.cmp(path, target / path.name, shallow=False):
            raise OSError(f"could not back up {path}: the copy differs")
    return target


def shipped_stub(kata: Kata) -> dict[str, bytes]:
    """The stub files as shipped, read from git by their recorded ids."""
    stubs = {n: b for n, b in pristine.shipped(kata).items() if kata.role(n) == "learner"}
    if not stubs:
        raise UsageError(f"{kata.slug}: no shipped stub is recorded in graders/pristine.json")
    contents = {}
    for name, blob in stubs.items():
        current = kata.path / name
        if current.is_file() and pristine.blob_id(current.read_bytes()) == blob:
            contents[name] = current.read_bytes()
            continue
        data = pristine.from_git(blob)
        if data is None:
            raise UsageError(
                f"the shipped {name} is not in git here, so {kata.slug} cannot be reset"
            )
        contents[name] = data
    return contents


def reset(kata: Kata) -> Path | None:
    """Back up, then restore the stub. Returns the backup folder (None when there was nothing)."""
    stub = shipped_stub(kata)  # fail before touching anything
    current = {p.name: p.read_bytes() for p in kata.learner_files(kata.path)}
    if current == stub:
        return None  # already as shipped: nothing to back up or restore
    backup = back_up(kata)
    for path in kata.learner_files(kata.path):
        if path.name not in stub:
            path.unlink()  # a module the learner added; it is in the backup
    for name, data in stub.items():
        (kata.path / name).write_bytes(data)
    return backup


def restore(kata: Kata, name: str) -> Path | None:
    """Bring back the backup called `name`, backing up the current files first."""
    source = BACKUPS / name
    if not source.is_dir() or not name.startswith(kata.folder):
        names = ", ".join(p.name for p in backups(kata)) or "none yet"
        raise UsageError(f"no backup '{name}' for {kata.slug}; backups: {names}")
    backup = back_up(kata)
    for path in kata.learner_files(kata.path):
        path.unlink()
    for path in sorted(source.iterdir()):
        shutil.copy2(path, kata.path / path.name)
    return backup


def show_backups(kata: Kata, console: Console) -> None:
    found = backups(kata)
    for folder in found:
        names = ", ".join(sorted(p.name for p in folder.iterdir()))
        console.print(f"{folder.name}  [dim]{names}[/]")
    if not found:
        console.print(f"No backups of {kata.slug} yet.")


def run(kata: Kata, restoring: str | None, console: Console) -> None:
    """`reset`: restore the stub, or the backup called `restoring`, and say where the old files went."""
    if restoring:
        backup = restore(kata, restoring)
        console.print(f"Restored {restoring} into katas/{kata.folder}/.")
    else:
        backup = reset(kata)
        console.print(f"katas/{kata.folder}/ is back to the stub as shipped.")
    if backup:
        where = backup.relative_to(ROOT)
        console.print(f"Your previous files are in {where}/ (nox -s reset -- {kata.slug} --list).")
    else:
        console.print("There was nothing of yours to back up.")
