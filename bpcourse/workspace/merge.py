"""Three-way merge of a learner's notebook with a new course version, by nbdime.

``merge(base, local, remote)``: base is the notebook as the course gave it, local the
learner's, remote the course's new version (all ``str``).  nbdime aligns the cells of the
three and merges them cell by cell; the rules here decide its conflicts:

- cells inserted at the same place by both sides (or inserted by one where the other
  changed a cell) are all kept, the learner's first;
- outputs changed on both sides keep the learner's (they are what the learner ran);
- cell metadata changed on both sides takes the course's (it names exercises and points),
  the notebook's metadata the learner's (their kernel);
- a code cell whose text both sides changed keeps the learner's text (their code is never
  replaced: the course's change to it is reported, ``Merge.kept``);
- anything else that both sides changed (the same markdown cell's text; a cell one side
  deleted and the other changed) is a conflict: no merge is made.

Whatever nbdime decides, a merge is only *clean* if every cell the learner added or changed
is in the result exactly as the learner wrote it; otherwise there is no merge either, and
the caller leaves the learner's file alone.
"""

from collections import Counter
from dataclasses import dataclass
import json
import types


@dataclass
class Merge:
    clean: bool
    text: str = None      # the merged notebook, when clean
    why: str = ""         # why it is not clean
    kept: list = None     # code cells the course changed too, where the learner's text was kept


def _strategies():
    from nbdime.merging.notebooks import notebook_merge_strategies

    args = types.SimpleNamespace(merge_strategy="mergetool", input_strategy=None,
                                 output_strategy=None, ignore_transients=True, log_level="WARNING")
    strategies = notebook_merge_strategies(args)
    strategies.update({"/cells/*/outputs": "use-local", "/metadata": "use-local",
                       "/cells/*/metadata": "use-remote"})
    return strategies


def _inserts_beside_changes(decision):
    """True when the two sides only inserted cells, or one inserted cells where the other
    changed a cell (at the same place): doing both loses nothing.  A deleted cell never is."""
    local, remote = list(decision.get("local_diff") or []), list(decision.get("remote_diff") or [])
    if not local or not remote or any(d["op"] not in ("addrange", "patch") for d in local + remote):
        return False
    patched = [{d["key"] for d in side if d["op"] == "patch"} for side in (local, remote)]
    return not (patched[0] & patched[1])


def _where(base, path):
    if len(path) >= 2 and path[0] == "cells" and isinstance(path[1], int):
        cell = base.cells[path[1]] if path[1] < len(base.cells) else None
        what = f"cell {path[1] + 1}"
        if cell is not None:
            first = cell.source.strip().splitlines()[:1]
            if first:
                what += f" ({first[0][:50]!r})"
        return what
    return "/".join(str(p) for p in path) or "the notebook"


def _learners_cells(base, local):
    """(cell type, source) of every cell the learner added or changed, with multiplicity."""
    given = Counter((c.cell_type, c.source) for c in base.cells)
    theirs = Counter((c.cell_type, c.source) for c in local.cells)
    return theirs - given


def merge(base_text, local_text, remote_text):
    """Merge the learner's ``local_text`` with the course's ``remote_text`` over ``base_text``."""
    import nbformat
    from nbdime.diffing.notebooks import diff_notebooks
    from nbdime.merging.decisions import apply_decisions
    from nbdime.merging.generic import decide_merge_with_diff

    base, local, remote = (nbformat.reads(t, as_version=4) for t in (base_text, local_text, remote_text))
    decisions = decide_merge_with_diff(base, local, remote, diff_notebooks(base, local),
                                       diff_notebooks(base, remote), _strategies())
    conflicts, kept = [], []
    for d in decisions:
        if not d.conflict:
            continue
        path = tuple(d.common_path)
        if path == ("cells",) and _inserts_beside_changes(d):
            d.action, d.conflict = "local_then_remote", False   # keep both: the learner's first
        elif _in_a_code_cell(base, path):
            d.action, d.conflict = "local", False               # the learner's code stays
            kept.append(_where(base, path))
        else:
            conflicts.append(_where(base, path))
    if conflicts:
        return Merge(False, why="you and the course both changed " + ", ".join(dict.fromkeys(conflicts)))
    merged = apply_decisions(base, decisions)
    missing = _learners_cells(base, local) - Counter((c.cell_type, c.source) for c in merged.cells)
    if missing:
        (kind, source), _ = next(iter(missing.items()))
        first = (source.strip().splitlines() or [""])[0][:50]
        return Merge(False, why=f"the course changed a {kind} cell that you changed too ({first!r})")
    merged = nbformat.from_dict(json.loads(json.dumps(merged)))
    try:
        nbformat.validate(merged)
    except Exception as e:  # nbformat's ValidationError and friends
        return Merge(False, why=f"the merged notebook would not be valid ({type(e).__name__})")
    return Merge(True, text=nbformat.writes(merged) + "\n", kept=list(dict.fromkeys(kept)))


def _in_a_code_cell(base, path):
    """A conflict inside the text of one code cell of ``base``."""
    return len(path) >= 3 and path[0] == "cells" and isinstance(path[1], int) \
        and path[2] == "source" and path[1] < len(base.cells) \
        and base.cells[path[1]].cell_type == "code"
