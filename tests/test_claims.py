"""The notebooks' claims about their runs hold on any machine, not only on the one that stored
the outputs.

A claim is an ``assert`` in a code cell tagged ``{"bpcourse": {"claim": ...}}`` of a solution
notebook (the prose says in words what the assert checks). The experiments take their seeds from
``SEED = ...`` and ``SEEDS = (...)`` lines. nbval runs every notebook as it is, on this machine's
native kernels; here each notebook with claims runs again, from its first cell to its last claim
(cells tagged ``{"bpcourse": {"claims": "skip"}}`` — widgets — left out), with other seeds and
with the arithmetic of other CPUs: OpenBLAS's AVX2 (Haswell) kernels with numpy's AVX-512 code
paths switched off, and OpenBLAS's AVX-512 (SkylakeX) kernels where the CPU has them, with 1 and
2 BLAS threads. They round sums differently in the last bits, which is what made a learner's
run differ from the stored one.
"""

import os
from pathlib import Path
import re
import subprocess
import sys

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


def _meta(cell):
    meta = cell.metadata.get("bpcourse", {})
    return meta if isinstance(meta, dict) else {}


def _claim_notebooks():
    found = []
    for path in SOLUTIONS:
        nb = nbformat.read(path, as_version=4)
        if any(_meta(c).get("claim") for c in nb.cells):
            found.append(path)
    return found


def _cpu_flags():
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((l for l in text.splitlines() if l.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def machines():
    """(name, environment) of the CPUs emulated here, by what this CPU can run."""
    flags = _cpu_flags()
    found = []
    if "avx2" in flags:
        found.append(("AVX2 kernels, 2 BLAS threads",
                      {"OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL",
                       "OPENBLAS_NUM_THREADS": "2"}))
    if "avx512f" in flags:
        found.append(("AVX-512 kernels, 1 BLAS thread",
                      {"OPENBLAS_CORETYPE": "SkylakeX", "OPENBLAS_NUM_THREADS": "1"}))
    else:
        found.append(("AVX kernels, 1 BLAS thread",
                      {"OPENBLAS_CORETYPE": "Sandybridge", "NPY_DISABLE_CPU_FEATURES": "AVX2 FMA3 X86_V3",
                       "OPENBLAS_NUM_THREADS": "1"}))
    return found


SEED_SETS = [(1, (3, 4, 5)), (2, (6, 7, 8))]     # SEED, SEEDS: none of them the notebooks' own


def claims_script(path, seed, seeds):
    """The code of ``path`` from its first cell to its last claim, with other seeds."""
    nb = nbformat.read(path, as_version=4)
    last = max(i for i, c in enumerate(nb.cells) if _meta(c).get("claim"))
    parts = ["import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
             "plt.show = lambda *a, **k: plt.close('all')\n"]
    replaced = set()
    for cell in nb.cells[:last + 1]:
        if cell.cell_type != "code" or _meta(cell).get("claims") == "skip":
            continue
        source = "\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith(("%", "!")))
        for name, value in (("SEED", seed), ("SEEDS", seeds)):
            new, n = re.subn(rf"^{name} = [^#\n]*", f"{name} = {value!r}", source, flags=re.M)
            if n:
                replaced.add(name)
                source = new
        parts.append(source)
    assert replaced, f"{path.name}: its claims take no SEED or SEEDS to vary"
    return "\n\n".join(parts)


CASES = [(path, machine, seeds) for path in _claim_notebooks()
         for machine, seeds in zip(machines(), SEED_SETS)]


def test_the_notebooks_make_claims_to_check():
    names = {p.stem[:2] for p in _claim_notebooks()}
    assert {"07", "10"} <= names, names


@pytest.mark.parametrize("path, machine, seeds", CASES,
                         ids=[f"{p.stem[:2]}-{m[0].split()[0]}" for p, m, _ in CASES])
def test_the_claims_hold_with_other_seeds_and_other_cpus(path, machine, seeds, tmp_path):
    name, env_changes = machine
    env = {**os.environ, **env_changes, "BPCOURSE_HOME": str(tmp_path / "home"), "MPLBACKEND": "Agg"}
    script = claims_script(path, *seeds)
    result = subprocess.run([sys.executable, "-c", script], cwd=path.parent, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (
        f"{path.name}, with SEED, SEEDS = {seeds} on {name}: a claim does not hold\n"
        f"{result.stderr[-3000:]}")
