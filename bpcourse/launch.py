"""``bpcourse open``: open the learner's workspace in JupyterLab, making it the first time.

    bpcourse open [WORKSPACE] [--no-browser] [-- JUPYTERLAB OPTIONS...]

The workspace defaults to ``./bpcourse-work/`` in the course's clone and ``~/bpcourse``
elsewhere (``workspace/location.py``); it is made from the course notebooks that ship in the
package the first time, and only opened after that.  Everything after ``--`` goes to
``jupyter lab`` as it is.
"""

import os
from pathlib import Path
import shutil
import subprocess
import sys

from .workspace.commands import WORKSPACE_HELP


def add_parser(subparsers):
    p = subparsers.add_parser(
        "open", help="open your workspace of course notebooks in JupyterLab (made the first time)",
        usage="bpcourse open [-h] [--no-browser] [WORKSPACE] [-- JUPYTERLAB_OPTIONS ...]",
        description="Start JupyterLab on your workspace: your own copy of the course notebooks, "
                    "made from the installed course the first time. Options after -- go to "
                    "jupyter lab, e.g. `bpcourse open -- --port 8890`.")
    p.add_argument("workspace", nargs="?", help=WORKSPACE_HELP)
    p.add_argument("--no-browser", action="store_true",
                   help="start the server without opening a browser (it prints the URL)")
    p.set_defaults(run=_run, passthrough=True)


def command(folder, extra=()):
    """The jupyter lab command line for ``folder``."""
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    cmd = [jupyter, "lab", str(folder), *extra]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # JupyterLab refuses root otherwise (containers, CI boxes)
    return cmd


def _mention_old_notebooks(path):
    """Before workspaces, learners worked in the clone's notebooks/ folder: say where it is."""
    from .workspace.location import CLONE_WORKSPACE, course_clone

    clone = course_clone(path.parent) if path.name == CLONE_WORKSPACE else None
    old = clone / "notebooks" if clone else None
    if old is not None and old.is_dir() and any(old.glob("*.ipynb")):
        print(f"Your work from before workspaces existed is still in {old}/, untouched. To go on "
              f"with it instead, `bpcourse open {old}` makes that folder your workspace (it "
              f"overwrites nothing there).")


def _run(args):
    from .workspace.create import ensure_workspace, updates_waiting
    from .workspace.files import WorkspaceError
    from .workspace.location import resolve

    path = resolve(args.workspace)
    try:
        ws, created = ensure_workspace(path)
    except WorkspaceError as e:
        print(f"bpcourse open: {e}", file=sys.stderr)
        return 2
    if created:
        _mention_old_notebooks(path)
    else:
        waiting = updates_waiting(ws)
        if waiting:
            print(f"The course has changed since your workspace was made or updated "
                  f"({len(waiting)} notebooks): run `bpcourse update {path}` to bring the "
                  f"changes in (your edits are kept).")
    if not os.access(path, os.W_OK):
        print(f"Warning: your workspace {path} is not writable (a read-only disk, or not "
              f"yours): JupyterLab will open it but cannot save your work. Copy it somewhere "
              f"writable and open that copy.", file=sys.stderr)
    extra = list(args.extra)
    if args.no_browser:
        extra.insert(0, "--no-browser")
    print(f"Opening {path} in JupyterLab (stop it with Ctrl+C).", flush=True)
    try:
        return subprocess.call(command(path, extra))
    except KeyboardInterrupt:
        return 0
