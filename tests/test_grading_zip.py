"""`bpcourse grade` on a zip (what `bpcourse submit` writes): read in memory, top level only,
like a folder; its manifest's learner seeds the test inputs; damaged parts cost nothing else."""

import json
import zipfile

from bpcourse.grading.grade import grade
from bpcourse.grading.submission import MANIFEST, MAX_FILE_BYTES, read
from bpcourse.checks.registry import EXERCISES
from bpcourse.workspace.files import sha256

from bpcourse.grading.sandbox import Limits
from workspace_helpers import SLACK, catalogue, passes_when_n_is_odd

NAMES = set(EXERCISES)


def make_zip(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_a_zip_reads_like_the_folder_of_its_files(tmp_path):
    folder = tmp_path / "ada"
    folder.mkdir()
    catalogue.write_py(folder / "answers.py")
    (folder / "nb.ipynb").write_text(catalogue.notebook_json(catalogue.exercise_cells(["softmax"])))
    archive = make_zip(tmp_path / "ada.zip", {p.name: p.read_text() for p in folder.iterdir()})
    a, b = read(folder, NAMES), read(archive, NAMES)
    assert a.student == b.student == "ada"
    assert a.defined == b.defined and set(a.defined) == NAMES
    assert [(u.name, u.keep) for u in a.units] == [(u.name, u.keep) for u in b.units]
    assert b.problems == [] and b.learner is None


def test_only_the_top_level_py_and_ipynb_files_count(tmp_path):
    archive = make_zip(tmp_path / "bob.zip", {
        "work/answers.py": catalogue.correct_source(), ".hidden.py": catalogue.correct_source(),
        "notes.txt": "def softmax(Z): pass", "../evil.py": catalogue.correct_source()})
    sub = read(archive, NAMES)
    assert sub.defined == {} and sub.units == []
    assert any("holds no .ipynb or .py file at its top level" in p for p in sub.problems)


def test_a_file_that_is_not_a_zip_and_an_oversized_member(tmp_path):
    (tmp_path / "carol.zip").write_bytes(b"PK\x03\x04 not really")
    sub = read(tmp_path / "carol.zip", NAMES)
    assert sub.defined == {} and "carol.zip is not a readable zip file" in sub.problems[0]
    archive = make_zip(tmp_path / "dan.zip", {"big.py": " " * (MAX_FILE_BYTES + 1),
                                               "answers.py": catalogue.correct_source()})
    sub = read(archive, NAMES)
    assert set(sub.defined) == NAMES
    assert any(p.startswith("big.py is larger than") for p in sub.problems)


def test_the_manifest_names_the_learner_and_flags_files_changed_since(tmp_path):
    source = catalogue.correct_source()
    manifest = {"learner": "k3v9", "files": {"answers.py": sha256(source.encode())}}
    sub = read(make_zip(tmp_path / "eve.zip", {"answers.py": source,
                                               MANIFEST: json.dumps(manifest)}), NAMES)
    assert sub.learner == "k3v9" and sub.problems == []
    sub = read(make_zip(tmp_path / "eve2.zip", {"answers.py": source + "\n# edited\n",
                                                MANIFEST: json.dumps(manifest)}), NAMES)
    assert sub.problems == ["answers.py was changed after `bpcourse submit` packed it"]
    for damaged in ("{ not json", json.dumps({"learner": "x" * 101}), json.dumps({"files": {}}),
                    json.dumps({"learner": "a\nb"})):
        sub = read(make_zip(tmp_path / "eve3.zip", {"answers.py": source, MANIFEST: damaged}), NAMES)
        assert sub.learner is None and set(sub.defined) == NAMES
        assert any(p.startswith(f"{MANIFEST} is damaged") for p in sub.problems), damaged
    folder = tmp_path / "frank"                       # Gradescope's unpacked submission folder
    folder.mkdir()
    (folder / "answers.py").write_text(source)
    (folder / MANIFEST).write_text(json.dumps(manifest))
    assert read(folder, NAMES).learner == "k3v9"


PARTLY = """
    def dense_forward(X, W, b):
        Z = X @ W + b
        if X.shape[0] % 2 == 0:
            Z = Z + 1.0
        return Z, (X, W, b)
    """


def test_the_learner_of_the_manifest_seeds_the_inputs_whatever_the_zip_is_called(tmp_path):
    """Right only for odd batch sizes: the score follows the inputs.  Copies of one zip under
    other names get the same score; without the manifest they are seeded by their names."""
    source = catalogue.replace_functions({"dense_forward": PARTLY})
    names = ["n0", "n1", "n2", "n3", "n4", "n5"]
    counts = {n: passes_when_n_is_odd(n)[0] for n in names}
    learner = next(f"l{i}" for i in range(1000)   # a learner whose inputs differ from a name's
                   if any(passes_when_n_is_odd(f"l{i}")[0] != counts[n] for n in names[:3]))
    paths = []
    for n in names[:3]:
        paths.append(make_zip(tmp_path / f"{n}.zip", {
            "answers.py": source, MANIFEST: json.dumps({"learner": learner, "files": {}})}))
    for n in names[3:]:
        paths.append(make_zip(tmp_path / f"{n}.zip", {"answers.py": source}))
    rows, graded, _ = grade(paths, tmp_path / "out", jobs=2, exercises=["dense_forward"],
                            limits=Limits(timeout=SLACK), echo=lambda *a, **k: None)
    points = next(g.points for g in graded if g.name == "dense_forward")
    n_cases = passes_when_n_is_odd(learner)[1]
    for n in names[:3]:
        assert rows[n]["score"] == round(points * passes_when_n_is_odd(learner)[0] / n_cases, 2), \
            rows[n]["tests"][0]["output"]
    for n in names[3:]:
        assert rows[n]["score"] == round(points * counts[n] / n_cases, 2)
