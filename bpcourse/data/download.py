"""Downloading a file once into a cache directory, checking its SHA-256.

``fetch`` returns the cached file when it is there and matches the expected digest,
without touching the network; otherwise it downloads it to a temporary file next to
the target, checks the digest, and only then renames it into place.
"""

import hashlib
import http.client
import os
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

DATA_DIR_ENV = "BPCOURSE_DATA_DIR"
_CHUNK = 1 << 16


class ChecksumError(ValueError):
    """A file's SHA-256 digest is not the expected one."""


def data_dir(cache_dir=None):
    """The cache root: ``cache_dir``, else $BPCOURSE_DATA_DIR, else ``~/.cache/bpcourse``."""
    if cache_dir is None:
        cache_dir = os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "bpcourse"
    if not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a path (str or pathlib.Path), got {type(cache_dir).__name__}")
    return Path(cache_dir).expanduser()


def sha256_of(path):
    """Hex SHA-256 digest of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(url, path, sha256, timeout=30.0, progress=True, hint=""):
    """Return ``path`` (a Path), downloading it from ``url`` first if it is not cached.

    The file must have SHA-256 ``sha256``. A bad download is deleted and raises
    ``ChecksumError``; a network failure raises ``ConnectionError`` naming the URL,
    with ``hint`` (how to set a mirror or place the file by hand) appended.
    """
    path = Path(path)
    if path.exists():
        actual = sha256_of(path)
        if actual != sha256:
            raise ChecksumError(
                f"the cached file {path} has SHA-256 {actual}, expected {sha256}. "
                "Delete it to download it again, or pass checksums={...} if it is a "
                "different copy you trust."
            )
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            actual = _download(url, out, timeout, progress, hint)
        if actual != sha256:
            raise ChecksumError(
                f"the file downloaded from {url} has SHA-256 {actual}, expected {sha256}; "
                "it was deleted. The mirror may serve a different or corrupted copy."
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _download(url, out, timeout, progress, hint):
    """Stream ``url`` into the open binary file ``out``; return the SHA-256 hex digest."""
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            with _progress_bar(total, url.rsplit("/", 1)[-1], progress) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        raise ConnectionError(
            f"could not download {url}: the server answered HTTP {e.code} ({e.reason}). "
            f"The mirror may not have this file. {hint}"
        ) from e
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError,
            http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        raise ConnectionError(
            f"could not download {url} ({reason}). This machine looks offline, or the "
            f"mirror is unreachable. {hint}"
        ) from e
    return h.hexdigest()


def _progress_bar(total, name, enabled):
    """A tqdm byte-counting progress bar (a silent one when not ``enabled``)."""
    from tqdm.auto import tqdm

    total = int(total) if total and total.isdigit() else None
    return tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024,
                leave=False, disable=not enabled)
