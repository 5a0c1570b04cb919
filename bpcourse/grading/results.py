"""What grading writes: Gradescope's results.json per student, a gradebook CSV, a summary."""

import csv
import io
import json
import os
from pathlib import Path

from ..checks.report import Report


def atomic_write(path, text):
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def test_output(report, extra=None, results=None):
    """The feedback of one exercise: the verdict, then every test case (of ``results``)."""
    lines = [report.text(), ""]
    if report.note:
        lines += [report.note, ""]
    if extra:
        lines += [extra, ""]
    for r in report.results if results is None else results:
        lines.append(f"{'✓' if r.passed else '✗'} {r.label}")
        if not r.passed and r.message:
            lines.append(f"    {r.message}")
    return "\n".join(lines).rstrip() + "\n"


def results_json(student, graded, reports, notes, seconds, isolation, sources=None):
    """Gradescope's results format: score, tests[name, score, max_score, status, output, visibility].

    An exercise graded with hidden checks gives two tests: its public checks ("visible") and its
    hidden ones ("after_published": the student sees them once the grades are published), each
    worth its share of the exercise's points; ``extra_data`` names the exercise of each test
    and holds the verdict as data, for the reports (``verdict_data``); ``sources`` ({exercise:
    ``sources.exercise_source(...)``}) puts the learner's function beside its public checks."""
    tests = []
    for g in graded:
        report = reports[g.name]
        n = max(len(report.results), 1)
        parts = [("public", [r for r in report.results if not r.hidden], "visible"),
                 ("hidden", [r for r in report.results if r.hidden], "after_published")]
        for kind, results, visibility in parts:
            if kind == "hidden" and not results:
                continue
            share = len(results) / n if report.n_hidden else 1.0
            passed = sum(r.passed for r in results)
            name = f"{g.notebook} · {g.name}" + (f" ({kind} checks)" if report.n_hidden else "")
            tests.append({
                "name": name,
                "number": str(len(tests) + 1),
                "score": round(g.points * passed / n, 2),
                "max_score": round(g.points * share, 2),
                "status": "passed" if results and all(r.passed for r in results) else "failed",
                "output": _public_output(report, results) if kind == "public"
                else "\n".join(f"{'✓' if r.passed else '✗'} {r.label}" + (f"\n    {r.message}"
                                                                          if not r.passed and r.message else "")
                               for r in results) + "\n",
                "visibility": visibility,
                "extra_data": verdict_data(g.name, kind, report, results,
                                        (sources or {}).get(g.name) if kind == "public" else None),
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
        "extra_data": {"student": student, "isolation": isolation, "notes": list(notes)},
    }


def _public_output(report, public):
    """The output of an exercise's public test: the verdict of its public checks alone (the
    learner sees it at once: nothing of the hidden checks' inputs or outcome is in it)."""
    if not report.n_hidden:
        return test_output(report)
    n = report.n_hidden
    return test_output(Report(report.exercise, public, report.note),
                       extra=f"{n} hidden check{'s' if n != 1 else ''} ran too: their results "
                             f"are shown when the grades are published.")


def verdict_data(exercise, kind, report, results, source=None):
    """One test's verdict as data: the exercise and its status, the checks passed, the first
    failure (label, message, named mistake's hint, status), how the failed checks failed
    (e.g. {"wrong": 2, "timeout": 1}), the grader's note and the learner's source."""
    first = next((r for r in results if not r.passed), None)
    failed = {}
    for r in results:
        if not r.passed:
            failed[r.status] = failed.get(r.status, 0) + 1
    return {
        "exercise": exercise,
        "checks": kind,
        "status": report.status,
        "passed": sum(r.passed for r in results),
        "total": len(results),
        "first_failure": None if first is None else {
            "label": first.label, "message": first.message, "hint": first.hint,
            "status": first.status},
        "failed": failed,
        "note": report.note,
        "source": source,
    }


def exercise_scores(result):
    """{exercise: (score, max score)} of a results dict, its public and hidden tests added up."""
    scores = {}
    for t in result["tests"]:
        name = (t.get("extra_data") or {}).get("exercise") or t["name"].split(" · ")[-1]
        got, most = scores.get(name, (0.0, 0.0))
        scores[name] = (round(got + t["score"], 2), round(most + t["max_score"], 2))
    return scores


def gradebook_csv(graded, rows):
    """A row per student, a column per exercise (points scored), and the total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student"] + [g.name for g in graded] + ["total"])
    writer.writerow(["(max)"] + [f"{g.points:g}" for g in graded] + [f"{sum(g.points for g in graded):g}"])
    for student, result in sorted(rows.items()):
        scores = exercise_scores(result)
        writer.writerow([student] + [f"{scores[g.name][0]:g}" for g in graded]
                        + [f"{result['score']:g}"])
    return out.getvalue()


def summary_table(graded, rows):
    """A plain-text table for the terminal: a line per student."""
    maximum = sum(g.points for g in graded)
    width = max([len("student")] + [len(s) for s in rows])
    lines = [f"{'student':<{width}}  {'score':>12}  passed  notes"]
    for student, result in sorted(rows.items()):
        passed = sum(got == most for got, most in exercise_scores(result).values())
        notes = result["output"].splitlines()[1:]
        note = notes[0].removeprefix("Note: ") if notes else ""
        lines.append(f"{student:<{width}}  {result['score']:>6g} / {maximum:<3g}  "
                     f"{passed:>2}/{len(graded):<3}  {note[:60]}")
    return "\n".join(lines)


def write_student(out_dir, student, result):
    atomic_write(Path(out_dir) / student / "results.json", json.dumps(result, indent=1, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- reading results back

#: what a failed check without a named mistake says, by how it failed
FAILED_HOW = {
    "wrong": "wrong result (no known mistake recognised)",
    "error": "raised an error",
    "timeout": "did not finish in time",
    "crashed": "crashed its process",
    "not_implemented": "not implemented yet",
    "missing": "not in the submission",
    "refused": "could not be graded",
}


def exercise_tests(result):
    """The exercises of a results dict in order: ``[{"exercise", "notebook", "score",
    "max_score", "public", "hidden"}]``, where ``public`` and ``hidden`` are the tests of its
    public and hidden checks (``hidden`` is None when it had none)."""
    found = {}
    for t in result.get("tests", []):
        data = t.get("extra_data") or {}
        name = data.get("exercise") or t["name"].split(" · ")[-1]
        entry = found.setdefault(name, {"exercise": name, "notebook": t["name"].split(" · ")[0],
                                        "score": 0.0, "max_score": 0.0, "public": None,
                                        "hidden": None})
        entry["score"] = round(entry["score"] + t["score"], 2)
        entry["max_score"] = round(entry["max_score"] + t["max_score"], 2)
        entry["hidden" if data.get("checks") == "hidden" else "public"] = t
    return list(found.values())


def first_failure(entry):
    """The first failed check of an exercise (``exercise_tests`` entry): public checks first."""
    for kind in ("public", "hidden"):
        test = entry[kind]
        failure = test and (test.get("extra_data") or {}).get("first_failure")
        if failure:
            return failure
    return None


def named_mistake(failure):
    """What a failed check is called in the reports: its named mistake (the hint), or how it
    failed when no known mistake explains it."""
    if failure is None:
        return None
    if failure.get("hint"):
        return failure["hint"]
    return FAILED_HOW.get(failure.get("status"), failure.get("status") or "failed")


def exercise_status(entry):
    """passed | failed | missing | not_implemented | refused, of an ``exercise_tests`` entry."""
    test = entry["public"] or entry["hidden"]
    status = ((test or {}).get("extra_data") or {}).get("status")
    if status is None:  # a results file without the verdict as data (the grader failed)
        status = "passed" if all(t["status"] == "passed"
                                 for t in (entry["public"], entry["hidden"]) if t) else "failed"
    return status
