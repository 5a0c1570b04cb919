"""The student notebooks: generated from the solutions, free of solutions, and runnable.

(The solution notebooks themselves are executed and their outputs compared by nbval, which
pytest runs over solutions/ — see pyproject.toml.)
"""

from pathlib import Path
import subprocess
import sys
import time

import nbformat
from nbclient import NotebookClient
import pytest

ROOT = Path(__file__).resolve().parent.parent
STUDENT = sorted((ROOT / "bpcourse" / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


def test_there_are_the_start_page_and_ten_notebooks_in_order():
    assert [p.name[:3] for p in SOLUTIONS] == [f"{i:02d}_" for i in range(0, 11)]
    assert [p.name for p in STUDENT] == [p.name for p in SOLUTIONS]


def test_student_notebooks_are_exactly_what_assign_generates():
    r = subprocess.run([sys.executable, "-m", "bpcourse", "assign", "--check",
                        str(ROOT / "solutions"), str(ROOT / "bpcourse" / "notebooks")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_no_solution_text_in_student_notebooks():
    for path in STUDENT:
        text = path.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, path.name


@pytest.mark.parametrize("path", STUDENT, ids=[p.stem for p in STUDENT])
def test_student_notebook_runs_top_to_bottom(path, tmp_path):
    """With every exercise still a stub, the checks fall back to the reference: no error."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    seconds = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors, errors[0]
    stubs = [c for c in nb.cells if "raise NotImplementedError" in c.source]
    solution = (ROOT / "solutions" / path.name).read_text(encoding="utf-8")
    assert len(stubs) == solution.count("### BEGIN SOLUTION")
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert printed.count("not implemented yet") >= len(stubs)  # one verdict per exercise
    print(f"{path.name}: {seconds:.1f} s")


def _png_size(data):
    """(width, height) in pixels of a PNG, from its IHDR chunk."""
    import base64
    import struct

    raw = base64.b64decode(data)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


def test_every_stored_figure_is_sharp_on_hidpi_screens():
    """Figures are stored at twice the pixels they are shown with (the retina inline backend)."""
    figures = 0
    for path in SOLUTIONS:
        for cell in nbformat.read(path, as_version=4).cells:
            for out in cell.get("outputs", []):
                if "image/png" not in out.get("data", {}):
                    continue
                figures += 1
                width, height = _png_size(out["data"]["image/png"])
                shown = out.get("metadata", {}).get("image/png", {}).get("width")
                assert shown and abs(2 * shown - width) <= 1, (path.name, width, shown)
    assert figures >= 20


def test_each_notebook_links_to_the_next_and_the_last_back_to_the_start():
    for path, following in zip(SOLUTIONS, SOLUTIONS[1:] + SOLUTIONS[:1]):
        text = path.read_text(encoding="utf-8")
        assert f"]({following.name})" in text, (path.name, following.name)
