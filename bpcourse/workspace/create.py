"""Making a learner's workspace from the course notebooks, the first time it is opened.

A new folder is built beside its final place and renamed into it, so a failure (a full disk,
a read-only disk) leaves nothing half made.  An existing folder that is not yet a workspace is
adopted: missing notebooks are added, the learner's files are never overwritten (the course's
version goes beside a differing one, as ``NAME.new.ipynb``).
"""

import os
from pathlib import Path
import shutil
import tempfile

from .. import __version__
from .files import WorkspaceError, atomic_write, current_umask, explain, sha256
from .manifest import Workspace, is_workspace, new_learner_id
from .release import course_notebooks, release_id
from .store import keep_given, offer

CHOOSE = "choose a folder you can write to: `bpcourse open PATH`"


def ensure_workspace(path, source=None, echo=print):
    """The workspace at ``path``, made from the course notebooks if it is not one yet.

    Returns ``(workspace, created)``; raises ``WorkspaceError`` with what to do."""
    path = Path(path).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path} is a file, not a folder: it cannot be your workspace. "
                             f"Name another folder (`bpcourse open PATH`); the file was left "
                             f"as it is")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise WorkspaceError(f"cannot create your workspace {path}: {parent} is a file, not "
                                 f"a folder; {CHOOSE}. Nothing was created")
    if is_workspace(path):
        return Workspace.load(path), False
    notebooks = course_notebooks(source)
    if path.exists():
        return _adopt(path, notebooks, echo), True
    return _create(path, notebooks, echo), True


def _create(path, notebooks, echo):
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.creating-", dir=parent))
    except OSError as e:
        raise WorkspaceError(f"{explain(e, f'create your workspace {path}')}; {CHOOSE}. "
                             f"Nothing was created") from None
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        ws = Workspace(tmp, new_learner_id(), __version__, release_id(notebooks))
        ws.state.mkdir()
        for name, data in notebooks.items():
            atomic_write(tmp / name, data)
            ws.given[name] = keep_given(ws, data)
        ws.save()
        os.rename(tmp, path)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)  # ours, made just now: nothing else is in it
        if path.is_dir():  # made meanwhile by someone else: adopt it instead
            return _adopt(path, notebooks, echo)
        raise WorkspaceError(f"{explain(e, f'create your workspace {path}')}; {CHOOSE}. "
                             f"Nothing was created") from None
    ws.path = path
    echo(f"Created your workspace {path} with the course's {len(notebooks)} notebooks: they "
         f"are yours to edit.")
    return ws


def _adopt(path, notebooks, echo):
    ws = Workspace(path, new_learner_id(), __version__, release_id(notebooks))
    added, offered = [], []
    try:
        ws.state.mkdir(exist_ok=True)
        for name, data in notebooks.items():
            target = path / name
            if not target.exists():
                atomic_write(target, data)
                added.append(name)
            elif sha256(target.read_bytes()) != sha256(data):
                offered.append((name, offer(ws, name, data)))
            ws.given[name] = keep_given(ws, data)
        ws.save()
    except OSError as e:
        done = f" ({len(added)} notebooks were added, each complete)" if added else \
            "; nothing was changed"
        raise WorkspaceError(f"{explain(e, f'make {path} a workspace')}{done}. {CHOOSE}, or "
                             f"fix this and run the command again") from None
    echo(f"Made {path} your workspace: added {len(added)} course notebooks.")
    for name, new in offered:
        echo(f"  {name} was already there and differs from the course's: yours is kept as it "
             f"is, the course's version is beside it as {new}")
    return ws


def updates_waiting(ws, source=None):
    """The course notebooks that differ from what ``ws`` was given (empty when up to date)."""
    try:
        notebooks = course_notebooks(source)
    except WorkspaceError:
        return []
    return [n for n, data in notebooks.items() if ws.given.get(n) != sha256(data)]
