"""Data for the course: the bundled digits, 2-D toy sets, MNIST downloads, batching.

- ``load_digits``: 1797 bundled 8x8 digit images, split train/test (no download);
- ``make_spirals``, ``make_moons``, ``make_xor``, ``make_blobs``: 2-D toy sets;
- ``load_mnist``, ``load_fashion_mnist``: downloaded once, verified, cached;
- ``one_hot``, ``minibatches``, ``Standardizer``: getting arrays ready to train on.
"""

from .batching import Standardizer, minibatches, one_hot
from .digits import DIGITS_ATTRIBUTION, digits_info, load_digits, stratified_split
from .download import ChecksumError
from .idx import IDXFormatError, parse_idx, read_idx_gz
from .mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist
from .toy import make_blobs, make_moons, make_spirals, make_xor

__all__ = [
    "load_digits", "digits_info", "DIGITS_ATTRIBUTION", "stratified_split",
    "make_spirals", "make_moons", "make_xor", "make_blobs",
    "load_mnist", "load_fashion_mnist", "FASHION_MNIST_CLASSES",
    "parse_idx", "read_idx_gz", "IDXFormatError", "ChecksumError",
    "one_hot", "minibatches", "Standardizer",
]
