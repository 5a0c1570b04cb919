"""``bpcourse grade``: scores, feedback, results files, usage errors, notebooks, reproducibility.

Grading runs as the real command, in a few batches started once per module (the command's
start-up is slow, so every submission that can share a batch does):

- ``batch``: correct.py twice, the catalogue of wrong submissions, notebooks, a folder, the
  malformed inputs, and (when they exist) the solution notebooks and the student notebooks
  that ``bpcourse assign`` makes from them;
- ``regrade``: a second run into a copy of the batch's out dir;
- ``restricted``: ``--exercises`` with an unknown name, grading the folder ``.``.

Usage errors are checked in-process with ``bpcourse.cli.main`` (nothing is graded then).
"""

import csv
import io
import json
from pathlib import Path
import shutil
import subprocess
import sys
import time

import pytest

from bpcourse import cli
from bpcourse.checks.registry import EXERCISES as REGISTRY
from bpcourse.grading.course import DEFAULT_POINTS

sys.path.insert(0, str(Path(__file__).resolve().parent / "submissions"))
import catalogue  # noqa: E402
from catalogue import EXERCISES, WRONG  # noqa: E402

BPCOURSE = Path(sys.executable).with_name("bpcourse")
REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
TOTAL = sum(DEFAULT_POINTS[e] for e in EXERCISES)
GRADESCOPE_TOP = {"score", "execution_time", "output", "output_format", "test_output_format",
                  "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
                  "leaderboard"}
GRADESCOPE_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output",
                   "output_format", "tags", "visibility", "extra_data"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
NETWORK = ["mlp_forward", "mlp_backward", "train_step", "train_epoch"]


def test_the_catalogues_agree_with_the_course():
    assert EXERCISES == list(REGISTRY)
    assert len(WRONG) >= 12 and {w.exercise for w in WRONG.values()} <= set(EXERCISES)


# ---------------------------------------------------------------- submissions

def _notebook_with_decoys():
    """All exercises in exercise cells, each followed by the learner's check cell, plus cells
    that must NOT count: a fake helper, a rebinding, a numpy patch, a crashing test cell."""
    cells = [catalogue.markdown_cell("# My notebook"),
             catalogue.code_cell("import numpy as np\nfrom bpcourse.checks import check")]
    cells += catalogue.exercise_cells()
    cells += [
        catalogue.code_cell("def _targets(y, P):  # a fake helper outside the exercise cells\n"
                            "    return np.zeros_like(P)\n"),
        catalogue.code_cell("softmax = lambda Z: Z\nnp.exp = lambda Z: Z\n"),
        catalogue.code_cell("%matplotlib inline\nassert False, 'a test cell'\nraise SystemExit(3)\n",
                            outputs=[{"output_type": "stream", "name": "stdout",
                                      "text": '{"score": 100}\n'}]),
    ]
    return catalogue.notebook_json(cells)


def _notebook_using_the_reference():
    ref = ("from bpcourse.layers import dense_forward as ref\n\n\n"
           "def dense_forward(X, W, b):\n    return ref(X, W, b)\n")
    cells = [catalogue.code_cell("import numpy as np\nfrom bpcourse.checks import check")]
    cells += catalogue.exercise_cells(replacements={"dense_forward": ref})
    return catalogue.notebook_json(cells)


def _expected_solution_notebooks():
    return sorted({f"{ex.notebook}.ipynb" for ex in REGISTRY.values()})


def _start(args, out, cwd=None):
    return subprocess.Popen([str(BPCOURSE), "grade", *map(str, args), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)


class Graded:
    def __init__(self, proc, out, seconds):
        self.stdout, self.stderr = proc.communicate(timeout=300)
        self.returncode, self.out, self.seconds = proc.returncode, out, seconds()
        self.results = {p.parent.name: json.loads(p.read_text(encoding="utf-8"))
                        for p in out.glob("*/results.json")}

    def describe(self):
        return f"exit {self.returncode}\nstdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-3000:]}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    subs = root / "subs"
    subs.mkdir()
    paths = [catalogue.write_py(subs / "alice.py"), catalogue.write_py(subs / "bob.py")]
    for key, wrong in WRONG.items():
        paths.append(catalogue.write_py(subs / f"wrong_{key}.py", {wrong.exercise: wrong.code}))
    paths.append(catalogue.write_py(subs / "missing_adam.py", {"adam_step": None}))
    paths.append(catalogue.write_py(subs / "network_only.py",  # notebook 10 alone, say
                                    {n: None for n in EXERCISES if n not in NETWORK}))
    paths.append(catalogue.write_py(subs / "py_reference.py", {"softmax": """
        def softmax(Z):
            import bpcourse.losses
            return bpcourse.losses.softmax(Z)
        """}))
    for name, text in (("nb_decoys.ipynb", _notebook_with_decoys()),
                       ("nb_reference.ipynb", _notebook_using_the_reference()),
                       ("not_json.ipynb", "{ this is not JSON"), ("empty.py", "")):
        (subs / name).write_text(text, encoding="utf-8")
        paths.append(subs / name)
    carol = subs / "carol"  # a folder: one notebook and one module
    carol.mkdir()
    half = len(EXERCISES) // 2
    (carol / "part1.ipynb").write_text(catalogue.notebook_json(
        [catalogue.code_cell("import numpy as np")] + catalogue.exercise_cells(EXERCISES[:half])),
        encoding="utf-8")
    catalogue.write_py(carol / "part2.py", {name: None for name in EXERCISES[:half]})
    nothing = subs / "nothing"
    nothing.mkdir()
    (nothing / "README.txt").write_text("my answers are on paper\n")
    paths += [carol, nothing]
    present = [p for p in sorted(SOLUTIONS.glob("*.ipynb"))]
    if present:  # the solution notebooks as one student's folder, and the student versions
        shutil.copytree(SOLUTIONS, subs / "solutions_all")
        paths.append(subs / "solutions_all")
        if cli.main(["assign", str(subs / "solutions_all"), str(subs / "student_notebooks")]) == 0:
            paths.append(subs / "student_notebooks")
    # --exercises with an unknown name, on the folder "." (named after the folder)
    dave = root / "dave"
    dave.mkdir()
    catalogue.write_py(dave / "answers.py")
    start = time.monotonic()
    batch = _start(paths + ["--jobs", "2"], root / "out")
    restricted = _start([".", "--exercises", "dense_forward", "softmax", "no_such_exercise"],
                        root / "out_restricted", cwd=dave)
    done = {"batch": Graded(batch, root / "out", lambda: time.monotonic() - start),
            "restricted": Graded(restricted, root / "out_restricted", lambda: 0.0)}
    # re-grading into the same out dir: alice unchanged, one wrong submission now correct
    shutil.copytree(root / "out", root / "out_again")
    again = root / "again"
    again.mkdir()
    catalogue.write_py(again / "alice.py")
    catalogue.write_py(again / "wrong_sgd_ascent.py")
    done["regrade"] = Graded(_start([again / "alice.py", again / "wrong_sgd_ascent.py"],
                                    root / "out_again"), root / "out_again", lambda: 0.0)
    done["solutions_present"] = [p.name for p in present]
    print(f"\nthe grading batch ({len(paths)} submissions) took {done['batch'].seconds:.1f} s")
    return done


@pytest.fixture(scope="module")
def batch(runs):
    assert runs["batch"].returncode == 0, runs["batch"].describe()
    return runs["batch"]


def _scores(result):
    return {t["name"].split(" · ")[-1]: (t["score"], t["max_score"]) for t in result["tests"]}


def _feedback(result, exercise):
    test = next(t for t in result["tests"] if t["name"].split(" · ")[-1] == exercise)
    return " ".join(test["output"].split())


def _lost(result):
    return {ex: s for ex, s in _scores(result).items() if s[0] != s[1]}


# ---------------------------------------------------------------- a correct submission

def test_a_correct_py_earns_full_marks(batch):
    for student in ("alice", "bob"):
        result = batch.results[student]
        assert result["score"] == TOTAL == sum(t["max_score"] for t in result["tests"])
        assert [t["name"].split(" · ")[-1] for t in result["tests"]] == EXERCISES
        assert all(t["status"] == "passed" and t["score"] == t["max_score"]
                   for t in result["tests"]), _lost(result)


def test_results_json_has_exactly_gradescopes_keys_and_types(batch):
    for student, result in batch.results.items():
        assert set(result) <= GRADESCOPE_TOP, (student, set(result) - GRADESCOPE_TOP)
        assert isinstance(result["score"], (int, float)) and not isinstance(result["score"], bool)
        assert isinstance(result["output"], str) and result["visibility"] in VISIBILITIES
        assert result["stdout_visibility"] in VISIBILITIES
        assert isinstance(result["execution_time"], (int, float))
        assert isinstance(result["tests"], list) and len(result["tests"]) == len(EXERCISES)
        for t in result["tests"]:
            assert set(t) <= GRADESCOPE_TEST, (student, set(t) - GRADESCOPE_TEST)
            assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(t)
            assert isinstance(t["name"], str) and isinstance(t["output"], str)
            for key in ("score", "max_score"):
                assert isinstance(t[key], (int, float)) and not isinstance(t[key], bool)
            assert 0 <= t["score"] <= t["max_score"]
            assert t["status"] in ("passed", "failed") and t["visibility"] in VISIBILITIES
            assert (t["status"] == "passed") == (t["score"] == t["max_score"])
        assert result["score"] == pytest.approx(sum(t["score"] for t in result["tests"]), abs=0.011)


def test_the_gradebook_has_a_column_per_exercise_and_a_row_per_student(batch):
    rows = list(csv.reader(io.StringIO((batch.out / "gradebook.csv").read_text(encoding="utf-8"))))
    assert rows[0] == ["student"] + EXERCISES + ["total"]
    assert rows[1] == ["(max)"] + [f"{DEFAULT_POINTS[e]:g}" for e in EXERCISES] + [f"{TOTAL:g}"]
    by_student = {r[0]: r[1:] for r in rows[2:]}
    assert set(by_student) == set(batch.results) and len(rows) == 2 + len(batch.results)
    for student, result in batch.results.items():
        assert [float(x) for x in by_student[student]] == \
            [t["score"] for t in result["tests"]] + [result["score"]], student


def test_the_summary_table_is_printed(batch):
    lines = batch.stdout.splitlines()
    assert lines and lines[0].split()[:2] == ["student", "score"], batch.describe()
    alice = next(l for l in lines if l.startswith("alice "))
    assert f"{TOTAL} / {TOTAL}" in alice and f"{len(EXERCISES)}/{len(EXERCISES)}" in alice
    for student in batch.results:
        assert any(l.split()[:1] == [student] for l in lines), student
    assert f"graded {len(batch.results)} submission(s)" in batch.stdout


def test_the_exit_code_is_0_even_when_students_score_0(batch):
    assert batch.returncode == 0
    assert batch.results["empty"]["score"] == 0 and batch.results["not_json"]["score"] == 0


# ---------------------------------------------------------------- the wrong catalogue

@pytest.mark.parametrize("key", list(WRONG))
def test_a_typical_mistake_loses_points_on_its_exercise_only_and_is_named(batch, key):
    wrong, result = WRONG[key], batch.results[f"wrong_{key}"]
    lost = _lost(result)
    assert set(lost) == {wrong.exercise}, f"{key}: expected to lose on {wrong.exercise}, lost {lost}"
    test = next(t for t in result["tests"] if t["name"].endswith(f" · {wrong.exercise}"))
    assert test["status"] == "failed"
    feedback = _feedback(result, wrong.exercise)
    assert " ".join(wrong.hint.split()).lower() in feedback.lower(), \
        f"{key}: the feedback does not name the mistake ({wrong.hint!r}):\n{feedback[:1500]}"


# ---------------------------------------------------------------- notebooks, folders, the reference

def test_a_notebook_counts_only_its_exercise_cells(batch):
    result = batch.results["nb_decoys"]
    assert result["score"] == TOTAL, {ex: _feedback(result, ex)[:300] for ex in _lost(result)}


def test_a_folder_is_graded_under_the_folders_name(batch):
    assert batch.results["carol"]["score"] == TOTAL, _lost(batch.results["carol"])
    assert not {"part1", "part2"} & set(batch.results)


def test_an_exercise_that_imports_bpcourse_earns_nothing_and_is_told_why(batch):
    for student, exercise in (("nb_reference", "dense_forward"), ("py_reference", "softmax")):
        result = batch.results[student]
        assert set(_lost(result)) == {exercise}, (student, _lost(result))
        assert _scores(result)[exercise][0] == 0
        assert "bpcourse" in _feedback(result, exercise), _feedback(result, exercise)


def test_a_network_is_graded_with_the_reference_layers_where_the_submission_has_none(batch):
    result = batch.results["network_only"]
    scores = _scores(result)
    assert all(scores[n][0] == scores[n][1] for n in NETWORK), scores
    assert all(scores[n][0] == 0 for n in EXERCISES if n not in NETWORK)
    for n in NETWORK:
        assert "was graded with the reference" in _feedback(result, n), _feedback(result, n)
    assert "reference dense_forward, relu_forward, batchnorm_forward, dropout_forward" \
        in _feedback(result, "mlp_forward")


def test_a_wrong_layer_costs_its_own_points_only_and_the_network_says_why(batch):
    result = batch.results["wrong_dw_without_transpose"]
    assert set(_lost(result)) == {"dense_backward"}
    for n in ("two_layer_loss_and_grads", "mlp_backward", "train_step", "train_epoch"):
        assert "graded with the reference dense_backward" in _feedback(result, n), n
    assert "graded with the reference" not in _feedback(result, "mlp_forward")


def test_a_missing_exercise_scores_0_with_not_found(batch):
    result = batch.results["missing_adam"]
    assert set(_lost(result)) == {"adam_step"} and _scores(result)["adam_step"][0] == 0
    assert "not found" in _feedback(result, "adam_step")


@pytest.mark.parametrize("student, message", [
    ("not_json", "not_json.ipynb is not a valid notebook"),
    ("empty", "empty.py is empty"),
    ("nothing", "holds no .ipynb or .py file to grade"),
])
def test_malformed_input_gets_a_clear_message_and_the_rest_is_graded(batch, student, message):
    result = batch.results[student]
    assert result["score"] == 0 and message in result["output"], result["output"]
    assert all("grader failed" not in t["output"] for t in result["tests"])
    assert batch.results["alice"]["score"] == TOTAL


def _require_solutions(runs):
    missing = sorted(set(_expected_solution_notebooks()) - set(runs["solutions_present"]))
    return (f"solutions/ lacks {missing}: the solution notebooks must all exist "
            f"(the lead makes them exist before committing)") if missing else None


def test_the_solution_notebooks_earn_full_marks(batch, runs):
    present = {Path(n).stem for n in runs["solutions_present"]}
    assert present, f"no solution notebooks in {SOLUTIONS}"
    result = batch.results["solutions_all"]
    wrong = {ex: _feedback(result, ex)[:400] for ex, s in _scores(result).items()
             if REGISTRY[ex].notebook in present and s[0] != s[1]}
    assert not wrong, f"solution notebooks that do not earn full marks: {wrong}"
    problem = _require_solutions(runs)
    assert problem is None, problem
    assert result["score"] == TOTAL


def test_the_generated_student_notebooks_earn_zero_without_any_error(batch, runs):
    assert runs["solutions_present"], f"no solution notebooks in {SOLUTIONS}"
    result = batch.results.get("student_notebooks")
    assert result is not None, "`bpcourse assign` failed on the solution notebooks"
    present = {Path(n).stem for n in runs["solutions_present"]}
    for t in result["tests"]:
        exercise = t["name"].split(" · ")[-1]
        if REGISTRY[exercise].notebook in present:
            assert t["score"] == 0, (exercise, t["output"][:300])
            assert "not implemented yet" in t["output"], (exercise, t["output"][:500])
    assert "Note:" not in result["output"], result["output"]
    problem = _require_solutions(runs)
    assert problem is None, problem
    assert result["score"] == 0


# ---------------------------------------------------------------- seeds, re-grading

def test_inputs_differ_between_students_but_grading_is_reproducible(runs, batch):
    alice, bob = batch.results["alice"], batch.results["bob"]
    again = runs["regrade"].results["alice"]
    assert [t["output"] for t in alice["tests"]] != [t["output"] for t in bob["tests"]], \
        "two students were given the same inputs (the same shapes in every test)"
    strip = lambda r: {k: v for k, v in r.items() if k != "execution_time"}  # noqa: E731
    assert strip(alice) == strip(again)
    # a wrong submission gets the same verdict, to the digit, when graded again
    assert batch.results["wrong_db_not_summed"]["tests"] == \
        json.loads((runs["regrade"].out / "wrong_db_not_summed" / "results.json").read_text())["tests"]


def test_regrading_into_the_same_folder_replaces_the_results(runs, batch):
    regrade = runs["regrade"]
    assert regrade.returncode == 0, regrade.describe()
    assert batch.results["wrong_sgd_ascent"]["score"] < TOTAL
    assert regrade.results["wrong_sgd_ascent"]["score"] == TOTAL
    rows = (regrade.out / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    assert sorted(r.split(",")[0] for r in rows[2:]) == ["alice", "wrong_sgd_ascent"]
    leftovers = [p.name for p in regrade.out.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, leftovers


# ---------------------------------------------------------------- --exercises, "."

def test_exercises_restricts_the_tests_and_an_unknown_name_is_a_warning(runs):
    r = runs["restricted"]
    assert r.returncode == 0, r.describe()
    assert "no_such_exercise" in r.stderr and "warning" in r.stderr.lower(), r.stderr
    files = list(r.out.rglob("results.json"))
    assert len(files) == 1, files
    result = json.loads(files[0].read_text(encoding="utf-8"))
    assert [t["name"].split(" · ")[-1] for t in result["tests"]] == ["dense_forward", "softmax"]
    assert result["score"] == DEFAULT_POINTS["dense_forward"] + DEFAULT_POINTS["softmax"]
    header = (r.out / "gradebook.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "student,dense_forward,softmax,total"


def test_the_folder_dot_is_graded_under_the_folders_name(runs):
    r = runs["restricted"]
    found = sorted(str(p.relative_to(r.out)) for p in r.out.rglob("results.json"))
    assert found == ["dave/results.json"], (
        f"`bpcourse grade .` run in the folder dave/ wrote {found}: the student id of '.' "
        f"should be the folder's name")


# ---------------------------------------------------------------- usage errors (in-process)

def _usage(capsys, *args):
    try:
        code = cli.main(["grade", *map(str, args)])
    except SystemExit as e:
        code = e.code
    except Exception as e:  # noqa: BLE001 - a traceback is what this test is about
        pytest.fail(f"bpcourse grade {' '.join(map(str, args))} raised "
                    f"{type(e).__name__}: {e} instead of a usage error (exit 2)")
    return code, capsys.readouterr().err


def test_two_submissions_of_the_same_student_are_a_usage_error(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    first = catalogue.write_py(tmp_path / "a" / "erin.py")
    second = tmp_path / "erin.ipynb"
    second.write_text(catalogue.notebook_json(catalogue.exercise_cells()), encoding="utf-8")
    code, err = _usage(capsys, first, second, "--out", tmp_path / "out")
    assert code == 2 and "erin" in err, err
    assert not (tmp_path / "out").exists()


def test_a_submission_that_does_not_exist_is_a_usage_error(tmp_path, capsys):
    alice = catalogue.write_py(tmp_path / "alice.py")
    code, err = _usage(capsys, alice, tmp_path / "nobody.py", "--out", tmp_path / "out")
    assert code == 2 and "nobody.py" in err, err


def test_only_unknown_exercise_names_are_a_usage_error(tmp_path, capsys):
    alice = catalogue.write_py(tmp_path / "alice.py")
    code, err = _usage(capsys, alice, "--out", tmp_path / "out", "--exercises", "dense_fwd")
    assert code == 2 and "dense_fwd" in err, err


def test_bad_limits_and_a_missing_out_are_usage_errors(tmp_path, capsys):
    alice = catalogue.write_py(tmp_path / "alice.py")
    assert _usage(capsys, alice)[0] == 2
    assert _usage(capsys, alice, "--out", tmp_path / "o", "--jobs", "0")[0] == 2
    assert _usage(capsys, alice, "--out", tmp_path / "o", "--timeout", "0")[0] == 2


def test_an_out_dir_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    alice = catalogue.write_py(tmp_path / "alice.py")
    (tmp_path / "out").write_text("not a folder\n")
    code, err = _usage(capsys, alice, "--out", tmp_path / "out")
    assert code == 2 and "out" in err, err


# ---------------------------------------------------------------- grading as a library

def test_grading_as_a_library_spares_the_callers_own_children(tmp_path):
    """``grade()`` kills what submissions leave behind, not the caller's other processes."""
    alice = catalogue.write_py(tmp_path / "alice.py")
    script = (
        "import os, subprocess, sys\n"
        "from bpcourse.grading.grade import grade\n"
        "bystander = subprocess.Popen(['sleep', '60'])\n"
        "grade([sys.argv[1]], sys.argv[2], jobs=1)\n"
        "alive = bystander.poll() is None and os.path.exists(f'/proc/{bystander.pid}')\n"
        "print('bystander alive after grading:', alive)\n"
        "bystander.kill()\n")
    r = subprocess.run([sys.executable, "-c", script, str(alice), str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "bystander alive after grading: True" in r.stdout, (
        f"grade() killed a child process of its caller that has nothing to do with grading: "
        f"{r.stdout.strip()}")
