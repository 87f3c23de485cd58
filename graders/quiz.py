"""`quiz`: a few multiple-choice questions on a kata's interview topic, each answer explained."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape
from rich.prompt import Prompt

from graders import progress
from graders.catalog import Kata, QuizQuestion, UsageError


def parse_answers(text: str, asked: list[QuizQuestion]) -> list[str]:
    answers = [part.strip().lower() for part in text.split(",")]
    if len(answers) != len(asked):
        raise UsageError(
            f"--answers has {len(answers)} answers for {len(asked)} questions (e.g. --answers {','.join('a' * len(asked))})"
        )
    for number, (answer, question) in enumerate(zip(answers, asked, strict=True), start=1):
        if answer not in question.letters:
            raise UsageError(
                f"answer {number} is '{answer}'; question {number} takes one of {', '.join(question.letters)}"
            )
    return answers


def run(kata: Kata, console: Console, answers_text: str | None) -> int:
    asked = list(kata.quiz)
    if not asked:
        raise UsageError(f"{kata.slug} has no quiz yet")
    answers = parse_answers(answers_text, asked) if answers_text is not None else None
    if answers is None and not sys.stdin.isatty():
        raise UsageError("the quiz asks in a terminal; without one, pass --answers a,b,c")
    console.print(f"[bold]{kata.folder} · quiz[/] — {escape(kata.question)}\n")
    correct = 0
    for number, question in enumerate(asked, start=1):
        console.print(f"[bold]{number}. {escape(question.question)}[/]")
        for letter, choice in zip(question.letters, question.choices, strict=True):
            console.print(f"   {letter}) {escape(choice)}")
        if answers is None:
            answer = Prompt.ask(
                "   your answer", choices=question.letters, case_sensitive=False, console=console
            ).lower()
        else:
            answer = answers[number - 1]
            console.print(f"   your answer: {answer}")
        right = answer == question.answer
        correct += right
        verdict = (
            "[green]right[/]" if right else f"[red]not quite — the answer is {question.answer}[/]"
        )
        console.print(f"   {verdict}. {escape(question.explanation)}\n")
    console.print(f"[bold]{correct} of {len(asked)} right.[/]")
    progress.record_quiz(kata.slug, correct, len(asked))
    # A script learns from the exit code whether every answer was right; a person reads the screen.
    return 0 if answers is None or correct == len(asked) else 1
