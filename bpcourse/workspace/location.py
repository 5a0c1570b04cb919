"""Where the learner's workspace is when the command line does not say.

1. the workspace the current folder is in (a terminal opened in JupyterLab starts there);
2. in the course's clone (a folder with the course's ``pyproject.toml``, ``bpcourse/`` and
   ``solutions/``), ``bpcourse-work/`` at the clone's top (ignored by git);
3. otherwise ``~/bpcourse``.
"""

from pathlib import Path
import re

from .manifest import is_workspace

CLONE_WORKSPACE = "bpcourse-work"
HOME_WORKSPACE = "bpcourse"


def enclosing_workspace(start=None):
    """The workspace that holds ``start`` (default: the current folder), or None."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if is_workspace(folder):
            return folder
    return None


def course_clone(start=None):
    """The top of the course's clone that holds ``start``, or None."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and (folder / "bpcourse" / "__init__.py").is_file() \
                and (folder / "solutions").is_dir():
            try:
                text = pyproject.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if re.search(r'^name\s*=\s*"bpcourse"', text, re.MULTILINE):
                return folder
    return None


def default_workspace(start=None):
    found = enclosing_workspace(start)
    if found is not None:
        return found
    clone = course_clone(start)
    if clone is not None:
        return clone / CLONE_WORKSPACE
    return Path.home() / HOME_WORKSPACE


def resolve(workspace=None):
    """The workspace named on the command line (``~`` expanded), or the default one."""
    if workspace is None or str(workspace) == "":
        return default_workspace()
    return Path(workspace).expanduser().absolute()
