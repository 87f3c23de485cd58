"""Where bubblewrap is missing or refused, the grader says so in one line and falls back; batch
then refuses to grade other people's code unless told to."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from graders.sandbox import bubblewrap, runner
from tests.test_cli import graders


@pytest.fixture(autouse=True)
def fresh_probe() -> None:
    bubblewrap.probe.cache_clear()


def fake_bwrap(folder: Path, said: str) -> Path:
    """A `bwrap` that refuses to run, saying `said`, as a locked-down system's would."""
    folder.mkdir(parents=True)
    script = folder / "bwrap"
    script.write_text(f"#!/bin/sh\necho '{said}' >&2\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_a_missing_bubblewrap_is_named_with_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bubblewrap, "executable", lambda: None)
    said = bubblewrap.probe()
    assert said == "bubblewrap is not installed (Debian/Ubuntu: apt install bubblewrap)"
    monkeypatch.delenv("GRADERS_SANDBOX", raising=False)
    assert runner.isolation_here() == ("none", said)


def test_a_refused_bubblewrap_says_why_and_how_to_allow_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = fake_bwrap(tmp_path / "bin", "bwrap: setting up uid map: Permission denied")
    monkeypatch.setattr(bubblewrap, "executable", lambda: str(script))
    said = bubblewrap.probe()
    assert said.startswith(
        "bubblewrap is refused here: bwrap: setting up uid map: Permission denied"
    )
    assert "kernel.apparmor_restrict_unprivileged_userns" in said


def test_the_sandbox_can_be_turned_off_on_purpose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADERS_SANDBOX", "none")
    assert runner.isolation_here() == ("none", "the sandbox is off (GRADERS_SANDBOX=none)")


def test_batch_refuses_to_run_unsandboxed_unless_told(tmp_path: Path) -> None:
    (tmp_path / "class" / "ada").mkdir(parents=True)
    (tmp_path / "class" / "ada" / "app.py").write_text("app = None\n")
    env = {"GRADERS_SANDBOX": "none", "GRADERS_PROGRESS": str(tmp_path / "p.json")}
    args = ("batch", str(tmp_path / "class"), "--kata", "1", "--out", str(tmp_path / "out"))
    refused = graders(*args, env=env)
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1
    assert "--unsafe-no-sandbox" in refused.stderr and "GRADERS_SANDBOX=none" in refused.stderr
    told = graders(*args, "--unsafe-no-sandbox", env=env)
    assert told.returncode == 0, told.stderr
    assert (tmp_path / "out" / "gradebook.csv").is_file()


def test_a_grade_without_the_sandbox_says_what_is_not_contained(tmp_path: Path) -> None:
    done = graders("grade", "1", "--solution", env={"GRADERS_SANDBOX": "none"})
    assert (
        "not sandboxed: the sandbox is off (GRADERS_SANDBOX=none); your code can read your files"
        in done.stdout
    )
