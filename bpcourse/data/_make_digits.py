"""One-off converter: scikit-learn's ``digits.csv.gz`` -> ``bpcourse/data/digits.npz``.

Usage (maintainers only; the course uses the bundled ``digits.npz``)::

    python -m bpcourse.data._make_digits path/to/sklearn/datasets/data/digits.csv.gz

Each CSV row holds 65 integers: the 64 pixels of an 8x8 image (row by row, values
0..16), then the label 0..9.
"""

import sys
from pathlib import Path

import numpy as np


def convert(csv_gz, out=Path(__file__).with_name("digits.npz")):
    """Read the CSV and write ``images`` uint8 (1797, 8, 8) and ``labels`` uint8 (1797,)."""
    rows = np.loadtxt(csv_gz, delimiter=",", dtype=np.int64)
    assert rows.shape == (1797, 65), rows.shape
    assert rows[:, :64].min() >= 0 and rows[:, :64].max() <= 16
    assert set(np.unique(rows[:, 64])) == set(range(10))
    images = rows[:, :64].astype(np.uint8).reshape(-1, 8, 8)
    labels = rows[:, 64].astype(np.uint8)
    np.savez_compressed(out, images=images, labels=labels)
    return out


if __name__ == "__main__":
    print(convert(sys.argv[1]))
