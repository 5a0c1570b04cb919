"""``bpcourse submit``: the learner's course notebooks in one zip, ready to hand in.

The zip (``pack.py``) is graded first, exactly as ``bpcourse grade`` will grade it, and the
table goes into its manifest: the score printed is the score it gets, locally or on
Gradescope.  An existing file is never replaced without ``--force``.
"""

import os
from pathlib import Path
import tempfile

from .files import WorkspaceError, explain
from .manifest import Workspace, is_workspace
from .pack import course_files, manifest, write_zip
from .progress import grade_files


def submit(workspace, out, force=False, timeout=5.0):
    """Write the submission zip ``out`` of ``workspace``; returns the ``Progress`` packed in it."""
    path, out = Path(workspace), Path(out).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path} is a file, not a workspace folder")
    if not is_workspace(path):
        raise WorkspaceError(f"{path} is not a workspace: `bpcourse open {path}` makes it")
    if out.suffix != ".zip":
        raise WorkspaceError(f"--out must name a .zip file (e.g. --out yourname.zip), got {out.name}")
    if out.is_dir():
        raise WorkspaceError(f"{out} is a folder: name the zip file to write")
    if out.exists() and not force:
        raise WorkspaceError(f"{out} already exists: choose another name, or add --force to "
                             f"replace it")
    ws = Workspace.load(path)
    files = course_files(ws)
    if not files:
        raise WorkspaceError(f"{path} holds none of the course's notebooks: nothing to submit")
    result = grade_files(ws, files, timeout=timeout)
    tmp = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        write_zip(tmp, files, manifest(ws, files, progress=result.to_json()))
        os.replace(tmp, out)
    except OSError as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise WorkspaceError(explain(e, f"write {out}") + "; your workspace is untouched") from None
    return result, sorted(files)
