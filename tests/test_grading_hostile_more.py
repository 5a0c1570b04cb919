"""More hostile submissions (issue 12): each attack class, and the containment that stops it.

These grade small batches in this process with ``grade()`` (the sandboxed runners are
separate processes, as always), on the few exercises each attack needs, so that the file
stays fast.  The spinner, which needs CPU time to be measured, is in
``test_grading_hostile_cpu.py`` (a file of its own, so that xdist runs it beside this one).
"""

import json
import os
import re
from pathlib import Path
import resource
import sys
import textwrap
import unicodedata

import numpy as np
import pytest

from bpcourse.grading.grade import UsageError, grade
from bpcourse.grading.sandbox import Limits

sys.path.insert(0, str(Path(__file__).resolve().parent / "submissions"))
import catalogue  # noqa: E402


def _hex(value):
    """A string constant that spells no path in the source (hex-encoded)."""
    return f"bytes.fromhex({str(value).encode().hex()!r}).decode()"


def _grade(paths, out, exercises, timeout=2.0):
    rows, _, _ = grade(paths, out, jobs=2, limits=Limits(timeout=timeout), exercises=exercises,
                       echo=lambda *a, **k: None)
    return rows


def _tests(result):
    return {t["name"].split(" · ")[-1]: t for t in result["tests"]}


def _scores(result):
    return {name: (t["score"], t["max_score"]) for name, t in _tests(result).items()}


def _flat(text):
    return " ".join(text.split())


# ---------------------------------------------------------------- the reference, from memory

STEAL = '''
def _reference_of(name):
    """The course's reference function ``name``, dug out of the sandbox's memory."""
    import gc, sys, types

    for module in list(sys.modules.values()):  # injected modules left in sys.modules
        f = getattr(module, name, None)
        if callable(f) and getattr(f, "__module__", "").startswith("_course"):
            return f
    frame = sys._getframe()
    jobs = []
    while frame is not None:  # the runner's frames hold the job, sources included
        jobs += [v for v in frame.f_locals.values() if isinstance(v, dict) and "reference" in v]
        frame = frame.f_back
    jobs += [o for o in gc.get_objects() if isinstance(o, dict) and "reference" in o]
    for job in jobs:
        sources = job["reference"]
        package = types.ModuleType("_stolen")
        package.__path__ = []
        sys.modules["_stolen"] = package
        for module_name, text in sources:
            module = types.ModuleType("_stolen." + module_name)
            module.__package__ = "_stolen"
            sys.modules[module.__name__] = module
            exec(compile(text, module_name, "exec"), module.__dict__)
            setattr(package, module_name, module)
            if callable(getattr(module, name, None)):
                return getattr(module, name)
    for f in list(globals().values()):  # through the globals of the functions injected
        g = getattr(f, "__globals__", None)
        if isinstance(g, dict) and g is not globals() and callable(g.get(name)):
            return g[name]
    raise RuntimeError("no reference here")
'''

NETWORKS = {
    "two_layer_loss_and_grads": "params, X, y",
    "mlp_forward": "X, params, config, rng=None, train=True",
    "mlp_backward": "dlogits, caches",
    "train_step": "params, state, X, y, config, rng=None",
    "train_epoch": "params, state, X, y, config, rng, batch_size=64",
}


def test_a_submission_cannot_dig_the_reference_out_of_the_runners_memory(tmp_path):
    """Graded with the reference layers (here: none of the layers is graded), a network
    that fetches the reference network through sys.modules, the runner's frames
    (sys._getframe), gc.get_objects() or an injected function's globals must find none."""
    replacements = {}
    for name, signature in NETWORKS.items():
        args = ", ".join(a.split("=")[0] for a in signature.split(", "))
        replacements[name] = f"def {name}({signature}):\n    return _reference_of({name!r})({args})\n"
    replacements["two_layer_loss_and_grads"] = STEAL + "\n\n" + replacements["two_layer_loss_and_grads"]
    path = catalogue.write_py(tmp_path / "thief.py", replacements)
    result = _grade([path], tmp_path / "out", list(NETWORKS))["thief"]
    tests = _tests(result)
    for name in NETWORKS:
        assert tests[name]["score"] == 0, (name, tests[name]["output"][:1500])
        assert "no reference here" in _flat(tests[name]["output"]), tests[name]["output"][:1500]


# ---------------------------------------------------------------- what a process leaves behind

LEFTOVERS = '''
def sgd_step(w, dw, lr):
    import atexit, json, os, sys, threading, time

    out = os.path.join(os.path.dirname(os.getcwd()), "out")
    fake = {"adam_step.status": json.dumps({"state": "done", "seconds": 0}),
            "adam_step.json": "[]", "adam_step.arrays": "not an arrays file",
            "sgd_momentum_step.status": json.dumps({"state": "crashed", "detail": "forged"})}

    def forge():
        for name, text in fake.items():
            try:
                with open(os.path.join(out, name), "w") as f:
                    f.write(text)
            except OSError:
                pass

    def keep_forging():
        while True:
            forge()
            time.sleep(0.001)

    threading.Thread(target=keep_forging, daemon=True).start()  # still running after return
    atexit.register(forge)
    traced = []

    def trace(*args):  # forges once more, from the first function called after this one
        if not traced:
            traced.append(forge())

    sys.settrace(trace)
    if os.fork() == 0:  # and a process of its own, for a while
        os.setsid()
        for _ in range(3000):
            forge()
            time.sleep(0.001)
        os._exit(0)
    forge()
    return w - lr * dw
'''


def test_threads_and_processes_left_behind_cannot_forge_later_exercises(tmp_path):
    """sgd_step leaves a thread, an atexit hook, a trace function and a process that write
    the outputs of the exercises graded after it: those are graded on their own outputs
    (sgd_step itself may lose what it likes)."""
    path = catalogue.write_py(tmp_path / "forger.py", {"sgd_step": LEFTOVERS})
    result = _grade([path], tmp_path / "out", ["sgd_step", "sgd_momentum_step", "adam_step"])["forger"]
    lost = {n: t["output"][:600] for n, t in _tests(result).items()
            if n != "sgd_step" and t["score"] != t["max_score"]}
    assert not lost, lost


# ---------------------------------------------------------------- shapes and dtypes

SHAPES_AND_DTYPES = {  # name: (the Z returned, words the feedback must hold)
    "row_for_a_matrix": ("(X @ W + b)[:1]", "should have shape ({N}, {M}), got (1, {M})"),
    "column": ("(X @ W + b)[:, :1]", "should have shape ({N}, {M}), got ({N}, 1)"),
    "zero_d": ("np.array(1.0)", "should be a numpy array (float64 array of shape ({N}, {M})), got"),
    "float16": ("(X @ W + b).astype(np.float16)", "should be float64 like the inputs"),
    "complex": ("(X @ W + b).astype(complex)", "got complex128 array of shape ({N}, {M})"),
    "bool": ("(X @ W + b) > 0", "should be float64 like the inputs (float64 in, float64 out), got bool"),
    "object": ("(X @ W + b).astype(object)", "got ndarray of dtype object"),
    "matrix": ("(X @ W + b).view(np.matrix)", "got numpy.matrix"),
    "masked": ("np.ma.masked_array(X @ W + b)", "got numpy.ma.MaskedArray"),
    "structured": ("np.zeros(len(X), dtype=[('a', X.dtype), ('b', X.dtype)])",
                   "got ndarray of dtype [('a', '<f8'), ('b', '<f8')]"),
    "memmap": ("_memmap(X @ W + b)", "got numpy.memmap"),
}

MEMMAP = '''
def _memmap(Z):
    import os
    m = np.memmap(os.path.join(os.getcwd(), "z.bin"), dtype=Z.dtype, mode="w+", shape=Z.shape)
    m[:] = Z
    return m
'''


def test_outputs_of_another_shape_or_dtype_are_judged_exactly(tmp_path):
    """Outputs that would broadcast against the expected (N, M) array, or that have another
    dtype or type, fail with a message that says what was expected and what was given."""
    paths = []
    for name, (expr, _) in SHAPES_AND_DTYPES.items():
        code = f"def dense_forward(X, W, b):\n    Z = {expr}\n    return Z, (X, W, b)\n"
        paths.append(catalogue.write_py(tmp_path / f"{name}.py", {"dense_forward": MEMMAP + "\n\n" + code}))
    rows = _grade(paths, tmp_path / "out", ["dense_forward"])
    problems = []
    for name, (_, words) in SHAPES_AND_DTYPES.items():
        test = _tests(rows[name])["dense_forward"]
        # the first float64 case: "random float64 inputs, X (N, D), W (D, M)"
        first = re.search(r"random float64 inputs, X \((\d+), \d+\), W \(\d+, (\d+)\)", test["output"])
        if first is None:
            problems.append(f"{name}: no float64 case in:\n{test['output'][:800]}")
            continue
        N, M = first.groups()
        wanted = words.format(N=N, M=M)
        text = _flat(test["output"])
        if test["score"] == test["max_score"] or wanted not in text:
            problems.append(f"{name}: wanted {wanted!r} in:\n{test['output'][:800]}")
    assert not problems, "\n\n".join(problems)


# ---------------------------------------------------------------- objects with hooks

HOOKED = '''
def _touch(what):
    import os
    try:
        with open(H_MARKER + "." + what, "w") as f:
            f.write(what)
    except OSError:
        pass
    os._exit(9)


class Hooked:
    def __array__(self, *a, **k):
        _touch("array")

    def __float__(self):
        _touch("float")

    def __index__(self):
        _touch("index")

    def __len__(self):
        _touch("len")

    def __iter__(self):
        _touch("iter")

    def __reduce__(self):
        _touch("reduce")

    def __reduce_ex__(self, protocol):
        _touch("reduce_ex")

    def __repr__(self):
        _touch("repr")

    def __str__(self):
        _touch("str")

    def __eq__(self, other):
        _touch("eq")

    def __hash__(self):
        _touch("hash")

    def __del__(self):
        _touch("del")


class HookedFloat(float):
    def __float__(self):
        _touch("float_subclass")


def dense_forward(X, W, b):
    return Hooked(), (X, W, b)
'''


def test_objects_whose_hooks_run_code_are_never_called_by_the_grader(tmp_path):
    """Returned objects whose __array__, __float__, __len__, __reduce__, __del__, __repr__...
    would run code (here: write a file outside the sandbox, then exit) are reported by their
    type; the grader never unpickles or calls into them, and the other exercises count."""
    marker = tmp_path / "hook-ran"
    replacements = {
        "dense_forward": f"H_MARKER = {_hex(marker)}\n\n" + HOOKED,
        "cross_entropy": "def cross_entropy(P, y):\n    return HookedFloat(1.0)\n",
        "relu_forward": "def relu_forward(Z):\n    return [Hooked()], {'k': Hooked()}\n",
    }
    path = catalogue.write_py(tmp_path / "hooks.py", replacements)
    result = _grade([path], tmp_path / "out", ["dense_forward", "relu_forward", "cross_entropy",
                                                  "softmax"])["hooks"]
    tests = _tests(result)
    assert list(tmp_path.glob("hook-ran*")) == [], "a hook ran outside the sandbox"
    assert "should be a numpy array" in _flat(tests["dense_forward"]["output"]) and \
        "got submission.Hooked" in _flat(tests["dense_forward"]["output"]), tests["dense_forward"]["output"]
    for name in ("dense_forward", "relu_forward", "cross_entropy"):
        assert tests[name]["score"] == 0, tests[name]["output"][:800]
    assert tests["softmax"]["score"] == tests["softmax"]["max_score"], tests["softmax"]["output"]


# ---------------------------------------------------------------- notebooks

def test_notebook_magics_and_shell_escapes_are_never_run(tmp_path):
    marks = {k: tmp_path / f"ran-{k}" for k in ("bash", "bang", "run", "ext", "script")}
    (tmp_path / "evil.py").write_text(f"open({str(marks['run'])!r}, 'w')\n", encoding="utf-8")
    cells = [
        catalogue.code_cell(f"%%bash\ntouch {marks['bash']}\n"),
        catalogue.code_cell(f"import numpy as np\n!touch {marks['bang']}\n%run {tmp_path / 'evil.py'}\n"
                            f"%load_ext evil_extension\n%config InlineBackend.figure_format = 'png'\n"),
        catalogue.code_cell(f"%%script sh\ntouch {marks['script']}\n", exercise="softmax"),
    ]
    cells += catalogue.exercise_cells(["dense_forward", "relu_forward"])
    path = tmp_path / "magics.ipynb"
    path.write_text(catalogue.notebook_json(cells), encoding="utf-8")
    result = _grade([path], tmp_path / "out", ["dense_forward", "relu_forward"])["magics"]
    assert [m.name for m in marks.values() if m.exists()] == []
    assert result["score"] == 3, result["output"]
    notes = _flat(result["output"])
    for words in ("cell 1 is a %%bash cell: the grader runs Python only, so the cell was skipped",
                  "cell 3 is a %%script cell", "!touch, %run, %load_ext are IPython commands",
                  "the grader does not run them"):
        assert words in notes, notes
    assert "%config" not in notes  # the course's own notebooks use it: no note


def test_huge_and_malformed_notebooks_get_a_clear_bounded_note(tmp_path):
    big = tmp_path / "huge.ipynb"
    with open(big, "wb") as f:  # 200 MB (sparse: fast to make)
        f.truncate(200 * 2**20)
    (tmp_path / "nested.ipynb").write_text('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}")
    (tmp_path / "cut.ipynb").write_text('{"cells": [{"cell_type": "code", "sou')
    (tmp_path / "latin1.ipynb").write_bytes('{"cells": [], "x": "é"}'.encode("latin-1"))
    (tmp_path / "odd_cells.ipynb").write_text(json.dumps({"cells": [
        {"cell_type": "code", "source": [1, 2]}, {"cell_type": "code", "source": None}, 7,
        {"cell_type": "code", "source": ["import numpy ", "as np"]},
        {"cell_type": "code", "source": catalogue.function_source("relu_forward"),
         "metadata": {"bpcourse": {"exercise": "relu_forward"}}}]}))
    names = ["huge", "nested", "cut", "latin1", "odd_cells"]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = _grade([tmp_path / f"{n}.ipynb" for n in names], tmp_path / "out", ["relu_forward"])
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100, f"grading them took {grown_mb:.0f} MB more memory"
    expected = {
        "huge": "huge.ipynb is larger than 20 MB: not graded",
        "nested": "nested.ipynb is not a valid notebook: its JSON is nested too deeply",
        "cut": "cut.ipynb is not a valid notebook (JSONDecodeError",
        "latin1": "latin1.ipynb cannot be read (UnicodeDecodeError)",
        "odd_cells": "odd_cells.ipynb, cell 1: its source should be text or a list of lines, got a "
                     "list holding int: the cell was skipped",
    }
    for name, words in expected.items():
        output = _flat(rows[name]["output"])
        assert words in output and "grader failed" not in output, output
    assert rows["odd_cells"]["score"] == 1, rows["odd_cells"]["output"]  # its good cell counts


# ---------------------------------------------------------------- student ids

def test_student_ids_that_cannot_name_a_results_folder_are_refused_up_front(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    (out / "alice").mkdir(parents=True)
    (out / "alice" / "results.json").write_text("earlier", encoding="utf-8")
    refused = {"new\nline": "newline", "esc\x1b[2Jape": "control character",
               "gradebook.csv": "the name of a file grading writes", ".hidden": "starts with a dot",
               "x" * 230: "longer than 200 characters"}
    for sid, why in refused.items():
        path = catalogue.write_py(subs / f"{sid}.py")
        with pytest.raises(UsageError) as e:
            _grade([path], out, ["relu_forward"])
        assert why in str(e.value) and repr(sid) in str(e.value), str(e.value)
        path.unlink()
    nfc = unicodedata.normalize("NFC", "Zoë")
    nfd = unicodedata.normalize("NFD", "Zoë")
    for a, b in (("Alice", "alice"), (nfc, nfd), ("alice", "alice")):
        pa = catalogue.write_py(subs / f"{a}.py")
        pb = subs / f"{b}.ipynb"
        pb.write_text(catalogue.notebook_json(catalogue.exercise_cells(["relu_forward"])))
        with pytest.raises(UsageError) as e:
            _grade([pa, pb], out, ["relu_forward"])
        assert "two submissions for student" in str(e.value) and str(pb) in str(e.value), str(e.value)
        pa.unlink()
        pb.unlink()
    assert (out / "alice" / "results.json").read_text() == "earlier"  # nothing overwritten
    assert sorted(p.name for p in out.iterdir()) == ["alice"]
    # a name with spaces, unicode and 200 characters is fine, and stays in its folder
    fine = ["José Ñúñez", "李小龙", "y" * 200]
    rows = _grade([catalogue.write_py(subs / f"{s}.py") for s in fine], out, ["relu_forward"])
    assert sorted(rows) == sorted(fine)
    assert sorted(p.name for p in out.iterdir()) == sorted(["alice", "gradebook.csv", "report.html", *fine])
    for sid in fine:
        assert json.loads((out / sid / "results.json").read_text())["score"] == 1


# ---------------------------------------------------------------- folder submissions

def test_a_folder_with_numpy_py_sitecustomize_or_a_pth_file_changes_nothing(tmp_path):
    """Their code is a submission's code like any other (definitions only); it never
    shadows numpy, runs at start-up, or runs on the grader's side."""
    folder = tmp_path / "dave"
    folder.mkdir()
    marker = tmp_path / "ran"
    catalogue.write_py(folder / "work.py")
    payload = f"open({_hex(marker)} + '.{{}}'.format(__name__), 'w').close()\n"
    (folder / "numpy.py").write_text(
        "import os\n" + payload + "def allclose(*a, **k):\n    return True\n"
        "ndarray = float\nfloat64 = float32 = int\n", encoding="utf-8")
    (folder / "sitecustomize.py").write_text(payload, encoding="utf-8")
    (folder / "usercustomize.py").write_text(payload, encoding="utf-8")
    (folder / "evil.pth").write_text(f"import os; {payload}", encoding="utf-8")
    result = _grade([folder], tmp_path / "out", ["relu_forward", "softmax", "sgd_step"])["dave"]
    assert list(tmp_path.glob("ran*")) == []
    assert result["score"] == sum(t["max_score"] for t in result["tests"]), result["output"]
