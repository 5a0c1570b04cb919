"""A learner's course, end to end, in temporary folders, with the real course and commands.

`bpcourse open` makes the workspace from the package's notebooks; the learner implements one
exercise, gets another wrong, adds a cell of their own and a notebook of their own;
`bpcourse progress` before and after; the course releases an update (a markdown cell and a
check cell changed in a copy of the solutions, regenerated with `bpcourse assign`);
`bpcourse update`; every edit of the learner is still there and the new text arrived;
`bpcourse submit`, then `bpcourse grade` on the zip and Gradescope's `run_autograder` on it
give the points that `progress` gave; `progress()` in a notebook shows the table as HTML.
"""

import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import time
import zipfile

import nbformat
from nbformat import v4
import pytest

from bpcourse import cli, launch
from bpcourse.checks.registry import EXERCISES
from bpcourse.workspace.manifest import STATE
from bpcourse.workspace.pack import read_manifest
from bpcourse.workspace.progress import FAILING, NOT_STARTED, PASSED, progress

from workspace_helpers import (GRADED, NOTEBOOK, POINTS, SLACK, catalogue, exercise_cell,
                               passes_when_n_is_odd, set_exercise, solution_source)

BPCOURSE = Path(sys.executable).with_name("bpcourse")
REPO = Path(__file__).resolve().parent.parent
RIGHT = GRADED[0].name                         # the first exercise of the course: done right
WRONG = next(w for w in catalogue.WRONG.values()   # another one, with a named mistake
             if w.exercise in EXERCISES and NOTEBOOK[w.exercise] != NOTEBOOK[RIGHT])
OWN_CELL = "print('a cell of my own')"
OWN_NOTEBOOK = "my_experiments.ipynb"


def bpcourse(*args, cwd=None):
    start = time.perf_counter()
    r = subprocess.run([str(BPCOURSE), *map(str, args)], capture_output=True, text=True,
                       cwd=cwd, timeout=300)
    r.seconds = time.perf_counter() - start
    return r


def release_update(solutions, out):
    """A course update: a markdown cell and the check cell of RIGHT changed, regenerated."""
    shutil.copytree(REPO / "solutions", solutions)
    path = solutions / NOTEBOOK[RIGHT]
    nb = nbformat.read(path, as_version=4)
    first_md = next(c for c in nb.cells if c.cell_type == "markdown")
    first_md.source += "\n\nNEW IN THIS RELEASE: a sentence the course added."
    check = next(c for c in nb.cells if c.cell_type == "code" and f"check({RIGHT}" in c.source)
    check.source += "  # the check, as the new release writes it"
    nbformat.write(nb, path)
    r = bpcourse("assign", solutions, out)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("learner")
    ws = root / "ws"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(launch.subprocess, "call", lambda cmd: 0)
        assert cli.main(["open", str(ws), "--no-browser"]) == 0
    state = {"ws": ws, "root": root}
    state["before"] = bpcourse("progress", ws, "--timeout", SLACK)
    state["before_api"] = progress(ws, timeout=SLACK)

    path = ws / NOTEBOOK[RIGHT]
    set_exercise(path, RIGHT, solution_source(RIGHT))
    nb = nbformat.read(path, as_version=4)
    at = nb.cells.index(exercise_cell(nb, RIGHT))
    nb.cells.insert(at + 1, v4.new_code_cell(OWN_CELL))
    nbformat.write(nb, path)
    set_exercise(ws / NOTEBOOK[WRONG.exercise], WRONG.exercise,
                 solution_source(WRONG.exercise, WRONG.code))
    (ws / OWN_NOTEBOOK).write_text(nbformat.writes(v4.new_notebook(cells=[
        v4.new_code_cell(f"def {RIGHT}(*args):\n    return 'my scratch version'")])))
    state["edited"] = {p.name: p.read_bytes() for p in ws.glob("*.ipynb")}
    state["after"] = bpcourse("progress", ws, "--timeout", SLACK)
    state["after_api"] = progress(ws, timeout=SLACK)

    release = release_update(root / "solutions2", root / "release2")
    state["release"] = release
    state["update"] = bpcourse("update", ws, "--from", release)
    state["after_update_api"] = progress(ws, timeout=SLACK)
    state["submit"] = bpcourse("submit", "--out", root / "ada.zip", "--timeout", SLACK, cwd=ws)
    state["grade"] = bpcourse("grade", root / "ada.zip", "--out", root / "graded", "--jobs", "1",
                              "--timeout", SLACK)
    return state


def rows(result):
    return {r.exercise: r for r in result.rows}


def test_progress_before_any_work_is_zero_with_every_exercise_not_started(course):
    r = course["before"]
    assert r.returncode == 0, r.stderr
    before = course["before_api"]
    assert [row.exercise for row in before.rows] == list(POINTS)
    assert all(row.status == NOT_STARTED and row.points == 0 for row in before.rows)
    assert before.total == 0 and before.maximum == sum(POINTS.values())
    for name in POINTS:
        assert name in r.stdout
    assert f"0 / {sum(POINTS.values()):g}" in r.stdout and "not started" in r.stdout


def test_progress_after_one_exercise_shows_it_passed_and_names_the_mistake_of_another(course):
    r, after = course["after"], rows(course["after_api"])
    assert r.returncode == 0, r.stderr
    assert after[RIGHT].status == PASSED and after[RIGHT].points == POINTS[RIGHT]
    wrong = after[WRONG.exercise]
    assert wrong.status == FAILING and wrong.points < POINTS[WRONG.exercise]
    assert " ".join(WRONG.hint.lower().split()) in wrong.detail.lower(), wrong.detail
    others = [row for name, row in after.items() if name not in (RIGHT, WRONG.exercise)]
    assert all(row.status == NOT_STARTED for row in others)
    assert course["after_api"].total == POINTS[RIGHT] + wrong.points
    assert "passed" in r.stdout and "failing" in r.stdout
    # the learner's own notebook defines RIGHT too, wrongly: only the course's notebooks count


def test_progress_is_fast_for_the_whole_course(course):
    seconds = [course["before"].seconds, course["after"].seconds]
    print(f"\nbpcourse progress, whole course ({len(POINTS)} exercises, {len(course['edited'])} "
          f"notebooks): {seconds[0]:.2f} s and {seconds[1]:.2f} s (command included)")
    assert max(seconds) < 10


def test_the_update_keeps_every_learner_edit_and_brings_the_new_text(course):
    r, ws = course["update"], course["ws"]
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"merged    {NOTEBOOK[RIGHT]}" in r.stdout, r.stdout
    nb = nbformat.read(ws / NOTEBOOK[RIGHT], as_version=4)
    sources = [c.source for c in nb.cells]
    assert exercise_cell(nb, RIGHT).source == solution_source(RIGHT)      # their code, verbatim
    assert sources.index(OWN_CELL) == sources.index(exercise_cell(nb, RIGHT).source) + 1
    assert any("NEW IN THIS RELEASE" in s for s in sources)              # the course's text ...
    assert any("# the check, as the new release writes it" in s for s in sources)  # ... and check
    nbformat.validate(nb)
    edited = course["edited"]
    assert (ws / OWN_NOTEBOOK).read_bytes() == edited[OWN_NOTEBOOK]
    assert (ws / NOTEBOOK[WRONG.exercise]).read_bytes() == edited[NOTEBOOK[WRONG.exercise]]
    for name, data in edited.items():                                    # nothing was lost
        assert (ws / name).exists(), name
    release = course["release"]
    for p in release.glob("*.ipynb"):          # untouched notebooks are the new release's
        if p.name not in (NOTEBOOK[RIGHT], NOTEBOOK[WRONG.exercise]):
            assert (ws / p.name).read_bytes() == p.read_bytes(), p.name
    assert not list(ws.glob("*.new.ipynb"))
    (backup,) = (ws / STATE / "backups").glob(f"*/{NOTEBOOK[RIGHT]}")
    assert backup.read_bytes() == edited[NOTEBOOK[RIGHT]]
    assert course["after_update_api"].total == course["after_api"].total


def test_submit_then_grade_on_the_zip_gives_the_points_of_progress(course):
    r, root = course["submit"], course["root"]
    assert r.returncode == 0, r.stderr
    expected = course["after_update_api"]
    assert f"{expected.total:g} / {expected.maximum:g} points" in r.stdout
    with zipfile.ZipFile(root / "ada.zip") as zf:
        names = set(zf.namelist())
    course_names = {p.name for p in course["release"].glob("*.ipynb")}
    assert names == course_names | {"bpcourse-submission.json"}   # not the learner's own notebook
    manifest = read_manifest(root / "ada.zip")
    assert manifest["progress"]["total"] == expected.total
    assert manifest["bpcourse_version"] and set(manifest["files"]) == course_names
    g = course["grade"]
    assert g.returncode == 0, g.stderr
    results = json.loads((root / "graded" / "ada" / "results.json").read_text())
    assert results["score"] == expected.total
    by_test = {t["name"].split(" · ")[-1]: t["score"] for t in results["tests"]}
    assert by_test == {row.exercise: row.points for row in expected.rows}
    assert bpcourse("submit", course["ws"], "--out", root / "ada.zip").returncode == 2  # exists
    assert (root / "ada.zip").stat().st_size > 0


def test_gradescope_gives_the_same_points(course, tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert cli.main(["gradescope-bundle", "--out", str(bundle), "--timeout", str(SLACK)]) == 0
    source, submission = tmp_path / "source", tmp_path / "submission"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(source)
    for script in ("run_autograder", "setup.sh"):
        (source / script).chmod(0o755)
    with zipfile.ZipFile(course["root"] / "ada.zip") as zf:   # what Gradescope does with it
        zf.extractall(submission)
    env = dict(os.environ, AUTOGRADER_ROOT=str(tmp_path), BPCOURSE=str(BPCOURSE))
    r = subprocess.run([str(source / "run_autograder")], cwd=source, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == course["after_update_api"].total


@pytest.mark.skipif("dense_forward" not in EXERCISES, reason="the course has no dense_forward")
def test_a_partly_right_exercise_scores_the_same_everywhere(tmp_path):
    """Right only for an odd batch size: its score depends on the test inputs, which the
    learner id of the workspace chooses, for progress and for every grader alike."""
    ws = tmp_path / "ws"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(launch.subprocess, "call", lambda cmd: 0)
        assert cli.main(["open", str(ws)]) == 0
    zip_name = "grace"
    learner = next(f"learner-{i}" for i in range(1000)
                   if passes_when_n_is_odd(f"learner-{i}")[0]
                   not in {passes_when_n_is_odd(s)[0] for s in (zip_name, "submission", "progress")})
    manifest_path = ws / STATE / "workspace.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["learner"] = learner
    manifest_path.write_text(json.dumps(manifest))
    set_exercise(ws / NOTEBOOK["dense_forward"], "dense_forward",
                 "def dense_forward(X, W, b):\n    Z = X @ W + b\n"
                 "    if X.shape[0] % 2 == 0:\n        Z = Z + 1.0\n    return Z, (X, W, b)\n")
    passes, n = passes_when_n_is_odd(learner)
    expected = round(POINTS["dense_forward"] * passes / n, 2)
    mine = rows(progress(ws, timeout=SLACK))["dense_forward"]
    assert mine.points == expected and mine.status == FAILING
    assert bpcourse("submit", ws, "--out", tmp_path / f"{zip_name}.zip", "--timeout", SLACK).returncode == 0
    g = bpcourse("grade", tmp_path / f"{zip_name}.zip", "--out", tmp_path / "graded", "--timeout", SLACK)
    assert g.returncode == 0, g.stderr
    results = json.loads((tmp_path / "graded" / zip_name / "results.json").read_text())
    score = next(t["score"] for t in results["tests"] if t["name"].endswith(" · dense_forward"))
    assert score == expected


def test_progress_in_a_notebook_shows_the_table_as_html(course):
    from nbclient import NotebookClient

    ws = course["ws"]
    nb = v4.new_notebook(cells=[v4.new_code_cell(f"from bpcourse import progress\nprogress(timeout={SLACK})")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(ws)}}).execute()
    (output,) = nb.cells[0].outputs
    html = output["data"]["text/html"]
    assert "<table>" in html and RIGHT in html and ">passed<" in html and ">failing<" in html
    assert f"{course['after_update_api'].total:g} / {sum(POINTS.values()):g}" in html
    assert "<script" not in html.lower()
    text = output["data"]["text/plain"]
    assert "not started" in text and str(ws) in text
