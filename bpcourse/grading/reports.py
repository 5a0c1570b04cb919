"""Writing the reports of a graded class, and ``bpcourse report OUT``.

``bpcourse grade`` calls ``write_reports`` once every result is final; ``bpcourse report``
writes the same pages later from the results folder (after ``grade --no-reports``, say).
Everything comes from the students' results (``results.json``): the feedback pages
(``feedback.py``), the class report (``class_report.py``) and, when asked, the similarity
report (``similarity.py``).
"""

import json
from pathlib import Path
import sys
import time

from .results import atomic_write


def write_reports(out_dir, rows, solutions=None, reports=True, similarity=False, echo=print,
                  threshold=None):
    """Write ``OUT/<student>/feedback.html`` and ``OUT/report.html`` (with ``reports``) and
    ``OUT/similarity.html`` (with ``similarity``) from ``rows`` ({student: results dict});
    returns {"seconds", "feedback", "failed", "similarity"}.  A page that cannot be written
    is reported and the others are written all the same: the results themselves are safe
    on disk before this runs."""
    from . import class_report, feedback as feedback_pages

    start = time.perf_counter()
    out_dir = Path(out_dir)
    written, failed, summary = 0, {}, None
    if similarity:
        from . import similarity as sim

        try:
            found = sim.similarity_report(rows, solutions=solutions,
                                          **({"threshold": threshold} if threshold else {}))
            sim.write(out_dir, found)
            summary = {"pairs": len(found["pairs"]), "href": "similarity.html"}
        except Exception as e:  # a bug of ours must not cost the other reports
            failed["similarity.html"] = f"{type(e).__name__}: {e}"
    if reports:
        for student, result in sorted(rows.items()):
            try:
                feedback_pages.write_feedback(out_dir, student, result)
                written += 1
            except Exception as e:
                failed[f"{student}/feedback.html"] = f"{type(e).__name__}: {e}"
        try:
            atomic_write(out_dir / "report.html", class_report.report_html(rows, summary))
        except Exception as e:
            failed["report.html"] = f"{type(e).__name__}: {e}"
    seconds = time.perf_counter() - start
    pieces = ["report.html", f"{written} feedback pages (<student>/feedback.html)"] \
        if reports else []
    if summary is not None:
        pieces.append(f"similarity.html ({summary['pairs']} pair(s) flagged)")
    echo(f"reports written in {seconds:.1f} s: {', '.join(pieces)}")
    for what, why in failed.items():
        echo(f"error: could not write {what}: {why}", file=sys.stderr)
    return {"seconds": seconds, "feedback": written, "failed": failed, "similarity": summary}


def load_results(out_dir):
    """{student: results dict} of a results folder (``OUT/<student>/results.json``)."""
    rows = {}
    for path in sorted(Path(out_dir).glob("*/results.json")):
        try:
            rows[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            print(f"warning: {path} is not readable ({type(e).__name__}): skipped",
                  file=sys.stderr)
    return rows


def add_parser(subparsers):
    p = subparsers.add_parser(
        "report", help="write the feedback pages and the class report of a results folder",
        description="Write OUT/<student>/feedback.html and OUT/report.html from the results "
                    "that `bpcourse grade` wrote into OUT (what `grade` does unless "
                    "--no-reports).")
    p.add_argument("out", metavar="OUT", help="the results folder of `bpcourse grade`")
    p.set_defaults(run=_run)


def _run(args):
    rows = load_results(args.out)
    if not rows:
        print(f"bpcourse report: no <student>/results.json in {args.out}", file=sys.stderr)
        return 2
    done = write_reports(args.out, rows, echo=lambda *a, **k: print(*a, **k))
    return 1 if done["failed"] else 0
