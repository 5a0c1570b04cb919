"""``bpcourse gradescope-bundle``: the autograder zip, and its run_autograder run here.

The bundle is unzipped into a fake ``/autograder`` tree in a temporary folder
(``AUTOGRADER_ROOT``), with ``BPCOURSE`` pointing at this environment's ``bpcourse``; a
correct, a wrong and an empty submission are graded at the same time (three trees).
"""

import json
import os
from pathlib import Path
import shutil
import stat
import subprocess
import sys
import time
import zipfile

import pytest

from bpcourse import cli
from bpcourse.grading.course import graded_exercises

sys.path.insert(0, str(Path(__file__).resolve().parent / "submissions"))
import catalogue  # noqa: E402

BPCOURSE = Path(sys.executable).with_name("bpcourse")
REPO = Path(__file__).resolve().parent.parent
TOTAL = sum(g.points for g in graded_exercises(REPO / "solutions"))  # the bundle's points


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    assert cli.main(["gradescope-bundle", "--out", str(path)]) == 0
    return path


def _unzip(bundle, dest):
    """As Gradescope does: ``unzip``, which keeps the modes (restored by hand without it)."""
    dest.mkdir(parents=True)
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-q", str(bundle), "-d", str(dest)], check=True)
        return dest
    with zipfile.ZipFile(bundle) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, dest))
            mode = info.external_attr >> 16
            if mode:
                path.chmod(stat.S_IMODE(mode))
    return dest


def test_the_bundle_holds_setup_and_run_autograder_executable(bundle):
    with zipfile.ZipFile(bundle) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    for name in ("setup.sh", "run_autograder"):
        assert name in infos, sorted(infos)
        mode = infos[name].external_attr >> 16
        assert stat.S_ISREG(mode) and mode & 0o111 == 0o111, f"{name}: mode {oct(mode)}"
    for name in ("bpcourse-src/pyproject.toml", "bpcourse-src/bpcourse/grading/runner.py",
                 "bpcourse-src/bpcourse/checks/driver.py", "bpcourse-src/bpcourse/layers.py"):
        assert name in infos, name
    assert not [n for n in infos if "__pycache__" in n or n.endswith(".pyc")]


def test_the_scripts_are_valid_bash(bundle, tmp_path):
    source = _unzip(bundle, tmp_path / "source")
    for name in ("setup.sh", "run_autograder"):
        r = subprocess.run(["bash", "-n", str(source / name)], capture_output=True, text=True)
        assert r.returncode == 0, f"{name}: {r.stderr}"
        assert (source / name).read_text().startswith("#!/usr/bin/env bash")
        assert os.access(source / name, os.X_OK)
    assert "bpcourse-src" in (source / "setup.sh").read_text()


def test_a_bundle_with_solutions_carries_the_notebooks(tmp_path):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    (solutions / "01_forward_pass.ipynb").write_text(catalogue.notebook_json(
        catalogue.exercise_cells(["dense_forward"], check_cells=False)), encoding="utf-8")
    out = tmp_path / "with_solutions.zip"
    assert cli.main(["gradescope-bundle", "--out", str(out), "--solutions", str(solutions)]) == 0
    with zipfile.ZipFile(out) as zf:
        assert "solutions/01_forward_pass.ipynb" in zf.namelist()
    assert cli.main(["gradescope-bundle", "--out", str(tmp_path / "x.zip"),
                     "--solutions", str(tmp_path / "nowhere")]) == 2


@pytest.fixture(scope="module")
def autograded(bundle, tmp_path_factory):
    """run_autograder on three fake /autograder trees at once: correct, wrong, empty."""
    wrong = catalogue.WRONG["db_not_summed"]
    cases = {"correct": {"correct.py": None}, "wrong": {"answers.py": {wrong.exercise: wrong.code}},
             "empty": {}}
    procs = {}
    start = time.monotonic()
    for label, files in cases.items():
        root = tmp_path_factory.mktemp(f"autograder_{label}")
        _unzip(bundle, root / "source")
        (root / "submission").mkdir()
        for name, replacements in files.items():
            catalogue.write_py(root / "submission" / name, replacements)
        env = dict(os.environ, AUTOGRADER_ROOT=str(root), BPCOURSE=str(BPCOURSE))
        procs[label] = (root, subprocess.Popen(
            [str(root / "source" / "run_autograder")], cwd=root / "source", env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    done = {}
    for label, (root, proc) in procs.items():
        stdout, stderr = proc.communicate(timeout=180)
        results = root / "results" / "results.json"
        done[label] = {"code": proc.returncode, "stdout": stdout, "stderr": stderr,
                       "results": json.loads(results.read_text()) if results.exists() else None}
    print(f"\nthree run_autograder runs took {time.monotonic() - start:.1f} s")
    return done


def _check_ran(run):
    assert run["code"] == 0, run["stderr"][-2000:]
    assert run["results"] is not None, f"no results/results.json\n{run['stdout']}\n{run['stderr']}"
    return run["results"]


def test_run_autograder_gives_a_correct_submission_full_marks(autograded):
    results = _check_ran(autograded["correct"])
    assert results["score"] == TOTAL
    assert len(results["tests"]) == len(graded_exercises(REPO / "solutions"))
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in results["tests"])


def test_run_autograder_grades_a_wrong_submission(autograded):
    results = _check_ran(autograded["wrong"])
    lost = {t["name"].split(" · ")[-1]: t["score"] for t in results["tests"]
            if t["score"] != t["max_score"]}
    assert set(lost) == {"dense_backward"}, lost
    assert results["score"] == TOTAL - 2
    feedback = next(t["output"] for t in results["tests"] if t["name"].endswith("dense_backward"))
    assert "not summed over the batch" in " ".join(feedback.split())


def test_run_autograder_on_an_empty_submission_scores_0_with_a_note(autograded):
    results = _check_ran(autograded["empty"])
    assert results["score"] == 0
    assert "holds no .ipynb or .py file" in results["output"], results["output"]
    assert all(t["score"] == 0 for t in results["tests"])
