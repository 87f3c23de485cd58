"""`nox -s bench`: grading speed, as ratios and rates measured in one run on this machine.

Ratios, not seconds alone, because the machines are shared and noisy: both sides of a ratio are
measured back to back, several times, and the median is kept. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import json
import os
import queue
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from graders.catalog import ROOT, find, load_catalog
from graders.sandbox import isolation_here

ROUNDS = 5
PAUSE = 3.0  # seconds between a verdict and the next save in watch: a learner reads, then types


def seconds(
    command: Sequence[str],
    rounds: int = ROUNDS,
    warm_up: bool = True,
    extra: dict[str, str] | None = None,
) -> float:
    """The median wall time of `command` over `rounds` runs, after a warm-up run if asked."""
    return timed(command, rounds, warm_up, extra)[0]


def timed(
    command: Sequence[str],
    rounds: int = ROUNDS,
    warm_up: bool = True,
    extra: dict[str, str] | None = None,
) -> tuple[float, float]:
    """Median wall time and median CPU time (every process it ran, all cores) of `command`."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(extra or {})}
    walls, cpus = [], []
    for attempt in range(rounds + warm_up):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if attempt or not warm_up:
            walls.append(time.perf_counter() - started)
            used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            cpus.append(used)
    return statistics.median(walls), statistics.median(cpus)


def line(name: str, value: float, target: str, unit: str = "") -> None:
    print(f"  {name:<62} {value:7.2f}{unit}   ({target})")


def watch_latency(work: Path, rounds: int = 3) -> tuple[float, float]:
    """Seconds from a save to "checking…" and to the verdict, in `nox -s watch` (medians).

    Each save comes PAUSE seconds after the last verdict, time watch spends warming the next
    grade's sandbox (graders.warm), as it would while a learner reads the verdict and edits.
    """
    folder = work / "watched"
    folder.mkdir()
    stub = ROOT / "katas" / "01_first_steps" / "app.py"
    solution = ROOT / "solutions" / "01_first_steps" / "app.py"
    shutil.copy(stub, folder / "app.py")
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
        "GRADERS_PROGRESS": str(work / "p.json"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "graders", "watch", "first_steps", "--path", str(folder)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stream = process.stdout

    def pump() -> None:
        for text in stream:
            lines.put(text)

    threading.Thread(target=pump, daemon=True).start()

    def wait_for(marker: str) -> float:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if marker in lines.get(timeout=0.5):
                    return time.perf_counter()
            except queue.Empty:
                continue
        raise RuntimeError(f"watch never printed {marker!r}")

    to_checking, to_verdict = [], []
    try:
        wait_for("Watching")
        for attempt in range(rounds):
            time.sleep(PAUSE)
            source = solution if attempt % 2 == 0 else stub
            saved = time.perf_counter()
            shutil.copy(source, folder / "app.py")
            to_checking.append(wait_for("checking…") - saved)
            to_verdict.append(wait_for("Score") - saved)
            wait_for("Watching")
    finally:
        process.kill()
        process.wait()
        stream.close()
    return statistics.median(to_checking), statistics.median(to_verdict)


def make_class(root: Path, size: int = 50) -> Path:
    """`size` submissions of kata 01: mostly right, some wrong, some crashing, some hanging."""
    solution = (ROOT / "solutions" / "01_first_steps" / "app.py").read_text(encoding="utf-8")
    stub = (ROOT / "katas" / "01_first_steps" / "app.py").read_text(encoding="utf-8")
    lookup = "    book = BOOKS.get(book_id)\n"
    kinds = {
        "passing": solution,
        "failing": stub,
        "crashing": "import os\nos._exit(1)\n" + solution,
        "hanging": solution.replace(lookup, "    while book_id == 3:\n        pass\n" + lookup),
    }
    mix = ["passing"] * 6 + ["failing"] * 2 + ["crashing", "hanging"]
    for number in range(size):
        kind = mix[number % len(mix)]
        folder = root / f"student{number:02d}-{kind}"
        folder.mkdir(parents=True)
        (folder / "app.py").write_text(kinds[kind], encoding="utf-8")
    return root


def side_by_side(commands: list[list[str]]) -> float:
    """The wall time of `commands` started together, until the last one ends."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    running = [subprocess.Popen(c, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for c in commands]  # fmt: skip
    for process in running:
        process.wait()
    return time.perf_counter() - started


def interrupted_halfway(command: list[str], kept: Path, total: int) -> None:
    """Run a batch and stop it with SIGINT once half of its grades are kept, as Ctrl-C would."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while process.poll() is None and len(list(kept.rglob("*.json"))) < total // 2:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def verified_shares(work: Path) -> dict[str, float]:
    """The share of each kata's points that its solution earns from verified tests."""
    out = work / "solutions"
    subprocess.run([sys.executable, "-m", "graders", "solutions", "--json-dir", str(out)],
                   cwd=ROOT, capture_output=True, check=False)  # fmt: skip
    shares = {}
    for file in sorted(out.glob("*.json")):
        result = json.loads(file.read_text(encoding="utf-8"))
        verified = sum(t["max_score"] for t in result["tests"] if t["verified"])
        shares[file.stem] = verified / result["max_score"] if result["max_score"] else 0.0
    return shares


def main() -> None:
    kata = find("first_steps")
    python = sys.executable
    grade_one = [python, "-m", "graders", "grade", kata.slug]
    print(f"Measured on {os.cpu_count()} cores; medians after a warm-up run.\n")

    pytest_alone, pytest_cpu = timed([python, "-m", "pytest", "-q", f"katas/{kata.folder}"])
    through_nox = seconds(["nox", "-s", kata.slug])
    directly = seconds(grade_one)
    print(
        f"  pytest alone on {kata.folder}: {pytest_alone:.2f} s; nox -s {kata.slug}: "
        f"{through_nox:.2f} s; python -m graders grade: {directly:.2f} s"
    )
    line("grading through nox / bare pytest, same kata", through_nox / pytest_alone, "target ≤ 1.1")
    line(
        "python -m graders grade / bare pytest, same kata", directly / pytest_alone, "target ≤ 1.0"
    )
    # Inside bubblewrap the processes are not counted in CPU time: measured without the sandbox.
    grade_cpu = timed(grade_one, extra={"GRADERS_SANDBOX": "none"})[1]
    print(f"  CPU time on {kata.folder}: bare pytest {pytest_cpu:.2f} s, a grade {grade_cpu:.2f} s")
    line(
        "a grade's CPU time / bare pytest's, same kata",
        grade_cpu / pytest_cpu,
        "no target: the trusted tests and the app in processes of their own",
    )

    sandboxed = seconds([*grade_one, "--solution"])
    unsandboxed = seconds([*grade_one, "--solution"], extra={"GRADERS_SANDBOX": "none"})
    print(f"\n  {kata.folder} solution: {sandboxed:.2f} s sandboxed, {unsandboxed:.2f} s without")
    line(
        "a grade in the sandbox / the same grade without it",
        sandboxed / unsandboxed,
        "target ≤ 1.1",
    )

    one_solution = seconds([*grade_one, "--solution"])
    all_solutions = seconds([python, "-m", "graders", "solutions"], rounds=3)
    # The processes inside bubblewrap are not counted in this process's children's CPU time, so
    # CPU time is measured on the same work without the sandbox, which costs about the same.
    bare = {"GRADERS_SANDBOX": "none"}
    one_cpu = timed([*grade_one, "--solution"], extra=bare)[1]
    all_cpu = timed([python, "-m", "graders", "solutions"], 1, warm_up=False, extra=bare)[1]
    cores = os.cpu_count() or 1
    one_by_one = sum(
        seconds([python, "-m", "graders", "grade", each.slug, "--solution"], rounds=1)
        for each in load_catalog()
    )
    print(
        f"\n  one kata against its solution: {one_solution:.2f} s; all {len(load_catalog())}: {all_solutions:.2f} s"
    )
    line(
        f"all katas against solutions / one kata ({kata.folder})",
        all_solutions / one_solution,
        "target ≤ 3",
    )
    print(
        f"  CPU time (measured without the sandbox): one kata {one_cpu:.2f} s, all {all_cpu:.2f} s;"
        f" the cores were busy {all_cpu / (cores * all_solutions):.0%} of the time while grading all"
    )
    # No run can spread its CPU time over more than the machine's cores: a hard floor.
    line(
        f"the lowest that ratio can be on {cores} cores, for this much work",
        all_cpu / cores / one_solution,
        "CPU time of all ÷ cores ÷ one kata's time",
    )
    print(f"  the {len(load_catalog())} katas graded one after another: {one_by_one:.2f} s")
    line(
        "one kata after another / all at once",
        one_by_one / all_solutions,
        "no target: what sharing the work gains",
    )

    with tempfile.TemporaryDirectory(prefix="graders-bench-") as scratch:
        work = Path(scratch)
        kept = {"GRADERS_PROGRESS": str(work / "learner" / "progress.json")}
        progress = [python, "-m", "graders", "progress"]
        seconds(progress, rounds=1, warm_up=False, extra=kept)  # every kata graded, and kept
        unchanged = seconds(progress, extra=kept)
        stub = kata.path / "app.py"
        shipped = stub.read_bytes()
        changed = []
        try:
            for attempt in range(ROUNDS):
                stub.write_bytes(shipped + f"\n# bench {attempt}\n".encode())
                changed.append(seconds(progress, rounds=1, warm_up=False, extra=kept))
        finally:
            stub.write_bytes(shipped)
        one_grade = seconds(grade_one, extra=kept)
        print(f"\n  nox (progress): {unchanged:.2f} s with nothing changed, "
              f"{statistics.median(changed):.2f} s with one kata changed; one grade {one_grade:.2f} s")  # fmt: skip
        line("progress with nothing changed / one grade", unchanged / one_grade, "target ≤ 1.5")
        line(
            "progress with one kata changed / one grade",
            statistics.median(changed) / one_grade,
            "target ≤ 1.5",
        )

        checking, verdict = watch_latency(work)
        line('watch: a save to "checking…"', checking, "target at once", " s")
        line("watch: a save to the verdict", verdict, "target ≤ 1.5 s", " s")
        line("watch: a save to the verdict / bare pytest", verdict / pytest_alone, "target ≤ 0.5")

        submissions = make_class(work / "class")
        contained = isolation_here()[0] == "bubblewrap"
        batch = [python, "-m", "graders", "batch", str(submissions), "--kata", "1", "--timeout", "3",
                 *([] if contained else ["--unsafe-no-sandbox"])]  # fmt: skip
        parallel = seconds([*batch, "--out", str(work / "p")], rounds=1, warm_up=False)
        serial = seconds(
            [*batch, "--out", str(work / "s"), "--workers", "1"], rounds=1, warm_up=False
        )
        count = len(list(submissions.iterdir()))
        where = "each in a bubblewrap sandbox" if contained else "without a sandbox (no bubblewrap)"
        print(f"\n  batch of {count} submissions (passing, failing, crashing, hanging), {where}: "
              f"{parallel:.1f} s in parallel, {serial:.1f} s one after another")  # fmt: skip
        line(
            "batch: submissions per minute",
            count / parallel * 60,
            "target as many as the machine allows",
        )
        line("batch: speed-up over one at a time", serial / parallel, "target ≥ 1.6")

        # Two shards side by side, one core each, as two machines of one core would run them.
        shards = [[*batch, "--shard", f"{i}/2", "--workers", str(max(1, cores // 2)),
                   "--out", str(work / f"shard{i}")] for i in range(2)]  # fmt: skip
        sharded = side_by_side(shards)
        print(f"  the same batch in 2 shards side by side: {sharded:.1f} s")
        line("sharded throughput / unsharded throughput", parallel / sharded, "target ≥ 0.9")

        resumed_out = work / "resumed"
        interrupted_halfway([*batch, "--out", str(resumed_out)], resumed_out / ".kept", count)
        resumed = seconds([*batch, "--out", str(resumed_out)], rounds=1, warm_up=False)
        print(f"  the batch started again after a Ctrl-C halfway: {resumed:.1f} s")
        line("resumed batch / the whole batch", resumed / parallel, "target ≤ 0.6")

        print(
            "\n  The share of each kata's points that verified tests give (the rest is self-reported):"
        )
        for name, share in verified_shares(work).items():
            print(f"    {name:<28} {share:6.0%}")


if __name__ == "__main__":
    main()
