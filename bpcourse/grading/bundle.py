"""``bpcourse gradescope-bundle``: a Gradescope autograder that runs ``bpcourse grade``.

The zip holds ``setup.sh`` (installs this package from the source it carries),
``run_autograder`` (grades ``$AUTOGRADER_ROOT/submission`` and writes
``$AUTOGRADER_ROOT/results/results.json``; the root defaults to ``/autograder``), the
package source, and optionally the solution notebooks whose metadata sets the points.
"""

from pathlib import Path
import stat
import sys
import zipfile

import bpcourse

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! python3 -m pip --version >/dev/null 2>&1; then
  apt-get update && apt-get install -y python3-pip
fi
# Newer Ubuntu images mark the system Python as externally managed (PEP 668); this image
# exists only to grade, so install into it anyway.
export PIP_BREAK_SYSTEM_PACKAGES=1
python3 -m pip install --upgrade pip
python3 -m pip install "$here/bpcourse-src"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. The root is configurable for testing.
set -uo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
here="$(cd "$(dirname "$0")" && pwd)"
bpcourse="${BPCOURSE:-bpcourse}"
solutions=()
if [ -d "$here/solutions" ]; then solutions=(--solutions "$here/solutions"); fi
graded="$root/results/graded"
mkdir -p "$root/results"
"$bpcourse" grade "$root/submission" --out "$graded" --jobs 1 OPTIONS "${solutions[@]}"
if [ -f "$graded/submission/results.json" ]; then
  cp "$graded/submission/results.json" "$root/results/results.json"
else
  printf '{"score": 0, "output": "The autograder failed: no results were produced.", "tests": []}\\n' \\
    > "$root/results/results.json"
fi
"""


def _package_files():
    pkg = Path(bpcourse.__file__).parent
    for path in sorted(pkg.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path, Path("bpcourse-src/bpcourse") / path.relative_to(pkg)
    root = pkg.parent
    for name in ("pyproject.toml", "README.md"):
        if not (root / name).is_file():
            raise FileNotFoundError(f"{root / name} not found: run gradescope-bundle from the "
                                    f"course's source checkout (an editable install)")
        yield root / name, Path("bpcourse-src") / name


def _add(zf, arcname, data, executable=False):
    info = zipfile.ZipInfo(str(arcname), date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def write_bundle(out, solutions=None, timeout=5.0, memory_mb=1024):
    """Write the autograder zip to ``out``; returns the list of names it holds."""
    options = f"--timeout {timeout:g} --memory-mb {int(memory_mb)}"
    with zipfile.ZipFile(out, "w") as zf:
        _add(zf, "setup.sh", SETUP_SH, executable=True)
        _add(zf, "run_autograder", RUN_AUTOGRADER.replace("OPTIONS", options), executable=True)
        for path, arcname in _package_files():
            _add(zf, arcname, path.read_bytes())
        if solutions is not None:
            notebooks = sorted(Path(solutions).glob("*.ipynb"))
            if not notebooks:
                raise FileNotFoundError(f"{solutions}: holds no .ipynb notebooks")
            for nb in notebooks:
                _add(zf, Path("solutions") / nb.name, nb.read_bytes())
        return zf.namelist()


def add_parser(subparsers):
    p = subparsers.add_parser(
        "gradescope-bundle", help="write a Gradescope autograder zip that runs bpcourse grade",
        description="Write a Gradescope autograder (setup.sh, run_autograder and this package) "
                    "that grades /autograder/submission into /autograder/results/results.json.")
    p.add_argument("--out", required=True, metavar="ZIP", help="the zip file to write")
    p.add_argument("--solutions", metavar="DIR",
                   help="solution notebooks whose metadata sets exercises and points")
    p.add_argument("--timeout", type=float, default=5.0, help="CPU-time limit per exercise (s)")
    p.add_argument("--memory-mb", type=int, default=1024, help="memory limit (MB)")
    p.set_defaults(run=_run)


def _run(args):
    try:
        names = write_bundle(args.out, args.solutions, args.timeout, args.memory_mb)
    except (FileNotFoundError, OSError) as e:
        print(f"bpcourse gradescope-bundle: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(names)} files): upload it as the autograder of a "
          f"Gradescope programming assignment")
    return 0
