"""A submission that spins (processes of its own sessions, busy loops) must not cost a
correct submission graded beside it any point: the time limit is CPU time, and the limit on
the clock is generous (``Limits.wall_timeout``)."""

import ast
from pathlib import Path
import sys

from bpcourse.grading.grade import grade
from bpcourse.grading.sandbox import Limits

sys.path.insert(0, str(Path(__file__).resolve().parent / "submissions"))
import catalogue  # noqa: E402

SPIN = '''
def _spin():
    import os
    for _ in range(12):  # busy processes in sessions of their own, then a busy loop
        try:
            if os.fork() == 0:
                os.setsid()
                while True:
                    pass
        except OSError:
            break
    while True:
        pass
'''

EXERCISES = ["numerical_gradient", "batchnorm_backward"]

#: a correct numerical_gradient that is slow (as a learner's pure-Python loops can be):
#: 4 calls of 0.03 s of CPU time, well within the limit of 0.5 s, but more than 0.5 s on
#: the clock when a dozen processes spin beside it
SLOW_BUT_CORRECT = """
def numerical_gradient(f, x, h=1e-5):
    import time
    start = time.process_time()
    while time.process_time() - start < 0.03:
        pass
    x = x.copy()
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad
"""


def _spinner(path, names):
    source = catalogue.correct_source()
    replacements = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            replacements[node.name] = f"def {node.name}({ast.unparse(node.args)}):\n    _spin()\n"
    first = names[0]
    replacements[first] = SPIN + "\n\n" + replacements[first]
    return catalogue.write_py(path, replacements)


def test_a_correct_submission_graded_beside_a_spinner_loses_nothing(tmp_path):
    # the long spinner spins in every exercise; the short one in one, so that the clean
    # student (third, --jobs 2) is graded while the long one spins
    long = _spinner(tmp_path / "spinner.py", EXERCISES)
    short = _spinner(tmp_path / "short.py", EXERCISES[-1:])
    clean = catalogue.write_py(tmp_path / "clean.py", {"numerical_gradient": SLOW_BUT_CORRECT})
    rows, _, _ = grade([long, short, clean], tmp_path / "out", jobs=2,
                       limits=Limits(timeout=0.5), exercises=EXERCISES, echo=lambda *a, **k: None)
    lost = {t["name"]: t["output"][:400] for t in rows["clean"]["tests"] if t["score"] != t["max_score"]}
    assert not lost, lost
    assert rows["spinner"]["score"] == 0
    feedback = rows["spinner"]["tests"][0]["output"]
    assert "did not finish" in feedback and "s of CPU time" in feedback, feedback
