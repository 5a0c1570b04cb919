"""Reading a submission: which code counts, and whether it leans on the reference.

A submission is a student notebook (.ipynb), a Python module (.py), a folder of them, or a
zip of them (what ``bpcourse submit`` writes, and what Gradescope unpacks into its submission
folder: only the files at the top level count, in both).  A ``bpcourse-submission.json``
manifest beside them (``bpcourse submit`` writes one) names the learner whose ``bpcourse
progress`` chose the test inputs, so that the grade is the same wherever the zip is graded.
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
import threading

MAX_FILE_BYTES = 20 * 2**20
MAX_ZIP_MEMBERS = 1000
MANIFEST = "bpcourse-submission.json"
MAX_MANIFEST_BYTES = 2**20


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
    learner: str = None   # from the manifest: seeds the test inputs in place of the student id


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
        texts = {}
        for f in files:
            text = _read_file(sub, f)
            if text is not None:
                texts[f.name] = text
                _add_file(sub, f.name, text, exercise_names)
        if (path / MANIFEST).is_file():
            _read_manifest(sub, _read_file(sub, path / MANIFEST, MAX_MANIFEST_BYTES), texts)
    elif path.suffix == ".zip":
        _read_zip(sub, path, exercise_names)
    else:
        text = _read_file(sub, path)
        if text is not None:
            _add_file(sub, path.name, text, exercise_names)
    _find_reference_use(sub, exercise_names, uses or {})
    return sub


def _read_file(sub, path, limit=MAX_FILE_BYTES):
    """The text of ``path``, or None (with a note) when it is too large or unreadable."""
    try:
        if path.stat().st_size > limit:
            sub.problems.append(f"{path.name} is larger than {limit // 2**20} MB: not graded")
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        sub.problems.append(f"{path.name} cannot be read ({type(e).__name__})")
        return None


def _read_zip(sub, path, names):
    """The top-level .ipynb and .py files of a zip, read in memory (nothing is extracted)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist()[:MAX_ZIP_MEMBERS]
                     if not i.is_dir() and "/" not in i.filename and "\\" not in i.filename
                     and not i.filename.startswith(".")]
            texts, manifest = {}, None
            for info in sorted(infos, key=lambda i: i.filename):
                is_manifest = info.filename == MANIFEST
                if not is_manifest and Path(info.filename).suffix not in (".ipynb", ".py"):
                    continue
                limit = MAX_MANIFEST_BYTES if is_manifest else MAX_FILE_BYTES
                if info.file_size > limit:
                    sub.problems.append(f"{info.filename} is larger than {limit // 2**20} MB: "
                                        f"not graded")
                    continue
                try:
                    with zf.open(info) as f:
                        data = f.read(limit + 1)
                    if len(data) > limit:
                        raise ValueError("larger than it says")
                    text = data.decode("utf-8")
                except (OSError, ValueError, zipfile.BadZipFile, RuntimeError) as e:
                    sub.problems.append(f"{info.filename} cannot be read from the zip "
                                        f"({type(e).__name__})")
                    continue
                if is_manifest:
                    manifest = text
                else:
                    texts[info.filename] = text
    except (OSError, zipfile.BadZipFile) as e:
        sub.problems.append(f"{path.name} is not a readable zip file ({type(e).__name__}: {e})")
        return
    if not texts:
        sub.problems.append(f"the zip {path.name} holds no .ipynb or .py file at its top level")
    for filename, text in texts.items():
        _add_file(sub, filename, text, names)
    if manifest is not None:
        _read_manifest(sub, manifest, texts)


def _read_manifest(sub, text, texts):
    """The learner named by ``bpcourse submit``'s manifest; a note for files changed since."""
    import hashlib

    if text is None:
        return  # unreadable: already noted
    try:
        data = json.loads(text)
        learner = data["learner"]
        if not (isinstance(learner, str) and 0 < len(learner) <= 100 and learner.isprintable()):
            raise ValueError("the learner is not a short name")
        hashes = data.get("files", {})
        if not isinstance(hashes, dict):
            raise ValueError("files is not an object")
    except (TypeError, ValueError, KeyError) as e:
        sub.problems.append(f"{MANIFEST} is damaged ({type(e).__name__}: {e}): the test inputs "
                            f"are chosen from the student id instead")
        return
    sub.learner = learner
    for filename, text in sorted(texts.items()):
        if filename in hashes and hashes[filename] != hashlib.sha256(text.encode("utf-8")).hexdigest():
            sub.problems.append(f"{filename} was changed after `bpcourse submit` packed it")


def _add_file(sub, filename, text, names):
    if not text.strip():
        sub.problems.append(f"{filename} is empty")
        return
    if filename.endswith(".ipynb"):
        _read_notebook(sub, filename, text, names)
    else:
        _add_unit(sub, filename, text, names, imports_only=False)


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
        tree = _parse(source, name)
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


_AST_LOCK = threading.Lock()


def _parse(source, name="<unknown>"):
    """``ast.parse``, one thread at a time: CPython 3.11's AST constructor is not thread-safe
    (python/cpython#106905: a spurious "SystemError: AST constructor recursion depth
    mismatch" when two grading threads parse at once)."""
    with _AST_LOCK:
        return ast.parse(source, name)


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
        tree = _parse(unit.source)
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
