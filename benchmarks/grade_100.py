"""How long does ``bpcourse grade`` take on a class of 100 submissions?

Generates N submissions in a temporary folder (a realistic mix: ~60 % correct, ~30 % with
one typical mistake from the catalogue of wrong submissions, ~10 % with an exercise that
times out or crashes), grades them with ``bpcourse grade ... --jobs J`` as a subprocess
(which writes the feedback pages and the class report too, unless ``--no-reports``), and
prints the wall time, the CPU time of the grading and of everything it started, the load
average of the machine before and after (it is shared: a busy machine is slower), the time
the reports took and the seconds of each stage of grading (as ``bpcourse grade`` measured
them: reading the submission, making the cases, the sandbox, judging, ...), the mean per
submission and the
distribution of the scores.  Exits non-zero if grading failed (a non-zero exit code, a
student without results, or without a feedback page, or no class report).

    python benchmarks/grade_100.py [--n 100] [--jobs 2] [--timeout 2] [--seed 0] [--keep DIR]
                                   [--no-reports] [--similarity]
"""

import argparse
from collections import Counter
import importlib.util
import json
import os
from pathlib import Path
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

REPO = Path(__file__).resolve().parent.parent


def _catalogue():
    path = REPO / "tests" / "submissions" / "catalogue.py"
    spec = importlib.util.spec_from_file_location("bpcourse_test_catalogue", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bpcourse():
    here = Path(sys.executable).with_name("bpcourse")
    return str(here) if here.exists() else shutil.which("bpcourse") or "bpcourse"


def make_class(folder, n, seed):
    """Write n submissions into folder; returns {student: kind}."""
    cat = _catalogue()
    rng = random.Random(seed)
    kinds = {}
    for i in range(n):
        student = f"student{i:03d}"
        draw = rng.random()
        if draw < 0.6:
            cat.write_py(folder / f"{student}.py")
            kinds[student] = "correct"
        elif draw < 0.9:
            key = rng.choice(sorted(cat.WRONG))
            wrong = cat.WRONG[key]
            cat.write_py(folder / f"{student}.py", {wrong.exercise: wrong.code})
            kinds[student] = f"wrong: {key}"
        else:
            key = rng.choice(sorted(cat.HOSTILE_SIMPLE))
            exercise, code = cat.HOSTILE_SIMPLE[key]
            cat.write_py(folder / f"{student}.py", {exercise: code})
            kinds[student] = f"hostile: {key}"
    return kinds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="number of submissions (default 100)")
    parser.add_argument("--jobs", type=int, default=2, help="bpcourse grade --jobs (default 2)")
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="bpcourse grade --timeout, per exercise (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mix (default 0)")
    parser.add_argument("--keep", metavar="DIR", help="keep the submissions and results in DIR")
    parser.add_argument("--no-reports", dest="reports", action="store_false",
                        help="grade with --no-reports (no feedback pages, no class report)")
    parser.add_argument("--similarity", action="store_true",
                        help="grade with --similarity (the similarity report too)")
    args = parser.parse_args(argv)

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="grade100-"))
    try:
        subs, out = root / "submissions", root / "out"
        subs.mkdir(parents=True, exist_ok=True)
        kinds = make_class(subs, args.n, args.seed)
        mix = Counter(k.split(":")[0] for k in kinds.values())
        print(f"{args.n} submissions: " + ", ".join(f"{v} {k}" for k, v in sorted(mix.items())))
        command = [_bpcourse(), "grade", *sorted(map(str, subs.glob("*.py"))), "--out", str(out),
                   "--jobs", str(args.jobs), "--timeout", f"{args.timeout:g}"]
        command += [] if args.reports else ["--no-reports"]
        command += ["--similarity"] if args.similarity else []
        load_before = os.getloadavg()
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        r = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - start
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_after = os.getloadavg()
        user = cpu_after.ru_utime - cpu_before.ru_utime
        system = cpu_after.ru_stime - cpu_before.ru_stime
        results = {}
        for student in kinds:
            path = out / student / "results.json"
            if path.exists():
                results[student] = json.loads(path.read_text(encoding="utf-8"))
        missing = sorted(set(kinds) - set(results))
        print(f"bpcourse grade --jobs {args.jobs} --timeout {args.timeout:g}: exit {r.returncode}")
        print(f"wall time {wall:.1f} s, {wall / args.n:.2f} s per submission "
              f"({wall * args.jobs / args.n:.2f} s of a worker each)")
        print(f"CPU time {user + system:.1f} s (user {user:.1f} s, system {system:.1f} s) of "
              f"the grader and every process it started: {(user + system) / wall:.2f} cores "
              f"busy on average, of {os.cpu_count()}")
        print("load average (1, 5, 15 min) before " + " ".join(f"{x:.2f}" for x in load_before)
              + ", after " + " ".join(f"{x:.2f}" for x in load_after))
        reports = re.search(r"^reports written in ([0-9.]+) s: (.*)$", r.stdout, re.MULTILINE)
        if reports:
            print(f"reports: {float(reports.group(1)):.1f} s of the wall time "
                  f"({reports.group(2)})")
        stages = re.search(r"^stages, in seconds of a worker summed over the submissions "
                           r"\((\d+) workers\): (.*)$", r.stdout, re.MULTILINE)
        if stages:
            print(f"stages (seconds of a worker, summed over the submissions; {stages.group(1)} "
                  f"workers): {stages.group(2)}")
        by_kind = {}
        for student, result in results.items():
            by_kind.setdefault(kinds[student].split(":")[0], []).append(result["score"])
        maximum = max((sum(t["max_score"] for t in r_["tests"]) for r_ in results.values()), default=0)
        print(f"scores (out of {maximum:g}):")
        for kind, scores in sorted(by_kind.items()):
            print(f"  {kind:<8} n={len(scores):<3} mean {sum(scores) / len(scores):6.2f}  "
                  f"min {min(scores):g}  max {max(scores):g}")
        histogram = Counter(int(s) for s in (r_["score"] for r_ in results.values()))
        for score in sorted(histogram):
            print(f"  {score:>4} | {'#' * histogram[score]}")
        wrong_full = [s for s, k in kinds.items() if k != "correct" and s in results
                      and results[s]["score"] == maximum]
        correct_short = [s for s, k in kinds.items() if k == "correct" and s in results
                         and results[s]["score"] != maximum]
        problems = []
        if r.returncode != 0:
            problems.append(f"bpcourse grade exited with {r.returncode}:\n{r.stderr[-3000:]}")
        if missing:
            problems.append(f"no results for {len(missing)} students: {missing[:10]}")
        if args.reports:
            no_page = sorted(s for s in results if not (out / s / "feedback.html").is_file())
            if no_page:
                problems.append(f"no feedback.html for {len(no_page)} students: {no_page[:10]}")
            if not (out / "report.html").is_file() or not reports:
                problems.append("no class report (report.html) was written")
        if args.similarity and not (out / "similarity.html").is_file():
            problems.append("no similarity.html was written")
        if correct_short:
            problems.append(f"correct submissions without full marks: {correct_short[:10]}")
        if wrong_full:
            problems.append(f"wrong or hostile submissions with full marks: "
                            f"{[(s, kinds[s]) for s in wrong_full[:10]]}")
        for p in problems:
            print(f"FAILED: {p}", file=sys.stderr)
        return 1 if problems else 0
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
