"""`python -m graders …`: the commands behind every nox session.

Exit codes: 0 every test passed, 1 something failed or could not be graded, 2 bad usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from graders import batch, ci, export, hints, interview, pristine, progress, quiz, report, reset
from graders.catalog import ROOT, Kata, UsageError, find, load_catalog
from graders.grade import grade_many
from graders.score import Result


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line that says what would be right, never a usage dump."""

    def error(self, message: str) -> NoReturn:
        usage = " ".join(self.format_usage().split()).removeprefix("usage: ")
        raise UsageError(f"{message} (usage: {usage})")


def build_parser() -> Parser:
    parser = Parser(prog="python -m graders", description="Grade the FastAPI interview katas.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    grade = commands.add_parser("grade", help="grade one kata")
    grade.add_argument(
        "kata", help="a slug (first_steps), a folder (01_first_steps) or a number (1)"
    )
    which = grade.add_mutually_exclusive_group()
    which.add_argument("--solution", action="store_true", help="grade the reference solution")
    which.add_argument("--path", type=Path, metavar="DIR", help="grade the kata files in DIR")
    add_trusted_tests(grade)
    grade.add_argument("--json", type=Path, metavar="FILE", help="write the result file")
    grade.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML")
    grade.add_argument(
        "--gradescope", type=Path, metavar="FILE", help="write Gradescope results.json"
    )
    grade.add_argument("-v", "--verbose", action="store_true", help="show pytest's full output")

    solutions = commands.add_parser("solutions", help="grade every reference solution")
    solutions.add_argument(
        "--json-dir", type=Path, metavar="DIR", help="write a result file a kata"
    )
    solutions.add_argument("-v", "--verbose", action="store_true")

    commands.add_parser("progress", help="grade your code for every kata and show a table")

    hint = commands.add_parser("hint", help="the next hint for the first failing task")
    hint.add_argument("kata")
    hint.add_argument(
        "task", nargs="?", type=int, help="a task number (default: the first failing)"
    )

    watching = commands.add_parser("watch", help="grade again on every save")
    watching.add_argument("kata", nargs="?", help="default: follow the first unfinished kata")
    watching.add_argument(
        "--path", type=Path, metavar="DIR", help="watch and grade the files in DIR"
    )

    comparing = commands.add_parser("compare", help="your files beside the reference solution")
    comparing.add_argument("kata")
    comparing.add_argument("--force", action="store_true", help="show it before the kata passes")

    resetting = commands.add_parser(
        "reset", help="restore a kata's stub after backing up your files"
    )
    resetting.add_argument("kata")
    choice = resetting.add_mutually_exclusive_group()
    choice.add_argument("--list", action="store_true", help="list the backups of this kata")
    choice.add_argument("--restore", metavar="NAME", help="bring back the backup called NAME")

    serving = commands.add_parser(
        "serve", help="run a kata's app on http://127.0.0.1:8000 to try it"
    )
    serving.add_argument("kata")
    serving.add_argument("--port", type=int, default=8000, help="default: 8000")

    quizzing = commands.add_parser("quiz", help="a few questions on the kata's interview topic")
    quizzing.add_argument("kata")
    quizzing.add_argument("--answers", metavar="a,b,c", help="answer without asking (for scripts)")

    interviewing = commands.add_parser(
        "interview", help="a mock interview, one question at a time, with spaced repetition"
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

    batching = commands.add_parser("batch", help="grade a folder of submissions into a gradebook")
    batching.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR")
    batching.add_argument("--kata", required=True, help="the kata every submission is graded on")
    batching.add_argument("--out", type=Path, required=True, metavar="DIR", help="gradebook folder")
    batching.add_argument(
        "--workers", type=int, metavar="N", help="processes at once (default: cores)"
    )
    batching.add_argument(
        "--timeout", type=float, metavar="S", help="seconds a test may take (default: the kata's)"
    )
    add_trusted_tests(batching)

    for_ci = commands.add_parser(
        "ci", help="grade every kata of this clone for CI: files and a summary"
    )
    for_ci.add_argument("--out", type=Path, default=Path("results"), metavar="DIR")
    for_ci.add_argument(
        "--summary",
        type=Path,
        metavar="FILE",
        help="Markdown table (default: $GITHUB_STEP_SUMMARY)",
    )
    for_ci.add_argument("--strict", action="store_true", help="exit 1 unless every kata passes")

    commands.add_parser("seal", help="record the shipped kata files in graders/pristine.json")
    return parser


def add_trusted_tests(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tests-from", metavar="REF", help="take the official tests from a git ref or a folder"
    )


def main(argv: list[str] | None = None) -> int:
    console = Console(highlight=False)
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:  # say it with the usage of the command that was meant, not the top level
            commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            commands.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
        return COMMANDS[args.command](args, console)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)  # one plain line: never wrapped, never styled
        return 2
    except KeyboardInterrupt:
        return 130


def grade_command(args: argparse.Namespace, console: Console) -> int:
    kata = find(args.kata, load_catalog())
    target = "solution" if args.solution else "path" if args.path else "learner"
    if args.path is not None and not args.path.is_dir():
        raise UsageError(f"--path {args.path}: no such folder (give the folder with your app.py)")
    result = grade_many([(kata, target, args.path)], tests_from=args.tests_from)[0]
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
    results = grade_many([(kata, "solution", None) for kata in load_catalog()])
    for result in results:
        if args.json_dir:
            export.write_json(result, args.json_dir / f"{result.kata.folder}.json")
        report.show(result, console, args.verbose)
    failed = [r.kata.slug for r in results if r.status != "pass"]
    summary = (
        f"[red]Failing solutions: {', '.join(failed)}[/]"
        if failed
        else "[green]Every solution passes.[/]"
    )
    console.print(summary)
    return exit_code(results)


def progress_command(args: argparse.Namespace, console: Console) -> int:
    katas = load_catalog()
    console.print(f"[dim]grading your code for {len(katas)} katas…[/]")
    results = grade_many([(kata, "learner", None) for kata in katas])
    for result in results:
        progress.record_grade(result)
    report.progress_table(results, progress.load(), console, interview.backlog(katas, console))
    return 0


def hint_command(args: argparse.Namespace, console: Console) -> int:
    kata = find(args.kata, load_catalog())
    result = None if args.task is not None else grade_many([(kata, "learner", None)])[0]
    hints.show_next_hint(kata, hints.pick_task(kata, result, args.task), console)
    return 0


def watch_command(args: argparse.Namespace, console: Console) -> int:
    if args.path is not None and (args.kata is None or not args.path.is_dir()):
        raise UsageError("--path needs a kata and an existing folder: watch <kata> --path DIR")
    kata = find(args.kata, load_catalog()) if args.kata else None
    from graders import watch  # here, not above: watchfiles would slow every other command

    return watch.watch(kata, console, args.path)


def compare_command(args: argparse.Namespace, console: Console) -> int:
    kata = find(args.kata, load_catalog())
    if not args.force and not passes(kata):
        console.print(
            f"[yellow]Spoiler ahead:[/] {kata.slug} does not pass yet, and compare shows the"
            f" reference solution. Keep going (nox -s hint -- {kata.slug}), or add --force."
        )
        return 1
    from graders import compare  # here, not above: syntax highlighting loads Pygments

    compare.show(kata, console)
    return 0


def passes(kata: Kata) -> bool:
    """Whether the learner's code for `kata` passes now (graded afresh unless recorded so)."""
    if progress.load().get(kata.slug, {}).get("status") == "pass":
        return True
    result = grade_many([(kata, "learner", None)])[0]
    progress.record_grade(result)
    return result.status == "pass"


def reset_command(args: argparse.Namespace, console: Console) -> int:
    kata = find(args.kata, load_catalog())
    if args.list:
        found = reset.backups(kata)
        for folder in found:
            names = ", ".join(sorted(p.name for p in folder.iterdir()))
            console.print(f"{folder.name}  [dim]{names}[/]")
        if not found:
            console.print(f"No backups of {kata.slug} yet.")
        return 0
    progress.forget_grade(kata.slug)
    if args.restore:
        backup = reset.restore(kata, args.restore)
        console.print(f"Restored {args.restore} into katas/{kata.folder}/.")
    else:
        backup = reset.reset(kata)
        console.print(f"katas/{kata.folder}/ is back to the stub as shipped.")
    if backup:
        where = backup.relative_to(ROOT)
        console.print(f"Your previous files are in {where}/ (nox -s reset -- {kata.slug} --list).")
    else:
        console.print("There was nothing of yours to back up.")
    return 0


def serve_command(args: argparse.Namespace, console: Console) -> int:
    """Replace this process with uvicorn serving the learner's app, reloading on every save."""
    kata = find(args.kata, load_catalog())
    console.print(
        f"Serving katas/{kata.folder}/app.py on http://127.0.0.1:{args.port} (docs at /docs)"
    )
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # nothing is written into the kata folder
    folder = str(kata.path)
    os.execv(
        sys.executable,
        [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", folder, "--reload",
         "--reload-dir", folder, "--host", "127.0.0.1", "--port", str(args.port)],
    )  # fmt: skip


def quiz_command(args: argparse.Namespace, console: Console) -> int:
    return quiz.run(find(args.kata, load_catalog()), console, args.answers)


def interview_command(args: argparse.Namespace, console: Console) -> int:
    katas = [find(args.kata, load_catalog())] if args.kata else load_catalog()
    questions = interview.gather(katas, named=args.kata is not None)
    return interview.run(questions, console, due=args.due, answers=args.answers, limit=args.limit)


def batch_command(args: argparse.Namespace, console: Console) -> int:
    kata = find(args.kata, load_catalog())
    if not args.submissions.is_dir():
        raise UsageError(f"{args.submissions}: no such folder (give the folder of submissions)")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give a whole number of processes, 1 or more")
    if args.timeout is not None:
        if args.timeout <= 0:
            raise UsageError(f"--timeout {args.timeout:g}: give a number of seconds above 0")
        kata = dataclasses.replace(kata, timeout=args.timeout)
    rows = batch.run(kata, args.submissions, args.out, args.workers, args.tests_from)
    batch.show(rows, kata, args.out, console)
    return 0


def ci_command(args: argparse.Namespace, console: Console) -> int:
    return ci.ci(args.out, args.summary, args.strict, console)


def seal_command(args: argparse.Namespace, console: Console) -> int:
    katas = load_catalog()
    pristine.write_manifest(katas)
    console.print(f"sealed the shipped files of {len(katas)} katas in {pristine.MANIFEST.name}")
    return 0


def exit_code(results: list[Result]) -> int:
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
    "ci": ci_command,
    "seal": seal_command,
}
