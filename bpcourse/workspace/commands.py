"""The learner's commands: ``bpcourse update``, ``bpcourse progress``, ``bpcourse submit``.

(``bpcourse open``, which makes the workspace, is in ``bpcourse/launch.py``.)
"""

import sys
import time

from .files import WorkspaceError
from .location import resolve

WORKSPACE_HELP = ("your workspace (default: the one you are in; else ./bpcourse-work/ in the "
                  "course's clone, ~/bpcourse elsewhere)")


def add_parsers(subparsers):
    p = subparsers.add_parser(
        "update", help="bring the course's new version into your workspace, keeping your work",
        description="Add new notebooks, replace the ones you have not changed, and merge the "
                    "course's changes into the ones you have (your edits are kept). When a "
                    "notebook cannot be merged cleanly, yours is left as it is and the new "
                    "version is written beside it as NAME.new.ipynb (and the exit code is 1).")
    p.add_argument("workspace", nargs="?", help=WORKSPACE_HELP)
    p.add_argument("--from", dest="source", metavar="NOTEBOOKS",
                   help="a folder of student notebooks to update from (default: the course "
                        "notebooks of the installed bpcourse)")
    p.set_defaults(run=_update)

    p = subparsers.add_parser(
        "progress", help="grade your notebooks (sandboxed) and show what passes",
        description="Run the grader on your workspace's notebooks, as saved, and print a table: "
                    "each exercise, its notebook, your points, and passed / failing (with the "
                    "likely mistake) / not started. The total is what `bpcourse submit` will get.")
    p.add_argument("workspace", nargs="?", help=WORKSPACE_HELP)
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="time limit for each exercise (default: 5, as `bpcourse grade`)")
    p.set_defaults(run=_progress)

    p = subparsers.add_parser(
        "submit", help="pack your notebooks into a zip to hand in (bpcourse grade, Gradescope)",
        description="Write a zip of your workspace's course notebooks with a manifest (course "
                    "version, file hashes, your progress table): hand it in, or upload it to "
                    "Gradescope. It gets the score that `bpcourse progress` shows.")
    p.add_argument("workspace", nargs="?", help=WORKSPACE_HELP)
    p.add_argument("--out", required=True, metavar="NAME.zip",
                   help="the zip to write; graders see NAME as your name (e.g. --out ada.zip)")
    p.add_argument("--force", action="store_true", help="replace the zip if it exists")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="time limit for each exercise (default: 5)")
    p.set_defaults(run=_submit)


def _fail(command, error):
    print(f"bpcourse {command}: {error}", file=sys.stderr)
    return 2


def _update(args):
    from .update import update

    path = resolve(args.workspace)
    try:
        outcome = update(path, args.source)
    except WorkspaceError as e:
        return _fail("update", e)
    lines = outcome.lines()
    if not lines:
        print(f"{path} is up to date with the course.")
        return 0
    print(f"Updated {path}:")
    print("\n".join(lines))
    if outcome.merged or outcome.replaced:
        print("A notebook listed above that is open in JupyterLab shows its old version until "
              "you reload it: File ▸ Reload Notebook from Disk.")
    return 1 if outcome.offered else 0


def _progress(args):
    from .progress import progress

    if args.timeout <= 0:
        return _fail("progress", "--timeout must be > 0")
    try:
        result = progress(resolve(args.workspace) if args.workspace else None, timeout=args.timeout)
    except WorkspaceError as e:
        return _fail("progress", e)
    print(result.text())
    return 0


def _submit(args):
    from .submit import submit

    if args.timeout <= 0:
        return _fail("submit", "--timeout must be > 0")
    path = resolve(args.workspace)
    start = time.perf_counter()
    try:
        result, names = submit(path, args.out, force=args.force, timeout=args.timeout)
    except WorkspaceError as e:
        return _fail("submit", e)
    print(result.text())
    print(f"\nWrote {args.out}: {len(names)} notebooks and a manifest, {result.total:g} / "
          f"{result.maximum:g} points ({time.perf_counter() - start:.1f} s). Hand it in as it "
          f"is (on Gradescope: upload the zip); `bpcourse grade {args.out}` gives the same score.")
    return 0
