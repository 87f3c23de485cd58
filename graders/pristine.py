"""The kata files as shipped, whatever the learner did to the working copy.

`graders/pristine.json` records the git blob id of every shipped kata file: the official ones
(the tests of an app kata, the given app of a tests kata) and the stubs. An official file whose
content still has its id is used as it is; an edited or deleted one is read back from git's
object store by that id, and only when neither works is the grade void. `nox -s reset` restores
stubs the same way.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from graders.catalog import ROOT, Kata, UsageError

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
    """What the manifest should say for the kata files in the working tree."""
    return {
        path.relative_to(ROOT).as_posix(): blob_id(path.read_bytes())
        for kata in katas
        for path in [*kata.official_files(), *kata.learner_files(kata.path)]
    }


def shipped(kata: Kata) -> dict[str, str]:
    """File name → blob id of every file of `kata` as shipped."""
    prefix = f"katas/{kata.folder}/"
    return {k[len(prefix) :]: v for k, v in load_manifest().items() if k.startswith(prefix)}


def write_manifest(katas: list[Kata]) -> None:
    text = json.dumps(current_manifest(katas), indent=2, sort_keys=True)
    MANIFEST.write_text(text + "\n", encoding="utf-8")


def official_files(kata: Kata, tests_from: str | None = None) -> tuple[dict[str, bytes], list[str]]:
    """The shipped content of each official file of `kata`, by file name, and notes for the learner.

    With `tests_from` (a git ref or a folder an instructor trusts), the files come from there.
    Raises TamperedError when an official file was changed and the shipped copy is gone.
    """
    if tests_from is not None:
        return trusted_files(kata, tests_from), [f"official files taken from {tests_from}"]
    prefix = f"katas/{kata.folder}/"
    expected = {n: b for n, b in shipped(kata).items() if kata.role(n) == "official"}
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
        copy = from_git(blob)
        if copy is None:
            change = "was deleted" if data is None else "was changed"
            raise TamperedError(
                f"{prefix}{name} {change} and the shipped copy is not in git: "
                f"restore it (git checkout -- {prefix}{name}) to be graded"
            )
        contents[name] = copy
        change = "is missing" if data is None else "differs from the shipped file"
        notes.append(f"{prefix}{name} {change}; graded with the shipped tests instead")
    return contents, notes


def trusted_files(kata: Kata, ref: str) -> dict[str, bytes]:
    """The official files of `kata` from a trusted folder, or from a git ref of this repository."""
    folder = Path(ref)
    if folder.is_dir():
        for candidate in (folder / "katas" / kata.folder, folder / kata.folder, folder):
            found = {
                p.name: p.read_bytes()
                for p in sorted(candidate.glob("*.py"))
                if kata.role(p.name) == "official"
            }
            if found:
                return found
        raise UsageError(f"--tests-from {ref}: the folder holds no official files of {kata.folder}")
    listing = _git("ls-tree", "--name-only", f"{ref}:katas/{kata.folder}")
    if listing is None:
        raise UsageError(f"--tests-from {ref}: neither a folder nor a git ref of this repository")
    names = [n for n in listing.decode().split() if kata.role(n) == "official"]
    contents = {n: _git("show", f"{ref}:katas/{kata.folder}/{n}") for n in names}
    found = {n: data for n, data in contents.items() if data is not None}
    if not found:
        raise UsageError(f"--tests-from {ref}: no official files of {kata.folder} at that ref")
    return found


def _git(*args: str) -> bytes | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def from_git(blob: str) -> bytes | None:
    """The content of the file git knows by this blob id, if git has it."""
    data = _git("cat-file", "blob", blob)
    return data if data is not None and blob_id(data) == blob else None
