"""The similarity report: normalized code (names and numbers abstracted), winnowed with
copydetect, compared pair by pair beyond the common ground (the reference, the stubs, the
solutions, what most of the class shares); it flags and says it does not accuse."""

import json
import os
from pathlib import Path
import subprocess
import sys
import textwrap

import pytest

from bpcourse import cli
from bpcourse.checks.registry import EXERCISES
from bpcourse.checks.report import CaseResult, Report
from bpcourse.grading import similarity as sim
from bpcourse.grading.course import GradedExercise
from bpcourse.grading.results import results_json, write_student
from bpcourse.grading.sources import exercise_source, exercise_sources, full_text
from bpcourse.grading.submission import read

sys.path.insert(0, str(Path(__file__).resolve().parent / "submissions"))
import catalogue  # noqa: E402

BPCOURSE = Path(sys.executable).with_name("bpcourse")
REPO = Path(__file__).resolve().parent.parent

STAGED = '''
def batchnorm_backward(dout, cache):
    X, X_hat, mu, var, gamma, eps = cache
    N = X.shape[0]
    std = np.sqrt(var + eps)
    dgamma = np.sum(dout * X_hat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dxhat = dout * gamma
    dvar = np.sum(dxhat * (X - mu), axis=0) * -0.5 * std ** -3
    dmu = np.sum(-dxhat / std, axis=0) + dvar * np.mean(-2.0 * (X - mu), axis=0)
    dX = dxhat / std + dvar * 2.0 * (X - mu) / N + dmu / N
    return dX, dgamma, dbeta
'''
# STAGED with other names, other literals, a docstring, comments, blank lines, type hints
RENAMED = '''
def batchnorm_backward(g: "array", c) -> tuple:
    """My own batch norm backward."""
    inp, xn, m, s2, scale, e = c
    n = inp.shape[0]
    sd = np.sqrt(s2 + e)        # the standard deviation
    dscale = np.sum(g * xn, axis=0)
    dshift = np.sum(g, axis=0)

    dxn = g * scale
    ds2 = np.sum(dxn * (inp - m), axis=0) * -0.5 * sd ** -3
    dm = np.sum(-dxn / sd, axis=0) + ds2 * np.mean(-2 * (inp - m), axis=0)
    dinp = dxn / sd + ds2 * 2 * (inp - m) / n + dm / n
    return dinp, dscale, dshift
'''
# another student's staged derivation: the same maths, written independently
OTHER = '''
def batchnorm_backward(dout, cache):
    X, X_hat, mu, var, gamma, eps = cache
    N, D = X.shape
    xmu = X - mu
    ivar = 1.0 / np.sqrt(var + eps)
    dbeta = dout.sum(axis=0)
    dgamma = (X_hat * dout).sum(axis=0)
    dxhat = dout * gamma
    divar = (dxhat * xmu).sum(axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1.0 / (var + eps) * divar
    dvar = 0.5 * ivar * dsqrtvar
    dsq = np.ones((N, D)) / N * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -1 * dx1.sum(axis=0)
    dx2 = np.ones((N, D)) / N * dmu
    return dx1 + dx2, dgamma, dbeta
'''
# STAGED with its last three statements rewritten: about half of it in common
HALF = STAGED.replace(
    "    dvar = np.sum(dxhat * (X - mu), axis=0) * -0.5 * std ** -3\n"
    "    dmu = np.sum(-dxhat / std, axis=0) + dvar * np.mean(-2.0 * (X - mu), axis=0)\n"
    "    dX = dxhat / std + dvar * 2.0 * (X - mu) / N + dmu / N\n",
    "    centred = X - mu\n"
    "    dvar = (dxhat * centred).sum(0) * (-0.5) * (var + eps) ** -1.5\n"
    "    dmu = -(dxhat / std).sum(0) - 2.0 * dvar * centred.mean(0)\n"
    "    dX = dxhat / std + 2.0 * dvar * centred / N + dmu / N\n")


def _solution(name):
    """The course's solution of ``name``, from solutions/ (the reference solution)."""
    return exercise_source(read(REPO / "solutions", set(EXERCISES)), name)["source"]


def _rows(tmp_path, students, names=("batchnorm_backward",)):
    """{student: results dict} as the grader writes them, with each student's code for the
    exercises ``names`` (others are left as correct.py has them); every check passed."""
    graded = [GradedExercise(n, EXERCISES[n].notebook, 1) for n in names]
    rows = {}
    for student, code in students.items():
        path = catalogue.write_py(tmp_path / f"{student}.py", {names[0]: code} if code else {})
        sub = read(path, set(EXERCISES))
        reports = {n: Report(n, [CaseResult("a check", True)]) for n in names}
        rows[student] = results_json(student, graded, reports, [], 1.0, "test",
                                     exercise_sources(sub, list(names)))
    return rows


def _pairs(found):
    return {(p["exercise"], p["a"], p["b"]): p["score"] for p in found["pairs"]}


# ---------------------------------------------------------------- normalizing

def test_names_literals_comments_docstrings_and_hints_do_not_change_the_tokens():
    a, b = sim.tokens(textwrap.dedent(STAGED)), sim.tokens(textwrap.dedent(RENAMED))
    assert [t for t, _ in a] == [t for t, _ in b]
    assert "V" in [t for t, _ in a] and "NUM" in [t for t, _ in a]
    assert not {"dout", "cache", "X_hat", "std", "batchnorm_backward"} & {t for t, _ in a}
    assert {".sum", ".shape", "axis=", ".sqrt"} <= {t for t, _ in a}     # the API stays
    lines = {t: ln for t, ln in b}
    assert lines["Return"] == 14                                         # lines are kept


def test_what_the_code_does_changes_the_tokens():
    base = sim.tokens("def f(x):\n    return np.sum(x, axis=0) + len(x)\n")
    for other in ("def f(x):\n    return np.mean(x, axis=0) + len(x)\n",    # another function
                  "def f(x):\n    return np.sum(x, keepdims=0) + len(x)\n",  # another keyword
                  "def f(x):\n    return np.sum(x, axis=0) - len(x)\n",     # another operator
                  "def f(x):\n    return np.sum(x, axis=0) + abs(x)\n",     # another builtin
                  "def f(x):\n    return np.sum(x, axis=None) + len(x)\n"):  # None is not a number
        assert sim.tokens(other) != base, other


def test_code_that_does_not_parse_is_skipped_with_a_reason(tmp_path):
    rows = _rows(tmp_path, {"ann": STAGED, "ben": RENAMED})
    rows["ben"]["tests"][0]["extra_data"]["source"]["source"] = "def batchnorm_backward(:\n"
    found = sim.similarity_report(rows)
    assert found["pairs"] == []
    assert found["skipped"]["batchnorm_backward"][0][0] == "ben"
    assert "does not parse" in found["skipped"]["batchnorm_backward"][0][1]


# ---------------------------------------------------------------- flagging pairs

@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("similar")
    solution = _solution("batchnorm_backward")
    students = {"ann": STAGED, "ben": RENAMED, "cat": OTHER, "hal": HALF,
                "ref1": solution, "ref2": solution.replace("dX_hat", "g_hat")}
    return _rows(tmp, students)


def test_a_renamed_copy_is_flagged_and_independent_work_is_not(klass):
    found = sim.similarity_report(klass, solutions=REPO / "solutions")
    pairs = _pairs(found)
    assert pairs == {("batchnorm_backward", "ann", "ben"): 1.0}
    (pair,) = found["pairs"]
    assert pair["lines_a"] and pair["lines_b"] and pair["share_a"] == pair["share_b"] == 1.0


def test_the_score_measures_how_much_is_shared(klass):
    """Half of the code in common scores about a half: below the threshold, above a low one."""
    fp = {s: sim.fingerprint(sim.tokens(full_text(r["tests"][0]["extra_data"]["source"])))
          for s, r in klass.items()}
    half, _, _, lines_a, _ = sim.compare(fp["ann"], fp["hal"])
    other, _, _, _, _ = sim.compare(fp["ann"], fp["cat"])
    assert 0.3 < half < 0.85 and other < 0.45 and other < half
    assert {2, 3, 4, 5, 6, 7} <= set(lines_a)   # the statements left as they were
    low = sim.similarity_report(klass, solutions=REPO / "solutions", threshold=0.3)
    assert ("batchnorm_backward", "ann", "hal") in _pairs(low)


def test_the_reference_solution_is_common_ground(klass):
    """Two students who both wrote the course's solution are not flagged: it is common
    ground, so nothing of their own is left to compare."""
    found = sim.similarity_report(klass, solutions=REPO / "solutions")
    skipped = dict(found["skipped"]["batchnorm_backward"])
    assert set(skipped) == {"ref1", "ref2"} and "not compared" in skipped["ref1"]
    # without the common ground they are as identical as ann and ben
    bare = sim.similarity_report(klass, solutions=REPO / "solutions", min_tokens=0,
                                 common_share=1.0)
    assert ("batchnorm_backward", "ann", "ben") in _pairs(bare)
    ground = sim.common_ground(["batchnorm_backward"], REPO / "solutions")["batchnorm_backward"]
    fp = sim.fingerprint(sim.tokens(_solution("batchnorm_backward")))
    assert fp.hashes <= ground


def test_the_stub_and_the_reference_implementation_are_common_ground():
    ground = sim.common_ground(["dense_backward"])["dense_backward"]
    stub = exercise_source(read(REPO / "bpcourse" / "notebooks", set(EXERCISES)), "dense_backward")
    assert "NotImplementedError" in stub["source"]
    assert set(sim.winnowed(sim.tokens(stub["source"]))) <= ground
    import inspect

    from bpcourse import layers
    assert set(sim.winnowed(sim.tokens(inspect.getsource(layers.dense_backward)))) <= ground


def test_what_most_of_the_class_wrote_is_common_ground(tmp_path):
    five = _rows(tmp_path, {"a1": STAGED, "a2": RENAMED, "a3": STAGED, "b1": OTHER, "c1": HALF})
    assert sim.similarity_report(five)["pairs"] == []          # 3 of 5 wrote it: common
    four = {k: v for k, v in five.items() if k != "a3"}
    assert _pairs(sim.similarity_report(four)) == {("batchnorm_backward", "a1", "a2"): 1.0}


def test_scores_do_not_change_from_run_to_run(klass, tmp_path):
    """Python's hash of text changes with each process (copydetect's own fingerprints
    would): the report's must not."""
    out = tmp_path / "out"
    for student, result in klass.items():
        write_student(out, student, result)
    reports = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        r = subprocess.run([str(BPCOURSE), "similarity", str(out), "--threshold", "0.3"],
                           capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        reports.append(json.loads((out / "similarity.json").read_text(encoding="utf-8")))
    assert reports[0]["pairs"] == reports[1]["pairs"] and len(reports[0]["pairs"]) >= 2
    assert "flags for a person to look at, not findings" in r.stdout


# ---------------------------------------------------------------- the page

def test_the_page_flags_without_accusing_and_shows_the_pair_side_by_side(klass, tmp_path):
    found = sim.similarity_report(klass, solutions=REPO / "solutions")
    sim.write(tmp_path, found)
    html = (tmp_path / "similarity.html").read_text(encoding="utf-8")
    assert "Flags, not accusations." in html and "not findings of misconduct" in html
    assert html.count('<section class="pair"') == 1
    pair = html[html.index('<section class="pair"'):]
    assert pair.count('<div class="highlight">') == 2
    assert pair.count('<span class="hll">') == len(found["pairs"][0]["lines_a"]) + \
        len(found["pairs"][0]["lines_b"])
    assert "# the standard deviation" in pair                 # the code as written
    data = json.loads((tmp_path / "similarity.json").read_text(encoding="utf-8"))
    assert data["note"] == sim.DISCLAIMER and data["pairs"] == found["pairs"]
    assert data["settings"]["threshold"] == sim.THRESHOLD


def test_pairs_flagged_in_several_exercises_are_listed(tmp_path):
    names = ("batchnorm_backward", "adam_step")
    adam = '''
        def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
            m = beta1 * m + (1 - beta1) * dw
            v = beta2 * v + (1 - beta2) * np.square(dw)
            corr1 = 1 - np.power(beta1, t)
            corr2 = 1 - np.power(beta2, t)
            step = lr * (m / corr1) / (np.sqrt(v / corr2) + eps)
            return w - step, m, v
        '''
    rows = {}
    for student, code in {"ann": STAGED, "ben": RENAMED, "cat": OTHER}.items():
        path = catalogue.write_py(tmp_path / f"{student}.py",
                                  {"batchnorm_backward": code,
                                   "adam_step": adam if student != "cat" else None})
        sub = read(path, set(EXERCISES))
        graded = [GradedExercise(n, EXERCISES[n].notebook, 1) for n in names]
        reports = {n: Report(n, [CaseResult("a check", True)]) for n in names}
        rows[student] = results_json(student, graded, reports, [], 1.0, "test",
                                     exercise_sources(sub, list(names)))
    found = sim.similarity_report(rows)
    assert set(_pairs(found)) == {("batchnorm_backward", "ann", "ben"), ("adam_step", "ann", "ben")}
    html = sim.similarity_html(found)
    assert "Pairs flagged in more than one exercise" in html
    assert "batchnorm_backward, adam_step" in html


def test_similarity_of_a_folder_without_results_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["similarity", str(tmp_path)]) == 2
    assert cli.main(["similarity", str(tmp_path), "--threshold", "1.5"]) == 2
