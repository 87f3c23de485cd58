"""`serve`: the learner's app under uvicorn on a local port, reloading on every save."""

from __future__ import annotations

import os
import sys

from rich.console import Console

from graders import progress, workspace
from graders.catalog import Kata, UsageError


def run(kata: Kata, port: int, console: Console) -> int:
    """Replace this process with uvicorn serving the kata's app; it returns only on failure.

    It runs in .learner/serve/<kata>/, so the files the app writes (a SQLite database, a log)
    land there, not in the repository.
    """
    problem = workspace.missing_files(kata, kata.path)
    if problem:
        raise UsageError(f"katas/{kata.folder}: {problem}")
    console.print(f"Serving katas/{kata.folder}/app.py on http://127.0.0.1:{port} (docs at /docs)")
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # nothing is written into the kata folder
    folder = str(kata.path)
    where = progress.path().parent / "serve" / kata.folder
    where.mkdir(parents=True, exist_ok=True)
    os.chdir(where)
    os.execv(
        sys.executable,
        [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", folder, "--reload",
         "--reload-dir", folder, "--host", "127.0.0.1", "--port", str(port)],
    )  # fmt: skip
