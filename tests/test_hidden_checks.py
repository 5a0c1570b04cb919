"""Public and hidden checks: the notebook runs the public ones and says so; the grader adds hidden
ones (the battery drawn again with other seeds, and edge cases) where the instructor asks, and
Gradescope shows them after the grades are published."""

import csv
import json
from pathlib import Path
import subprocess
import sys

import nbformat
from nbformat import v4
import pytest

from bpcourse import cli
from bpcourse.assign import AssignError, exercise_cells
from bpcourse.checks import check, run
from bpcourse.checks.report import make_cases
from bpcourse.grading.course import graded_exercises

BPCOURSE = Path(sys.executable).with_name("bpcourse")

ONLY_SMALL_BATCHES = '''
import numpy as np


def dense_forward(X, W, b):
    """Right for batches of up to 10 examples, the sizes it was tried on."""
    Z = np.zeros((len(X), W.shape[1]), dtype=X.dtype)
    for n in range(min(len(X), 10)):
        Z[n] = X[n] @ W + b
    return Z, (X, W, b)
'''


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BPCOURSE_HOME", str(tmp_path / "home"))


def _namespace(source):
    namespace = {}
    exec(compile(source, "learner.py", "exec"), namespace)
    return namespace


def test_hidden_cases_come_after_the_public_ones_and_differ_from_them():
    public = make_cases("dense_forward", 3, ())
    both = make_cases("dense_forward", 3, (), hidden=True)
    assert [c.label for c in both[:len(public)]] == [c.label for c in public]
    assert not any(c.hidden for c in both[:len(public)])
    hidden = both[len(public):]
    assert len(hidden) >= len(public) + 2 and all(c.hidden and c.label.startswith("hidden: ")
                                                  for c in hidden)
    shapes = {c.calls[0]["args"][0].shape for c in public}
    assert any(c.calls[0]["args"][0].shape not in shapes for c in hidden)   # other shapes


def test_the_notebook_says_its_checks_are_the_public_ones(capsys):
    def dense_forward(X, W, b):
        return X @ W + b, (X, W, b)

    check(dense_forward)
    assert "passed all 3 public checks (grading may run more, hidden ones)" in capsys.readouterr().out


def test_a_function_right_only_on_the_public_shapes_fails_the_hidden_checks():
    fn = _namespace(ONLY_SMALL_BATCHES)["dense_forward"]
    assert run("dense_forward", {"dense_forward": fn}).passed
    from bpcourse.checks.report import judge
    from bpcourse.checks import driver

    cases = make_cases("dense_forward", 0, (), hidden=True)
    rep = judge("dense_forward", cases, [driver.run_calls({"dense_forward": fn}, c.calls) for c in cases])
    failed = [r for r in rep.results if not r.passed]
    assert failed and all(r.hidden for r in failed)
    assert "checks (3 public" in rep.text()


def _solutions(tmp_path, meta):
    folder = tmp_path / "solutions"
    folder.mkdir()
    cell = v4.new_code_cell("def dense_forward(X, W, b):\n    ### BEGIN SOLUTION\n    return X @ W + b, "
                            "(X, W, b)\n    ### END SOLUTION")
    cell.metadata["bpcourse"] = meta
    nb = v4.new_notebook(cells=[cell])
    nbformat.write(nb, folder / "01_forward_pass.ipynb")
    return folder


def test_instructors_switch_hidden_checks_on_per_exercise(tmp_path):
    folder = _solutions(tmp_path, {"exercise": "dense_forward", "points": 2, "hidden": True})
    (g,) = graded_exercises(folder)
    assert g.hidden
    assert not graded_exercises(folder, hidden="none")[0].hidden
    assert all(g.hidden for g in graded_exercises(hidden="all"))
    assert not any(g.hidden for g in graded_exercises())        # the course's default: off
    bad = nbformat.read(folder / "01_forward_pass.ipynb", as_version=4)
    bad.cells[0].metadata["bpcourse"]["hidden"] = "yes"
    with pytest.raises(AssignError, match="hidden must be true or false"):
        exercise_cells(bad, "01_forward_pass.ipynb")


def test_graded_with_hidden_checks_gradescope_shows_them_after_publishing(tmp_path):
    sub = tmp_path / "small.py"
    sub.write_text(ONLY_SMALL_BATCHES)
    folder = _solutions(tmp_path, {"exercise": "dense_forward", "points": 2, "hidden": True})
    out = tmp_path / "out"
    r = subprocess.run([str(BPCOURSE), "grade", str(sub), "--out", str(out), "--solutions", str(folder)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    result = json.loads((out / "small" / "results.json").read_text())
    public, hidden = result["tests"]
    assert public["name"].endswith("dense_forward (public checks)") and public["visibility"] == "visible"
    assert hidden["name"].endswith("dense_forward (hidden checks)")
    assert hidden["visibility"] == "after_published"
    assert public["score"] == public["max_score"] and hidden["score"] < hidden["max_score"]
    assert public["max_score"] + hidden["max_score"] == pytest.approx(2)
    assert result["score"] == pytest.approx(public["score"] + hidden["score"])
    assert "✗ hidden: a batch of 67 examples" in hidden["output"]
    # the learner sees the public test at once: nothing of the hidden checks' inputs in it
    assert "hidden:" not in public["output"] and "67" not in public["output"]
    assert "5 hidden checks ran too" in public["output"]
    rows = list(csv.reader((out / "gradebook.csv").open()))
    assert rows[0] == ["student", "dense_forward", "total"]
    assert float(rows[2][1]) == pytest.approx(result["score"])
    again = tmp_path / "again"                               # --hidden none: the public ones only
    assert cli.main(["grade", str(sub), "--out", str(again), "--solutions", str(folder),
                     "--hidden", "none"]) == 0
    (only,) = json.loads((again / "small" / "results.json").read_text())["tests"]
    assert only["score"] == only["max_score"] == 2 and only["visibility"] == "visible"
