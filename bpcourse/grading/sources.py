"""The source of a learner's exercise function, as the grader ran it, for the feedback pages.

From a parsed submission (``submission.read``: nothing is run), the text of the top-level
``def`` that defines an exercise — the last one of the unit that ``Submission.defined`` names,
as Python keeps the last definition — and of the helper functions and classes of the
submission that it calls by name, directly or through other helpers (an exercise function
it calls is not a helper: it has its own feedback).
"""

import ast

from .submission import _parse

MAX_CHARS = 20_000   # of one exercise's source kept in results.json


def exercise_source(sub, name, defs=None):
    """``{"source", "where", "first_line", "helpers"}`` for exercise ``name`` of ``sub``, or
    None when the submission does not define it: the function's text, the file or cell it is
    in and the line of its ``def`` there; ``helpers`` is a list of the same for each helper
    it calls (``"name"`` added).  ``defs``: ``_top_level_defs(sub)``, when already known."""
    unit_name = sub.defined.get(name)
    if unit_name is None:
        return None
    defs = _top_level_defs(sub) if defs is None else defs
    if name not in defs or defs[name][0].name != unit_name:
        return None
    found = _entry(*defs[name])
    found["helpers"] = [dict(name=h, **_entry(*defs[h]))
                        for h in _helpers(defs[name][1], defs, set(sub.defined)) if h != name]
    return found


def _entry(unit, node):
    text = "\n".join(unit.source.splitlines()[_first_line(node) - 1:node.end_lineno]) + "\n"
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + f"\n# … (cut here: longer than {MAX_CHARS} characters)\n"
    return {"source": text, "where": unit.name, "first_line": _first_line(node)}


def full_text(source):
    """An ``exercise_source`` entry's function and helpers as one text (for comparisons)."""
    return "\n\n".join([source["source"]] + [h["source"] for h in source.get("helpers", [])])


def exercise_sources(sub, names):
    """{name: exercise_source(sub, name)} for the names the submission defines."""
    found, defs = {}, _top_level_defs(sub)   # the submission parsed once, not per exercise
    for name in names:
        source = exercise_source(sub, name, defs)
        if source is not None:
            found[name] = source
    return found


def _top_level_defs(sub):
    """name -> (unit, node) of the last kept top-level ``def`` or ``class`` of each name."""
    defs = {}
    for unit in sub.units:
        tree = _parse(unit.source, unit.name)
        for i in unit.keep:
            stmt = tree.body[i]
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defs[stmt.name] = (unit, stmt)
    return defs


def _helpers(node, defs, exercises):
    """The helpers that ``node`` calls by name, transitively, in the order first met."""
    found, todo = [], [node]
    while todo:
        current = todo.pop(0)
        for n in ast.walk(current):
            if isinstance(n, ast.Name) and n.id in defs and n.id not in exercises \
                    and n.id not in found and defs[n.id][1] is not node:
                found.append(n.id)
                todo.append(defs[n.id][1])
    return found


def _first_line(node):
    return min([node.lineno] + [d.lineno for d in node.decorator_list])
