"""Hints you ask for, one level at a time: a nudge, then the idea, then the formula.

    hint("batchnorm_backward")            # the first hint; call again for the next one
    hint("batchnorm_backward", level=3)   # a given level

The hints live beside each exercise's checks (``Exercise.hints``).  A failed ``check`` says
which hint comes next, and in a notebook shows a button that reveals it.
"""

import html

from .registry import EXERCISES

LEVEL_NAMES = ("a nudge", "the idea", "the formula")
_shown = {}   # exercise name -> the highest level shown in this session


def hints_of(name):
    """The hint levels of exercise ``name`` (a tuple of strings)."""
    if name not in EXERCISES:
        raise ValueError(f"hint() got {name!r}, which is not an exercise; the exercises are: "
                         f"{', '.join(EXERCISES)}")
    return EXERCISES[name].hints


def next_level(name):
    """The level (1-based) that the next ``hint(name)`` shows."""
    return min(_shown.get(name, 0) + 1, max(len(hints_of(name)), 1))


def hint_text(name, level):
    """'Hint 2 of 3 for dense_backward (the idea): ...'."""
    levels = hints_of(name)
    if not levels:
        return f"No hints are written for {name}: read the derivation above its exercise."
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= len(levels):
        raise ValueError(f"level must be 1 to {len(levels)} for {name}, got {level!r}")
    what = LEVEL_NAMES[level - 1] if level <= len(LEVEL_NAMES) else f"level {level}"
    more = "" if level == len(levels) else f"  (hint({name!r}) again for {LEVEL_NAMES[level]})"
    return f"Hint {level} of {len(levels)} for {name} ({what}): {levels[level - 1]}{more}"


def hint(name, level=None):
    """Print the next hint for exercise ``name`` (or the given ``level``, 1 = a nudge)."""
    level = next_level(name) if level is None else level
    text = hint_text(name, level)
    if hints_of(name):
        _shown[name] = max(_shown.get(name, 0), level)
    print(text)


def stuck_line(name):
    """The line a failed check ends with: where the next hint is."""
    levels = hints_of(name)
    if not levels:
        return ""
    level = next_level(name)
    if _shown.get(name, 0) >= len(levels):
        return f"  All {len(levels)} hints for {name} are shown above (hint({name!r}, level=k) repeats one)."
    return (f"  Stuck? hint({name!r}) shows hint {level} of {len(levels)} "
            f"({LEVEL_NAMES[level - 1]}).")


def hint_button(name):
    """An ipywidgets button that reveals the next hint under it, or None outside a notebook."""
    if not hints_of(name) or not _in_notebook():
        return None
    import ipywidgets as widgets

    out = widgets.HTML()
    button = widgets.Button(description=f"Show hint {next_level(name)} of {len(hints_of(name))}",
                            tooltip=f"hint({name!r})", icon="lightbulb-o")
    shown = []

    def reveal(_):
        level = next_level(name) if _shown.get(name, 0) < len(hints_of(name)) else None
        if level is None:
            button.disabled = True
            return
        _shown[name] = level
        shown.append(html.escape(hint_text(name, level).split("  (hint(")[0]))
        out.value = "<br>".join(shown)
        if level == len(hints_of(name)):
            button.description, button.disabled = "All hints shown", True
        else:
            button.description = f"Show hint {level + 1} of {len(hints_of(name))}"

    button.on_click(reveal)
    return widgets.VBox([button, out])


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
