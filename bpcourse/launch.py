"""``bpcourse open``: open the course in JupyterLab."""

import os
from pathlib import Path
import shutil
import subprocess
import sys


def add_parser(subparsers):
    p = subparsers.add_parser("open", help="open the course notebooks in JupyterLab",
                              description="Start JupyterLab on the course's notebooks folder.")
    p.add_argument("folder", nargs="?", default="notebooks",
                   help="the folder of notebooks to open (default: notebooks)")
    p.add_argument("jupyter_args", nargs="*", metavar="-- JUPYTER_ARGS",
                   help="more options for jupyter lab (after --), e.g. -- --port 8890")
    p.set_defaults(run=_run)


def command(folder, extra=()):
    """The jupyter lab command line for ``folder``."""
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    cmd = [jupyter, "lab", str(folder), *extra]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # JupyterLab refuses root otherwise (containers, CI boxes)
    return cmd


def _run(args):
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"bpcourse open: no folder {folder}/ here; run this from the course's folder "
              f"(the one holding notebooks/), or name the folder", file=sys.stderr)
        return 2
    return subprocess.call(command(folder, args.jupyter_args))
