"""``bpcourse progress`` and ``progress()``: the grader's verdict on the learner's notebooks.

The learner's course notebooks are packed exactly as ``bpcourse submit`` packs them and
graded by ``bpcourse grade``'s code: the same battery, the same sandboxed processes, the same
test inputs (seeded by the workspace's learner id), the same points.  So the total here is
the score the submission will get.  Nothing is written into the workspace.

In a notebook, ``from bpcourse import progress; progress()`` shows the table as HTML; it
grades the notebooks as saved on disk (save first).
"""

from dataclasses import dataclass, field
import html
import json
from pathlib import Path
import tempfile
import textwrap
import time

from .files import WorkspaceError
from .location import enclosing_workspace, resolve
from .manifest import Workspace, is_workspace
from .pack import course_files, manifest, write_zip

PASSED, FAILING, NOT_STARTED = "passed", "failing", "not started"


@dataclass
class Row:
    exercise: str
    notebook: str
    points: float
    max_points: float
    status: str          # passed | failing | not started
    detail: str = ""     # for a failing exercise: the named mistake (or what went wrong)


@dataclass
class Progress:
    workspace: Path
    rows: list
    notes: list = field(default_factory=list)
    seconds: float = 0.0
    isolation: str = ""

    @property
    def total(self):
        return round(sum(r.points for r in self.rows), 2)

    @property
    def maximum(self):
        return sum(r.max_points for r in self.rows)

    def counts(self):
        return {s: sum(r.status == s for r in self.rows) for s in (PASSED, FAILING, NOT_STARTED)}

    def to_json(self):
        return {"total": self.total, "maximum": self.maximum,
                "exercises": [r.__dict__.copy() for r in self.rows], "notes": list(self.notes)}

    def text(self, width=100):
        wn = max([len("notebook")] + [len(r.notebook) for r in self.rows])
        we = max([len("exercise")] + [len(r.exercise) for r in self.rows])
        lines = [f"Progress in {self.workspace} (graded in the sandbox in {self.seconds:.1f} s)", "",
                 f"{'exercise':<{we}}  {'notebook':<{wn}}  {'points':>11}  status"]
        indent = we + wn + 17
        for r in self.rows:
            status = r.status + (f": {r.detail}" if r.detail else "")
            wrapped = textwrap.wrap(status, max(30, width - indent)) or [""]
            lines.append(f"{r.exercise:<{we}}  {r.notebook:<{wn}}  {_pts(r.points, r.max_points):>11}"
                         f"  {wrapped[0]}")
            lines += [" " * indent + w for w in wrapped[1:]]
        c = self.counts()
        lines.append(f"{'total':<{we}}  {'':<{wn}}  {_pts(self.total, self.maximum):>11}  "
                     f"{c[PASSED]} passed, {c[FAILING]} failing, {c[NOT_STARTED]} not started")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    __str__ = text

    def __repr__(self):
        return self.text()

    def _repr_html_(self):
        colour = {PASSED: "#1a7f37", FAILING: "#cf222e", NOT_STARTED: "#6e7781"}
        rows = "".join(
            f"<tr><td><code>{html.escape(r.exercise)}</code></td><td>{html.escape(r.notebook)}</td>"
            f"<td style='text-align:right'>{_pts(r.points, r.max_points)}</td>"
            f"<td style='color:{colour[r.status]};font-weight:bold'>{r.status}</td>"
            f"<td style='text-align:left'>{html.escape(r.detail)}</td></tr>" for r in self.rows)
        c = self.counts()
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (f"<div class='bpcourse-progress'><table>"
                f"<thead><tr><th>exercise</th><th>notebook</th><th>points</th><th>status</th>"
                f"<th style='text-align:left'>what to fix</th></tr></thead><tbody>{rows}"
                f"<tr><td><b>total</b></td><td></td><td style='text-align:right'>"
                f"<b>{_pts(self.total, self.maximum)}</b></td><td colspan='2' "
                f"style='text-align:left'>{c[PASSED]} passed, {c[FAILING]} failing, "
                f"{c[NOT_STARTED]} not started</td></tr></tbody></table>"
                + (f"<ul>{notes}</ul>" if notes else "") +
                f"<p style='font-size:smaller'>Graded from your saved notebooks in "
                f"{html.escape(str(self.workspace))} (save with Ctrl+S first), in the sandbox, "
                f"in {self.seconds:.1f} s.</p></div>")


def _pts(points, maximum):
    return f"{points:g} / {maximum:g}"


def progress(workspace=None, *, timeout=5.0):
    """Grade the learner's notebooks in ``workspace`` (default: the workspace of the current
    folder, else the default one); returns a ``Progress`` (a table, HTML in a notebook)."""
    if workspace is None:
        path = enclosing_workspace() or resolve(None)
    else:
        path = Path(workspace).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path} is a file, not a workspace folder")
    if not is_workspace(path):
        raise WorkspaceError(f"{path} is not a workspace: `bpcourse open {path}` makes it "
                             f"(progress grades the notebooks of your workspace)")
    ws = Workspace.load(path)
    return grade_files(ws, course_files(ws), timeout=timeout)


def grade_files(ws, files, timeout=5.0):
    """Grade ``files`` ({name: bytes}) as ``bpcourse grade`` grades their submission zip."""
    from ..grading.course import graded_exercises
    from ..grading.grade import grade_reports
    from ..grading.results import results_json
    from ..grading.sandbox import Limits, Sandbox

    start = time.perf_counter()
    graded = graded_exercises()
    notes, broken = [], set()
    for name, data in files.items():
        why = notebook_problem(data)
        if why:
            broken.add(name)
            notes.append(f"{name} is not a valid notebook ({why}): its exercises count as not "
                         f"started. Nothing was changed; an earlier version may be in "
                         f".ipynb_checkpoints/ or .bpcourse/backups/ of your workspace")
    with tempfile.TemporaryDirectory(prefix="bpcourse-progress-") as tmp:
        zip_path = Path(tmp) / "progress.zip"
        write_zip(zip_path, files, manifest(ws, files))
        sandbox = Sandbox(Limits(timeout=timeout))
        try:
            sub, reports, isolation = grade_reports(sandbox, zip_path, graded, seed=0)
        finally:
            sandbox.close()
    scored = results_json(sub.student, graded, reports, [], 0.0, isolation)["tests"]
    notes += [p for p in sub.problems if not any(p.startswith(f"{b} is not a valid") for b in broken)]
    rows = [_row(g, reports[g.name], t["score"], files) for g, t in zip(graded, scored)]
    return Progress(ws.path, rows, notes, time.perf_counter() - start, isolation)


def _row(g, report, score, files):
    status, detail = report.status, ""
    if report.passed:
        status = PASSED
    elif status in ("not_implemented", "missing"):
        if status == "missing":
            notebook = f"{g.notebook}.ipynb"
            detail = f"{g.name} is not defined in {notebook}" if notebook in files else \
                f"{notebook} is not in your workspace"
        status = NOT_STARTED
    else:
        first = next(r for r in report.results if not r.passed)
        detail = first.hint or first.message or ""
        status = FAILING
    return Row(g.name, g.notebook, score, g.points, status, " ".join(detail.split()))


def notebook_problem(data):
    """Why ``data`` is not a notebook JupyterLab can open (None when it is one)."""
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        return f"not UTF-8 text: {e.reason} at byte {e.start}"
    except json.JSONDecodeError as e:
        return f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return "JSON, but not a notebook: it has no list of cells"
    return None
