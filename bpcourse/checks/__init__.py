"""Checks for the exercises: one battery of tests, used by the notebooks and by the grader.

In a notebook::

    dense_forward = check(dense_forward)                  # prints a verdict
    dense_backward = check(dense_backward, dense_forward)  # a backward may use your forward's cache

``check`` prints what passed or the first failing test, with what was expected, what
came back and, where it recognises one, the likely mistake.  It returns your function
when it passes and the reference otherwise (saying so), so the notebook can go on.
``hint(name)`` reveals the exercise's hints one level at a time (a nudge, the idea, the
formula); a failed check says which comes next and shows a button for it.
"""

from .hints import hint, hint_button, stuck_line
from .registry import EXERCISES, reference_functions
from .report import Report, run
from .yours import remember, your_functions

__all__ = ["check", "hint", "run", "Report", "EXERCISES", "your_functions"]


def check(fn, forward=None, *, name=None):
    """Check a learner's function; print the verdict; return the function to go on with."""
    name = name or getattr(fn, "__name__", None)
    if name not in EXERCISES:
        raise ValueError(
            f"check() got a function named {name!r}, which is not an exercise; the exercises "
            f"are: {', '.join(EXERCISES)} (or pass name='...')")
    reference = reference_functions()[name]
    if fn is reference:
        print(f"{name} is the reference implementation here (yours has not passed yet): "
              f"run your {name} cell again, then this check.")
        return fn
    functions = {name: fn}
    needs = EXERCISES[name].needs
    if forward is not None and needs and forward is not reference_functions()[needs[0]]:
        functions[needs[0]] = forward
    report = run(name, functions)
    print(report.text())
    if report.passed:
        remember(name, fn)
        return fn
    print(f"→ The rest of this notebook uses the reference {name} until yours passes.")
    line = stuck_line(name)
    if line:
        print(line)
    button = hint_button(name)
    if button is not None:
        from IPython.display import display

        display(button)
    return reference
