"""The few ways bpcourse writes into a workspace, each atomic and each never destructive.

- ``keep_given``: the course's version of a notebook, stored by hash (a merge base);
- ``offer``: the course's new version beside the learner's, as ``NAME.new.ipynb`` (or
  ``NAME.new-2.ipynb`` ... when the learner has edited an earlier offer);
- ``backup``: the learner's file as it was, before a merge writes the merged version.
"""

import time

from .files import atomic_write, sha256


def keep_given(ws, data):
    """Store ``data`` as a given version (idempotent); returns its hash."""
    digest = sha256(data)
    path = ws.given_path(digest)
    if not _holds(path, digest):
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    return digest


def _holds(path, digest):
    try:
        return sha256(path.read_bytes()) == digest
    except OSError:
        return False


def drop_unused_given(ws):
    """Remove stored given versions that the manifest no longer names (best effort)."""
    used = set(ws.given.values())
    folder = ws.state / "given"
    try:
        for path in folder.glob("*.ipynb"):
            if path.stem not in used:
                path.unlink()
    except OSError:
        pass


def offer_name(name, n=1):
    stem = name[:-len(".ipynb")]
    return f"{stem}.new.ipynb" if n == 1 else f"{stem}.new-{n}.ipynb"


def offer(ws, name, data):
    """Write the course's ``data`` for notebook ``name`` beside the learner's; returns the
    file name used.  An earlier offer is replaced only if the learner has not edited it."""
    for n in range(1, 100):
        candidate = offer_name(name, n)
        path = ws.path / candidate
        if path.exists():
            current = sha256(path.read_bytes())
            if current != sha256(data) and ws.offered.get(candidate) != current:
                continue  # the learner's now: never overwritten
        if not path.exists() or sha256(path.read_bytes()) != sha256(data):
            atomic_write(path, data)
        ws.offered[candidate] = sha256(data)
        return candidate
    raise FileExistsError(f"{name}: too many edited .new copies beside it")


def backup(ws, name, data, stamp=None):
    """Keep the learner's ``data`` of ``name`` under ``.bpcourse/backups/<time>/``."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    folder = ws.state / "backups" / stamp
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / name, data)
    return folder / name
