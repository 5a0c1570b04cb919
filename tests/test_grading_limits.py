"""What a submission's limits cost it, seen from the sandbox's outcomes: a function that
spins, runs out of memory or crashes in its own exercise costs its limit once (the
exercises that call it, and the backward calls through it as the learner's own forward,
meet a stand-in that fails at once, and are graded again with the reference in its place);
a function that sleeps ends by the idle limit, not by the clock's; and a submission's
exercises run one after another in one process until one leaves something behind."""

from pathlib import Path
import sys
import time

import pytest

from bpcourse.grading import grade as grading
from bpcourse.grading.course import graded_exercises
from bpcourse.grading.sandbox import Limits, Sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent / "submissions"))
import catalogue  # noqa: E402

SPINS = """
def relu_forward(Z):
    while True:
        pass
"""

HOGS = """
def dropout_backward(dout, cache):
    hog = []
    while True:  # address space, not pages touched: quick to run out of
        hog.append(np.empty(50 * 2**20, np.uint8))
"""

SLEEPS = """
def sgd_step(w, dw, lr):
    import time
    time.sleep(1000)
"""


class Recording(Sandbox):
    """A sandbox that keeps every run's outcomes ({key: Outcome}), in order."""

    def __init__(self, limits):
        super().__init__(limits)
        self.runs = []

    def run(self, units, calls_by_exercise, names, inject=None, uses=None):
        outcomes, isolation = super().run(units, calls_by_exercise, names, inject, uses)
        self.runs.append(outcomes)
        return outcomes, isolation


def _grade(tmp_path, replacements, timeout):
    path = catalogue.write_py(tmp_path / "student.py", replacements)
    sandbox = Recording(Limits(timeout=timeout))
    try:
        start = time.monotonic()
        _, result = grading.grade_one(sandbox, path, graded_exercises(None, "as-set"), 0)
        return sandbox.runs, result, time.monotonic() - start
    finally:
        sandbox.close()


def _scores(result):
    return {t["name"].split(" · ")[-1]: (t["score"], t["max_score"]) for t in result["tests"]}


def _errors(outcome):
    return [r.get("error") or "" for case in outcome.results for r in case]


def test_a_spinning_layer_costs_its_limit_once_and_only_its_own_points(tmp_path):
    runs, result, seconds = _grade(tmp_path, {"relu_forward": SPINS}, timeout=1.5)
    first = runs[0]
    timed_out = sorted(k for k, o in first.items() if o.state == "timeout")
    assert timed_out == ["relu_forward"], {k: (o.state, o.detail) for k, o in first.items()}
    # every exercise that calls it met the stand-in, at once, in the same run
    for key in ("two_layer_loss_and_grads", "mlp_forward", "relu_backward.own", "train_step"):
        assert first[key].state == "done", (key, first[key].state, first[key].detail)
        assert any("relu_forward did not finish within the limit in its own check" in e
                   for e in _errors(first[key])), (key, _errors(first[key])[:3])
        assert first[key].seconds < 1.0, (key, first[key].seconds)
    lost = {n: s for n, s in _scores(result).items() if s[0] != s[1]}
    assert set(lost) == {"relu_forward"}, lost
    # one limit of 1.5 s of CPU time, not one per exercise that calls it (7 of them)
    assert seconds < 1.5 + 6, seconds


def test_a_function_that_runs_out_of_memory_does_so_once(tmp_path):
    runs, result, _ = _grade(tmp_path, {"dropout_backward": HOGS}, timeout=3)
    first = runs[0]
    own = _errors(first["dropout_backward"])
    assert own and all(e.startswith("MemoryError") for e in own), own[:3]
    for key in ("mlp_backward", "tape_backward"):
        errors = _errors(first[key])
        assert any("dropout_backward ran out of memory in its own check" in e for e in errors), \
            (key, errors[:3])
        assert not any(e.startswith("MemoryError") for e in errors), (key, errors[:3])
    lost = {n: s for n, s in _scores(result).items() if s[0] != s[1]}
    assert set(lost) == {"dropout_backward"}, lost


def test_a_function_that_sleeps_ends_by_the_idle_limit(tmp_path):
    limits = Limits(timeout=2)
    assert limits.idle_timeout == 1.0 and limits.wall_timeout == 5.0
    runs, result, _ = _grade(tmp_path, {"sgd_step": SLEEPS}, timeout=2)
    outcome = runs[0]["sgd_step"]
    assert outcome.state == "timeout", (outcome.state, outcome.detail)
    assert "it waited or slept for 1 s" in outcome.detail, outcome.detail
    assert outcome.seconds < limits.wall_timeout - 1, outcome.seconds  # not the clock's limit
    lost = {n: s for n, s in _scores(result).items() if s[0] != s[1]}
    assert set(lost) == {"sgd_step"}, lost


@pytest.mark.parametrize("timeout, idle, wall", [(0.5, 1.0, 3.5), (2, 1.0, 5.0), (10, 5.0, 20.0)])
def test_the_idle_limit_is_half_the_cpu_limit_and_at_least_a_second(timeout, idle, wall):
    limits = Limits(timeout=timeout)
    assert (limits.idle_timeout, limits.wall_timeout) == (idle, wall)


SHARED_SGD = """
def sgd_step(w, dw, lr):
    import os
    os.environ["BPCOURSE_TEST_SHARED"] = "1"  # a mark left in the process
    return w - lr * dw
"""

CRASHES_WHERE_MARKED = """
def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    import os
    if os.environ.get("BPCOURSE_TEST_SHARED"):
        os._exit(3)  # only in a process where sgd_step ran before it
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
"""


def test_a_crash_after_other_exercises_ran_in_the_process_is_judged_in_a_fresh_one(tmp_path):
    runs, result, _ = _grade(tmp_path, {"sgd_step": SHARED_SGD, "adam_step": CRASHES_WHERE_MARKED},
                             timeout=2)
    assert runs[0]["adam_step"].state == "done", runs[0]["adam_step"].detail
    lost = {n: s for n, s in _scores(result).items() if s[0] != s[1]}
    assert not lost, lost


def test_a_crash_in_a_fresh_process_costs_the_exercise(tmp_path):
    runs, result, _ = _grade(tmp_path, {"adam_step": CRASHES_WHERE_MARKED.replace(
        'if os.environ.get("BPCOURSE_TEST_SHARED"):', "if True:")}, timeout=2)
    assert runs[0]["adam_step"].state == "crashed", runs[0]["adam_step"].state
    assert "exited with code 3" in runs[0]["adam_step"].detail, runs[0]["adam_step"].detail
    lost = {n: s for n, s in _scores(result).items() if s[0] != s[1]}
    assert set(lost) == {"adam_step"}, lost
