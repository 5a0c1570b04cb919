"""A workspace and its manifest: what the course gave the learner, so updates can merge.

A workspace is a folder of the learner's notebooks with a hidden ``.bpcourse/`` beside them::

    WORKSPACE/01_forward_pass.ipynb ...      the learner's: bpcourse only ever adds to them
    WORKSPACE/.bpcourse/workspace.json       this manifest
    WORKSPACE/.bpcourse/given/<sha256>.ipynb each notebook as the course gave it (merge bases)
    WORKSPACE/.bpcourse/backups/<time>/      the learner's files as they were before a merge
    WORKSPACE/.bpcourse/lock                 held by ``bpcourse update`` while it runs

The manifest (``workspace.json``)::

    {"format": "bpcourse-workspace", "version": 1,
     "learner": "k3v9x2m4q8aa",          # a random id: seeds the inputs of progress / submit
     "bpcourse_version": "0.1.0", "release": "1f2e...",   # the course last given
     "notebooks": {"01_forward_pass.ipynb": {"given": "<sha256 of the version given>"}, ...},
     "offered": {"05_dense_backward.new.ipynb": "<sha256 of what update wrote there>"}}
"""

from dataclasses import dataclass, field
import json
from pathlib import Path
import secrets

from .files import WorkspaceError, atomic_write, explain, sha256

STATE = ".bpcourse"
MANIFEST = "workspace.json"
FORMAT = "bpcourse-workspace"


def is_workspace(path):
    return (Path(path) / STATE / MANIFEST).is_file()


def new_learner_id():
    return secrets.token_hex(6)


@dataclass
class Workspace:
    path: Path
    learner: str
    bpcourse_version: str
    release: str
    given: dict = field(default_factory=dict)     # notebook name -> sha256 of the version given
    offered: dict = field(default_factory=dict)   # NAME.new.ipynb -> sha256 of what we wrote

    @property
    def state(self):
        return self.path / STATE

    def given_path(self, digest):
        return self.state / "given" / f"{digest}.ipynb"

    def given_bytes(self, name):
        """The notebook ``name`` as the course gave it, or None if that copy is lost."""
        digest = self.given.get(name)
        if digest is None:
            return None
        try:
            data = self.given_path(digest).read_bytes()
        except OSError:
            return None
        return data if sha256(data) == digest else None

    def to_json(self):
        return {"format": FORMAT, "version": 1, "learner": self.learner,
                "bpcourse_version": self.bpcourse_version, "release": self.release,
                "notebooks": {n: {"given": d} for n, d in sorted(self.given.items())},
                "offered": dict(sorted(self.offered.items()))}

    def save(self):
        """Write the manifest atomically (raises OSError)."""
        text = json.dumps(self.to_json(), indent=1) + "\n"
        atomic_write(self.state / MANIFEST, text.encode("utf-8"))

    @classmethod
    def load(cls, path):
        path = Path(path)
        file = path / STATE / MANIFEST
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, not {FORMAT!r}")
            given = {name: entry["given"] for name, entry in data["notebooks"].items()}
            offered = data.get("offered", {})
            learner = data["learner"]
            if not all(isinstance(v, str) for v in [learner, *given, *given.values(),
                                                       *offered, *offered.values()]):
                raise ValueError("names and hashes must be text")
            return cls(path, learner, str(data.get("bpcourse_version", "")),
                       str(data.get("release", "")), given, dict(offered))
        except OSError as e:
            raise WorkspaceError(explain(e, f"read {file}")) from None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise WorkspaceError(
                f"{file} is damaged ({type(e).__name__}: {e}). Your notebooks are untouched. "
                f"Move that file away and run `bpcourse open {path}` to start a new manifest "
                f"(it keeps every notebook there)") from None
