"""Execute notebooks in place and store their outputs (for the solutions, before committing).

    python tools/run_notebooks.py solutions/*.ipynb

Prints each notebook's execution time and its slowest cell.
"""

import os
import sys
import time

# As in CI (tests/conftest.py): small matrices run faster on one BLAS thread, and timings
# stay steady when the machine is busy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import nbformat
from nbclient import NotebookClient


def run(path, timeout=120):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}})
    cell_times = []
    start = time.perf_counter()
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            t = time.perf_counter()
            client.execute_cell(cell, i)
            cell_times.append((time.perf_counter() - t, i))
    total = time.perf_counter() - start
    for cell in nb.cells:  # execution timestamps change every run: keep the files stable
        cell.metadata.pop("execution", None)
        cell.metadata.pop("lines_to_next_cell", None)  # left by jupytext when drafting
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
    nb.metadata.pop("jupytext", None)
    nbformat.write(nb, path)
    slowest, index = max(cell_times) if cell_times else (0.0, -1)
    print(f"{path}: {total:.1f} s (slowest cell {index + 1}: {slowest:.1f} s)")
    return total


if __name__ == "__main__":
    total = sum(run(p) for p in sys.argv[1:])
    print(f"total: {total:.1f} s")
