"""A sandbox started before the save it will grade: watch warms the next one while the learner types.

Starting a sandbox costs more than a small kata's tests: bubblewrap, then a fork server in the box
and one for the trusted tests, each importing FastAPI and pytest. None of that depends on the
learner's files, so once a verdict is on screen watch starts the next grade's sandbox. At the next
save the files are read, laid out into the folders made for them, and graded by servers that are
already warm. Those servers have run no learner code before that grade and serve that grade only:
a warm start is as fresh as a cold one, only earlier.
"""

from __future__ import annotations

from graders import workspace
from graders.catalog import UsageError
from graders.plan import plan, read
from graders.sandbox import Box, Job
from graders.sandbox.runner import Shared, isolation_here
from graders.vocabulary import Request

Folders = list[tuple[str, bool, tuple[str, ...], tuple[str, ...]]]


class WarmStart:
    """The sandbox of one request's next grade, started now (see the module's docstring)."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.isolation, self.why = isolation_here()
        self.root = workspace.new_root()
        self.box = Box("shared", self.root / "boxes")
        try:
            self.jobs = plan(read(request, None), 0, self.root, self.box, alone=True).jobs
        except UsageError:  # no module to grade yet: the grade itself will say so
            self.jobs = []
        self.run: Shared | None = None
        if self.jobs:
            for job in self.jobs:  # every folder exists before the box starts, so binds find it
                for folder in job.layout.files:
                    folder.mkdir(parents=True, exist_ok=True)
            self.run = Shared(self.isolation, self.root, self.jobs, isolate=False, own=False)
            self.run.start_servers(self.jobs)

    def take(self, jobs: list[Job]) -> Shared | None:
        """The warm servers, for `jobs` planned in this start's root and box; None (and they are
        closed) when those jobs need other folders than the ones the servers were started with."""
        run, self.run = self.run, None
        if run is not None and folders(jobs) != folders(self.jobs):
            run.close(self.jobs)
            run = None
        return run

    def close(self) -> None:
        """Stop the servers no grade took, and remove the folders."""
        if self.run is not None:
            self.run.close(self.jobs)
            self.run = None
        workspace.remove(self.root)


def folders(jobs: list[Job]) -> Folders:
    """What a box's servers are started with: each job's folder, side, and its layout's folders."""
    return sorted(
        (
            str(job.directory),
            job.trusted,
            tuple(sorted(map(str, job.layout.files))),
            tuple(map(str, job.layout.sealed)),
        )
        for job in jobs
    )
