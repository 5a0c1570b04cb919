"""Writing a learner's files safely: whole or not at all, one writer at a time, clear errors.

- ``atomic_write(path, data)``: readers see the old file or the new one, never half of one
  (a temporary file beside it, flushed to disk, then renamed over it);
- ``locked(workspace)``: one ``bpcourse update`` at a time on a workspace (an advisory lock
  that the kernel releases when the process ends, however it ends);
- ``WorkspaceError`` and ``explain``: what went wrong, in words, with what to do about it.
"""

from contextlib import contextmanager
import errno
import hashlib
import os
from pathlib import Path
import tempfile


class WorkspaceError(Exception):
    """A problem the learner can act on; the message says what happened and what to do."""


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def explain(error, doing):
    """A sentence for an ``OSError`` met while ``doing`` (e.g. "write /home/x/ws/01.ipynb")."""
    code = getattr(error, "errno", None)
    if code == errno.EROFS:
        why = "the disk is read-only"
    elif code in (errno.EACCES, errno.EPERM):
        why = "permission denied: your user may not write there"
    elif code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        why = "the disk is full"
    elif code == errno.ENOTDIR:
        why = "a part of that path is a file, not a folder"
    elif code == errno.EFBIG:
        why = "the file is larger than this system allows"
    else:
        why = error.strerror or str(error)
    return f"cannot {doing}: {why}"


def atomic_write(path, data):
    """Replace ``path`` by ``data`` (bytes) atomically; on failure ``path`` is as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


LOCK = "lock"


@contextmanager
def locked(state_dir, command="bpcourse update", doing=None):
    """Hold the workspace's lock (``state_dir / "lock"``) or refuse at once, saying who holds it."""
    import fcntl

    path = Path(state_dir) / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise WorkspaceError(explain(e, doing or f"lock {path}") + "; nothing was changed") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            who = f" (process {holder})" if holder.isdigit() else ""
            raise WorkspaceError(f"another {command} is running on this workspace{who}: wait "
                                 f"until it has finished, then run it again; nothing was "
                                 f"changed") from None
        try:  # who holds it, for the message above (best effort: a full disk must not stop us)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass
        yield
    finally:
        os.close(fd)  # releases the lock
