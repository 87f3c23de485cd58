"""The words every layer of the engine shares, one type each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from graders.catalog import Kata

Status = Literal["pass", "fail", "error"]
"""How a test, a task or a whole grade ended: `error` means it could not be graded."""

Target = Literal["learner", "solution", "path"]
"""Whose code is graded: the learner's kata folder, the reference solution, or a folder given."""

Isolation = Literal["bubblewrap", "none"]
"""How the learner's code was contained: in a bubblewrap sandbox, or only by limits (see sandbox)."""


@dataclass(frozen=True)
class Request:
    """One kata to grade, and whose code."""

    kata: Kata
    target: Target = "learner"
    path: Path | None = None  # the folder graded when target is "path"
    tasks: tuple[int, ...] = ()  # grade only these tasks' tests (none: every task)
    # Stop each job at its first failing test: enough to know that code fails (a near miss).
    until_first_failure: bool = False

    @property
    def source(self) -> Path:
        """The folder that holds the code to grade."""
        if self.target == "solution":
            return self.kata.solution_path
        if self.target == "path" and self.path is not None:
            return self.path
        return self.kata.path
