# /// script
# dependencies = ["nox>=2025.2.9", "uv"]
# ///
"""The commands of the FastAPI interview katas. Grading logic lives in graders/; this file only calls it.

Run it with nox installed (`python -m pip install nox uv`), or with nothing but uv:
`uv run noxfile.py -s first_steps` (uv reads the header above and brings nox along).

nox                        your progress on every kata
nox -s first_steps         grade one kata (each kata has a session named by its slug)
nox -s grade -- 3 --solution
nox -s verify              the repository's own tests (what CI runs)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["progress"]
# verify runs on each supported Python that is installed and skips the others, on CI too.
nox.options.error_on_missing_interpreters = False
nox.options.download_python = "never"  # use the Pythons installed here; never fetch one

ROOT = Path(__file__).resolve().parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
GRADER_VENV = ROOT / ".nox" / "_grader"
COMPILED = {"UV_COMPILE_BYTECODE": "1"}  # .pyc files at install time: graders never write them
KATAS = sorted(p.name for p in (ROOT / "katas").glob("[0-9][0-9]_*") if (p / "kata.toml").is_file())


def grader_python(session: nox.Session) -> str:
    """The Python of the one virtualenv every grading session shares, made or refreshed on demand.

    Grading is run dozens of times in a row, so the venv is kept and only rebuilt when the
    pinned dependencies change (a stamp holds their hash): a second grade costs no install.
    """
    requirements = nox.project.dependency_groups(PYPROJECT, "grader")
    stamp_text = json.dumps([sys.version, "bytecode", *requirements])
    stamp = hashlib.sha256(stamp_text.encode()).hexdigest()
    python = GRADER_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    stamp_file = GRADER_VENV / ".grader-stamp"
    if python.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return str(python)
    shutil.rmtree(GRADER_VENV, ignore_errors=True)
    uv = find_uv()
    if uv:
        session.run(
            uv, "venv", "--quiet", "--python", sys.executable, str(GRADER_VENV), external=True
        )
        # --compile-bytecode: the grader's child processes never write .pyc files, so without
        # it every grade would compile FastAPI, Pydantic and pytest from source again.
        session.run(
            uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python),
            *requirements, external=True,
        )  # fmt: skip
    else:
        session.run(sys.executable, "-m", "venv", str(GRADER_VENV), external=True)
        session.run(str(python), "-m", "pip", "install", "--quiet", *requirements, external=True)
    stamp_file.write_text(stamp)
    return str(python)


def find_uv() -> str | None:
    """uv installed beside nox (pip install uv), or anywhere on PATH; None to fall back to pip."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def graders(session: nox.Session, *args: str) -> None:
    session.run(grader_python(session), "-m", "graders", *args, external=True)


# The sessions that hand their arguments to `python -m graders <command>`: name, command, and
# the line `nox -l` shows. `progress` is the default session; every other one is asked for by name.
COMMANDS = [
    ("progress", "progress", "Show every kata with tasks passed, score and what to do next (the default session)."),
    ("grade", "grade", "Grade one kata: nox -s grade -- <kata> [--solution | --path DIR] [--json F] [--junit F] [-v]."),
    ("hint", "hint", "The next hint for a kata's first failing task: nox -s hint -- <kata> [task]."),
    ("watch", "watch", "Grade again on every save: nox -s watch -- [<kata>] (default: the first unfinished)."),
    ("compare", "compare", "Your files beside the reference solution: nox -s compare -- <kata> [--force]."),
    ("reset", "reset", "Restore a kata's stub after backing up your files: nox -s reset -- <kata> [--list | --restore NAME]."),
    ("serve", "serve", "Run your app for a kata on http://127.0.0.1:8000, reloading on save: nox -s serve -- <kata>."),
    ("quiz", "quiz", "A few questions on a kata's interview topic: nox -s quiz -- <kata> [--answers a,b,c]."),
    ("interview", "interview", "A mock interview with spaced repetition: nox -s interview -- [<kata>] [--due] [--answers FILE]."),
    ("batch", "batch", "Grade a folder of submissions: nox -s batch -- SUBMISSIONS_DIR --kata <kata> --out DIR [--shard I/N]."),
    ("merge", "merge", "Join the outputs of a batch's shards into one gradebook: nox -s merge -- DIR... --out DIR."),
    ("ci", "ci", "Grade every kata for a CI job: result files and a Markdown summary (nox -s ci -- --out DIR)."),
    ("solutions", "solutions", "Grade every kata against its reference solution; fails unless all pass."),
]  # fmt: skip
# Each kata has a session named by its slug: nox -s first_steps.
COMMANDS += [(f[3:], f"grade {f}", f"Grade your code for kata {f}.") for f in KATAS]


def forward(name: str, command: str, doc: str) -> None:
    """Declare the session `name`, which runs `python -m graders <command> <its arguments>`."""

    def session_function(session: nox.Session) -> None:
        graders(session, *command.split(), *session.posargs)

    session_function.__doc__ = doc
    nox.session(session_function, name=name, venv_backend="none", default=name == "progress")


for _name, _command, _doc in COMMANDS:
    forward(_name, _command, _doc)


def newest_python() -> str:
    """The newest supported Python installed here: it also runs the checks that need one Python."""
    return next((v for v in reversed(PYTHONS) if shutil.which(f"python{v}")), PYTHONS[-1])


@nox.session(python=PYTHONS, default=False)
def verify(session: nox.Session) -> None:
    """Run the repository's own tests: solutions pass, stubs fail, near misses fail, the engine holds."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "dev"), env=COMPILED)
    # What does not change with the Python version (the near misses, the sandbox's fallback) is
    # proven once, on the newest Python; solutions, stubs and the engine on every one.
    once = "1" if session.python == newest_python() else "0"
    env = {"PYTHONDONTWRITEBYTECODE": "1", "GRADERS_VERIFY_ONCE": once}
    session.run("python", "-m", "pytest", *session.posargs, env=env)


@nox.session(default=False)
def lint(session: nox.Session) -> None:
    """Check style with ruff and types with mypy (the engine is fully typed)."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint", "dev"), env=COMPILED)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(default=False)
def canary(session: nox.Session) -> None:
    """Grade every solution against the newest release of everything, to see upstream drift early."""
    unpinned = [
        req.split("==")[0].split(";")[0]
        for req in nox.project.dependency_groups(PYPROJECT, "grader")
    ]
    session.install("--upgrade", *unpinned, env=COMPILED)
    session.run("python", "-m", "graders", "solutions", *session.posargs)


@nox.session(default=False)
def mutation(session: nox.Session) -> None:
    """Grade mutants of the reference solutions: nox -s mutation -- [kata …] [--sample N] [--seed S]."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "grader", "mutation"), env=COMPILED)
    session.run("python", "-m", "tools.mutation", *session.posargs)


@nox.session(venv_backend="none", default=False)
def bench(session: nox.Session) -> None:
    """Measure grading speed and print the ratios the targets are set on."""
    session.run(grader_python(session), "-m", "tools.bench", *session.posargs, external=True)


if __name__ == "__main__":
    nox.main()
