"""`nox -s bench`: grading speed, as ratios measured in one run on this machine.

Ratios, not seconds, because the machines are shared and noisy: both sides of a ratio are
measured back to back, several times, and the median is kept.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

from graders.catalog import ROOT, load_catalog

ROUNDS = 5


def seconds(command: Sequence[str], rounds: int = ROUNDS) -> float:
    """The median wall time of `command` over `rounds` runs, after one warm-up run."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    times = []
    for attempt in range(rounds + 1):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=False)
        if attempt:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def line(name: str, value: float, target: str) -> None:
    print(f"{name:<58} {value:6.2f}   (target {target})")


def main() -> None:
    kata = load_catalog()[0]
    python = sys.executable
    print(f"Timing on {os.cpu_count()} cores; median of {ROUNDS} runs after a warm-up.\n")

    pytest_alone = seconds([python, "-m", "pytest", "-q", f"katas/{kata.folder}"])
    through_nox = seconds(["nox", "-s", kata.slug])
    one_solution = seconds([python, "-m", "graders", "grade", kata.slug, "--solution"])
    all_solutions = seconds([python, "-m", "graders", "solutions"], rounds=3)

    print(f"pytest alone on {kata.folder}: {pytest_alone:.2f} s")
    print(f"nox -s {kata.slug} (venv reused): {through_nox:.2f} s")
    print(f"one kata against its solution: {one_solution:.2f} s")
    print(f"all {len(load_catalog())} katas against their solutions: {all_solutions:.2f} s\n")
    line("grading through nox / bare pytest on the same kata", through_nox / pytest_alone, "≤ 1.3")
    line("all katas against solutions / one kata", all_solutions / one_solution, "≤ 3")


if __name__ == "__main__":
    main()
