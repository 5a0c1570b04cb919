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

The result is deterministic: the same solutions always give byte-identical notebooks.  The
course's student notebooks live in the package (``bpcourse/notebooks/``, package data, so that
a wheel install carries them); learners work on copies in their own workspace
(``bpcourse open``).  A record in the notebooks folder (``.bpcourse-assign.json``) keeps the
hash of every notebook written: assign never overwrites a notebook that was edited since, nor
deletes a file it did not write, unless ``--force``.
"""

from dataclasses import dataclass
import hashlib
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


RECORD = ".bpcourse-assign.json"   # in the notebooks folder: what assign wrote there, with hashes
DEFAULT_SOLUTIONS = "solutions"
DEFAULT_NOTEBOOKS = str(Path("bpcourse") / "notebooks")   # package data: a wheel carries them


class Refused(AssignError):
    """Writing would overwrite or delete a file that ``bpcourse assign`` did not write."""


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def record_text(wanted):
    """The record of a run that wrote ``wanted`` ({name: text}): deterministic JSON."""
    hashes = {name: _sha256(text.encode("utf-8")) for name, text in sorted(wanted.items())}
    return json.dumps({"written_by": "bpcourse assign", "notebooks": hashes}, indent=1,
                      sort_keys=True) + "\n"


def read_record(notebooks_dir):
    """{name: sha256} of what assign wrote last time in ``notebooks_dir`` ({} if no record)."""
    path = Path(notebooks_dir) / RECORD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        hashes = data["notebooks"]
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in hashes.items()):
            raise TypeError("hashes are not text")
        return hashes
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise AssignError(f"{path}: the record of what bpcourse assign wrote is damaged "
                          f"({type(e).__name__}: {e}); remove it and run with --force once") from None


def _plan(wanted, notebooks_dir, force):
    """What writing ``wanted`` would do: (names to delete, problems that refuse the run)."""
    record = read_record(notebooks_dir)
    existing = {p.name for p in notebooks_dir.glob("*.ipynb")} if notebooks_dir.is_dir() else set()
    refused, delete = [], []
    for name in sorted(existing):
        current = _sha256((notebooks_dir / name).read_bytes())
        ours = record.get(name) == current            # written by assign, untouched since
        if name in wanted:
            if not ours and current != _sha256(wanted[name].encode("utf-8")) and not force:
                why = "was edited since bpcourse assign wrote it" if name in record \
                    else "was not written by bpcourse assign"
                refused.append(f"{notebooks_dir / name} {why}: it would be overwritten")
        elif ours or force:
            delete.append(name)
    kept = sorted(existing - set(wanted) - set(delete))
    return delete, refused, kept


def assign(solutions_dir, notebooks_dir, check=False, force=False, echo=None):
    """Write (or, with ``check``, compare) the student notebooks.  Returns a list of
    problems found in check mode (empty when ``notebooks_dir`` is up to date).

    Writing refuses (``Refused``, nothing written) to overwrite a notebook that differs from
    what assign wrote there last time (its record, ``RECORD``, holds the hashes), and deletes
    only stale notebooks that it wrote itself and nobody edited; ``force`` overrides both."""
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
        record = notebooks_dir / RECORD
        if not problems and (not record.is_file()
                             or record.read_text(encoding="utf-8") != record_text(wanted)):
            problems.append(f"{record}: the record of what bpcourse assign wrote is missing or "
                            f"out of date")
        return problems
    delete, refused, kept = _plan(wanted, notebooks_dir, force)
    if refused:
        raise Refused("refusing to overwrite notebooks that bpcourse assign did not write as "
                      "they are:\n  " + "\n  ".join(refused) +
                      "\nmove them (or the edits in them) elsewhere, or run with --force to "
                      "overwrite them")
    notebooks_dir.mkdir(parents=True, exist_ok=True)
    for name, text in wanted.items():
        _atomic_write(notebooks_dir / name, text)
    for name in delete:
        (notebooks_dir / name).unlink()
    _atomic_write(notebooks_dir / RECORD, record_text(wanted))
    if echo:
        for name in delete:
            echo(f"removed {notebooks_dir / name} (no solution notebook any more)")
        for name in kept:
            echo(f"left {notebooks_dir / name} alone: it has no solution notebook and bpcourse "
                 f"assign did not write it as it is (--force removes it)")
    return []


def _atomic_write(path, text):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def add_parser(subparsers):
    p = subparsers.add_parser(
        "assign", help="make the student notebooks from the solution notebooks",
        description="Write student notebooks: solution regions become stubs, exercise outputs "
                    "are cleared. It never overwrites a notebook that differs from what it wrote "
                    "last time, nor deletes a file it did not write (unless --force). With "
                    "--check, only compare and exit 1 on any difference.")
    p.add_argument("solutions", nargs="?", default=DEFAULT_SOLUTIONS,
                   help=f"folder of solution notebooks (default: {DEFAULT_SOLUTIONS})")
    p.add_argument("notebooks", nargs="?", default=DEFAULT_NOTEBOOKS,
                   help=f"folder of student notebooks to write (default: {DEFAULT_NOTEBOOKS}, "
                        f"the package's, which a wheel carries)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if the student notebooks are not up to date")
    p.add_argument("--force", action="store_true",
                   help="overwrite edited notebooks and remove notebooks without a solution")
    p.set_defaults(run=_run)


def _run(args):
    import sys

    try:
        problems = assign(args.solutions, args.notebooks, check=args.check, force=args.force,
                          echo=print)
    except AssignError as e:
        print(f"bpcourse assign: {e}; nothing was written.", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"bpcourse assign: cannot write {args.notebooks}: {e.strerror or e}", file=sys.stderr)
        return 2
    if args.check:
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print(f"run `bpcourse assign {args.solutions} {args.notebooks}` to regenerate",
                  file=sys.stderr)
            return 1
        print(f"{args.notebooks} is up to date with {args.solutions}")
        return 0
    print(f"wrote the student notebooks from {args.solutions} to {args.notebooks}")
    return 0
