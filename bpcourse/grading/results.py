"""What grading writes: Gradescope's results.json per student, a gradebook CSV, a summary."""

import csv
import io
import json
import os
from pathlib import Path


def atomic_write(path, text):
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def test_output(report, extra=None):
    """The feedback of one exercise: the verdict, then every test case."""
    lines = [report.text(), ""]
    if report.note:
        lines += [report.note, ""]
    if extra:
        lines += [extra, ""]
    for r in report.results:
        lines.append(f"{'✓' if r.passed else '✗'} {r.label}")
        if not r.passed and r.message:
            lines.append(f"    {r.message}")
    return "\n".join(lines).rstrip() + "\n"


def results_json(student, graded, reports, notes, seconds, isolation):
    """Gradescope's results format: score, tests[name, score, max_score, status, output, visibility]."""
    tests = []
    for i, g in enumerate(graded, start=1):
        report = reports[g.name]
        score = round(g.points * report.score, 2)
        tests.append({
            "name": f"{g.notebook} · {g.name}",
            "number": str(i),
            "score": score,
            "max_score": g.points,
            "status": "passed" if report.passed else "failed",
            "output": test_output(report),
            "visibility": "visible",
        })
    total = round(sum(t["score"] for t in tests), 2)
    maximum = sum(g.points for g in graded)
    summary = [f"{student}: {total:g} / {maximum:g} points"]
    summary += [f"Note: {n}" for n in notes]
    return {
        "score": total,
        "execution_time": round(seconds, 2),
        "output": "\n".join(summary) + "\n",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"student": student, "isolation": isolation},
    }


def gradebook_csv(graded, rows):
    """A row per student, a column per exercise (points scored), and the total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student"] + [g.name for g in graded] + ["total"])
    writer.writerow(["(max)"] + [f"{g.points:g}" for g in graded] + [f"{sum(g.points for g in graded):g}"])
    for student, result in sorted(rows.items()):
        scores = [t["score"] for t in result["tests"]]
        writer.writerow([student] + [f"{s:g}" for s in scores] + [f"{result['score']:g}"])
    return out.getvalue()


def summary_table(graded, rows):
    """A plain-text table for the terminal: a line per student."""
    maximum = sum(g.points for g in graded)
    width = max([len("student")] + [len(s) for s in rows])
    lines = [f"{'student':<{width}}  {'score':>12}  passed  notes"]
    for student, result in sorted(rows.items()):
        passed = sum(t["status"] == "passed" for t in result["tests"])
        notes = result["output"].splitlines()[1:]
        note = notes[0].removeprefix("Note: ") if notes else ""
        lines.append(f"{student:<{width}}  {result['score']:>6g} / {maximum:<3g}  "
                     f"{passed:>2}/{len(graded):<3}  {note[:60]}")
    return "\n".join(lines)


def write_student(out_dir, student, result):
    atomic_write(Path(out_dir) / student / "results.json", json.dumps(result, indent=1, ensure_ascii=False) + "\n")
