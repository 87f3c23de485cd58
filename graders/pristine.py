"""The official files as shipped, whatever the learner did to the working copy.

`graders/pristine.json` records the git blob id of every official file (the tests of an app kata,
the given app of a tests kata). A file whose content still has that id is used as it is; an edited
or deleted one is read back from git's object store by that id. Only when neither works is the
grade void.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from graders.catalog import ROOT, Kata

MANIFEST = Path(__file__).resolve().parent / "pristine.json"


class TamperedError(Exception):
    """An official file was changed and no shipped copy could be found."""


def blob_id(data: bytes) -> str:
    """The id git gives a file with this content (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def load_manifest() -> dict[str, str]:
    if not MANIFEST.is_file():
        return {}
    manifest: dict[str, str] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return manifest


def current_manifest(katas: list[Kata]) -> dict[str, str]:
    """What the manifest should say for the official files in the working tree."""
    return {
        path.relative_to(ROOT).as_posix(): blob_id(path.read_bytes())
        for kata in katas
        for path in kata.official_files()
    }


def write_manifest(katas: list[Kata]) -> None:
    text = json.dumps(current_manifest(katas), indent=2, sort_keys=True)
    MANIFEST.write_text(text + "\n", encoding="utf-8")


def official_files(kata: Kata) -> tuple[dict[str, bytes], list[str]]:
    """The shipped content of each official file of `kata`, by file name, and notes for the learner.

    Raises TamperedError when an official file was changed and the shipped copy is gone.
    """
    manifest = load_manifest()
    prefix = f"katas/{kata.folder}/"
    expected = {
        key[len(prefix) :]: blob for key, blob in manifest.items() if key.startswith(prefix)
    }
    if not expected:  # a kata not sealed yet (being written): trust the working tree
        return {p.name: p.read_bytes() for p in kata.official_files()}, []
    contents: dict[str, bytes] = {}
    notes: list[str] = []
    for name, blob in sorted(expected.items()):
        path = kata.path / name
        data = path.read_bytes() if path.is_file() else None
        if data is not None and blob_id(data) == blob:
            contents[name] = data
            continue
        shipped = _from_git(blob)
        if shipped is None:
            change = "was deleted" if data is None else "was changed"
            raise TamperedError(
                f"{prefix}{name} {change} and the shipped copy is not in git: "
                f"restore it (git checkout -- {prefix}{name}) to be graded"
            )
        contents[name] = shipped
        change = "is missing" if data is None else "differs from the shipped file"
        notes.append(f"{prefix}{name} {change}; graded with the shipped tests instead")
    return contents, notes


def _from_git(blob: str) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", "cat-file", "blob", blob], cwd=ROOT, capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 and blob_id(done.stdout) == blob else None
