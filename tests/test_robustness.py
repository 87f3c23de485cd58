"""The learner's code is untrusted: broken, hanging, exiting or gaming code gets an honest verdict."""

from __future__ import annotations

import dataclasses

import pytest

from graders.catalog import find
from graders.score import KataGrade
from graders.vocabulary import Request
from tests.conftest import FIRST_STEPS_TESTS, graded, submission

FIRST = find("first_steps")
QUICK = dataclasses.replace(FIRST, timeout=3.0)  # hangs are cut after 3 s here, 10 s for learners
SOLUTION = (FIRST.solution_path / "app.py").read_text(encoding="utf-8")
LOOKUP = "    book = BOOKS.get(book_id)\n"
HANGING_TEST = "test_book_is_found_by_its_integer_id"  # the only test that asks for book 3


def in_read_book(line: str) -> str:
    """The solution, with `line` run at the start of read_book."""
    assert LOOKUP in SOLUTION
    return SOLUTION.replace(LOOKUP, f"    {line}\n{LOOKUP}")


STUB = (FIRST.path / "app.py").read_text(encoding="utf-8")
CASES: dict[str, dict[str, str]] = {
    "syntax_error": {"app.py": SOLUTION.replace("class BookOut(BaseModel):", "class BookOut(BaseModel)")},
    "import_crash": {"app.py": SOLUTION + "\nraise RuntimeError('database is down')\n"},
    "missing_name": {"app.py": SOLUTION.replace("class BookOut(BaseModel):", "class Book(BaseModel):").replace("-> BookOut", "-> Book").replace("[BookOut]", "[Book]").replace("BookOut.", "Book.")},
    "exit_at_import": {"app.py": "import sys\nsys.exit(0)\n" + SOLUTION},
    "os_exit_at_import": {"app.py": "import os\nos._exit(0)\n" + SOLUTION},
    "os_exit_in_request": {"app.py": "import os\n" + in_read_book("if book_id == 3: os._exit(0)")},
    "sys_exit_in_request": {"app.py": "import sys\n" + in_read_book("if book_id == 3: sys.exit(0)")},
    "loop_in_def": {"app.py": in_read_book("while book_id == 3: pass")},
    "loop_in_async_def": {"app.py": in_read_book("while book_id == 3: pass").replace("def read_book", "async def read_book")},
    "crash_in_a_request": {"app.py": in_read_book("if book_id == 3: {}[book_id]")},
    "megabytes_printed": {"app.py": in_read_book("print('spam ' * 2_000_000)") + "\nprint('x' * 3_000_000)\n"},
    "conftest_forces_pass": {
        "app.py": STUB,
        "conftest.py": (
            "import pytest\n\n"
            "@pytest.hookimpl(hookwrapper=True)\n"
            "def pytest_runtest_makereport(item, call):\n"
            "    outcome = yield\n"
            "    outcome.get_result().outcome = 'passed'\n\n"
            "def pytest_collection_modifyitems(items):\n"
            "    items.clear()\n"
        ),
    },
    "extra_test_file_passes": {"app.py": STUB, "test_mine.py": "def test_free_points():\n    assert True\n"},
}  # fmt: skip


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KataGrade]:
    root = tmp_path_factory.mktemp("robustness")
    requests: list[Request] = []
    for name, files in CASES.items():
        folder = submission(FIRST, root / name, files)
        if name == "conftest_forces_pass":  # a conftest above the graded folder, too
            (root / "conftest.py").write_text(files["conftest.py"], encoding="utf-8")
        requests.append(Request(QUICK, "path", folder))
    return dict(zip(CASES, graded(requests), strict=True))


def test_syntax_error_is_an_error_that_names_file_and_line(results: dict[str, KataGrade]) -> None:
    result = results["syntax_error"]
    assert result.status == "error"
    assert result.message and "app.py, line" in result.message and "your code" in result.message
    assert result.score == 0 and all(t.status == "error" for t in result.tests)
    assert len(result.tests) == FIRST_STEPS_TESTS, "every expected test is still listed"


def test_exception_at_import_is_an_error_with_the_exception(results: dict[str, KataGrade]) -> None:
    result = results["import_crash"]
    assert result.status == "error"
    assert result.message and "RuntimeError: database is down" in result.message
    assert "app.py, line" in result.message


def test_missing_name_fails_only_the_tests_that_use_it(results: dict[str, KataGrade]) -> None:
    result = results["missing_name"]
    assert result.status == "fail"
    failed = {t.name: t for t in result.tests if t.status != "pass"}
    assert "test_book_out_declares_the_public_fields" in failed
    message = failed["test_book_out_declares_the_public_fields"].message
    assert message.startswith("MISSING NAME — app.py has no `BookOut`")
    assert result.task_passed(1) and result.task_passed(2), "tasks that do not use the name pass"


@pytest.mark.parametrize("case", ["exit_at_import", "os_exit_at_import"])
def test_exiting_at_import_is_an_error(results: dict[str, KataGrade], case: str) -> None:
    result = results[case]
    assert result.status == "error" and result.score == 0
    assert result.message
    assert "SystemExit" in result.message or "exited" in result.message


@pytest.mark.parametrize(
    "case", ["os_exit_in_request", "sys_exit_in_request", "loop_in_def", "loop_in_async_def"]
)
def test_a_test_that_exits_or_hangs_fails_alone(results: dict[str, KataGrade], case: str) -> None:
    result = results[case]
    assert result.status == "fail"
    statuses = {t.name: t.status for t in result.tests}
    assert statuses.pop(HANGING_TEST) != "pass"
    assert set(statuses.values()) == {"pass"}, f"the other tests keep their results: {statuses}"


@pytest.mark.parametrize("case", ["loop_in_def", "loop_in_async_def"])
def test_a_hang_is_reported_as_a_timeout(results: dict[str, KataGrade], case: str) -> None:
    test = next(t for t in results[case].tests if t.name == HANGING_TEST)
    assert "did not finish within 3 s" in test.message


def test_os_exit_in_a_test_is_named(results: dict[str, KataGrade]) -> None:
    test = next(t for t in results["os_exit_in_request"].tests if t.name == HANGING_TEST)
    assert "exited" in test.message and "os._exit" in test.message


def test_megabytes_of_output_are_cut_and_the_grade_completes(results: dict[str, KataGrade]) -> None:
    result = results["megabytes_printed"]
    assert result.status == "pass"
    assert all(len(t.output) <= 500 for t in result.tests)
    noisy = next(t for t in result.tests if t.name == HANGING_TEST)
    assert "spam" in noisy.output and "characters cut" in noisy.output


@pytest.mark.parametrize("case", ["conftest_forces_pass", "extra_test_file_passes"])
def test_learner_conftest_and_extra_tests_are_ignored(
    results: dict[str, KataGrade], case: str
) -> None:
    result = results[case]
    assert result.status == "fail"
    assert result.tasks_passed == 0
    assert "test_free_points" not in {t.name for t in result.tests}


def test_a_500_names_the_exception_and_the_line_of_the_learners_code(
    results: dict[str, KataGrade],
) -> None:
    result = results["crash_in_a_request"]
    test = next(t for t in result.tests if t.name == HANGING_TEST)
    assert test.status == "fail"
    assert test.message.startswith(
        "GET /books/3 → 500, expected 200 — your code raised KeyError: 3 (app.py, line "
    )
    assert test.replay[0] == "$ curl -X GET http://127.0.0.1:8000/books/3"
