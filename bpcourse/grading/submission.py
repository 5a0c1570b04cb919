"""Reading a submission: which code counts, and whether it leans on the reference.

A submission is a student notebook (.ipynb), a Python module (.py), or a folder of them.
From a notebook only the exercise cells count (cells that define an exercise function, or
that the assignment marked as exercises) plus the import statements of any cell; test
cells, outputs and everything else are ignored.  From a module, the whole file counts.
Of the code that counts, only the top-level definitions are kept: imports, ``def``,
``class`` and assignments; statements that would do something at load time (calls such as
``check(...)``, loops, prints) are dropped.

Nothing here runs the submitted code: it is parsed, never executed.
"""

import ast
from dataclasses import dataclass, field
import json
from pathlib import Path
import re

MAX_FILE_BYTES = 20 * 2**20


@dataclass
class Unit:
    """A piece of source (a notebook cell, a module) and the statements of it that count."""

    name: str           # e.g. "05_dense_backward.ipynb, cell 7"
    source: str
    keep: list          # indices of the top-level statements to run


@dataclass
class Submission:
    student: str
    path: Path
    units: list = field(default_factory=list)
    problems: list = field(default_factory=list)   # notes for the feedback
    defined: dict = field(default_factory=dict)    # exercise name -> unit name that defines it
    broken: dict = field(default_factory=dict)     # exercise name -> why its code cannot run
    uses_reference: dict = field(default_factory=dict)  # exercise name -> explanation


def student_id(path):
    """The file's stem or the folder's name (of the resolved path: `.` is its folder)."""
    path = Path(path).resolve()
    return path.name if path.is_dir() else path.stem


def read(path, exercise_names, uses=None):
    """Parse the submission at ``path``; problems become notes, never exceptions.

    ``uses`` maps an exercise to the functions it may take from the course (a whole network
    calls its layers: in a notebook they may be imported from bpcourse; the grader gives it
    the learner's own, or the reference where theirs did not pass)."""
    path = Path(path)
    sub = Submission(student_id(path), path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and p.suffix in (".ipynb", ".py") and not p.name.startswith("."))
        if not files:
            sub.problems.append(f"the folder {path.name}/ holds no .ipynb or .py file to grade")
        for f in files:
            _read_file(sub, f, exercise_names)
    else:
        _read_file(sub, path, exercise_names)
    _find_reference_use(sub, exercise_names, uses or {})
    return sub


def _read_file(sub, path, names):
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            sub.problems.append(f"{path.name} is larger than {MAX_FILE_BYTES // 2**20} MB: not graded")
            return
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        sub.problems.append(f"{path.name} cannot be read ({type(e).__name__})")
        return
    if not text.strip():
        sub.problems.append(f"{path.name} is empty")
        return
    if path.suffix == ".ipynb":
        _read_notebook(sub, path.name, text, names)
    else:
        _add_unit(sub, path.name, text, names, imports_only=False)


def _read_notebook(sub, filename, text, names):
    try:
        nb = json.loads(text)
        cells = nb["cells"]
        if not isinstance(cells, list):
            raise TypeError("cells is not a list")
    except (ValueError, KeyError, TypeError) as e:
        sub.problems.append(f"{filename} is not a valid notebook ({type(e).__name__}: {e})")
        return
    for i, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        meta = cell.get("metadata", {})
        marked = isinstance(meta, dict) and isinstance(meta.get("bpcourse"), dict) \
            and meta["bpcourse"].get("exercise") in names
        _add_unit(sub, f"{filename}, cell {i}", _without_magics(source), names,
                  imports_only=not marked, notebook=True)


def _without_magics(source):
    """IPython magics and shell escapes are not Python: blank them (keeping line numbers)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _add_unit(sub, name, source, names, imports_only, notebook=False):
    try:
        tree = ast.parse(source, name)
    except SyntaxError as e:
        defines = [n for n in names if re.search(rf"^\s*def\s+{n}\s*\(", source, re.MULTILINE)]
        what = f" (so {', '.join(defines)} cannot be graded)" if defines else ""
        problem = f"{name}: syntax error at line {e.lineno}: {e.msg}"
        sub.problems.append(problem + what)
        for n in defines:
            sub.broken[n] = problem
        return
    defines_exercise = any(isinstance(s, ast.FunctionDef) and s.name in names for s in tree.body)
    keep = []
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            keep.append(i)
        elif notebook and imports_only and not defines_exercise:
            continue  # not an exercise cell: only its imports count
        elif isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            keep.append(i)
            if stmt.name in names:
                sub.defined[stmt.name] = name
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and not _rebinds(stmt, names):
            keep.append(i)
    if keep:
        sub.units.append(Unit(name, source, keep))


def _rebinds(stmt, names):
    """True for ``dense_forward = check(dense_forward)`` and the like."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return any(isinstance(n, ast.Name) and n.id in names
               for t in targets for n in ast.walk(t))


def _find_reference_use(sub, names, uses):
    """Which exercise functions use bpcourse, directly or through helpers (the functions an
    exercise may use, ``uses[name]``, do not count: the grader supplies them)."""
    bound = {}        # name -> where it was imported from bpcourse
    functions = {}    # top-level function name -> its AST
    for unit in sub.units:
        tree = ast.parse(unit.source)
        for i in unit.keep:
            stmt = tree.body[i]
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for alias, module in _imports(stmt):
                    if module.split(".")[0] == "bpcourse":
                        bound[alias] = module
            elif isinstance(stmt, ast.FunctionDef):
                functions[stmt.name] = stmt
    tainted = {}
    for fname, fn in functions.items():
        reason = _direct_use(fn, bound, uses.get(fname, set()))
        if reason:
            tainted[fname] = reason
    changed = True
    while changed:  # helpers that call tainted functions are tainted too
        changed = False
        for fname, fn in functions.items():
            if fname in tainted:
                continue
            used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)} & set(tainted)
            used -= set(uses.get(fname, ()))
            if used:
                helper = sorted(used)[0]
                tainted[fname] = f"it calls {helper}, which {tainted[helper]}"
                changed = True
    for name in names:
        if name in tainted:
            sub.uses_reference[name] = tainted[name]


def _imports(stmt):
    if isinstance(stmt, ast.Import):
        return [((a.asname or a.name).split(".")[0], a.name) for a in stmt.names]
    module = stmt.module or ""
    return [(a.asname or a.name, module) for a in stmt.names]


def _direct_use(fn, bound, allowed=frozenset()):
    for node in ast.walk(fn):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for _, module in _imports(node):
                if module.split(".")[0] == "bpcourse":
                    return f"imports {module}"
        elif isinstance(node, ast.Name) and node.id in bound and node.id not in allowed:
            return f"uses {node.id} from {bound[node.id]}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and "bpcourse" in node.value:
            return "refers to bpcourse by name"
    return None
