"""Mutation testing of the katas' official tests: how many small bugs in a reference solution
do the tests catch?

    python -m tools.mutation [kata …] [--sample N] [--seed S]      (nox -s mutation -- …)

What is mutated. Every `*.py` file the learner writes for a kata (`solutions/NN_slug/`: the
modules of an app kata, the test file of `09_testing`) is parsed with libcst and walked by
mutmut's own generator, `mutmut.mutation.file_mutation.MutationVisitor`, with mutmut's own
operators (`mutmut.mutation.mutators.mutation_operators`): a number gains 1; a one-line string
is wrapped in XX…XX, lower-cased and upper-cased (triple-quoted strings are left alone);
True/False swap and `deepcopy` becomes `copy`; `x = v` becomes `x = None` (and `x = None`
becomes `x = ""`); `x += v` becomes `x = v`; `not` and `~` are dropped; an arithmetic,
bitwise, comparison or boolean operator becomes its neighbour (`+`/`-`, `*`/`/`, `<`/`<=`,
`==`/`!=`, `and`/`or`, …), `is`/`is not` and `in`/`not in` swap, `break` becomes `return` and
`continue` becomes `break`; each argument of a call becomes None, and each is dropped when
there are two or more; `dict(a=…)` keywords are renamed; string methods swap with their mirror
(`lower`/`upper`, `lstrip`/`rstrip`, `split`/`rsplit`, …); a lambda returns None; a `match`
loses each case in turn; a ternary is forced down each branch.

mutmut itself leaves out decorated functions, decorators, annotations and defaults that are not
a plain name, number or string, because it swaps mutants in at run time with trampolines that
cannot wrap those. Every FastAPI route is decorated and every `Depends`/`Query`/`Path`/`Field`
lives in a decorator, an `Annotated[...]` annotation or a default, so `Walker` below overrides
that one decision: decorated functions with their bodies, decorator arguments, annotations
and every default are walked like the rest. Module-level code and class bodies, which mutmut
walks but cannot switch, are kept too. mutmut's other exclusions stay (calls to `len` and
`isinstance`, `__new__`/`__getattribute__`/`__setattr__`, an enum's creation hooks). Each
mutant is a whole copy of the file with one node replaced (mutmut's `deep_replace`, on the
top-level statement that holds the node); a mutant that prints the same as the original, or
the same as an earlier mutant, is dropped.

What is not mutated: code the learner is given. A mutant is not generated when every line it
changes, stripped of indentation, also appears somewhere in the kata's stub of the same file
(`katas/NN_slug/<file>`). This is a plain comparison of sets of stripped lines: a line the stub
holds anywhere counts as given, wherever it stands.

How a mutant is graded. Each mutant is a submission: the reference solution's files with the
one file replaced, graded with the official tests through the grading API (`grade`, the one
function that calls it), all mutants of a kata in one call so they run in parallel (for a kata
with `parallel_tasks`, whose jobs all start at once, four a core a call). The unchanged
solution is graded beside them: if it does not pass, the kata is reported and its mutants are
not counted. A mutant is killed when its grade is not a full pass: a failing or erroring test,
a timeout, a void grade. One whose code could not be imported is a cheap kill, counted apart.
For `09_testing` the mutants are of the learner's tests, killed when those tests fail against
the given app or let one of its buggy variants through.

Equivalent mutants (`tools/mutation-equivalents.toml`) are mutants that cannot change what the
app does over HTTP or what the tests' contract fixes. Each is keyed by its file (under
`solutions/`) and the changed lines' text before and after (stripped, joined by newlines), so a
key survives lines moving; a key matches every mutant with that text. They are graded anyway,
leave the denominator (kill rate = killed / (sampled − equivalent)), and one that is killed
after all is reported as a stale entry. `--sample N` draws N mutants a kata with a random
generator seeded from `--seed` and the kata's folder name, so a sampled number can be
reproduced. The exit code is 0 whatever survives; 2 for bad usage.
"""

from __future__ import annotations

import difflib
import json
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import libcst as cst
from libcst.metadata import PositionProvider
from mutmut.mutation.file_mutation import (
    NEVER_MUTATE_FUNCTION_NAMES,
    MutationVisitor,
    deep_replace,
)
from mutmut.mutation.mutators import mutation_operators
from mutmut.mutation.pragma_handling import IgnoredCode

from graders import workspace
from graders.catalog import ROOT, Kata, UsageError, find, load_catalog
from graders.cli import Parser
from graders.grade import grade_many
from graders.vocabulary import Request

EQUIVALENTS = ROOT / "tools" / "mutation-equivalents.toml"
DEFAULT_SEED = 1
Verdict = Literal["survived", "killed", "import"]  # "import": killed because it never ran
Key = tuple[str, str, str]  # file under solutions/, changed lines before, after


@dataclass(frozen=True)
class Mutant:
    """One mutated copy of one file of a kata's reference solution."""

    file: str  # under solutions/: 01_first_steps/app.py
    line: int  # the first line it changes, in today's solution (for display only)
    before: str  # the changed lines, stripped, joined by "\n"
    after: str
    original: str
    source: str

    @property
    def name(self) -> str:
        return self.file.split("/", 1)[1]

    @property
    def key(self) -> Key:
        return (self.file, self.before, self.after)

    def diff(self) -> str:
        lines = difflib.unified_diff(
            self.original.splitlines(keepends=True),
            self.source.splitlines(keepends=True),
            f"a/{self.name}",
            f"b/{self.name}",
            n=2,
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)

    def toml_entry(self) -> str:
        """The entry that records this mutant as equivalent, for the maintainer to give a reason."""
        return (
            f"[[equivalent]]\nfile = {toml_string(self.file)}\n"
            f"before = {toml_string(self.before)}\nafter = {toml_string(self.after)}\n"
            'reason = ""\n'
        )


def toml_string(text: str) -> str:
    """A TOML literal string when the text allows one ('…' keeps quotes readable), else a basic one."""
    if "'" in text or "\n" in text or any(ord(c) < 32 for c in text):
        return json.dumps(text, ensure_ascii=False)  # JSON's escapes are TOML's
    return f"'{text}'"


class Walker(MutationVisitor):
    """mutmut's generator, also walking what its trampolines make it skip (see the docstring)."""

    def _skip_node_and_children(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.Decorator | cst.Annotation | cst.Param):
            return False
        if isinstance(node, cst.FunctionDef) and node.decorators:
            return node.name.value in NEVER_MUTATE_FUNCTION_NAMES
        return bool(super()._skip_node_and_children(node))


def mutate_source(
    file: str, code: str, given: set[str] | frozenset[str] = frozenset()
) -> list[Mutant]:
    """Every mutant of `code` (the file `file` under solutions/) that changes a line not in `given`."""
    wrapper = cst.MetadataWrapper(cst.parse_module(code))
    walker = Walker(mutation_operators, IgnoredCode(set(), set(), set()))
    wrapper.visit(walker)
    module, positions = wrapper.module, wrapper.resolve(PositionProvider)
    # The file prints as its top-level statements one after another (as mutmut renders it), so
    # a mutant re-renders only the statement that holds the node it changes.
    head = "".join(module.code_for_node(line) for line in module.header)
    parts = [module.code_for_node(statement) for statement in module.body]
    tail = "".join(module.code_for_node(line) for line in module.footer)
    if head + "".join(parts) + tail != code:  # no newline at the end: print the whole file
        head, parts, tail = "", [code], ""
    owner = {id(node): index for index, top in enumerate(module.body) for node in walk(top)}
    original = code.splitlines()
    seen = {code}
    mutants = []
    for mutation in walker.mutations:
        span = positions.get(mutation.original_node)
        if span and all(
            original[n - 1].strip() in given for n in range(span.start.line, span.end.line + 1)
        ):
            continue  # every line it could change is given: no need to print it
        index = owner.get(id(mutation.original_node)) if len(parts) > 1 else None
        if index is None:
            tree = deep_replace(module, mutation.original_node, mutation.mutated_node)
            if not isinstance(tree, cst.Module):
                continue
            index, old, new = 0, code, tree.code
        else:
            top = deep_replace(module.body[index], mutation.original_node, mutation.mutated_node)
            if not isinstance(top, cst.CSTNode):
                continue
            old, new = parts[index], module.code_for_node(top)
        source = head + "".join(parts[:index]) + new + "".join(parts[index + 1 :]) + tail
        if source in seen:
            continue
        seen.add(source)
        changed = changed_lines(old.splitlines(), new.splitlines())
        if changed is None:
            continue
        line, before, after = changed
        if all(text in given for text in before if text):
            continue
        line += (head + "".join(parts[:index])).count("\n")
        mutants.append(Mutant(file, line, "\n".join(before), "\n".join(after), code, source))
    return mutants


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """`node` and every node below it."""
    yield node
    for child in node.children:
        yield from walk(child)


def changed_lines(old: list[str], new: list[str]) -> tuple[int, list[str], list[str]] | None:
    """The first changed line's number and every changed line before and after, stripped."""
    blocks = [
        op
        for op in difflib.SequenceMatcher(None, old, new, False).get_opcodes()
        if op[0] != "equal"
    ]
    if not blocks:
        return None
    before = [line.strip() for _, i1, i2, _, _ in blocks for line in old[i1:i2]]
    after = [line.strip() for _, _, _, j1, j2 in blocks for line in new[j1:j2]]
    return blocks[0][1] + 1, before, after


def given_lines(stub: Path) -> set[str]:
    if not stub.is_file():
        return set()
    return {line.strip() for line in stub.read_text(encoding="utf-8").splitlines()}


def mutants_of(kata: Kata) -> list[Mutant]:
    """Every mutant of the kata's reference solution, file by file, in source order."""
    mutants = []
    for path in kata.learner_files(kata.solution_path):
        file = f"{kata.folder}/{path.name}"
        code = path.read_text(encoding="utf-8")
        mutants += mutate_source(file, code, given_lines(kata.path / path.name))
    return mutants


def sample(kata: Kata, mutants: list[Mutant], size: int | None, seed: int) -> list[Mutant]:
    """`size` of the mutants, drawn the same way for the same seed and kata; all when None."""
    if size is None or size >= len(mutants):
        return mutants
    picked = set(random.Random(f"{seed}:{kata.folder}").sample(range(len(mutants)), size))
    return [mutant for index, mutant in enumerate(mutants) if index in picked]


@dataclass(frozen=True)
class Equivalent:
    file: str
    before: str
    after: str
    reason: str

    @property
    def key(self) -> Key:
        return (self.file, self.before, self.after)


def load_equivalents(path: Path = EQUIVALENTS) -> list[Equivalent]:
    """The recorded equivalent mutants; a malformed file is a UsageError naming what is wrong."""
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path.name}: not valid TOML ({error})") from None
    if data.get("format_version") != 1 or set(data) - {"format_version", "equivalent"}:
        raise UsageError(f"{path.name}: want format_version = 1 and [[equivalent]] entries only")
    entries = []
    fields = {"file", "before", "after", "reason"}
    for number, raw in enumerate(data.get("equivalent", []), 1):
        ok = isinstance(raw, dict) and set(raw) == fields
        if not ok or not all(isinstance(raw[name], str) for name in fields) or not raw["reason"]:
            raise UsageError(
                f"{path.name}: entry {number} needs exactly file, before, after and a reason, all strings"
            )
        entries.append(Equivalent(raw["file"], raw["before"], raw["after"], raw["reason"]))
    return entries


def grade(requests: Sequence[Request]) -> list[Verdict]:
    """Grade each request's folder with its kata's official tests, all in one call.

    The one place that calls the grading API: a full pass survives, a grade whose code could
    not be imported is a cheap kill, anything else (a failing test, a timeout) is a kill.
    """
    verdicts: list[Verdict] = []
    for result in grade_many(requests):
        message = result.message or ""
        never_ran = result.status == "error" and message.startswith(
            "your code could not be imported"
        )
        verdicts.append(
            "survived" if result.status == "pass" else "import" if never_ran else "killed"
        )
    return verdicts


@dataclass
class Report:
    kata: Kata
    generated: int
    graded: list[tuple[Mutant, Verdict]] = field(default_factory=list)
    equivalent: set[Key] = field(default_factory=set)
    baseline: Verdict = "survived"
    seconds: float = 0.0

    def of(self, *verdicts: Verdict, equivalent: bool = False) -> list[Mutant]:
        return [
            mutant
            for mutant, verdict in self.graded
            if verdict in verdicts and (mutant.key in self.equivalent) == equivalent
        ]

    @property
    def rate(self) -> str:
        killed = len(self.of("killed", "import"))
        counted = len(self.graded) - len(self.of("survived", "killed", "import", equivalent=True))
        return f"{killed / counted:.0%} ({killed}/{counted})" if counted else "n/a"

    def summary(self) -> str:
        if self.baseline != "survived":
            return f"{self.kata.folder}: the reference solution does not pass its tests; no mutant counted"
        equivalent = self.of("survived", "killed", "import", equivalent=True)
        return (
            f"{self.kata.folder}: generated {self.generated} · sampled {len(self.graded)} · "
            f"killed {len(self.of('killed', 'import'))} (at import {len(self.of('import'))}) · "
            f"survived {len(self.of('survived'))} · equivalent {len(equivalent)} · "
            f"kill rate {self.rate} · {self.seconds:.0f} s"
        )


def run(kata: Kata, wanted: int | None, seed: int, equivalents: set[Key]) -> Report:
    """Generate, sample and grade the mutants of one kata."""
    began = time.monotonic()
    mutants = mutants_of(kata)
    picked = sample(kata, mutants, wanted, seed)
    report = Report(kata, len(mutants), equivalent=equivalents)
    root = workspace.new_root("mutation-")
    try:
        folders = [copy_solution(kata, root / "solution")]
        for index, mutant in enumerate(picked):
            folder = copy_solution(kata, root / f"{index:04d}")
            (folder / mutant.name).write_text(mutant.source, encoding="utf-8")
            folders.append(folder)
        # The solution is graded whole; a mutant only until its first failing test, which kills it.
        requests = [
            Request(kata, "path", folder, until_first_failure=index > 0)
            for index, folder in enumerate(folders)
        ]
        size = batch_size(kata) or len(requests)
        verdicts = []
        for start in range(0, len(requests), size):
            verdicts += grade(requests[start : start + size])
    finally:
        workspace.remove(root)
    report.baseline = verdicts[0]
    report.graded = list(zip(picked, verdicts[1:], strict=True))
    report.seconds = time.monotonic() - began
    return report


def batch_size(kata: Kata) -> int | None:
    """How many submissions to grade in one call; None for all at once. The jobs of a kata
    whose tests mostly wait (`parallel_tasks`) start at once instead of queueing for a core, so
    dozens of such submissions together starve each other into import timeouts: they go four a
    core at a time."""
    return 4 * (os.cpu_count() or 1) if kata.parallel_tasks else None


def copy_solution(kata: Kata, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for path in kata.learner_files(kata.solution_path):
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def show(report: Report) -> None:
    print(report.summary())
    if report.baseline != "survived":
        return
    for mutant in report.of("survived"):
        print(f"\nsurvived: {mutant.file}, line {mutant.line}")
        print(mutant.diff(), end="")
        print("equivalent? record it in tools/mutation-equivalents.toml with a reason:")
        print(mutant.toml_entry(), end="")
    for mutant in report.of("import"):
        print(f"  killed at import: {mutant.file}, line {mutant.line}: {mutant.after}")
    for mutant in report.of("killed", "import", equivalent=True):
        print(
            f"  listed as equivalent but killed (remove its entry): {mutant.file}: {mutant.after}"
        )
    print()


def build_parser() -> Parser:
    parser = Parser(
        prog="python -m tools.mutation",
        description="Mutate each kata's reference solution and grade the mutants with the official tests.",
    )
    parser.add_argument(
        "katas", nargs="*", metavar="kata", help="a slug, folder or number; all when none"
    )
    parser.add_argument(
        "--sample", type=str, metavar="N", help="grade N mutants a kata, drawn at random"
    )
    parser.add_argument(
        "--seed", type=str, metavar="S", help=f"the draw's seed (default {DEFAULT_SEED})"
    )
    return parser


def whole_number(option: str, text: str | None, least: int) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < least:
        raise UsageError(f"{option} {text}: give a whole number, {least} or more")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        size = whole_number("--sample", args.sample, 1)
        seed = whole_number("--seed", args.seed, 0)
        catalog = load_catalog()
        katas = [find(name, catalog) for name in args.katas] or catalog
        equivalents = {entry.key for entry in load_equivalents()}
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    began = time.monotonic()
    for kata in dict.fromkeys(katas):
        show(run(kata, size, DEFAULT_SEED if seed is None else seed, equivalents))
    print(f"{len(katas)} kata(s) in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
