"""What contains a box with or without bubblewrap: resource limits and a clean environment.

Every process that runs the learner's code gets these limits (setrlimit, inherited by whatever it
starts), an environment of a few allowed variables and an empty home:

- address space: the kata's `memory_mb` (2 GiB unless a kata needs more); past it an allocation
  fails with MemoryError, which the verdict names;
- one file written: FILE_MB; open files: OPEN_FILES; CPU time: CPU_SECONDS a process; no core files.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys

FILE_MB = 256
OPEN_FILES = 1024
CPU_SECONDS = 600
ALLOWED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "SYSTEMROOT")


def apply(memory_mb: int) -> None:
    """Set this process's limits (only ever lowered: a limit the user set lower stays)."""
    lower(resource.RLIMIT_FSIZE, FILE_MB << 20)
    lower(resource.RLIMIT_NOFILE, OPEN_FILES)
    lower(resource.RLIMIT_CPU, CPU_SECONDS)
    lower(resource.RLIMIT_CORE, 0)
    if sys.platform == "linux":  # macOS cannot limit the address space of a running process
        lower(resource.RLIMIT_AS, memory_mb << 20)


def lower(which: int, wanted: int) -> None:
    soft, hard = resource.getrlimit(which)
    limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        # A platform that refuses this one keeps what it has.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (limit, hard))


def environment(home: str, temporary: str, python_path: str) -> dict[str, str]:
    """The whole environment a box's processes start with: nothing of the user's but locale."""
    env = {name: os.environ[name] for name in ALLOWED if name in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    env.update(
        HOME=home,
        TMPDIR=temporary,
        PYTHONPATH=python_path,
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        PYTHONIOENCODING="utf-8",
        MALLOC_ARENA_MAX="2",  # glibc reserves 64 MiB of address space an arena otherwise
    )
    return env
