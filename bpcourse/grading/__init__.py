"""Auto-grading: ``bpcourse grade`` runs the check battery on submissions, safely.

- ``submission``: which code of a submission counts (parsed, never run by the grader);
- ``sandbox`` / ``runner``: the limited processes where submitted code runs;
- ``grade``: inputs per student, judging against the reference, results;
- ``results``: Gradescope's results.json, the gradebook CSV, the summary table;
- ``bundle``: a Gradescope autograder zip.
"""
