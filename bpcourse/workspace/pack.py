"""The submission zip: the learner's course notebooks at its top level, with a manifest.

It is what ``bpcourse grade`` reads as one student's submission (named after the zip) and
what Gradescope unpacks into ``/autograder/submission/`` for the bundle's ``run_autograder``.
The manifest, ``bpcourse-submission.json``::

    {"format": "bpcourse-submission", "version": 1, "learner": "<the workspace's id>",
     "bpcourse_version": "0.1.0", "course_release": "<release id>",
     "files": {"01_forward_pass.ipynb": "<sha256>", ...},
     "progress": {... the table that `bpcourse progress` printed ...}}

The learner id seeds the grader's test inputs, so that progress and every grader agree.
Only the course's notebooks go in: the learner's own notebooks and ``.new`` copies stay home.
"""

import json
from pathlib import Path
import stat
import zipfile

from .. import __version__
from ..grading.submission import MANIFEST
from .files import WorkspaceError, explain, sha256
from .release import course_notebooks


def course_files(ws):
    """{name: bytes} of the course notebooks in the workspace, in course order."""
    try:
        names = list(course_notebooks())
    except WorkspaceError:
        names = sorted(ws.given)  # an installation without notebooks: what the workspace had
    files = {}
    for name in names:
        path = ws.path / name
        try:
            files[name] = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as e:
            raise WorkspaceError(explain(e, f"read {path}")) from None
    return files


def manifest(ws, files, progress=None):
    data = {"format": "bpcourse-submission", "version": 1, "learner": ws.learner,
            "bpcourse_version": __version__, "course_release": ws.release,
            "files": {name: sha256(data) for name, data in files.items()}}
    if progress is not None:
        data["progress"] = progress
    return data


def write_zip(path, files, manifest_data):
    """Write the zip (``files`` at its top level, then the manifest) to ``path``."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            _add(zf, name, data)
        _add(zf, MANIFEST, (json.dumps(manifest_data, indent=1, ensure_ascii=False) + "\n").encode())


def _add(zf, name, data):
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o644 | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def read_manifest(path):
    """The manifest of a submission zip (for tests and for the curious)."""
    with zipfile.ZipFile(Path(path)) as zf:
        return json.loads(zf.read(MANIFEST).decode("utf-8"))
