"""MNIST and Fashion-MNIST: download once, verify, cache, load as numpy arrays.

Both come as the same four gzipped IDX files (60,000 training and 10,000 test images
of 28x28 pixels, 0..255, and their labels 0..9). Where they come from and where they
are kept can be configured:

- mirror: the ``mirror=`` argument, else $BPCOURSE_MNIST_MIRROR (resp.
  $BPCOURSE_FASHION_MNIST_MIRROR), else a public mirror (``MNIST.default_mirror``);
- cache:  the ``cache_dir=`` argument, else $BPCOURSE_DATA_DIR, else ``~/.cache/bpcourse``;
  files go in its ``mnist/`` (resp. ``fashion-mnist/``) subfolder.

Offline? Copy the four ``.gz`` files into that subfolder; they are used once their
SHA-256 digests match.
"""

import os
import re
from dataclasses import dataclass

import numpy as np

from ._checks import float_dtype
from .download import data_dir, fetch
from .idx import IDXFormatError, read_idx_gz

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


@dataclass(frozen=True)
class IDXDataset:
    """Where a four-file IDX data set lives and the SHA-256 digests of its files."""

    name: str
    subdir: str
    mirror_env: str
    default_mirror: str
    sha256: dict


# Digests of the .gz files, as published in tensorflow/datasets
# (tensorflow_datasets/url_checksums/mnist.txt and fashion_mnist.txt) and elsewhere.
MNIST = IDXDataset(
    name="MNIST",
    subdir="mnist",
    mirror_env="BPCOURSE_MNIST_MIRROR",
    default_mirror="https://ossci-datasets.s3.amazonaws.com/mnist/",
    sha256={
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
)

FASHION_MNIST = IDXDataset(
    name="Fashion-MNIST",
    subdir="fashion-mnist",
    mirror_env="BPCOURSE_FASHION_MNIST_MIRROR",
    default_mirror="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    sha256={
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
)

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_HEX64 = re.compile(r"[0-9a-f]{64}")


def _digests(dataset, checksums):
    """The expected digests: the built-in ones, overridden by ``checksums``."""
    if checksums is None:
        return dict(dataset.sha256)
    if not isinstance(checksums, dict):
        raise TypeError(f"checksums must be a dict {{filename: sha256 hex}}, got {type(checksums).__name__}")
    digests = dict(dataset.sha256)
    for filename, digest in checksums.items():
        if filename not in digests:
            raise ValueError(f"checksums has an unknown file name {filename!r}; expected one of {sorted(digests)}")
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest.lower()):
            raise ValueError(f"checksums[{filename!r}] must be a SHA-256 digest (64 hex digits), got {digest!r}")
        digests[filename] = digest.lower()
    return digests


def download_idx_dataset(dataset, cache_dir=None, mirror=None, checksums=None,
                         timeout=30.0, progress=True):
    """Make sure the four files of ``dataset`` are cached and verified; return their paths.

    Returns a dict {"train_images": Path, "train_labels": ..., "test_images": ...,
    "test_labels": ...}. See the module docstring for ``mirror`` and ``cache_dir``.
    """
    mirror = mirror or os.environ.get(dataset.mirror_env) or dataset.default_mirror
    if not isinstance(mirror, str):
        raise TypeError(f"mirror must be a base URL string, got {type(mirror).__name__}")
    base = mirror if mirror.endswith("/") else mirror + "/"
    folder = data_dir(cache_dir) / dataset.subdir
    digests = _digests(dataset, checksums)
    hint = (
        f"Set the environment variable {dataset.mirror_env} (or pass mirror=...) to a "
        f"reachable {dataset.name} mirror, or download the files "
        f"{', '.join(FILES.values())} yourself and put them in {folder}"
    )
    return {
        key: fetch(base + filename, folder / filename, digests[filename],
                   timeout=timeout, progress=progress, hint=hint)
        for key, filename in FILES.items()
    }


def load_idx_dataset(dataset, cache_dir=None, mirror=None, flatten=True, dtype=np.float32,
                     checksums=None, timeout=30.0, progress=True):
    """Download if needed, then load ``(X_train, y_train), (X_test, y_test)``.

    X: float ``dtype`` in [0, 1] (pixels / 255), shape (N, rows*cols) when ``flatten``
    else (N, rows, cols); y: int64 labels (N,).
    """
    dt = float_dtype(dtype)
    if not isinstance(flatten, bool):
        raise TypeError(f"flatten must be True or False, got {flatten!r}")
    paths = download_idx_dataset(dataset, cache_dir, mirror, checksums, timeout, progress)
    splits = []
    for split in ("train", "test"):
        images = read_idx_gz(paths[f"{split}_images"])
        labels = read_idx_gz(paths[f"{split}_labels"])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise IDXFormatError(
                f"{dataset.name} {split} files do not match: expected images (N, rows, cols) "
                f"and labels (N,), got shapes {images.shape} and {labels.shape}"
            )
        X = images.astype(dt)
        X /= 255
        if flatten:
            X = X.reshape(len(X), -1)
        splits.append((X, labels.astype(np.int64)))
    return tuple(splits)


def load_mnist(cache_dir=None, mirror=None, flatten=True, dtype=np.float32,
               checksums=None, timeout=30.0, progress=True):
    """MNIST handwritten digits: ``(X_train, y_train), (X_test, y_test)``.

    X_train (60000, 784) and X_test (10000, 784) in [0, 1] (or (N, 28, 28) with
    ``flatten=False``); y int64 digits 0..9. Downloaded once, verified by SHA-256
    (override with ``checksums={filename: sha256}``), then read from the cache.
    """
    return load_idx_dataset(MNIST, cache_dir, mirror, flatten, dtype, checksums, timeout, progress)


def load_fashion_mnist(cache_dir=None, mirror=None, flatten=True, dtype=np.float32,
                       checksums=None, timeout=30.0, progress=True):
    """Fashion-MNIST clothing images: ``(X_train, y_train), (X_test, y_test)``.

    Same shapes as ``load_mnist``; label names are in ``FASHION_MNIST_CLASSES``.
    """
    return load_idx_dataset(FASHION_MNIST, cache_dir, mirror, flatten, dtype, checksums,
                            timeout, progress)
