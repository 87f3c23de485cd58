"""`python -m graders …`: the commands behind every nox session.

Exit codes: 0 every test passed, 1 something failed or could not be graded (or a file could not
be written), 2 bad usage. Every mistake is one line that says what would be right.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import NoReturn

from rich.console import Console

from graders import (
    batch,
    cache,
    ci,
    export,
    gradebook,
    hints,
    interview,
    merge,
    pristine,
    progress,
    quiz,
    report,
    reset,
    review,
    slow,
)
from graders.catalog import UsageError, find, load_catalog
from graders.grade import grade, grade_many
from graders.sandbox import isolation_here
from graders.score import KataGrade
from graders.vocabulary import Request


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line that says what would be right, never a usage dump."""

    def error(self, message: str) -> NoReturn:
        usage = " ".join(self.format_usage().split()).removeprefix("usage: ")
        raise UsageError(f"{message} (usage: {usage})")


def build_parser() -> tuple[Parser, dict[str, Parser]]:
    """The parser, and each command's own (to say a mistake with that command's usage)."""
    parser = Parser(prog="python -m graders", description="Grade the FastAPI interview katas.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub: dict[str, Parser] = {}

    def command(name: str, help: str) -> Parser:
        sub[name] = commands.add_parser(name, help=help)
        return sub[name]

    grading = command("grade", "grade one kata")
    grading.add_argument(
        "kata", help="a slug (first_steps), a folder (01_first_steps) or a number (1)"
    )
    which = grading.add_mutually_exclusive_group()
    which.add_argument("--solution", action="store_true", help="grade the reference solution")
    which.add_argument("--path", type=Path, metavar="DIR", help="grade the kata files in DIR")
    add_trusted_tests(grading)
    grading.add_argument("--json", type=Path, metavar="FILE", help="write the result file")
    grading.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML")
    grading.add_argument(
        "--gradescope", type=Path, metavar="FILE", help="write Gradescope results.json"
    )
    grading.add_argument("-v", "--verbose", action="store_true", help="show pytest's full output")

    solutions = command("solutions", "grade every reference solution")
    solutions.add_argument(
        "--json-dir", type=Path, metavar="DIR", help="write a result file a kata"
    )
    solutions.add_argument("-v", "--verbose", action="store_true")

    command("progress", "grade your code for every kata and show a table")

    hinting = command("hint", "the next hint for the first failing task")
    hinting.add_argument("kata")
    hinting.add_argument(
        "task", nargs="?", type=int, help="a task number (default: the first failing)"
    )

    watching = command("watch", "grade again on every save")
    watching.add_argument("kata", nargs="?", help="default: follow the first unfinished kata")
    watching.add_argument(
        "--path", type=Path, metavar="DIR", help="watch and grade the files in DIR"
    )

    comparing = command("compare", "your files beside the reference solution")
    comparing.add_argument("kata")
    comparing.add_argument("--force", action="store_true", help="show it before the kata passes")
    comparing.add_argument(
        "--alternative", metavar="NAME", help="compare with another reference solution"
    )

    resetting = command("reset", "restore a kata's stub after backing up your files")
    resetting.add_argument("kata")
    choice = resetting.add_mutually_exclusive_group()
    choice.add_argument("--list", action="store_true", help="list the backups of this kata")
    choice.add_argument("--restore", metavar="NAME", help="bring back the backup called NAME")

    serving = command("serve", "run a kata's app on http://127.0.0.1:8000 to try it")
    serving.add_argument("kata")
    serving.add_argument("--port", type=int, default=8000, help="default: 8000")

    quizzing = command("quiz", "a few questions on the kata's interview topic")
    quizzing.add_argument("kata")
    quizzing.add_argument("--answers", metavar="a,b,c", help="answer without asking (for scripts)")

    interviewing = command(
        "interview", "a mock interview, one question at a time, with spaced repetition"
    )
    interviewing.add_argument(
        "kata", nargs="?", help="default: every kata with interview questions"
    )
    interviewing.add_argument("--due", action="store_true", help="list what is due and exit")
    interviewing.add_argument(
        "--answers",
        metavar="FILE",
        help="one line a prompt, the answer then the rating (- for stdin)",
    )
    interviewing.add_argument(
        "--limit",
        type=int,
        default=interview.DEFAULT_LIMIT,
        metavar="N",
        help=f"questions a session (default: {interview.DEFAULT_LIMIT})",
    )

    batching = command("batch", "grade a folder of submissions into a gradebook")
    batching.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR")
    batching.add_argument(
        "--kata", required=True, help="the kata every submission is graded on, or all"
    )
    batching.add_argument(
        "--shard",
        metavar="I/N",
        help="grade shard I of N (0…N-1); N alone reads the index from JOB_COMPLETION_INDEX",
    )
    batching.add_argument("--out", type=Path, required=True, metavar="DIR", help="gradebook folder")
    batching.add_argument(
        "--workers", type=int, metavar="N", help="processes at once (default: cores)"
    )
    batching.add_argument(
        "--timeout", type=float, metavar="S", help="seconds a test may take (default: the kata's)"
    )
    batching.add_argument(
        "--verified-only", action="store_true", help="count only the points of verified tests"
    )
    batching.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="grade even where bubblewrap is missing (the submissions are not contained)",
    )
    add_trusted_tests(batching)

    merging = command("merge", "join the outputs of a batch's shards into one gradebook")
    merging.add_argument("shards", type=Path, nargs="+", metavar="DIR", help="each shard's --out")
    merging.add_argument("--out", type=Path, required=True, metavar="DIR", help="gradebook folder")

    for_ci = command("ci", "grade every kata of this clone for CI: files and a summary")
    for_ci.add_argument("--out", type=Path, default=Path("results"), metavar="DIR")
    for_ci.add_argument(
        "--summary",
        type=Path,
        metavar="FILE",
        help="Markdown table (default: $GITHUB_STEP_SUMMARY)",
    )
    for_ci.add_argument("--strict", action="store_true", help="exit 1 unless every kata passes")

    command("seal", "record the shipped kata files in graders/pristine.json")
    return parser, sub


def add_trusted_tests(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tests-from", metavar="REF", help="take the official tests from a git ref or a folder"
    )


def terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM stops a grade as Ctrl-C does: the jobs end and the folders are removed."""
    raise KeyboardInterrupt


def terminal_console() -> Console:
    """Rich output for a terminal; piped into a file or a CI log, lines are never wrapped or cut."""
    if sys.stdout.isatty():
        return Console(highlight=False)
    return Console(highlight=False, soft_wrap=True, width=10_000)


def main(argv: list[str] | None = None) -> int:
    console = terminal_console()
    signal.signal(signal.SIGTERM, terminate)
    try:
        parser, commands = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:  # say it with the usage of the command that was meant, not the top level
            commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
        return COMMANDS[args.command](args, console)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)  # one plain line: never wrapped, never styled
        return 2
    except OSError as error:  # a read-only folder, a full disk: the file and the reason
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped.", file=sys.stderr)
        return 130


def grade_command(args: argparse.Namespace, console: Console) -> int:
    kata = find(args.kata)
    if args.path is not None and not args.path.is_dir():
        raise UsageError(f"--path {args.path}: no such folder (give the folder with your app.py)")
    if args.solution:
        request = Request(kata, "solution")
    else:
        request = Request(kata, "path", args.path) if args.path else Request(kata)
    [result] = grade_many([request], tests_from=args.tests_from)
    result.notes += slow.notes(result)
    result.review = review.after_a_pass(result, request.source)
    progress.record_grade(result)
    for path, write in (
        (args.json, export.write_json),
        (args.junit, export.write_junit),
        (args.gradescope, export.write_gradescope),
    ):
        if path:
            write(result, path)
    report.show(result, console, args.verbose, where=str(args.path) if args.path else "")
    return exit_code([result])


def solutions_command(args: argparse.Namespace, console: Console) -> int:
    results = grade_many([Request(kata, "solution") for kata in load_catalog()])
    for result in results:
        if args.json_dir:
            export.write_json(result, args.json_dir / f"{result.kata.folder}.json")
        report.show(result, console, args.verbose)
    report.solutions_summary(results, console)
    return exit_code(results)


def progress_command(args: argparse.Namespace, console: Console) -> int:
    katas = load_catalog()
    console.print(f"[dim]grading your code for {len(katas)} katas…[/]")
    requests = [Request(kata) for kata in katas]
    results = grade_many(requests, kept=lambda i: cache.learners(requests[i].kata))
    for result in results:
        progress.record_grade(result)
    report.progress_table(results, progress.load(), console, interview.backlog(katas, console))
    return 0


def hint_command(args: argparse.Namespace, console: Console) -> int:
    kata = find(args.kata)
    result = None if args.task is not None else grade(Request(kata))
    hints.show_next_hint(kata, hints.pick_task(kata, result, args.task), console)
    return 0


def watch_command(args: argparse.Namespace, console: Console) -> int:
    if args.path is not None and (args.kata is None or not args.path.is_dir()):
        raise UsageError("--path needs a kata and an existing folder: watch <kata> --path DIR")
    kata = find(args.kata) if args.kata else None
    from graders import watch  # here, not above: watchfiles would slow every other command

    return watch.watch(kata, console, args.path)


def compare_command(args: argparse.Namespace, console: Console) -> int:
    kata = find(args.kata)
    from graders import compare  # here, not above: syntax highlighting loads Pygments

    return compare.run(kata, console, args.force, args.alternative)


def reset_command(args: argparse.Namespace, console: Console) -> int:
    kata = find(args.kata)
    if args.list:
        reset.show_backups(kata, console)
        return 0
    progress.forget_grade(kata.slug)
    reset.run(kata, args.restore, console)
    return 0


def serve_command(args: argparse.Namespace, console: Console) -> int:
    from graders import serve  # here, not above: it replaces this process with uvicorn

    return serve.run(find(args.kata), args.port, console)


def quiz_command(args: argparse.Namespace, console: Console) -> int:
    return quiz.run(find(args.kata), console, args.answers)


def interview_command(args: argparse.Namespace, console: Console) -> int:
    katas = [find(args.kata)] if args.kata else load_catalog()
    questions = interview.gather(katas, named=args.kata is not None)
    return interview.run(questions, console, due=args.due, answers=args.answers, limit=args.limit)


def batch_command(args: argparse.Namespace, console: Console) -> int:
    catalog = load_catalog()
    katas = catalog if args.kata == "all" else [find(args.kata, catalog)]
    shard = batch.parse_shard(args.shard) if args.shard else None
    if not args.submissions.is_dir():
        raise UsageError(f"{args.submissions}: no such folder (give the folder of submissions)")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give a whole number of processes, 1 or more")
    if args.timeout is not None:
        if args.timeout <= 0:
            raise UsageError(f"--timeout {args.timeout:g}: give a number of seconds above 0")
        katas = [dataclasses.replace(kata, timeout=args.timeout) for kata in katas]
    isolation, why = isolation_here()
    if isolation != "bubblewrap" and not args.unsafe_no_sandbox:
        raise UsageError(
            f"batch grades other people's code, and {why}: install bubblewrap, "
            "or pass --unsafe-no-sandbox to grade them without a sandbox"
        )
    entries = batch.run(
        katas,
        args.submissions,
        args.out,
        workers=args.workers,
        tests_from=args.tests_from,
        verified_only=args.verified_only,
        shard=shard,
        console=console,
    )
    gradebook.show(katas, entries, args.out, console)
    return 0


def merge_command(args: argparse.Namespace, console: Console) -> int:
    katas, entries = merge.run(args.shards, args.out)
    gradebook.show(katas, entries, args.out, console)
    return 0


def ci_command(args: argparse.Namespace, console: Console) -> int:
    return ci.ci(args.out, args.summary, args.strict, console)


def seal_command(args: argparse.Namespace, console: Console) -> int:
    katas = load_catalog()
    pristine.write_manifest(katas)
    console.print(f"sealed the shipped files of {len(katas)} katas in {pristine.MANIFEST.name}")
    return 0


def exit_code(results: list[KataGrade]) -> int:
    return 0 if all(result.status == "pass" for result in results) else 1


COMMANDS: dict[str, Callable[[argparse.Namespace, Console], int]] = {
    "grade": grade_command,
    "solutions": solutions_command,
    "progress": progress_command,
    "hint": hint_command,
    "watch": watch_command,
    "compare": compare_command,
    "reset": reset_command,
    "quiz": quiz_command,
    "interview": interview_command,
    "serve": serve_command,
    "batch": batch_command,
    "merge": merge_command,
    "ci": ci_command,
    "seal": seal_command,
}
