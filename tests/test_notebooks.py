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


def test_there_are_ten_notebooks_in_order():
    assert [p.name[:3] for p in SOLUTIONS] == [f"{i:02d}_" for i in range(1, 11)]
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
