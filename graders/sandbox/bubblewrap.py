"""The bubblewrap sandbox: the command line that contains a box, and a probe for whether it works.

A box sees a read-only system (/usr and a few files of /etc), the Python that grades and its
packages, the `graders` package and pyproject.toml — and, writable, only its own folder. Its /tmp
and /dev/shm are private and small, its home is empty, it has no network, its processes see only
each other, and they all die when the grader does. Nothing else of the machine is there: not the
repository's katas/, solutions/ or tests/, not another submission, not the user's home.

Where bubblewrap is missing or refused (macOS; Ubuntu 24.04's AppArmor restriction on
unprivileged user namespaces), `probe()` says why, once, and the grader falls back to limits
alone (graders.sandbox.limits).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from graders.catalog import ROOT

TMP_SIZE = 256 << 20  # bytes of the box's private /tmp (the tests' tmp_path lives there)
SHM_SIZE = 64 << 20
HOME = "/home/learner"  # an empty folder in every box
SYSTEM = ("/usr", "/etc/ld.so.cache", "/etc/localtime", "/etc/ssl", "/etc/mime.types")
MERGED_USR = ("bin", "lib", "lib64", "sbin")  # on most systems links into /usr


def executable() -> str | None:
    return shutil.which("bwrap")


def python_folders() -> list[str]:
    """The grading Python, its standard library and its packages."""
    folders = {sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix}
    return sorted(os.path.realpath(folder) for folder in folders) + sorted(folders)


def command(
    writable: list[Path], readonly: list[Path], environment: dict[str, str], cwd: Path
) -> list[str]:
    """`bwrap …` for a box: `writable` folders (then `readonly` ones inside them) and nothing else."""
    bwrap = executable()
    assert bwrap is not None
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    for name, value in sorted(environment.items()):
        args += ["--setenv", name, value]
    # The private /tmp and /dev/shm first: the folders bound after them may lie below them.
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(TMP_SIZE), "--tmpfs", "/tmp"]
    args += ["--size", str(SHM_SIZE), "--tmpfs", "/dev/shm"]
    args += ["--dir", HOME]
    for path in SYSTEM:
        args += ["--ro-bind-try", path, path]
    for name in MERGED_USR:
        top = Path("/") / name
        if top.is_symlink():
            args += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            args += ["--ro-bind", str(top), str(top)]
    for python in dict.fromkeys(python_folders()):
        args += ["--ro-bind", python, python]
    args += ["--ro-bind", str(ROOT / "graders"), str(ROOT / "graders")]
    args += ["--ro-bind", str(ROOT / "pyproject.toml"), str(ROOT / "pyproject.toml")]
    for folder in writable:
        args += ["--bind", str(folder), str(folder)]
    for folder in readonly:  # a request graded and removed already has nothing left to protect
        args += ["--ro-bind-try", str(folder), str(folder)]
    args += ["--chdir", str(cwd), "--"]
    return args


@functools.cache
def probe() -> str:
    """ "" when bubblewrap can contain a box here; else one line on why not and how to enable it."""
    if sys.platform != "linux":
        return "bubblewrap runs on Linux only"
    if executable() is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt install bubblewrap)"
    scratch = Path(os.environ.get("TMPDIR", "/tmp"))
    try:
        done = subprocess.run(
            [
                *command([], [], {"PATH": "/usr/bin:/bin"}, Path("/")),
                sys.executable,
                "-I",
                "-S",
                "-c",
                "",
            ],
            capture_output=True,
            timeout=20,
            cwd=scratch if scratch.is_dir() else "/",
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not start ({error})"
    if done.returncode == 0:
        return ""
    said = done.stderr.decode("utf-8", "replace").strip().splitlines()
    reason = said[-1] if said else f"exit code {done.returncode}"
    if "ermission" in reason or "not permitted" in reason:
        reason += (
            " — unprivileged user namespaces are refused (on Ubuntu 24.04: an AppArmor profile"
            " for bwrap, or sysctl kernel.apparmor_restrict_unprivileged_userns=0)"
        )
    return f"bubblewrap is refused here: {reason}"
