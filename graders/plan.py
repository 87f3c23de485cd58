"""What grading one request takes: its folders, its jobs, and the tests they are expected to run.

An app kata is graded by two kinds of job. The *verified* one runs the official tests that only
talk HTTP in a trusted process, against the learner's app served from the box by its app host.
The *white-box* one runs the tests marked `white_box` inside the box, beside the learner's
modules. A tests kata (09_testing) runs the learner's tests inside the box: on the given app,
then on each buggy variant of it.

The folders of request NN (under the grading root):
    trusted/NN-slug/       the official tests of the verified job (never inside a box)
    boxes/NN-slug/app/     the learner's modules, for the app host (read-only in the box)
    boxes/NN-slug/whitebox/, given/, variant-<bug>/   modules and tests side by side (read-only)
    boxes/NN-slug/shared/  the host's sockets and the verified tests' tmp_path (both sides)
    boxes/NN-slug/work/, tmp/, events/, home/          the box's writable working folders
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graders import patch, pristine, workspace
from graders.catalog import Kata, is_test_file
from graders.sandbox import busy_places
from graders.sandbox.jobs import Box, Host, Job, Layout
from graders.score import Expected, expected_tests
from graders.vocabulary import Request

CASES_A_JOB = 6  # test cases that cost about as much as starting a job's pytest session


@dataclass(frozen=True)
class Inputs:
    """Everything a request is graded with, read once: the learner's files and the official ones."""

    request: Request
    learner: dict[str, bytes]
    official: dict[str, bytes]
    notes: list[str]
    void: str = ""  # why it cannot be graded at all, if it cannot


@dataclass
class Plan:
    """The jobs of one request, the tests expected of them, and notes for the learner."""

    request: Request
    jobs: list[Job]
    expected: list[Expected]
    notes: list[str]
    void: str = ""


def read(request: Request, tests_from: str | None) -> Inputs:
    """The files `request` is graded with.

    A folder given to grade without them is a usage error; the learner's own kata folder without
    them is a grade that says what is missing and what is there.
    """
    if request.target == "learner":
        problem = workspace.missing_files(request.kata, request.source)
        if problem:
            return Inputs(request, {}, {}, [], void=f"katas/{request.kata.folder}: {problem}")
    learner = workspace.learner_sources(request.kata, request.source)
    try:
        official, notes = pristine.official_files(request.kata, tests_from)
    except pristine.TamperedError as error:
        return Inputs(request, learner, {}, [], void=str(error))
    return Inputs(request, learner, official, notes)


def plan(inputs: Inputs, index: int, root: Path, box: Box | None, alone: bool = False) -> Plan:
    """The plan for grading `inputs`; its folders go under `root`, its jobs into `box` (None: its own).

    `alone`: nothing else is graded beside it, so an app kata's tests are shared out between as
    many jobs as run at once, for the cores to share (see `shares`); beside other requests (or in a box of its own, where jobs run one after
    another) one job is cheaper.
    """
    request = inputs.request
    if inputs.void:
        return Plan(request, [], [], [], void=inputs.void)
    name = f"{index:03d}-{request.kata.slug}"
    box = box or Box(name, root / "boxes" / name)
    if request.kata.grades == "app":
        return app_plan(inputs, name, root, box, alone)
    return tests_plan(inputs, name, root, box)


def app_plan(inputs: Inputs, name: str, root: Path, box: Box, alone: bool) -> Plan:
    request, learner, official, notes = (
        inputs.request,
        inputs.learner,
        inputs.official,
        inputs.notes,
    )
    trusted_folder, folder = root / "trusted" / name, root / "boxes" / name
    kata = request.kata
    expected = [e for e in expected_of(official) if not request.tasks or e.task_id in request.tasks]
    modules = tuple(kata.modules(set(learner)))
    white_box = any(e.white_box for e in expected)
    files = writable(folder) | {trusted_folder: official, folder / "app": learner}
    if white_box:
        files[folder / "whitebox"] = {**learner, **official}
    sealed = (folder / "app", folder / "whitebox") if white_box else (folder / "app",)
    host = Host(
        folder / "app", modules, folder / "shared" / "host.sock", folder / "work", kata.memory_mb
    )
    layout = Layout(folder, files, sealed, host if not all(e.white_box for e in expected) else None)
    length = dict(
        zip(expected, lengths(expected, reference_times(kata) if alone else {}), strict=True)
    )
    jobs = []
    for trusted in (True, False):
        side = [e for e in expected if e.white_box != trusted]
        groups: list[tuple[int | None, list[Expected]]]
        if kata.parallel_tasks:
            groups = [(t.id, [e for e in side if e.task_id == t.id]) for t in kata.tasks]
        elif alone:  # each side gets its share of the places, as of its length
            mine = [length[e] for e in side]
            places = round(busy_places() * sum(mine) / max(sum(length.values()), 1e-9))
            groups = [(None, part) for part in shares(side, mine, places)]
        else:
            groups = [(None, side)]
        for number, (task_id, items) in enumerate(groups, 1):
            if not items:
                continue
            suffix = f":task{task_id}" if task_id is not None else ""
            suffix += f":part{number}" if len(groups) > 1 and task_id is None else ""
            tests = tuple(e.nodeid for e in items)
            jobs.append(
                Job(
                    key=f"{name}:{'verified' if trusted else 'white-box'}{suffix}",
                    box=box,
                    layout=layout,
                    trusted=trusted,
                    directory=trusted_folder if trusted else folder / "whitebox",
                    work=folder / "work",
                    tmp=folder / "shared" / "tmp" if trusted else folder / "tmp",
                    tests=tests,
                    modules=() if trusted else modules,
                    timeout=kata.timeout,
                    memory_mb=kata.memory_mb,
                    task_id=task_id,
                    strict_warnings=request.target == "solution",
                    fresh_imports=not trusted,
                    stop_at_first_failure=request.until_first_failure,
                    size=sum(e.cases for e in items),
                    length=sum(length[e] for e in items),
                    waits=kata.parallel_tasks,
                )
            )
    return Plan(request, jobs, expected, notes)


def tests_plan(inputs: Inputs, name: str, root: Path, box: Box) -> Plan:
    request, learner, official, notes = (
        inputs.request,
        inputs.learner,
        inputs.official,
        inputs.notes,
    )
    folder = root / "boxes" / name
    kata = request.kata
    tests = tuple(sorted(learner))
    try:
        expected = [e for file in tests for e in expected_tests(file, learner[file])]
    except SyntaxError as error:
        return Plan(request, [], [], notes, void=f"your tests could not be read: {error}")
    modules = tuple(kata.modules(set(official)))
    files = writable(folder) | {folder / "given": {**official, **learner}}
    first_by_variant: dict[str, tuple[str, ...]] = {}
    for task in kata.tasks:
        if request.tasks and task.id not in request.tasks:
            continue
        for variant in task.variants:
            diff = kata.variant_path(variant).read_text(encoding="utf-8")
            files[(folder / f"variant-{variant}")] = {
                **patch.apply_to_files(diff, official),
                **learner,
            }
            # The learner's tests of the variant's task are the likeliest to catch it: first.
            first_by_variant[variant] = tuple(e.nodeid for e in expected if e.task_id == task.id)
    sealed = tuple(
        path for path in files if path == folder / "given" or path.name.startswith("variant-")
    )
    layout = Layout(folder, files, sealed)

    def job(key: str, directory: Path, variant: str | None = None) -> Job:
        first = first_by_variant.get(variant, ()) if variant else ()
        return Job(
            key=key,
            box=box,
            layout=layout,
            trusted=False,
            directory=directory,
            work=folder / "work",
            tmp=folder / "tmp",
            tests=tests,
            modules=modules,
            timeout=kata.timeout,
            memory_mb=kata.memory_mb,
            variant=variant,
            strict_warnings=request.target == "solution",
            stop_at_first_failure=variant is not None,
            first=first,
            size=len(first) if variant else len(expected),
            length=len(first) if variant else len(expected),
        )

    jobs = [job(f"{name}:given", folder / "given")]
    jobs += [job(f"{name}:{v}", (folder / f"variant-{v}"), v) for v in first_by_variant]
    return Plan(request, jobs, expected, notes)


def lengths(tests: list[Expected], times: dict[str, float]) -> list[float]:
    """How long each test runs, as far as anyone can tell before running it: the seconds it took
    the reference solution where they were measured (graders.slow), else its number of cases
    times the reference's seconds a case (or 1)."""
    known = [e for e in tests if e.name in times]
    per_case = sum(times[e.name] for e in known) / max(1, sum(e.cases for e in known)) or 1.0
    return [times.get(e.name, e.cases * per_case) for e in tests]


def shares(tests: list[Expected], length: list[float], places: int) -> list[list[Expected]]:
    """`tests` shared out into at most `places` jobs of about equal length, each in file order.

    A job's pytest session costs about as much as CASES_A_JOB cases, so a kata of few tests stays
    in one job. The longest test goes to the job with the least so far, then the next longest…
    """
    count = max(1, min(places, sum(e.cases for e in tests) // CASES_A_JOB, len(tests)))
    parts: list[list[int]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for index in sorted(range(len(tests)), key=lambda i: -length[i]):
        lightest = loads.index(min(loads))
        parts[lightest].append(index)
        loads[lightest] += length[index]
    return [[tests[i] for i in sorted(part)] for part in parts if part]


def reference_times(kata: Kata) -> dict[str, float]:
    """The reference's seconds a test, where graders.slow measured them for the kata as it is."""
    from graders import slow  # here: graders.slow reads grades, which are made of plans

    return slow.known_times(kata)


def expected_of(official: dict[str, bytes]) -> list[Expected]:
    """The tests an app kata's official test files hold, in file order."""
    return [e for n in sorted(official) if is_test_file(n) for e in expected_tests(n, official[n])]


def writable(folder: Path) -> dict[Path, dict[str, bytes]]:
    """The empty folders every request's box may write in."""
    names = ("shared", "shared/tmp", "work", "tmp", "events", "home")
    return {folder / name: {} for name in names}
