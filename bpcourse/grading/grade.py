"""``bpcourse grade``: grade submissions with the course's check battery, safely.

For each student: read the submission (parsed, never run here); generate the test inputs
from a seed derived from the student id (or from the learner that the manifest of a
``bpcourse submit`` zip names, so that ``bpcourse progress``, ``bpcourse grade`` and
Gradescope give the same score); run the student's functions on them in a
sandboxed process (``sandbox.py``, ``runner.py``); judge the outputs here against the
reference (``bpcourse.checks``); write ``OUT/<student>/results.json`` atomically.  When all
students are done and every sandboxed process is gone, all results are written again from
memory (so nothing a submission did while running can survive) with ``OUT/gradebook.csv``.
"""

from concurrent.futures import ThreadPoolExecutor
import os
from pathlib import Path
import sys
import time
import zlib

from ..checks.registry import EXERCISES
from ..checks.report import CaseResult, Report, judge, make_cases
from . import results as out
from .course import graded_exercises
from .sandbox import Limits, Sandbox
from .submission import read, student_id


NOTHING_RAN = "not needed (nothing to run)"


class UsageError(Exception):
    pass


def student_seed(student, seed):
    """Inputs differ per student (shapes, values, hyper-parameters) but are reproducible."""
    return (zlib.crc32(student.encode()) + 7919 * int(seed)) % 2**31


def grade_one(sandbox, path, graded, seed):
    """Grade one submission; returns (student, results dict)."""
    start = time.perf_counter()
    sub, reports, isolation = grade_reports(sandbox, path, graded, seed)
    result = out.results_json(sub.student, graded, reports, list(sub.problems),
                              time.perf_counter() - start, isolation)
    return sub.student, result


def grade_reports(sandbox, path, graded, seed):
    """Run and judge one submission: (Submission, {exercise: Report}, isolation)."""
    sub = read(path, set(EXERCISES))
    sseed = student_seed(sub.learner or sub.student, seed)
    reports, to_run, cases = {}, {}, {}
    for g in graded:
        name = g.name
        if name in sub.uses_reference:
            reports[name] = _all_failed(name, sseed, "refused",
                                        f"{name} uses the course's reference implementation: it "
                                        f"{sub.uses_reference[name]}. Exercises that use bpcourse "
                                        f"earn no points; write the function yourself.")
        elif name not in sub.defined:
            message = f"{name} could not be graded: {sub.broken[name]}" if name in sub.broken \
                else f"{name} was not found in the submission"
            reports[name] = _all_failed(name, sseed, "refused" if name in sub.broken else "missing",
                                        message)
        else:
            cases[name] = make_cases(name, sseed, sub.defined)
            # calls through the learner's own forward run apart: a forward that hangs or
            # crashes must not take the backward's other calls with it
            for key, own in ((name, False), (f"{name}.own", True)):
                calls = [[c for c in case.calls if _uses_own_forward(c) == own] for case in cases[name]]
                if any(calls):
                    to_run[key] = calls
    outcomes, isolation = sandbox.run(sub.units, to_run, set(EXERCISES)) if to_run \
        else ({}, NOTHING_RAN)
    for name, name_cases in cases.items():
        got = [[None] * len(case.calls) for case in name_cases]
        for key, own in ((name, False), (f"{name}.own", True)):
            if key not in outcomes:
                continue
            outcome = outcomes[key]
            for k, case in enumerate(name_cases):
                slots = [i for i, c in enumerate(case.calls) if _uses_own_forward(c) == own]
                for j, i in enumerate(slots):
                    got[k][i] = outcome.results[k][j] if outcome.state == "done" else \
                        {"status": "timeout" if outcome.state == "timeout" else "crashed",
                         "error": outcome.detail}
        reports[name] = judge(name, name_cases, got)
    return sub, reports, isolation


def _uses_own_forward(call):
    return any(isinstance(a, dict) and "cache_of" in a for a in call["args"])


def _all_failed(name, seed, status, message):
    cases = make_cases(name, seed, ())
    return Report(name, [CaseResult(c.label, False, message, None, status) for c in cases])


def grade(submissions, out_dir, jobs=None, limits=None, exercises=None, solutions=None, seed=0,
          echo=print):
    """Grade ``submissions`` (paths) into ``out_dir``; returns {student: results dict}."""
    paths = [Path(p) for p in submissions]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such submission: {', '.join(missing)}")
    graded = graded_exercises(solutions)
    if exercises:
        unknown = [e for e in exercises if e not in EXERCISES]
        for e in unknown:
            echo(f"warning: {e!r} is not an exercise of the course; the exercises are: "
                 f"{', '.join(EXERCISES)}", file=sys.stderr)
        graded = [g for g in graded if g.name in exercises]
        if not graded:
            raise UsageError("none of the --exercises names is an exercise of the course")
    students = {}
    for p in paths:
        sid = student_id(p)
        if not sid or sid in (".", ".."):
            raise UsageError(f"cannot tell the student of {p}: give the file or folder by name")
        if sid in students:
            raise UsageError(f"two submissions for student {sid!r}: {students[sid]} and {p}")
        students[sid] = p
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot use {out_dir} as the results folder: {e.strerror}") from None
    sandbox = Sandbox(limits or Limits())
    rows = {}
    try:
        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
            futures = [pool.submit(_grade_safely, sandbox, p, graded, seed) for p in students.values()]
            for future in futures:
                student, result = future.result()
                rows[student] = result
                out.write_student(out_dir, student, result)  # written as soon as known
    finally:
        sandbox.close()  # every sandboxed process is dead from here on
    for student, result in rows.items():  # and so these are the final, untampered files
        out.write_student(out_dir, student, result)
    out.atomic_write(out_dir / "gradebook.csv", out.gradebook_csv(graded, rows))
    isolation = sorted({r["extra_data"]["isolation"] for r in rows.values()} - {NOTHING_RAN})
    return rows, graded, "; ".join(isolation) or NOTHING_RAN


def _grade_safely(sandbox, path, graded, seed):
    """A failure of the grader on one submission is reported for it; the batch goes on."""
    try:
        return grade_one(sandbox, path, graded, seed)
    except Exception as e:  # a bug of ours must not lose the other students' results
        student = student_id(path)
        reports = {g.name: Report(g.name, [CaseResult("grading", False,
                                                      f"the grader failed: {type(e).__name__}: {e}",
                                                      None, "error")]) for g in graded}
        return student, out.results_json(student, graded, reports,
                                         [f"the grader failed on this submission ({e})"], 0.0,
                                         "unknown (the grader failed)")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "grade", help="grade submissions (notebooks, .py files or folders) into a results folder",
        description="Grade student submissions with the course's checks. Submitted code runs in "
                    "separate, limited processes; results are judged outside them. Writes "
                    "OUT/<student>/results.json (Gradescope's format) and OUT/gradebook.csv.")
    p.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                   help="a student notebook (.ipynb), a module (.py), a folder or a zip of one student's "
                        "files (what `bpcourse submit` writes)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the results to")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="submissions graded in parallel (default: the number of cores)")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="time limit for each exercise of a submission (default: 5)")
    p.add_argument("--memory-mb", type=int, default=1024, metavar="MB",
                   help="memory limit of a submission's process (default: 1024)")
    p.add_argument("--exercises", nargs="+", metavar="NAME", help="grade only these exercises")
    p.add_argument("--solutions", metavar="DIR",
                   help="solution notebooks whose metadata sets the exercises and points "
                        "(default: the course's own points)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated inputs (default: 0)")
    p.set_defaults(run=_run)


def _run(args):
    if args.jobs < 1 or args.timeout <= 0 or args.memory_mb < 64:
        print("bpcourse grade: --jobs must be ≥ 1, --timeout > 0 and --memory-mb ≥ 64",
              file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        rows, graded, isolation = grade(
            args.submissions, args.out, jobs=args.jobs,
            limits=Limits(timeout=args.timeout, memory_mb=args.memory_mb),
            exercises=args.exercises, solutions=args.solutions, seed=args.seed,
            echo=lambda *a, **k: print(*a, **k))
    except UsageError as e:
        print(f"bpcourse grade: {e}", file=sys.stderr)
        return 2
    print(out.summary_table(graded, rows))
    print(f"\ngraded {len(rows)} submission(s) in {time.perf_counter() - start:.1f} s; "
          f"results in {args.out}/ (gradebook.csv, <student>/results.json); "
          f"sandbox: {isolation}")
    if not all(part.startswith(("Landlock", NOTHING_RAN)) for part in isolation.split("; ")):
        print("WARNING: submitted code ran WITHOUT filesystem isolation (Landlock needs Linux "
              "≥ 5.13): it could read or write anything your user can. Grade untrusted "
              "submissions in a container or a throwaway account.", file=sys.stderr)
    return 0
