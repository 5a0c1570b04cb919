"""The course as released: the student notebooks that ship inside the package.

``bpcourse assign`` writes them to ``bpcourse/notebooks/`` (package data, so that a wheel
install carries them); workspaces are made and updated from them.  Which notebooks there are
is whatever that folder holds: nothing here lists them by name.
"""

from importlib import resources
from pathlib import Path

from .files import WorkspaceError, sha256


def package_notebooks_dir():
    """The folder of the student notebooks inside the installed package."""
    return Path(str(resources.files("bpcourse") / "notebooks"))


def is_course_name(name):
    """A course notebook's file name (not a hidden file, not an offered ``.new`` copy)."""
    return name.endswith(".ipynb") and not name.startswith(".") and not name.endswith(".new.ipynb")


def course_notebooks(source=None):
    """{file name: bytes} of the course's student notebooks, in course order.

    ``source`` is a folder of student notebooks (default: the package's)."""
    folder = Path(source) if source is not None else package_notebooks_dir()
    if not folder.is_dir():
        raise WorkspaceError(f"{folder}: no such folder of course notebooks")
    try:
        found = {p.name: p.read_bytes() for p in sorted(folder.glob("*.ipynb"))
                 if is_course_name(p.name)}
    except OSError as e:
        raise WorkspaceError(f"cannot read the course notebooks in {folder}: {e.strerror}") from None
    if not found:
        where = "this installation of bpcourse" if source is None else str(folder)
        raise WorkspaceError(f"{where} holds no course notebooks ({folder} is empty); "
                             f"reinstall bpcourse, or in the course's clone run `bpcourse assign`")
    return found


def release_id(notebooks):
    """A short name for one release of the course: a hash of its notebooks' hashes."""
    listing = "".join(f"{name}\0{sha256(data)}\n" for name, data in sorted(notebooks.items()))
    return sha256(listing.encode())[:12]
