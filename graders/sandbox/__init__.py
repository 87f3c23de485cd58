"""Everything that runs the learner's code, behind one door: `run_jobs`.

Read in this order: jobs (what is run and what comes back) → runner (the parent watching each
job) → servers (starting, containing and killing fork servers) → bubblewrap and limits (what
contains a box) → forkserver and worker (inside: a warm process forking one process a job) →
remote, apphost and wire (the bridge: trusted tests on one side, the learner's app on the other)
→ record (what a job process remembers of each HTTP exchange) → processes (finding every
process a box left).
"""

from graders.sandbox.jobs import Box, Host, Job, JobReport, Layout, NodeReport
from graders.sandbox.runner import IMPORT_TIMEOUT, busy_places, isolation_here, run_jobs

__all__ = [
    "IMPORT_TIMEOUT",
    "Box",
    "Host",
    "Job",
    "JobReport",
    "Layout",
    "NodeReport",
    "busy_places",
    "isolation_here",
    "run_jobs",
]
