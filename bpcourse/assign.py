"""``bpcourse assign``: make the student notebooks from the instructor's solutions.

In a solution notebook, an exercise is a code cell with a region between nbgrader's markers::

    def dense_forward(X, W, b):
        \"\"\"Z = X W + b ...\"\"\"
        ### BEGIN SOLUTION
        # HINT: one matrix product and a broadcast bias.
        Z = X @ W + b
        return Z, (X, W, b)
        ### END SOLUTION

The student version replaces the region by a stub that raises ``NotImplementedError`` with
a nudge: for a course exercise the first level of its hints (``bpcourse.checks``), which
``hint(name)`` continues; otherwise the region's ``# HINT:`` line (or a default).  It clears
the outputs of exercise cells and of the cells that ``check(...)`` them.  A region in a Markdown cell becomes "YOUR ANSWER HERE".

Instructors choose exercises and points in the cell metadata (nbgrader's ``points`` is
read too)::

    "metadata": {"bpcourse": {"exercise": "dense_forward", "points": 2}}
    "metadata": {"bpcourse": {"assign": false}}   # keep this solution: not an exercise

The result is deterministic: the same solutions always give byte-identical notebooks.
"""

from dataclasses import dataclass
import json
import numbers
from pathlib import Path
import re

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
HINT = re.compile(r"^\s*#\s*HINT:\s*(.*?)\s*$")
DEF = re.compile(r"^def\s+(\w+)\s*\(", re.MULTILINE)
CHECK_CALL = re.compile(r"\bcheck\(")
DEFAULT_POINTS = 1


class AssignError(Exception):
    """A solution notebook that cannot be turned into a student notebook."""


@dataclass
class ExerciseCell:
    """An exercise as the instructor set it up: where it is and what it is worth."""

    notebook: str      # the notebook's file name, e.g. "05_dense_backward.ipynb"
    cell: int          # index of the cell in the notebook
    name: str          # the function the learner writes
    points: float
    assigned: bool


def regions(source, where):
    """The solution regions of a cell's source: a list of (begin, end, hint) line indices."""
    found, begin, hint = [], None, None
    for i, line in enumerate(source.splitlines()):
        if BEGIN in line:
            if begin is not None:
                raise AssignError(f"{where}: a nested '{BEGIN}' at line {i + 1} (the region "
                                  f"opened at line {begin + 1} has no '{END}' before it)")
            begin, hint = i, None
        elif END in line:
            if begin is None:
                raise AssignError(f"{where}: '{END}' at line {i + 1} without a '{BEGIN}' before it")
            found.append((begin, i, hint))
            begin = None
        elif begin is not None and hint is None and HINT.match(line):
            hint = HINT.match(line).group(1)
    if begin is not None:
        raise AssignError(f"{where}: the region opened at line {begin + 1} has no '{END}'")
    return found


def stub_source(source, cell_type, where):
    """The cell's source with every solution region replaced by a stub."""
    lines = source.splitlines()
    out, last = [], 0
    for begin, end, hint in regions(source, where):
        out += lines[last:begin]
        indent = re.match(r"\s*", lines[begin]).group(0)
        if cell_type == "markdown":
            out.append("YOUR ANSWER HERE")
        else:
            function = _enclosing_function(lines, begin)
            message = hint or _nudge(function) or (
                f"implement {function}: see the derivation above" if function else "your code here")
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError({message!r})"]
        last = end + 1
    out += lines[last:]
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def _nudge(function):
    """The stub's message for a course exercise: the first level of its hints (a nudge, never
    the formula), and where the next levels are."""
    if function is None:
        return None
    from .checks.registry import EXERCISES

    ex = EXERCISES.get(function)
    if ex is None or not ex.hints:
        return None
    return f"implement {function}: {ex.hints[0]} (hint({function!r}) for more)"


def _enclosing_function(lines, at):
    for line in reversed(lines[:at]):
        m = DEF.match(line.lstrip())
        if m:
            return m.group(1)
    return None


def exercise_cells(nb, notebook_name):
    """The exercises of a solution notebook, from its regions and cell metadata."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or BEGIN not in cell.source:
            continue
        where = f"{notebook_name}, cell {i + 1}"
        meta = _cell_meta(cell, where)
        names = DEF.findall(cell.source)
        name = meta.get("exercise") or (names[0] if names else None)
        if name is None:
            raise AssignError(f"{where}: a solution region outside any function; name the "
                              f"exercise in the cell metadata (\"bpcourse\": {{\"exercise\": \"...\"}})")
        if not isinstance(name, str):
            raise AssignError(f"{where}: the metadata's exercise must be a function name, got {name!r}")
        nbgrader = cell.metadata.get("nbgrader", {})
        points = meta.get("points", nbgrader.get("points") if isinstance(nbgrader, dict) else None)
        points = DEFAULT_POINTS if points is None else points
        if isinstance(points, bool) or not isinstance(points, numbers.Real) or points < 0:
            raise AssignError(f"{where}: points must be a number ≥ 0, got {points!r}")
        assigned = meta.get("assign", True)
        if not isinstance(assigned, bool):
            raise AssignError(f"{where}: assign must be true or false, got {assigned!r}")
        found.append(ExerciseCell(notebook_name, i, name, float(points), assigned))
    return found


def _cell_meta(cell, where):
    meta = cell.metadata.get("bpcourse", {})
    if not isinstance(meta, dict):
        raise AssignError(f"{where}: the cell metadata \"bpcourse\" must be an object such as "
                          f"{{\"exercise\": \"dense_forward\", \"points\": 2}}, got {meta!r}")
    return meta


def student_notebook(nb, notebook_name):
    """A student copy of solution notebook ``nb`` (which is not modified)."""
    import nbformat

    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for i, cell in enumerate(nb.cells):
        where = f"{notebook_name}, cell {i + 1}"
        has_region = BEGIN in cell.source or END in cell.source
        if _cell_meta(cell, where).get("assign", True) is False:
            regions(cell.source, where)  # still validated
            cell.source = "\n".join(l for l in cell.source.splitlines()
                                    if BEGIN not in l and END not in l)
            continue
        if has_region:
            cell.source = stub_source(cell.source, cell.cell_type, where)
        if cell.cell_type == "code" and (has_region or CHECK_CALL.search(cell.source)):
            cell.outputs = []
            cell.execution_count = None
    return nb


def read_notebook(path):
    """Read a notebook, turning every way it can be broken into an ``AssignError``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise AssignError(f"{path}: cannot be read ({e})") from None
    import nbformat

    try:
        raw = json.loads(text)
        nb = nbformat.reads(text, as_version=4)
    except Exception as e:  # invalid JSON or not a notebook
        raise AssignError(f"{path}: not a valid notebook ({type(e).__name__}: {e})") from None
    # nbformat invents random ids for cells that have none: make them deterministic
    raw_cells = raw.get("cells", []) if isinstance(raw, dict) else []
    for i, cell in enumerate(nb.cells):
        if i < len(raw_cells) and isinstance(raw_cells[i], dict) and "id" not in raw_cells[i] \
                and "id" in cell:
            cell.id = f"{Path(path).stem[:40]}-{i}"
    return nb


def generate(solutions_dir):
    """{file name: student notebook text} for every notebook in ``solutions_dir``."""
    solutions_dir = Path(solutions_dir)
    if not solutions_dir.is_dir():
        raise AssignError(f"{solutions_dir}: no such folder of solution notebooks")
    paths = sorted(solutions_dir.glob("*.ipynb"))
    if not paths:
        raise AssignError(f"{solutions_dir}: holds no .ipynb notebooks")
    import nbformat

    out = {}
    for path in paths:
        nb = read_notebook(path)
        exercise_cells(nb, path.name)  # validates the metadata
        out[path.name] = nbformat.writes(student_notebook(nb, path.name)) + "\n"
    return out


def assign(solutions_dir, notebooks_dir, check=False):
    """Write (or, with ``check``, compare) the student notebooks.  Returns a list of
    problems found in check mode (empty when ``notebooks_dir`` is up to date)."""
    wanted = generate(solutions_dir)  # everything is validated before anything is written
    notebooks_dir = Path(notebooks_dir)
    existing = {p.name for p in notebooks_dir.glob("*.ipynb")} if notebooks_dir.is_dir() else set()
    if check:
        problems = [f"{notebooks_dir / n}: missing" for n in sorted(set(wanted) - existing)]
        problems += [f"{notebooks_dir / n}: not generated from {solutions_dir} (no solution notebook)"
                     for n in sorted(existing - set(wanted))]
        problems += [f"{notebooks_dir / n}: differs from what `bpcourse assign` makes from "
                     f"{Path(solutions_dir) / n}"
                     for n in sorted(set(wanted) & existing)
                     if (notebooks_dir / n).read_text(encoding="utf-8") != wanted[n]]
        return problems
    notebooks_dir.mkdir(parents=True, exist_ok=True)
    for name, text in wanted.items():
        tmp = notebooks_dir / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(notebooks_dir / name)
    for name in sorted(existing - set(wanted)):
        (notebooks_dir / name).unlink()
    return []


def add_parser(subparsers):
    p = subparsers.add_parser(
        "assign", help="make the student notebooks from the solution notebooks",
        description="Write student notebooks: solution regions become stubs, exercise outputs "
                    "are cleared. With --check, only compare and exit 1 on any difference.")
    p.add_argument("solutions", help="folder of solution notebooks (e.g. solutions/)")
    p.add_argument("notebooks", help="folder of student notebooks to write (e.g. notebooks/)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if the student notebooks are not up to date")
    p.set_defaults(run=_run)


def _run(args):
    import sys

    try:
        problems = assign(args.solutions, args.notebooks, check=args.check)
    except AssignError as e:
        print(f"bpcourse assign: {e}; nothing was written.", file=sys.stderr)
        return 2
    if args.check:
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print("run `bpcourse assign SOLUTIONS NOTEBOOKS` to regenerate", file=sys.stderr)
            return 1
        print(f"{args.notebooks} is up to date with {args.solutions}")
        return 0
    print(f"wrote the student notebooks from {args.solutions} to {args.notebooks}")
    return 0
