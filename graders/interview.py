"""`interview`: a mock interview, one question at a time, with spaced repetition deciding what comes back.

Each kata's interview question and follow-ups, with the points an interviewer listens for and a
model answer, live in solutions/NN_slug/interview.toml. Every question is a card of the FSRS
scheduler (the `fsrs` package), keyed by the kata and a hash of the question's text; the cards are
kept in interview.json beside progress.json. The learner answers, reads the model answer, and rates
themselves: the rating decides when the question comes back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol, TextIO

from fsrs import Card, Rating, Scheduler
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from graders import progress
from graders.catalog import ROOT, Kata, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FORMAT_VERSION = 1  # of interview.toml
STATE_VERSION = 1  # of interview.json
FILE_NAME = "interview.toml"
DEFAULT_LIMIT = 10
QUESTION_KEYS = ("question", "key_points", "answer", "read")
RATINGS = {
    **{str(int(rating)): rating for rating in Rating},
    **{rating.name.lower(): rating for rating in Rating},
}
RATING_CHOICES = "1–4 or again, hard, good, easy"
SCHEDULER = (
    Scheduler()
)  # FSRS with its default parameters: 90 % retention, steps of 1 and 10 minutes

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Question:
    kata: str  # the kata's slug
    text: str
    key_points: tuple[str, ...]
    answer: str
    read: tuple[str, ...]  # pointers to the docs

    @property
    def key(self) -> str:
        """The card's key: editing another question, or re-wrapping this one, keeps its history."""
        digest = hashlib.sha256(" ".join(self.text.split()).encode()).hexdigest()[:12]
        return f"{self.kata}:{digest}"


@dataclass(frozen=True)
class Backlog:
    """A kata's questions that are due for review now, and those never asked."""

    due: int
    new: int


# --- the questions ------------------------------------------------------------------------------


def questions_file(kata: Kata) -> Path:
    return kata.solution_path / FILE_NAME


def shown(path: Path) -> str:
    """A path as the learner types it: relative to the repository when it is inside it."""
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(ROOT))
    return str(path)


def load_questions(kata: Kata, path: Path | None = None) -> tuple[Question, ...]:
    """The kata's interview question, then its follow-ups, from its interview.toml, checked.

    Raises UsageError with one line that names the file, what is wrong and what would be right.
    """
    path = questions_file(kata) if path is None else path
    where = shown(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{kata.slug} has no interview questions yet ({where} is missing)"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{where}: cannot be read ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{where}: not valid TOML ({error})") from None
    return parse(data, kata, where)


def parse(data: dict[str, Any], kata: Kata, where: str) -> tuple[Question, ...]:
    def wrong(message: str) -> UsageError:
        return UsageError(f"{where}: {message}")

    unknown = sorted(set(data) - {"format_version", "questions"})
    if unknown:
        raise wrong(f"unknown key '{unknown[0]}' (the keys are format_version and [[questions]])")
    version = data.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        found = "missing" if version is None else f"{version!r}"
        raise wrong(
            f"format_version is {found}; start the file with format_version = {FORMAT_VERSION}"
        )
    tables = data.get("questions")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise wrong("no [[questions]] tables; the first one holds the kata's question")
    questions = tuple(
        question(table, kata.slug, wrong, number) for number, table in enumerate(tables, 1)
    )
    if questions[0].text != kata.question.strip():
        raise wrong(f"question 1 must be the kata's question from kata.toml: {kata.question!r}")
    seen: dict[str, int] = {}
    for number, asked in enumerate(questions, 1):
        if asked.key in seen:
            raise wrong(f"question {number} repeats question {seen[asked.key]}; ask each once")
        seen[asked.key] = number
    return questions


def question(
    table: dict[str, Any], slug: str, wrong: Callable[[str], UsageError], number: int
) -> Question:
    def fail(message: str) -> UsageError:
        return wrong(f"question {number}: {message}")

    unknown = sorted(set(table) - set(QUESTION_KEYS))
    if unknown:
        raise fail(f"unknown key '{unknown[0]}' (the keys are {', '.join(QUESTION_KEYS)})")

    def text(key: str, what: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value.strip():
            raise fail(f"{key} is missing or empty; give {what}")
        return value.strip()

    def texts(key: str, low: int, high: int, what: str) -> tuple[str, ...]:
        value = table.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise fail(f"{key} must be a list of non-empty strings: {what}")
        if not low <= len(value) <= high:
            raise fail(f"{key} has {len(value)} entries; give {what}")
        return tuple(v.strip() for v in value)

    return Question(
        kata=slug,
        text=text("question", "the question as the interviewer asks it"),
        key_points=texts("key_points", 2, 5, "2 to 5 short points an interviewer listens for"),
        answer=text("answer", "a model answer of two to five sentences"),
        read=texts("read", 1, sys.maxsize, "at least one pointer to the docs"),
    )


def gather(katas: Sequence[Kata], named: bool) -> list[Question]:
    """Every question of the katas, in kata order. A kata named on the command line must have some."""
    if named:
        return [q for kata in katas for q in load_questions(kata)]
    having = [kata for kata in katas if questions_file(kata).is_file()]
    if not having:
        raise UsageError(f"no kata has interview questions yet (solutions/NN_slug/{FILE_NAME})")
    return [q for kata in having for q in load_questions(kata)]


# --- the cards ----------------------------------------------------------------------------------


def state_path() -> Path:
    """interview.json, beside progress.json (in .learner/ unless GRADERS_PROGRESS moves both)."""
    return progress.path().with_name("interview.json")


def load_cards(path: Path, console: Console, now: datetime) -> dict[str, Card]:
    """The cards reviewed so far. A file that cannot be read is said so and moved aside, never lost."""
    try:
        return cards_from(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return {}
    except OSError as error:
        reason = error.strerror or str(error)
    except ValueError as error:  # not JSON, not UTF-8, or not the cards this module writes
        reason = str(error)
    stamp = now.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for number in range(2, 100):  # never over an earlier copy set aside in the same second
        if not aside.exists():
            break
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{number}")
    try:
        os.replace(path, aside)
    except OSError as error:
        raise UsageError(
            f"{shown(path)} cannot be read ({reason}) nor moved aside ({error.strerror}); move or delete it"
        ) from None
    console.print(
        f"[yellow]note:[/] {escape(shown(path))} could not be read ({escape(reason)}); "
        f"moved it to {escape(aside.name)} and started with no reviews",
        soft_wrap=True,
    )
    return {}


def cards_from(data: Any) -> dict[str, Card]:
    """The cards in interview.json's data; ValueError saying what is wrong with it."""
    if not isinstance(data, dict) or data.get("format_version") != STATE_VERSION:
        raise ValueError(f"not an interview state of format_version {STATE_VERSION}")
    if not isinstance(data.get("cards"), dict):
        raise ValueError("no 'cards' object")
    cards: dict[str, Card] = {}
    for key, raw in data["cards"].items():
        try:
            card = Card.from_dict(raw)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"card {key}: {type(error).__name__} {error}") from None
        if card.due.tzinfo is None or not isinstance(card.step, (int, type(None))):
            raise ValueError(f"card {key}: a date without a time zone, or a step that is no number")
        cards[key] = card
    return cards


def save_cards(path: Path, cards: dict[str, Card]) -> None:
    """Write atomically: an interrupted drill leaves the previous file or the new one, whole."""
    data = {"format_version": STATE_VERSION, "cards": {k: c.to_dict() for k, c in cards.items()}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".interview-", suffix=".json")
    except OSError as error:
        raise UsageError(f"cannot write {shown(path)} ({error.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2, sort_keys=True)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise UsageError(f"cannot write {shown(path)} ({error.strerror})") from None
        raise


def new_card(question: Question, now: datetime) -> Card:
    return Card(card_id=int(question.key.rsplit(":", 1)[1], 16), due=now)


def due_questions(
    questions: Sequence[Question], cards: dict[str, Card], now: datetime
) -> list[Question]:
    """The questions reviewed before whose time has come, the longest overdue first."""
    due = [q for q in questions if q.key in cards and cards[q.key].due <= now]
    return sorted(due, key=lambda q: cards[q.key].due)


def next_question(
    questions: Sequence[Question], cards: dict[str, Card], now: datetime
) -> Question | None:
    """What to ask now: the longest overdue question, else the first never asked, else nothing."""
    due = due_questions(questions, cards, now)
    if due:
        return due[0]
    return next((q for q in questions if q.key not in cards), None)


def backlog(katas: Sequence[Kata], console: Console, clock: Clock = utc_now) -> dict[str, Backlog]:
    """Due and new questions for each kata that has interview questions (for the progress table)."""
    now = clock()
    cards = load_cards(state_path(), console, now)
    counts: dict[str, Backlog] = {}
    for kata in katas:
        if not questions_file(kata).is_file():
            continue
        try:
            questions = load_questions(kata)
        except UsageError as error:
            console.print(f"[yellow]note:[/] {escape(str(error))}", soft_wrap=True)
            continue
        due = len(due_questions(questions, cards, now))
        counts[kata.slug] = Backlog(due, sum(q.key not in cards for q in questions))
    return counts


# --- the drill ----------------------------------------------------------------------------------


def span(delta: timedelta) -> str:
    seconds = abs(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "less than a minute"


def when(due: datetime, now: datetime) -> str:
    if abs(due - now) < timedelta(minutes=1):
        return "now"
    return f"{span(due - now)} ago" if due < now else f"in {span(due - now)}"


class Asker(Protocol):
    def answer(self) -> str: ...  # EOFError when there is nothing more to read

    def rating(self) -> Rating: ...


class Terminal:
    """A learner at the keyboard: a rating that is not one is asked again."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def answer(self) -> str:
        return self.console.input("[bold]your answer[/] (Enter when done) › ")

    def rating(self) -> Rating:
        while True:
            word = self.console.input(f"[bold]rate yourself[/] ({RATING_CHOICES}) › ")
            if word.strip().lower() in RATINGS:
                return RATINGS[word.strip().lower()]
            self.console.print(f"  [yellow]type {RATING_CHOICES}[/]")


class Scripted:
    """Answers from a file or a pipe, one line a prompt: the answer, then the rating."""

    def __init__(self, lines: Iterator[str], source: str, console: Console) -> None:
        self.lines, self.source, self.console = lines, source, console
        self.number = 0

    def line(self) -> str:
        try:
            text = next(self.lines)
        except StopIteration:
            raise EOFError from None
        self.number += 1
        return text.rstrip("\r\n")

    def answer(self) -> str:
        text = self.line()
        self.console.print(f"[bold]your answer[/] › {escape(text)}")
        return text

    def rating(self) -> Rating:
        word = self.line()
        if word.strip().lower() not in RATINGS:
            raise UsageError(
                f"line {self.number} of {self.source} is {word!r}, not a rating; give {RATING_CHOICES}"
            )
        self.console.print(f"[bold]rate yourself[/] › {escape(word)}")
        return RATINGS[word.strip().lower()]


def open_answers(answers: str | None, console: Console) -> tuple[Asker, TextIO | None]:
    """Where the answers come from; the open file, if any, for the caller to close."""
    if answers is None:
        if not sys.stdin.isatty():
            raise UsageError(
                "the interview asks in a terminal; without one, pass --answers FILE (or - for stdin), one line a prompt"
            )
        return Terminal(console), None
    if answers == "-":
        return Scripted(iter(sys.stdin), "standard input", console), None
    try:
        stream = open(answers, encoding="utf-8")  # noqa: SIM115 - closed by the caller
    except OSError as error:
        raise UsageError(
            f"--answers {answers}: {error.strerror.lower() if error.strerror else error}"
            " (give a file with one line a prompt: the answer, then the rating; or - for stdin)"
        ) from None
    return Scripted(iter(stream), answers, console), stream


def run(
    questions: Sequence[Question],
    console: Console,
    *,
    due: bool = False,
    answers: str | None = None,
    limit: int = DEFAULT_LIMIT,
    state: Path | None = None,
    clock: Clock = utc_now,
) -> int:
    """`interview`: list what is due (`due`), or drill up to `limit` questions, due ones first."""
    if limit < 1:
        raise UsageError(f"--limit {limit}: give a number of questions, 1 or more")
    state = state_path() if state is None else state
    if due:
        show_due(questions, load_cards(state, console, clock()), clock(), console)
        return 0
    asker, stream = open_answers(answers, console)  # bad usage is said before anything is moved
    try:
        cards = load_cards(state, console, clock())
        drill(questions, cards, console, asker, limit=limit, state=state, clock=clock)
    finally:
        if stream is not None:
            stream.close()
    return 0


def drill(
    questions: Sequence[Question],
    cards: dict[str, Card],
    console: Console,
    asker: Asker,
    *,
    limit: int,
    state: Path,
    clock: Clock,
) -> int:
    """Ask, show the model answer, take the rating, schedule, save; return how many were rated."""
    rated = 0
    stopped = False
    try:
        while rated < limit:
            now = clock()
            asked = next_question(questions, cards, now)
            if asked is None:
                break
            card = cards.get(asked.key)
            status = "new" if card is None else f"due {when(card.due, now)}"
            console.print(
                f"\n[bold]{escape(asked.kata)}[/] · question {rated + 1} · [dim]{status}[/]"
            )
            console.print(Padding(f"[bold]{escape(asked.text)}[/]", (0, 0, 0, 2), expand=False))
            asker.answer()
            show_model_answer(asked, console)
            rating = asker.rating()
            now = clock()
            card, _ = SCHEDULER.review_card(card or new_card(asked, now), rating, now)
            cards[asked.key] = card
            save_cards(state, cards)
            rated += 1
            console.print(f"  [dim]{rating.name.lower()} — back {when(card.due, now)}[/]")
    except (KeyboardInterrupt, EOFError):
        stopped = True
        console.print()
    summary(questions, cards, console, rated, stopped, clock(), shown(state))
    return rated


def show_model_answer(question: Question, console: Console) -> None:
    console.print("[bold]Key points[/]")
    points = Table.grid(
        padding=(0, 1)
    )  # a column for the bullets: wrapped lines hang under the text
    for point in question.key_points:
        points.add_row("  •", escape(point))
    console.print(points)
    console.print("[bold]Model answer[/]")
    console.print(Padding(escape(question.answer), (0, 0, 0, 2), expand=False))
    console.print(f"[bold]Read[/] {escape(' · '.join(question.read))}", soft_wrap=True)


def summary(
    questions: Sequence[Question],
    cards: dict[str, Card],
    console: Console,
    rated: int,
    stopped: bool,
    now: datetime,
    where: str,
) -> None:
    kept = f"{rated} rated, kept in {where}" if rated else "nothing rated"
    console.print(f"[bold]{'Stopped' if stopped else 'Done'}:[/] {kept}.")
    due = len(due_questions(questions, cards, now))
    new = sum(q.key not in cards for q in questions)
    if due or new:
        left = [f"{due} due" if due else "", f"{new} new" if new else ""]
        console.print(
            f"Still to ask: {' and '.join(p for p in left if p)} (run the interview again)."
        )
    else:
        console.print(coming(questions, cards, now))


def coming(questions: Sequence[Question], cards: dict[str, Card], now: datetime) -> str:
    upcoming = sorted((cards[q.key].due, q.kata) for q in questions if q.key in cards)
    if not upcoming:
        return "Nothing is due."
    due, kata = upcoming[0]
    return f"Nothing is due; the next question ({kata}) comes back {when(due, now)}."


def show_due(
    questions: Sequence[Question], cards: dict[str, Card], now: datetime, console: Console
) -> None:
    due = due_questions(questions, cards, now)
    new = sum(q.key not in cards for q in questions)
    if due:
        table = Table(title=f"Interview questions due now: {len(due)}")
        table.add_column("kata")
        table.add_column("question")
        table.add_column("due", no_wrap=True)
        for question in due:
            table.add_row(question.kata, escape(question.text), when(cards[question.key].due, now))
        console.print(table)
    else:
        console.print(coming(questions, cards, now))
    if new:
        console.print(f"{new} new question{'' if new == 1 else 's'} not asked yet.")
