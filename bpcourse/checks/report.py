"""Running an exercise's battery on a learner's functions, and the verdict it prints."""

from dataclasses import dataclass
import textwrap
import zlib

import numpy as np

from . import driver
from .core import judge_case
from .registry import EXERCISES, reference_functions


@dataclass
class CaseResult:
    label: str
    passed: bool
    message: str = None
    hint: str = None
    status: str = "passed"     # passed | wrong | error | not_implemented | missing | timeout


@dataclass
class Report:
    """The verdict on one exercise: a result per test case."""

    exercise: str
    results: list
    note: str = None           # e.g. which functions it was graded with

    @property
    def passed(self):
        return all(r.passed for r in self.results)

    @property
    def n_passed(self):
        return sum(r.passed for r in self.results)

    @property
    def score(self):
        """The fraction of test cases passed, in [0, 1]."""
        return self.n_passed / len(self.results) if self.results else 0.0

    @property
    def status(self):
        if self.passed:
            return "passed"
        for special in ("missing", "not_implemented", "refused"):
            if all(r.status == special for r in self.results):
                return special
        return "failed"

    def text(self):
        """The verdict a learner reads: a pass, or the first failure with what to fix."""
        name, n = self.exercise, len(self.results)
        if self.status == "passed":
            return f"✓ {name} passed all {n} tests."
        if self.status == "not_implemented":
            return f"… {name} is not implemented yet (it still raises NotImplementedError)."
        if self.status == "missing":
            return f"✗ {name} was not found: define a function named {name}."
        if self.status == "refused":
            return f"✗ {self.results[0].message}"
        first = next(r for r in self.results if not r.passed)
        lines = [f"✗ {name} failed {n - self.n_passed} of {n} tests.",
                 f'  First failure, test "{first.label}":']
        lines += _wrap(first.message, "    ")
        if first.hint:
            lines += _wrap("Likely mistake: " + first.hint, "  ")
        return "\n".join(lines)

    def __str__(self):
        return self.text()


def _wrap(text, indent):
    return textwrap.wrap(text, 100, initial_indent=indent, subsequent_indent=indent + "  ")


def exercise_seed(name, seed):
    """A distinct, reproducible seed per exercise and per student/run seed."""
    return (zlib.crc32(name.encode()) + 1_000_003 * int(seed)) % 2**32


def make_cases(name, seed, given):
    ex = EXERCISES[name]
    return ex.make_cases(np.random.default_rng(exercise_seed(name, seed)), set(given))


def judge(name, cases, got_per_case):
    """Judge results computed elsewhere (e.g. in the grader's sandbox): a ``Report``."""
    ex = EXERCISES[name]
    reference = reference_functions()
    results = []
    for case, got in zip(cases, got_per_case):
        failure, hint = judge_case(ex, case, got, reference)
        if failure is None:
            results.append(CaseResult(case.label, True))
        else:
            results.append(CaseResult(case.label, False, failure.message, hint, failure.status))
    return Report(name, results)


def run(name, functions, seed=0):
    """Run exercise ``name``'s battery on ``functions`` (name -> callable) in this process."""
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; the exercises are: {', '.join(EXERCISES)}")
    cases = make_cases(name, seed, functions)
    return judge(name, cases, [driver.run_calls(functions, c.calls) for c in cases])
