"""`merge`: join the outputs of a batch's shards into one gradebook, as one batch would have.

It refuses, in one line, shards that do not make one whole: a shard missing or given twice, a
submission in two shards, shards of other katas, or shards graded with other official tests.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from graders import gradebook
from graders.catalog import Kata, UsageError, find, load_catalog
from graders.gradebook import Entry


def describe(folder: Path) -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads((folder / "shard.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(
            f"{folder}: not the output of a sharded batch (no readable shard.json in it)"
        ) from None
    return found


def run(folders: list[Path], out: Path) -> tuple[list[Kata], list[Entry]]:
    shards = [(folder, describe(folder)) for folder in folders]
    first_folder, first = shards[0]
    for folder, shard in shards[1:]:
        for field, what in (("katas", "other katas"), ("of", "another number of shards"),
                            ("tests", "other official tests")):  # fmt: skip
            if shard[field] != first[field]:
                raise UsageError(
                    f"{folder} was graded with {what} than {first_folder}: merge shards of one batch"
                )
    count = first["of"]
    indexes = [shard["shard"] for _, shard in shards]
    for index in range(count):
        if indexes.count(index) > 1:
            raise UsageError(f"shard {index} of {count} is given twice")
    missing = sorted(set(range(count)) - set(indexes))
    if missing:
        raise UsageError(f"shard {missing[0]} of {count} is missing (give all {count} folders)")
    owners: dict[str, Path] = {}
    for folder, shard in shards:
        for name in shard["submissions"]:
            if name in owners:
                raise UsageError(
                    f"the submission {name} is in two shards: {owners[name]} and {folder}"
                )
            owners[name] = folder
    katas = [find(name, load_catalog()) for name in first["katas"]]
    entries = []
    for name, folder in sorted(owners.items()):
        several = len(katas) > 1
        results = {}
        for kata in katas:
            part = f"{name}/{kata.folder}.json" if several else f"{name}.json"
            results[kata.folder] = json.loads(
                (folder / "results" / part).read_text(encoding="utf-8")
            )
            for kind in ("results", "gradescope"):
                source = folder / kind / part
                if source.is_file():
                    (out / kind / part).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, out / kind / part)
        entries.append(Entry(name, results))
    gradebook.write(katas, entries, out)
    return katas, entries
