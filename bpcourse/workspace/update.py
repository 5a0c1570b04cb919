"""``bpcourse update``: bring a new release of the course into a workspace; lose nothing.

For each course notebook:

- new in the course: added (unless a file of that name is there: then it goes beside it);
- untouched by the learner (its hash is the one the course gave): replaced;
- edited by the learner: merged with nbdime, base = the version the learner was given
  (``merge.py``); the learner's file is first copied to ``.bpcourse/backups/``.  When the merge
  is not clean the learner's file is left as it is and the new version is written beside it
  as ``NAME.new.ipynb``, with a message;
- no longer in the course: left as it is.

Every file is written atomically (a full disk stops the update with each file either as it
was or complete, and the manifest saved after each notebook), and a lock keeps two updates
of one workspace from running at once.
"""

from dataclasses import dataclass, field
import json
from pathlib import Path
import time

from .. import __version__
from .files import WorkspaceError, atomic_write, explain, locked, sha256
from .manifest import Workspace, is_workspace
from .merge import merge
from .release import course_notebooks, release_id
from .store import backup, drop_unused_given, keep_given, offer


@dataclass
class Outcome:
    added: list = field(default_factory=list)
    replaced: list = field(default_factory=list)
    merged: list = field(default_factory=list)      # (name, backup path, code cells kept)
    offered: list = field(default_factory=list)     # (name, new file, why)
    restored: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    retired: list = field(default_factory=list)     # no longer part of the course: left alone

    def lines(self):
        out = []
        for name in self.added:
            out.append(f"  added     {name}")
        for name in self.restored:
            out.append(f"  restored  {name} (it was missing)")
        for name in self.replaced:
            out.append(f"  updated   {name} (you had not changed it)")
        for name, saved, kept in self.merged:
            out.append(f"  merged    {name}: the course's changes are in, your edits kept "
                       f"(your file as it was: {saved})")
            if kept:
                out.append(f"            the course also changed {', '.join(kept)}, which you had "
                           f"edited: your code there is kept as you wrote it")
        for name, new, why in self.offered:
            out.append(f"  NOT MERGED {name}: {why}. Your file is as it was; the new version "
                       f"is beside it as {new}: copy what you need between the two")
        for name in self.retired:
            out.append(f"  kept      {name} (no longer part of the course; left as it is)")
        return out


def update(path, source=None):
    """Update the workspace at ``path`` from ``source`` (default: the installed course)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path} is a file, not a workspace folder; nothing was changed")
    if not is_workspace(path):
        raise WorkspaceError(f"{path} is not a workspace yet: `bpcourse open {path}` makes it")
    notebooks = course_notebooks(source)
    ws = Workspace.load(path)
    with locked(ws.state, doing=f"update {path}"):
        ws = Workspace.load(path)   # as the previous holder of the lock left it
        return _update(ws, notebooks)


def _update(ws, notebooks):
    outcome, stamp = Outcome(), time.strftime("%Y%m%d-%H%M%S")
    done = []
    try:
        for name, data in notebooks.items():
            _one(ws, name, data, outcome, stamp)
            ws.save()                                   # after each notebook: always consistent
            done.append(name)
        ws.bpcourse_version, ws.release = __version__, release_id(notebooks)
        ws.save()
    except OSError as e:
        left = [n for n in notebooks if n not in done]
        where = f"before {left[0]}" if left else "while saving its record"
        raise WorkspaceError(
            f"{explain(e, f'update {ws.path}')}. The update stopped {where}: "
            f"every file is either as it was or completely updated, and nothing of yours was "
            f"lost. Free some space (or fix the cause) and run `bpcourse update` again to finish"
            + (f" (done so far: {', '.join(done)})" if done else "")) from None
    outcome.retired = sorted(n for n in ws.given if n not in notebooks and (ws.path / n).exists())
    drop_unused_given(ws)
    return outcome


def _one(ws, name, data, outcome, stamp):
    target = ws.path / name
    new_digest = sha256(data)
    old_digest = ws.given.get(name)
    if old_digest is None:                              # new in the course
        if target.exists() and sha256(target.read_bytes()) != new_digest:
            outcome.offered.append((name, offer(ws, name, data),
                                    "a file of yours has this name"))
            return
        ws.given[name] = keep_given(ws, data)
        if not target.exists():
            atomic_write(target, data)
            outcome.added.append(name)
        return
    if not target.exists():                             # the learner removed it: bring it back
        ws.given[name] = keep_given(ws, data)
        atomic_write(target, data)
        outcome.restored.append(name)
        return
    if new_digest == old_digest:
        outcome.unchanged.append(name)
        return
    current = target.read_bytes()
    if sha256(current) == old_digest:                   # untouched: the new version replaces it
        ws.given[name] = keep_given(ws, data)
        atomic_write(target, data)
        outcome.replaced.append(name)
        return
    if sha256(current) == new_digest:                   # already the new version
        ws.given[name] = keep_given(ws, data)
        outcome.unchanged.append(name)
        return
    why = _merge_into(ws, name, current, data, outcome, stamp)
    if why is not None:
        outcome.offered.append((name, offer(ws, name, data), why))


def _merge_into(ws, name, current, data, outcome, stamp):
    """Merge and write; returns None when done, or why it could not be merged."""
    base = ws.given_bytes(name)
    if base is None:
        return "the version you were given is missing from .bpcourse/given, so the changes " \
               "cannot be told apart"
    try:
        local = current.decode("utf-8")
        json.loads(local)
    except (UnicodeDecodeError, ValueError) as e:
        return f"your {name} is not a valid notebook ({_json_error(e)})"
    try:
        result = merge(base.decode("utf-8"), local, data.decode("utf-8"))
    except Exception as e:  # nbformat cannot read it, or nbdime failed on it: do no harm
        return f"it could not be merged ({type(e).__name__}: {str(e)[:200]})"
    if not result.clean:
        return result.why
    saved = backup(ws, name, current, stamp)
    keep = keep_given(ws, data)
    atomic_write(ws.path / name, result.text.encode("utf-8"))
    ws.given[name] = keep
    outcome.merged.append((name, saved.relative_to(ws.path), result.kept or []))
    return None


def _json_error(e):
    if isinstance(e, json.JSONDecodeError):
        return f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
    return f"{type(e).__name__}: {e}"
