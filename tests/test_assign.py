"""bpcourse assign: student notebooks from solution notebooks.

Solution notebooks are built here with nbformat in tmp_path; nothing depends on the real
solutions/ folder.
"""

import json
import subprocess
import sys

import nbformat
import pytest
from nbformat import v4

from bpcourse import assign as A
from bpcourse.cli import main

DENSE = '''import numpy as np


def dense_forward(X, W, b):
    """Z = X W + b."""
    ### BEGIN SOLUTION
    # HINT: one matrix product and a broadcast bias.
    Z = X @ W + b
    return Z, (X, W, b)
    ### END SOLUTION


SCALE = 2'''

DENSE_STUB = '''import numpy as np


def dense_forward(X, W, b):
    """Z = X W + b."""
    # YOUR CODE HERE
    raise NotImplementedError('one matrix product and a broadcast bias.')


SCALE = 2'''

RELU = '''def relu_forward(Z):
    ### BEGIN SOLUTION
    A = np.maximum(Z, 0)
    return A, Z
    ### END SOLUTION'''


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BPCOURSE_HOME", str(tmp_path / "bpcourse_home"))


def code(source, outputs=True, **bpcourse):
    cell = v4.new_code_cell(source)
    if bpcourse:
        cell.metadata["bpcourse"] = bpcourse
    if outputs:
        cell.outputs = [v4.new_output("stream", name="stdout", text="some output\n")]
        cell.execution_count = 7
    return cell


def md(source):
    return v4.new_markdown_cell(source)


def write_nb(folder, name, cells):
    folder.mkdir(parents=True, exist_ok=True)
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / name)
    return folder / name


def dense_notebook():
    return [
        md("# Dense layer\nDerive Z = XW + b."),
        code(DENSE),
        code("dense_forward = check(dense_forward)"),
        code("print(SCALE)"),
        md("Why the bias broadcasts?\n### BEGIN SOLUTION\nBecause b is (M,).\n### END SOLUTION\nDone."),
    ]


def student(folder, name):
    return nbformat.read(folder / name, as_version=4)


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else None


@pytest.fixture
def course(tmp_path):
    """A solutions folder with two notebooks, and the notebooks folder to write."""
    sol = tmp_path / "solutions"
    write_nb(sol, "01_dense.ipynb", dense_notebook())
    write_nb(sol, "02_relu.ipynb", [md("ReLU"), code(RELU, points=2), code("relu_forward = check(relu_forward)")])
    return sol, tmp_path / "notebooks"


# ====================================================================== the student version

def test_a_region_becomes_a_stub_with_the_hint_and_the_rest_is_kept(course):
    sol, nbs = course
    assert A.assign(sol, nbs) == []
    cell = student(nbs, "01_dense.ipynb").cells[1]
    assert cell.source == DENSE_STUB


def test_a_course_exercise_without_a_hint_line_gets_its_first_hint_level(course):
    from bpcourse.checks import EXERCISES

    sol, nbs = course
    A.assign(sol, nbs)
    source = student(nbs, "02_relu.ipynb").cells[1].source
    nudge = EXERCISES["relu_forward"].hints[0]
    assert source == ("def relu_forward(Z):\n    # YOUR CODE HERE\n"
                      f"    raise NotImplementedError({f'implement relu_forward: {nudge} (hint({chr(39)}relu_forward{chr(39)}) for more)'!r})")


def test_another_function_without_a_hint_line_gets_a_default_that_names_it(tmp_path):
    sol = tmp_path / "solutions"
    write_nb(sol, "01_mine.ipynb", [code("def my_layer(X):\n    ### BEGIN SOLUTION\n    return X\n"
                                         "    ### END SOLUTION", exercise="my_layer")])
    A.assign(sol, tmp_path / "notebooks")
    source = student(tmp_path / "notebooks", "01_mine.ipynb").cells[0].source
    assert "raise NotImplementedError('implement my_layer: see the derivation above')" in source


def test_indentation_is_preserved_and_every_region_is_replaced(tmp_path):
    source = '''class Layer:
    def backward(self, dout):
        if self.training:
            ### BEGIN SOLUTION
            # HINT: "scale" like the forward.
            return dout * self.mask
            ### END SOLUTION
        return dout


def my_step(w, dw, lr):
    ### BEGIN SOLUTION
    return w - lr * dw
    ### END SOLUTION'''
    sol = tmp_path / "s"
    write_nb(sol, "n.ipynb", [code(source, exercise="dropout_backward")])
    A.assign(sol, tmp_path / "n")
    got = student(tmp_path / "n", "n.ipynb").cells[0].source
    assert got == '''class Layer:
    def backward(self, dout):
        if self.training:
            # YOUR CODE HERE
            raise NotImplementedError('"scale" like the forward.')
        return dout


def my_step(w, dw, lr):
    # YOUR CODE HERE
    raise NotImplementedError('implement my_step: see the derivation above')'''


def test_a_region_in_markdown_becomes_your_answer_here(course):
    sol, nbs = course
    A.assign(sol, nbs)
    assert student(nbs, "01_dense.ipynb").cells[4].source == \
        "Why the bias broadcasts?\nYOUR ANSWER HERE\nDone."


def test_outputs_of_exercise_and_check_cells_are_cleared_others_kept(course):
    sol, nbs = course
    A.assign(sol, nbs)
    cells = student(nbs, "01_dense.ipynb").cells
    for i in (1, 2):                                 # the exercise and its check
        assert cells[i].outputs == [] and cells[i].execution_count is None, i
    assert cells[3].execution_count == 7             # print(SCALE) keeps its output
    assert cells[3].outputs[0]["text"] == "some output\n"
    assert cells[2].source == "dense_forward = check(dense_forward)"


def test_the_solution_notebook_is_not_modified(course):
    sol, nbs = course
    before = snapshot(sol)
    nb = nbformat.read(sol / "01_dense.ipynb", as_version=4)
    A.student_notebook(nb, "01_dense.ipynb")
    assert nb.cells[1].source == DENSE and nb.cells[1].outputs
    A.assign(sol, nbs)
    assert snapshot(sol) == before


def test_assign_false_keeps_the_solution_without_markers(tmp_path):
    sol = tmp_path / "s"
    write_nb(sol, "n.ipynb", [code(RELU, assign=False)])
    A.assign(sol, tmp_path / "n")
    source = student(tmp_path / "n", "n.ipynb").cells[0].source
    assert source == "def relu_forward(Z):\n    A = np.maximum(Z, 0)\n    return A, Z"
    (cell,) = A.exercise_cells(nbformat.read(sol / "n.ipynb", as_version=4), "n.ipynb")
    assert cell.assigned is False and cell.name == "relu_forward"


def test_code_outside_the_region_is_kept_exactly_even_a_final_newline(tmp_path):
    sol = tmp_path / "s"
    write_nb(sol, "n.ipynb", [code(RELU + "\n\nprint('after')\n"), code("x = 1\n", outputs=False)])
    A.assign(sol, tmp_path / "n")
    cells = student(tmp_path / "n", "n.ipynb").cells
    assert cells[1].source == "x = 1\n"
    assert cells[0].source.endswith("\n\nprint('after')\n")


def test_the_student_notebook_is_valid_and_the_stub_raises_the_hint(course):
    sol, nbs = course
    A.assign(sol, nbs)
    for name in ("01_dense.ipynb", "02_relu.ipynb"):
        nbformat.validate(nbformat.reads((nbs / name).read_text(), as_version=4))
    ns = {}
    exec(student(nbs, "01_dense.ipynb").cells[1].source, ns)
    assert ns["SCALE"] == 2                          # the code around the stub runs
    with pytest.raises(NotImplementedError) as err:
        ns["dense_forward"](None, None, None)
    assert str(err.value) == "one matrix product and a broadcast bias."


def test_metadata_and_cell_ids_are_kept(course):
    sol, nbs = course
    A.assign(sol, nbs)
    solution = nbformat.read(sol / "02_relu.ipynb", as_version=4)
    made = student(nbs, "02_relu.ipynb")
    assert [c.get("id") for c in made.cells] == [c.get("id") for c in solution.cells]
    assert made.cells[1].metadata["bpcourse"] == {"points": 2}
    assert made.metadata["kernelspec"]["name"] == "python3"


# ====================================================================== exercise cells

def test_exercise_cells_points_names_and_defaults(tmp_path):
    nbgrader = code(RELU.replace("relu_forward", "relu_backward"))
    nbgrader.metadata["nbgrader"] = {"grade": True, "points": 3}
    both = code(RELU.replace("relu_forward", "tanh_forward"), points=4)
    both.metadata["nbgrader"] = {"points": 9}
    cells = [
        md("intro"),
        code(DENSE, points=2),
        nbgrader,
        code(RELU),
        code("def helper(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION",
             exercise="sigmoid_forward"),
        both,
        code("print('no region')"),
    ]
    write_nb(tmp_path, "n.ipynb", cells)
    found = A.exercise_cells(nbformat.read(tmp_path / "n.ipynb", as_version=4), "n.ipynb")
    assert [(c.cell, c.name, c.points, c.assigned) for c in found] == [
        (1, "dense_forward", 2.0, True),
        (2, "relu_backward", 3.0, True),
        (3, "relu_forward", 1.0, True),
        (4, "sigmoid_forward", 1.0, True),
        (5, "tanh_forward", 4.0, True),
    ]
    assert all(c.notebook == "n.ipynb" for c in found)


def test_a_region_outside_any_function_needs_the_exercise_named(tmp_path):
    write_nb(tmp_path, "n.ipynb", [md("x"), code("### BEGIN SOLUTION\nlr = 0.1\n### END SOLUTION")])
    nb = nbformat.read(tmp_path / "n.ipynb", as_version=4)
    with pytest.raises(A.AssignError) as err:
        A.exercise_cells(nb, "n.ipynb")
    text = str(err.value)
    assert "n.ipynb" in text and "cell 2" in text
    assert "outside any function" in text and '"exercise"' in text


def test_regions_reports_lines():
    assert A.regions("a\n### BEGIN SOLUTION\n# HINT: h\nb\n### END SOLUTION\nc", "w") == [(1, 4, "h")]
    assert A.regions("no region", "w") == []


# ====================================================================== deterministic, --check

def test_assign_twice_gives_byte_identical_files(course, tmp_path):
    sol, nbs = course
    A.assign(sol, nbs)
    first = snapshot(nbs)
    A.assign(sol, tmp_path / "again")
    assert snapshot(tmp_path / "again") == first
    A.assign(sol, nbs)
    assert snapshot(nbs) == first
    assert set(first) == {"01_dense.ipynb", "02_relu.ipynb", A.RECORD}   # no temporary files left
    assert all(text.endswith(b"\n") for text in first.values())


@pytest.mark.filterwarnings("ignore:Cell is missing an id field")
def test_assign_is_deterministic_for_notebooks_whose_cells_lack_ids(tmp_path):
    """A hand-written or tool-made nbformat 4.5 notebook may have no cell ids: nbformat then
    invents random ones, which must not make assign (and assign --check) flaky."""
    sol = tmp_path / "s"
    path = write_nb(sol, "n.ipynb", dense_notebook())
    data = json.loads(path.read_text())
    assert data["nbformat_minor"] >= 5
    for cell in data["cells"]:
        del cell["id"]
    path.write_text(json.dumps(data, indent=1))
    assert A.generate(sol) == A.generate(sol)
    A.assign(sol, tmp_path / "n")
    assert A.assign(sol, tmp_path / "n", check=True) == []


def test_check_after_generation_passes_and_reports_every_difference(course):
    sol, nbs = course
    assert A.assign(sol, nbs, check=True) == [f"{nbs / '01_dense.ipynb'}: missing",
                                              f"{nbs / '02_relu.ipynb'}: missing"]
    A.assign(sol, nbs)
    assert A.assign(sol, nbs, check=True) == []

    edited = nbs / "01_dense.ipynb"
    original = edited.read_text()
    edited.write_text(original.replace("YOUR CODE HERE", "my code here"))
    (problem,) = A.assign(sol, nbs, check=True)
    assert str(edited) in problem and "differs" in problem
    edited.write_text(original)

    (nbs / "02_relu.ipynb").unlink()
    (problem,) = A.assign(sol, nbs, check=True)
    assert "02_relu.ipynb" in problem and "missing" in problem
    A.assign(sol, nbs)

    (nbs / "99_extra.ipynb").write_text(original)
    (problem,) = A.assign(sol, nbs, check=True)
    assert "99_extra.ipynb" in problem and "no solution notebook" in problem
    assert (nbs / "99_extra.ipynb").exists()         # --check writes nothing


def test_check_does_not_write(course):
    sol, nbs = course
    A.assign(sol, nbs, check=True)
    assert not nbs.exists()


def test_write_mode_removes_a_stale_notebook_it_wrote_and_nothing_else(course, capsys):
    sol, nbs = course
    write_nb(sol, "00_old.ipynb", [md("old")])
    A.assign(sol, nbs)                                # 00_old written by assign ...
    (sol / "00_old.ipynb").unlink()                   # ... then its solution goes away
    (nbs / "my_experiments.ipynb").write_text((nbs / "01_dense.ipynb").read_text())
    (nbs / "notes.txt").write_text("keep me")
    assert main(["assign", str(sol), str(nbs)]) == 0
    assert sorted(p.name for p in nbs.iterdir()) == [A.RECORD, "01_dense.ipynb", "02_relu.ipynb",
                                                     "my_experiments.ipynb", "notes.txt"]
    out = capsys.readouterr().out
    assert "removed" in out and "00_old.ipynb" in out
    assert "my_experiments.ipynb alone" in out and "--force" in out


def test_a_stale_notebook_edited_since_is_kept_unless_force(course, capsys):
    sol, nbs = course
    write_nb(sol, "00_old.ipynb", [md("old")])
    A.assign(sol, nbs)
    (sol / "00_old.ipynb").unlink()
    (nbs / "00_old.ipynb").write_text((nbs / "00_old.ipynb").read_text().replace("old", "mine"))
    A.assign(sol, nbs)
    assert "mine" in (nbs / "00_old.ipynb").read_text()
    assert main(["assign", "--force", str(sol), str(nbs)]) == 0
    assert not (nbs / "00_old.ipynb").exists()


def test_it_refuses_to_overwrite_a_notebook_edited_since_it_wrote_it(course, capsys):
    """The issue's case: a learner's edited notebook in the generated folder is not replaced."""
    sol, nbs = course
    A.assign(sol, nbs)
    edited = nbs / "01_dense.ipynb"
    edited.write_text(edited.read_text().replace("YOUR CODE HERE", "my own answer"))
    write_nb(sol, "02_relu.ipynb", [md("ReLU, changed"), code(RELU)])   # a course change
    before = snapshot(nbs)
    assert main(["assign", str(sol), str(nbs)]) == 2
    err = capsys.readouterr().err
    assert str(edited) in err and "edited since bpcourse assign wrote it" in err, err
    assert "--force" in err and "nothing was written" in err
    assert "02_relu.ipynb" not in err                  # untouched: it could be replaced
    assert snapshot(nbs) == before                    # not even the unedited one was written
    assert main(["assign", "--force", str(sol), str(nbs)]) == 0
    assert "my own answer" not in edited.read_text()
    assert A.assign(sol, nbs, check=True) == []


def test_it_refuses_to_overwrite_a_notebook_it_never_wrote(course, capsys):
    """A folder without assign's record: an equal notebook may be rewritten, a different one not;
    a notebook of someone else's is never deleted."""
    sol, nbs = course
    nbs.mkdir()
    (nbs / "01_dense.ipynb").write_text("{}")              # not what assign makes
    (nbs / "my_experiments.ipynb").write_text("{}")
    assert main(["assign", str(sol), str(nbs)]) == 2
    err = capsys.readouterr().err
    assert "01_dense.ipynb was not written by bpcourse assign" in err, err
    assert snapshot(nbs) == {"01_dense.ipynb": b"{}", "my_experiments.ipynb": b"{}"}
    (nbs / "01_dense.ipynb").write_text(A.generate(sol)["01_dense.ipynb"])   # now equal
    assert main(["assign", str(sol), str(nbs)]) == 0
    assert (nbs / "my_experiments.ipynb").read_text() == "{}"


def test_check_wants_the_record_of_what_was_written(course):
    sol, nbs = course
    A.assign(sol, nbs)
    assert A.assign(sol, nbs, check=True) == []
    record = json.loads((nbs / A.RECORD).read_text())
    assert sorted(record["notebooks"]) == ["01_dense.ipynb", "02_relu.ipynb"]
    (nbs / A.RECORD).unlink()
    (problem,) = A.assign(sol, nbs, check=True)
    assert A.RECORD in problem and "record" in problem
    (nbs / A.RECORD).write_text("{ not json")
    with pytest.raises(A.AssignError, match="damaged"):
        A.assign(sol, nbs)


def test_the_defaults_are_solutions_and_the_package_notebooks_folder(course, monkeypatch, capsys):
    sol, _ = course
    monkeypatch.chdir(sol.parent)
    assert main(["assign"]) == 0
    target = sol.parent / "bpcourse" / "notebooks"
    assert sorted(p.name for p in target.glob("*.ipynb")) == ["01_dense.ipynb", "02_relu.ipynb"]
    assert main(["assign", "--check"]) == 0


def test_the_cli_exit_codes_and_messages(course, capsys):
    sol, nbs = course
    assert main(["assign", str(sol), str(nbs)]) == 0
    assert "wrote the student notebooks" in capsys.readouterr().out
    assert main(["assign", "--check", str(sol), str(nbs)]) == 0
    assert "up to date" in capsys.readouterr().out
    (nbs / "02_relu.ipynb").write_text((nbs / "02_relu.ipynb").read_text().replace("Z", "Y"))
    assert main(["assign", "--check", str(sol), str(nbs)]) == 1
    err = capsys.readouterr().err
    assert "02_relu.ipynb" in err and "01_dense.ipynb" not in err
    assert "bpcourse assign" in err


def _popen(*args):
    return subprocess.Popen([sys.executable, "-m", "bpcourse", "assign", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_command_line_in_a_subprocess(tmp_path):
    """python -m bpcourse assign --check: 0 right after generating, 1 after an edit, naming
    the notebook.  The two processes run concurrently: each pays nbformat's slow import.
    (Exit code 2 on broken solutions is tested through the same main() in-process below.)"""
    good, edited = tmp_path / "good", tmp_path / "edited"
    for folder in (good, edited):
        write_nb(folder / "solutions", "01_dense.ipynb", dense_notebook())
        write_nb(folder / "solutions", "02_relu.ipynb", [code(RELU)])
        A.assign(folder / "solutions", folder / "notebooks")
    path = edited / "notebooks" / "02_relu.ipynb"
    path.write_text(path.read_text().replace("YOUR CODE HERE", "done"))
    procs = [_popen("--check", good / "solutions", good / "notebooks"),
             _popen("--check", edited / "solutions", edited / "notebooks")]
    (out0, err0), (out1, err1) = [p.communicate(timeout=120) for p in procs]
    assert procs[0].returncode == 0, err0
    assert "up to date" in out0
    assert procs[1].returncode == 1, err1
    assert str(path) in err1 and "01_dense" not in err1
    assert "done" in path.read_text()                # --check left it alone


# ====================================================================== bad input: exit 2, nothing written

NO_END = DENSE.replace("    ### END SOLUTION\n", "")
NESTED = DENSE.replace("    Z = X @ W + b\n", "    ### BEGIN SOLUTION\n    Z = X @ W + b\n")
END_ONLY = DENSE.replace("    ### BEGIN SOLUTION\n", "")

BAD = {
    "no_end": ([md("x"), code(NO_END)], "cell 2", "no '### END SOLUTION'"),
    "nested_begin": ([md("x"), md("y"), code(NESTED)], "cell 3", "nested"),
    "end_without_begin": ([code(END_ONLY)], "cell 1", "without a '### BEGIN SOLUTION'"),
    "markdown_without_end": ([md("a"), md("Q\n### BEGIN SOLUTION\nanswer")], "cell 2", "no '### END"),
    "region_outside_a_function": ([code("### BEGIN SOLUTION\nlr = 0.1\n### END SOLUTION")],
                                  "cell 1", "outside any function"),
    "no_end_in_an_assign_false_cell": ([md("x"), code(NO_END, assign=False)], "cell 2", "no '### END"),
}


@pytest.fixture
def generated(course):
    """Student notebooks already written; then the solutions change, so that writing
    anything would show."""
    sol, nbs = course
    A.assign(sol, nbs)
    before = snapshot(nbs)
    write_nb(sol, "02_relu.ipynb", [md("ReLU, changed"), code(RELU)])
    return sol, nbs, before


@pytest.mark.parametrize("case", list(BAD))
def test_a_broken_region_exits_2_naming_notebook_and_cell(case, generated, capsys):
    sol, nbs, before = generated
    cells, where, what = BAD[case]
    write_nb(sol, "03_broken.ipynb", cells)
    assert main(["assign", str(sol), str(nbs)]) == 2
    err = capsys.readouterr().err
    assert "03_broken.ipynb" in err and where in err and what in err, err
    assert "nothing was written" in err
    assert snapshot(nbs) == before
    assert main(["assign", "--check", str(sol), str(nbs)]) == 2
    assert "03_broken.ipynb" in capsys.readouterr().err


@pytest.mark.parametrize("metadata", [
    {"bpcourse": {"points": "two"}},
    {"bpcourse": "dense_forward"},
    {"nbgrader": {"points": -1}},
    {"bpcourse": {"assign": "no"}},
], ids=["points_not_a_number", "bpcourse_not_a_dict", "nbgrader_points_negative", "assign_not_a_bool"])
def test_malformed_cell_metadata_exits_2_naming_notebook_and_cell(metadata, generated, capsys):
    sol, nbs, before = generated
    cell = code(RELU)
    cell.metadata.update(metadata)
    write_nb(sol, "03_meta.ipynb", [md("x"), cell])
    assert main(["assign", str(sol), str(nbs)]) == 2
    err = capsys.readouterr().err
    assert "03_meta.ipynb" in err and "cell 2" in err, err
    assert snapshot(nbs) == before


@pytest.mark.parametrize("content, what", [
    ("{ this is not json", "not a valid notebook"),
    ("", "not a valid notebook"),
    (json.dumps({"cells": "nope"}), "not a valid notebook"),
], ids=["not_json", "empty_file", "json_but_not_a_notebook"])
def test_an_unreadable_notebook_exits_2_naming_it(content, what, generated, capsys):
    sol, nbs, before = generated
    (sol / "00_bad.ipynb").write_text(content)
    assert main(["assign", str(sol), str(nbs)]) == 2
    err = capsys.readouterr().err
    assert "00_bad.ipynb" in err and what in err, err
    assert snapshot(nbs) == before


def test_a_missing_or_empty_solutions_folder_exits_2(tmp_path, capsys):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    (nbs / "01_keep.ipynb").write_text("{}")
    assert main(["assign", str(tmp_path / "nope"), str(nbs)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nope") in err and "no such folder" in err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("not a notebook")
    assert main(["assign", str(tmp_path / "empty"), str(nbs)]) == 2
    err = capsys.readouterr().err
    assert "empty" in err and "no .ipynb" in err
    assert snapshot(nbs) == {"01_keep.ipynb": b"{}"}      # a write would have removed it
