"""Helpers of the workspace tests: a tiny course to make and update workspaces from, and the
learner's edits of real course notebooks (with correct.py's functions)."""

import json
from pathlib import Path
import sys

import nbformat
from nbformat import v4

from bpcourse.grading.course import graded_exercises

sys.path.insert(0, str(Path(__file__).resolve().parent / "submissions"))
import catalogue  # noqa: E402

GRADED = graded_exercises()
POINTS = {g.name: g.points for g in GRADED}
NOTEBOOK = {g.name: f"{g.notebook}.ipynb" for g in GRADED}
#: a time limit per exercise far above what any takes, so that a test machine busy with the
#: rest of the suite cannot time one out (the default, 5 s, is the learner's)
SLACK = 60


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*"))
            if p.is_file()}


# ---------------------------------------------------------------- a tiny course

def md(source, id):
    cell = v4.new_markdown_cell(source)
    cell.id = id
    return cell


def code(source, id, exercise=None, text=None):
    cell = v4.new_code_cell(source)
    cell.id = id
    if exercise:
        cell.metadata["bpcourse"] = {"exercise": exercise, "points": 2}
    if text is not None:
        cell.outputs = [v4.new_output("stream", name="stdout", text=text)]
        cell.execution_count = 1
    return cell


STUB = "def dense_forward(X, W, b):\n    # YOUR CODE HERE\n    raise NotImplementedError('one product')"
MINE = "def dense_forward(X, W, b):\n    return X @ W + b, (X, W, b)"


def notebook(*cells):
    nb = v4.new_notebook(cells=[nbformat.from_dict(json.loads(json.dumps(c))) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat.writes(nb) + "\n"


def first_release():
    return {
        "01_dense.ipynb": [md("# Dense\nZ = XW + b.", "a0"), code(STUB, "a1", "dense_forward"),
                           code("dense_forward = check(dense_forward)", "a2"), md("## The end", "a3")],
        "02_demo.ipynb": [md("# Demo", "b0"), code("print(1)", "b1", text="1\n"), md("Bye", "b2")],
    }


def write_release(folder, release):
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.ipynb"):
        old.unlink()
    for name, cells in release.items():
        (folder / name).write_text(notebook(*cells), encoding="utf-8")
    return folder


def read(path):
    return nbformat.read(path, as_version=4)


def edit(path, change):
    nb = read(path)
    change(nb)
    nbformat.write(nb, path)


def learner_implements(nb):
    nb.cells[1].source = MINE


# ---------------------------------------------------------------- real course notebooks

def exercise_cell(nb, name):
    return next(c for c in nb.cells if c.metadata.get("bpcourse", {}).get("exercise") == name)


def solution_source(name, replacement=None):
    """The learner's code for exercise ``name``: correct.py's (or ``replacement``), with its helper."""
    (cell,) = catalogue.exercise_cells([name], {name: replacement} if replacement else None,
                                       check_cells=False)
    return cell["source"]


def set_exercise(path, name, source):
    nb = nbformat.read(path, as_version=4)
    exercise_cell(nb, name).source = source
    nbformat.write(nb, path)


def passes_when_n_is_odd(learner):
    """How many of dense_forward's test cases the learner id's inputs give an odd batch."""
    from bpcourse.checks.report import make_cases
    from bpcourse.grading.grade import student_seed

    cases = make_cases("dense_forward", student_seed(learner, 0), {"dense_forward"})
    return sum(c.calls[0]["args"][0].shape[0] % 2 == 1 for c in cases), len(cases)
