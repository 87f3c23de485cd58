"""`python -m graders …`: the commands behind every nox session.

Exit codes: 0 every test passed, 1 something failed or could not be graded, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from graders import export, pristine, progress, report
from graders.catalog import UsageError, find, load_catalog
from graders.grade import grade_many
from graders.score import Result


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line that says what would be right, never a usage dump."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(
            f"{message} (usage: {self.format_usage().strip().removeprefix('usage: ')})"
        )


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
    grade.add_argument("--json", type=Path, metavar="FILE", help="write the result file")
    grade.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML")
    grade.add_argument("-v", "--verbose", action="store_true", help="show pytest's full output")

    solutions = commands.add_parser("solutions", help="grade every reference solution")
    solutions.add_argument(
        "--json-dir", type=Path, metavar="DIR", help="write a result file a kata"
    )
    solutions.add_argument("-v", "--verbose", action="store_true")

    commands.add_parser("progress", help="grade your code for every kata and show a table")
    commands.add_parser("seal", help="record the official files in graders/pristine.json")
    return parser


def main(argv: list[str] | None = None) -> int:
    console = Console(highlight=False)
    try:
        args = build_parser().parse_args(argv)
        return run(args, console)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)  # one plain line: never wrapped, never styled
        return 2
    except KeyboardInterrupt:
        return 130


def run(args: argparse.Namespace, console: Console) -> int:
    katas = load_catalog()
    if args.command == "grade":
        kata = find(args.kata, katas)
        target = "solution" if args.solution else "path" if args.path else "learner"
        if args.path is not None and not args.path.is_dir():
            raise UsageError(
                f"--path {args.path}: no such folder (give the folder with your app.py)"
            )
        result = grade_many([(kata, target, args.path)])[0]
        finish(result, args.json, args.junit)
        report.show(result, console, args.verbose, where=str(args.path) if args.path else "")
        return exit_code([result])
    if args.command == "solutions":
        results = grade_many([(kata, "solution", None) for kata in katas])
        for result in results:
            if args.json_dir:
                export.write_json(result, args.json_dir / f"{result.kata.folder}.json")
            report.show(result, console, args.verbose)
        failed = [r.kata.slug for r in results if r.status != "pass"]
        console.print(
            f"[red]Failing solutions: {', '.join(failed)}[/]"
            if failed
            else "[green]Every solution passes.[/]"
        )
        return exit_code(results)
    if args.command == "progress":
        results = grade_many([(kata, "learner", None) for kata in katas])
        for result in results:
            progress.record_grade(result)
        report.progress_table(results, console)
        return 0
    if args.command == "seal":
        pristine.write_manifest(katas)
        console.print(
            f"sealed the official files of {len(katas)} katas in {pristine.MANIFEST.name}"
        )
        return 0
    raise UsageError(f"unknown command {args.command}")  # pragma: no cover - argparse refuses first


def finish(result: Result, json_path: Path | None, junit_path: Path | None) -> None:
    progress.record_grade(result)
    if json_path:
        export.write_json(result, json_path)
    if junit_path:
        export.write_junit(result, junit_path)


def exit_code(results: list[Result]) -> int:
    return 0 if all(result.status == "pass" for result in results) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
