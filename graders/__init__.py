"""The grading engine of the FastAPI interview katas.

Read it in this order: catalog (what katas exist) → workspace (a clean folder to grade in) →
runner and worker (pytest in a child process, watched) → score (what passed, in points) →
report and export (what the learner and the tools read).
"""
