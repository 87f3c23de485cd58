"""A pytest plugin: every test of an app kata sees a freshly imported copy of the learner's modules.

When graded, each verified test talks to a fresh process of the learner's app, so no test sees
state another left behind. This plugin gives the same to `pytest katas/NN_slug` (and to the
white-box tests the grader runs beside the learner's code): before each test, the learner's
modules are imported again and the test module's names for them are pointed at the new copies.
It also lets `pytest katas/` run every kata at once, though several have an `app.py`.

It acts on test files in a kata folder (one with a kata.toml; the fresh import per test only in
an app kata), or on the modules the grader names in GRADERS_FRESH_IMPORTS; anywhere else (the
repository's own tests) it does nothing.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from pathlib import Path

import pytest

from graders.catalog import KataFormatError, load_kata

ASKED = "GRADERS_FRESH_IMPORTS"  # module names, comma-separated, set by the grader


def kata_modules(folder: Path) -> tuple[set[str], bool]:
    """The modules beside a test file in a kata folder, and whether each test re-imports them."""
    if os.environ.get(ASKED):
        return set(os.environ[ASKED].split(",")), True
    if not (folder / "kata.toml").is_file():
        return set(), False
    try:
        kata = load_kata(folder)
    except KataFormatError:
        return set(), False
    return set(kata.modules({p.name for p in folder.glob("*.py")})), kata.grades == "app"


def forget(names: set[str], folder: Path) -> None:
    """Drop the learner's modules from the import cache, and look for them in `folder` first."""
    for name in names:
        sys.modules.pop(name, None)
    if str(folder) in sys.path:
        sys.path.remove(str(folder))
    sys.path.insert(0, str(folder))


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> None:
    """Before a test file is imported, make `import app` find the app beside it."""
    names, _ = kata_modules(module_path.parent)
    if names:
        forget(names, module_path.parent)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    module = getattr(item, "module", None)
    if module is None or not getattr(module, "__file__", None):
        return
    folder = Path(module.__file__).parent
    names, each_test = kata_modules(folder)
    if not (names and each_test):
        return
    forget(names, folder)
    for variable, value in list(vars(module).items()):
        if isinstance(value, types.ModuleType) and value.__name__ in names:
            setattr(module, variable, importlib.import_module(value.__name__))
        elif getattr(value, "__module__", None) in names and hasattr(value, "__name__"):
            copy = importlib.import_module(value.__module__)
            if hasattr(copy, value.__name__):  # `from app import Thing` as `Thing`
                setattr(module, variable, getattr(copy, value.__name__))
