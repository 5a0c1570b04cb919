"""Shared test setup: keep the course's "your functions" store and BLAS threads under control.

Notebook kernels started by nbval inherit this environment; at the root so that it also
applies to the solution notebooks, which pytest collects from solutions/.
"""

import os
import tempfile

# check() saves passing functions under $BPCOURSE_HOME; tests must not touch ~/.bpcourse.
os.environ["BPCOURSE_HOME"] = tempfile.mkdtemp(prefix="bpcourse-home-")
# Small matrices are faster on one BLAS thread, and timings are steadier when several
# notebook kernels run side by side.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
