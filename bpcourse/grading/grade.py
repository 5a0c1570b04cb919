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
from contextlib import contextmanager
import os
from pathlib import Path
import sys
import threading
import time
import zlib

from ..checks.registry import EXERCISES
from ..checks.report import CaseResult, Report, judge, make_cases
from . import results as out
from .course import HIDDEN_CHOICES, graded_exercises
from .sandbox import Limits, Sandbox
from .sources import exercise_sources
from .submission import read, student_id, student_id_problem, student_key


NOTHING_RAN = "not needed (nothing to run)"


class Stages:
    """Seconds spent in each stage of grading, summed over the submissions (worker-seconds:
    with J workers they add up to about J × the wall time).  Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.seconds = {}

    @contextmanager
    def time(self, stage):
        start = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start

    def text(self):
        return ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())


_NO_STAGES = Stages()


class UsageError(Exception):
    pass


def student_seed(student, seed):
    """Inputs differ per student (shapes, values, hyper-parameters) but are reproducible."""
    return (zlib.crc32(student.encode()) + 7919 * int(seed)) % 2**31


def grade_one(sandbox, path, graded, seed, stages=_NO_STAGES):
    """Grade one submission; returns (student, results dict).

    Exercises that call other exercises by name (a whole network calls its layers, a training
    step calls the network) run first with the submission's own functions.  Where one of those
    did not pass (or is not in the submission), the exercise runs again, in a sandbox of its
    own, with the reference function in its place: as in the notebooks, where a function that
    fails its check is replaced by the reference, a mistake costs the points of the exercise
    where it is made, once."""
    start = time.perf_counter()
    sub, reports, isolation = grade_reports(sandbox, path, graded, seed, stages)
    with stages.time("sources"):
        sources = exercise_sources(sub, [g.name for g in graded])
    with stages.time("results"):
        result = out.results_json(sub.student, graded, reports, list(sub.problems),
                                  time.perf_counter() - start, isolation, sources)
    return sub.student, result


def grade_reports(sandbox, path, graded, seed, stages=_NO_STAGES):
    """Run and judge one submission: (Submission, {exercise: Report}, isolation)."""
    with stages.time("read"):
        sub = read(path, set(EXERCISES), {n: set(ex.uses) for n, ex in EXERCISES.items()})
    sseed = student_seed(sub.learner or sub.student, seed)
    reports, cases, runnable = {}, {}, []
    for g in graded:
        name = g.name
        if name in sub.uses_reference:
            reports[name] = _all_failed(name, sseed, g.hidden, "refused",
                                        f"{name} uses the course's reference implementation: it "
                                        f"{sub.uses_reference[name]}. Exercises that use bpcourse "
                                        f"earn no points; write the function yourself.")
        elif name not in sub.defined:
            message = f"{name} could not be graded: {sub.broken[name]}" if name in sub.broken \
                else f"{name} was not found in the submission"
            reports[name] = _all_failed(name, sseed, g.hidden,
                                        "refused" if name in sub.broken else "missing", message)
        else:
            with stages.time("cases"):
                cases[name] = make_cases(name, sseed, sub.defined, hidden=g.hidden)
            runnable.append(name)
    own = [n for n in runnable if all(u in sub.defined for u in _all_uses(n))]
    isolation = _run_and_judge(sandbox, sub, own, cases, reports, stages=stages)
    passed = {n for n, r in reports.items() if r.passed}
    noted = {}
    # First, in one sandbox, every such exercise with the reference in place of the plain
    # functions (layers) that did not pass, and the submission's own networks: no exercise
    # graded in that sandbox has its reference there.
    layers_only = {}
    for name in _needing_reference(runnable, own, reports, passed):
        uses = _all_uses(name)
        layers = [u for u in uses if u not in passed and not EXERCISES[u].uses]
        if layers and all(u in passed or u in sub.defined for u in uses if EXERCISES[u].uses):
            layers_only[name] = layers
    if layers_only:
        _run_and_judge(sandbox, sub, list(layers_only), cases, reports, layers_only, stages)
        noted.update(layers_only)
        passed |= {n for n in layers_only if reports[n].passed}
    # Then, level by level, those that need the reference of another such exercise (a training
    # step whose network did not pass): each level in a sandbox of its own, so that no exercise
    # ever runs beside the reference of itself.
    for level in _levels(runnable):
        inject = {}
        for name in _needing_reference(level, own, reports, passed, done=layers_only):
            inject[name] = [u for u in _all_uses(name) if u not in passed]
        if inject:
            _run_and_judge(sandbox, sub, list(inject), cases, reports, inject, stages)
            noted.update(inject)
        passed |= {n for n in level if reports[n].passed}
    for name, names in noted.items():
        if names:
            reports[name].note = (f"{name} was graded with the reference {', '.join(names)}: "
                                  f"yours did not pass or is not in the submission (their own "
                                  f"points are counted there).")
    return sub, reports, isolation


def _needing_reference(names, own, reports, passed, done=()):
    """Which of ``names`` (exercises that call others) must run (again) with the reference in
    place of what they call: those that did not run with the submission's own functions, and
    those that failed with them while something they call did not pass."""
    found = []
    for name in names:
        if not EXERCISES[name].uses or name in done and reports[name].passed:
            continue
        ran = name in own
        if ran and (reports[name].passed or reports[name].status in ("not_implemented", "missing")):
            continue
        missing = [u for u in _all_uses(name) if u not in passed]
        if (missing or not ran) and not (name in done and set(missing) <= set(done[name])):
            found.append(name)
    return found


def _all_uses(name):
    """What ``name`` calls, directly or through what it calls (a training step calls the
    network, which calls the layers), in course order."""
    found, todo = set(), list(EXERCISES[name].uses)
    while todo:
        u = todo.pop()
        if u in EXERCISES and u not in found:
            found.add(u)
            todo += EXERCISES[u].uses
    return [n for n in EXERCISES if n in found]


def _depth(name):
    """0 for a plain function, 1 for one that calls plain functions (a network), 2 for one
    that calls those (a training step), ..."""
    uses = EXERCISES[name].uses
    return 0 if not uses else 1 + max([_depth(u) for u in uses if u in EXERCISES] or [0])


def _levels(names):
    """The exercises that call other exercises, grouped by depth: the ones that call only
    plain functions first (a network calls layers), then those that call them (a training step)."""
    by_depth = {}
    for name in names:
        if EXERCISES[name].uses:
            by_depth.setdefault(_depth(name), []).append(name)
    return [by_depth[d] for d in sorted(by_depth)]


def _run_and_judge(sandbox, sub, names, cases, reports, inject=None, stages=_NO_STAGES):
    """Run the exercises ``names`` of ``sub`` in one sandbox and judge them into ``reports``;
    returns the sandbox's isolation report."""
    to_run, inject_keys, uses = {}, {}, {}
    # what an exercise calls runs before it: one that times out, crashes or runs out of
    # memory there is, in the exercises that call it (and in the calls of a backward through
    # it as the learner's own forward), a stand-in that fails at once (the exercises that
    # call it run again below, with the reference in its place)
    for name in sorted(names, key=_depth):
        # calls through the learner's own forward run apart: a forward that hangs or
        # crashes must not take the backward's other calls with it
        for key, own in ((name, False), (f"{name}.own", True)):
            calls = [[c for c in case.calls if _uses_own_forward(c) == own] for case in cases[name]]
            if any(calls):
                to_run[key] = calls
                called = (_all_uses(name) if EXERCISES[name].uses else []) + \
                    (_forwards(calls) if own else [])
                if called:
                    uses[key] = called
                if inject and inject.get(name):
                    inject_keys[key] = inject[name]
    if not to_run:
        return NOTHING_RAN
    with stages.time("sandbox"):   # inputs written, processes run, outputs read back
        outcomes, isolation = sandbox.run(sub.units, to_run, set(EXERCISES), inject_keys, uses)
    with stages.time("judge"):
        _judge_outcomes(names, cases, outcomes, reports)
    return isolation


def _judge_outcomes(names, cases, outcomes, reports):
    for name in names:
        name_cases = cases[name]
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


def _forwards(calls):
    """The functions whose outputs ``calls`` (per case, per call) take as a cache, and the
    functions those call (a network's forward calls the layers)."""
    forwards = {a["cache_of"]["fn"] for case in calls for c in case for a in c["args"]
                if isinstance(a, dict) and "cache_of" in a}
    return sorted(forwards.union(*[_all_uses(f) for f in forwards if f in EXERCISES]))


def _uses_own_forward(call):
    return any(isinstance(a, dict) and "cache_of" in a for a in call["args"])


def _all_failed(name, seed, hidden, status, message):
    cases = make_cases(name, seed, (), hidden=hidden)
    return Report(name, [CaseResult(c.label, False, message, None, status, c.hidden)
                         for c in cases])


def grade(submissions, out_dir, jobs=None, limits=None, exercises=None, solutions=None, seed=0,
          echo=print, hidden="as-set", reports=True, similarity=False, stages=None):
    """Grade ``submissions`` (paths) into ``out_dir``; returns {student: results dict}.

    With ``reports``, then writes the feedback pages and the class report (``reports.py``),
    and with ``similarity`` the similarity report, from the final results.  ``stages``
    (a ``Stages``) gets the time of each stage."""
    stages = stages or Stages()
    paths = [Path(p) for p in submissions]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such submission: {', '.join(missing)}")
    graded = graded_exercises(solutions, hidden)
    if exercises:
        unknown = [e for e in exercises if e not in EXERCISES]
        for e in unknown:
            echo(f"warning: {e!r} is not an exercise of the course; the exercises are: "
                 f"{', '.join(EXERCISES)}", file=sys.stderr)
        graded = [g for g in graded if g.name in exercises]
        if not graded:
            raise UsageError("none of the --exercises names is an exercise of the course")
    students, keys = {}, {}
    for p in paths:
        sid = student_id(p)
        if not sid or sid in (".", ".."):
            raise UsageError(f"cannot tell the student of {p}: give the file or folder by name")
        problem = student_id_problem(sid)
        if problem:
            raise UsageError(f"the student id {sid!r} of {p} cannot name a results folder: "
                             f"{problem}; expected a plain name (letters, digits, spaces, '-', "
                             f"'_', '.'): rename the submission")
        if student_key(sid) in keys:
            other = keys[student_key(sid)]
            raise UsageError(f"two submissions for student {sid!r}: {students[other]} and {p}"
                             + (f" (the ids {other!r} and {sid!r} differ only in case or Unicode "
                                f"form: one folder on many filesystems)" if other != sid else ""))
        keys[student_key(sid)] = sid
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
            futures = [pool.submit(_grade_safely, sandbox, p, graded, seed, stages) for p in students.values()]
            for future in futures:
                student, result = future.result()
                rows[student] = result
                out.write_student(out_dir, student, result)  # written as soon as known
    finally:
        sandbox.close()  # every sandboxed process is dead from here on
    for student, result in rows.items():  # and so these are the final, untampered files
        out.write_student(out_dir, student, result)
    out.atomic_write(out_dir / "gradebook.csv", out.gradebook_csv(graded, rows))
    if reports or similarity:
        from .reports import write_reports

        write_reports(out_dir, rows, solutions=solutions, reports=reports,
                      similarity=similarity, echo=echo)
    isolation = sorted({r["extra_data"]["isolation"] for r in rows.values()} - {NOTHING_RAN})
    return rows, graded, "; ".join(isolation) or NOTHING_RAN


def _grade_safely(sandbox, path, graded, seed, stages=_NO_STAGES):
    """A failure of the grader on one submission is reported for it; the batch goes on."""
    try:
        return grade_one(sandbox, path, graded, seed, stages)
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
                   help="CPU-time limit for each exercise of a submission (default: 5); "
                        "it may sleep or wait for half of it, at least 1 s, and the limit on the "
                        "clock is generous: 2 × it, at least it + 3 s")
    p.add_argument("--memory-mb", type=int, default=1024, metavar="MB",
                   help="memory limit of a submission's process (default: 1024)")
    p.add_argument("--exercises", nargs="+", metavar="NAME", help="grade only these exercises")
    p.add_argument("--solutions", metavar="DIR",
                   help="solution notebooks whose metadata sets the exercises and points "
                        "(default: the course's own points)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated inputs (default: 0)")
    p.add_argument("--hidden", choices=HIDDEN_CHOICES, default="as-set",
                   help="add the grader's hidden checks (other shapes and values, edge cases) to "
                        "the exercises whose solution cell says \"hidden\": true (as-set, the "
                        "default), to all exercises, or to none")
    p.add_argument("--no-reports", dest="reports", action="store_false",
                   help="write only results.json and gradebook.csv: no feedback pages, no class "
                        "report (for a huge class; `bpcourse report OUT` writes them later)")
    p.add_argument("--similarity", action="store_true",
                   help="also write OUT/similarity.html: pairs of near-identical exercise code, "
                        "to look at (see `bpcourse similarity --help`)")
    p.set_defaults(run=_run)


def _run(args):
    if args.jobs < 1 or args.timeout <= 0 or args.memory_mb < 64:
        print("bpcourse grade: --jobs must be ≥ 1, --timeout > 0 and --memory-mb ≥ 64",
              file=sys.stderr)
        return 2
    start = time.perf_counter()
    stages, later = Stages(), []

    def echo(*a, file=None, **k):  # what grading says on stdout comes after the table
        if file is None or file is sys.stdout:
            later.append(" ".join(map(str, a)))
        else:
            print(*a, file=file, **k)

    try:
        rows, graded, isolation = grade(
            args.submissions, args.out, jobs=args.jobs,
            limits=Limits(timeout=args.timeout, memory_mb=args.memory_mb),
            exercises=args.exercises, solutions=args.solutions, seed=args.seed,
            echo=echo, hidden=args.hidden, reports=args.reports,
            similarity=args.similarity, stages=stages)
    except UsageError as e:
        print(f"bpcourse grade: {e}", file=sys.stderr)
        return 2
    print(out.summary_table(graded, rows))
    print("", *later, sep="\n")
    print(f"stages, in seconds of a worker summed over the submissions ({args.jobs} workers): "
          f"{stages.text()}")
    print(f"graded {len(rows)} submission(s) in {time.perf_counter() - start:.1f} s; "
          f"results in {args.out}/ (gradebook.csv, <student>/results.json"
          f"{', report.html, <student>/feedback.html' if args.reports else ''}); "
          f"sandbox: {isolation}")
    if not all(part.startswith(("Landlock", NOTHING_RAN)) for part in isolation.split("; ")):
        print("WARNING: submitted code ran WITHOUT filesystem isolation (Landlock needs Linux "
              "≥ 5.13): it could read or write anything your user can. Grade untrusted "
              "submissions in a container or a throwaway account.", file=sys.stderr)
    return 0
