"""How fast is bpcourse?  One run, one table, the issue's targets checked.

    python benchmarks/run.py [--quick] [--skip torch,notebooks,grading,readme] [--json PATH]
                             [--compare EARLIER.json] [--markdown] [--profile] [--repeat N]
                             [--threads N]

Measures, side by side in one run (medians over many repetitions after a warm-up, the
contenders interleaved round by round so that a busy machine slows them all alike):

1. one training step of a ``bpcourse.nn`` MLP, float32, with Dense → BatchNorm → ReLU →
   Dropout(p) blocks (p = 0.1 and p = 0.2, both in one run) and softmax cross-entropy,
   updated by Adam, as a learner writes it:
   ``zero_grad(); Z = model(X); loss = criterion(Z, y); model.backward(criterion.backward(),
   input_grad=False); step()``, at (a) 64-64-64-10, batch 64; (b) 784-256-256-10, batch 128;
   (c) 784-1024-1024-10, batch 512;
2. the matrix multiplications alone, the floor that no numpy implementation goes under: the
   three GEMMs of every dense layer (forward X W, dW = Xᵀ dZ, dX = dZ Wᵀ), float32, into
   preallocated outputs; and, as a second column, the same without the first layer's dX,
   which neither the step above nor PyTorch computes;
3. when PyTorch is installed (it is not a dependency), the same model in PyTorch on the CPU
   (nn.Linear, BatchNorm1d, ReLU, Dropout with the same p, CrossEntropyLoss,
   torch.optim.Adam), with as many threads as numpy's BLAS uses;
4. the ratios bpcourse / GEMM floor and bpcourse / PyTorch, per size;
5. the README's digits model (time and accuracy), the time to execute all course notebooks
   (the solutions, with ``tools/run_notebooks.py``, on copies), and to grade 100 submissions
   with ``--jobs 2`` (``benchmarks/grade_100.py``).

It prints the BLAS numpy uses (threadpoolctl's report: library, version, the kernel it chose
for this CPU, threads) and the load average before and after, and writes the results as JSON
(``benchmarks/results/latest.json`` unless ``--json`` says otherwise); ``--compare`` puts an
earlier JSON beside this run.  ``--profile`` adds where the time of a step goes, part by part
(GEMMs, batch norm, ReLU, dropout, softmax-CE, Adam), against the GEMM floor; ``--repeat N``
measures the steps N times and prints the range of the ratios; ``--threads N`` sets the BLAS
(and PyTorch) threads.  The default run takes about 4 minutes on 2 cores.
"""

import argparse
import collections
import contextlib
import datetime
import io
import json
import os
from pathlib import Path
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bpcourse import nn, optim  # noqa: E402

SIZES = [  # name, layer widths, batch size, repetitions (default run)
    ("a", (64, 64, 64, 10), 64, 2000),
    ("b", (784, 256, 256, 10), 128, 600),
    ("c", (784, 1024, 1024, 10), 512, 80),
]
DROPOUTS = (0.1, 0.2)  # both rates, in one run, for bpcourse and PyTorch alike
TARGETS = {  # what the issue asks, checked at the end
    "bpcourse / PyTorch at (a), (b), (c)": "≤ 1.0",
    "bpcourse / GEMM floor at (c)": "≤ 1.3",
    "bpcourse / GEMM floor at (b)": "≤ 2.0",
    "README digits model": "≥ 97 % in < 5 s",
    "all notebooks": "< 120 s",
    "100 submissions, --jobs 2": "< 60 s",
}


# ---------------------------------------------------------------- the machine

def machine_info():
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_name(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": None,
        "blas_info": None,
        "blas_threads": None,
        "blas_environment": {k: v for k, v in os.environ.items()
                             if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "BLIS_"))},
        "caches": _caches(),
        "load_average": _load(),
    }
    blas = blas_info()
    if blas is None:
        info["blas"] = "unknown (pip install threadpoolctl to report it)"
    elif blas:
        b = blas[0]
        info["blas_info"] = blas
        info["blas"] = (f"{b.get('internal_api')} {b.get('version')} "
                        f"({b.get('architecture')} kernels, {b.get('threading_layer')} threads)")
        info["blas_threads"] = b.get("num_threads")
    else:
        info["blas"] = "none found by threadpoolctl"
    return info


def blas_info():
    """threadpoolctl's report on the BLAS libraries loaded (None without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer",
            "prefix", "filepath")
    return [{k: p.get(k) for k in keys} for p in threadpool_info() if p.get("user_api") == "blas"]


def _caches():
    try:
        from bpcourse import _fast
    except ImportError:  # pragma: no cover
        return None
    return getattr(_fast, "CACHE_SIZES", None)


def _load():
    """The 1-minute load average (other work on the machine skews every timing)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---------------------------------------------------------------- the three contenders

def bpcourse_model(widths, batch, p, seed=0):
    """The bpcourse model, loss, optimizer and one batch: (model, criterion, optimizer, X, y)."""
    modules = []
    for i, (d_in, d_out) in enumerate(zip(widths[:-2], widths[1:-1])):
        modules += [nn.Dense(d_in, d_out, rng=seed + i), nn.BatchNorm(d_out), nn.ReLU(),
                    nn.Dropout(p, rng=seed + 100 + i)]
    modules.append(nn.Dense(widths[-2], widths[-1], rng=seed + 99))
    model = nn.Sequential(*modules)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch, widths[0])).astype(np.float32)
    y = rng.integers(0, widths[-1], size=batch)
    return model, criterion, optimizer, X, y


def bpcourse_step(widths, batch, p, seed=0):
    """A closure running one training step of the bpcourse model, float32."""
    model, criterion, optimizer, X, y = bpcourse_model(widths, batch, p, seed)

    def step():
        optimizer.zero_grad()
        Z = model(X)
        criterion(Z, y)
        model.backward(criterion.backward(), input_grad=False)
        optimizer.step()

    return step


def gemm_floor(widths, batch, first_dX=True, which="all", seed=0):
    """A closure running the GEMMs of the dense layers: forward, dW, and dX (the first layer's
    dX only if ``first_dX``), float32, into preallocated outputs.  ``which`` = "forward" or
    "backward" keeps only those of the forward pass (X W) or of the backward (dW, dX)."""
    rng = np.random.default_rng(seed)
    calls = []
    for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        X = rng.normal(size=(batch, d_in)).astype(np.float32)
        W = rng.normal(size=(d_in, d_out)).astype(np.float32)
        dZ = rng.normal(size=(batch, d_out)).astype(np.float32)
        Z, dW, dX = np.empty((batch, d_out), np.float32), np.empty_like(W), np.empty_like(X)
        if which in ("all", "forward"):
            calls.append((X, W, Z))             # Z = X W
        if which in ("all", "backward"):
            calls.append((X.T, dZ, dW))         # dW = Xᵀ dZ
            if i > 0 or first_dX:
                calls.append((dZ, W.T, dX))     # dX = dZ Wᵀ

    def step():
        for a, b, out in calls:
            np.matmul(a, b, out=out)

    return step


def torch_step(torch, widths, batch, p, seed=0):
    """A closure running one training step of the same model in PyTorch (CPU, float32)."""
    torch.manual_seed(seed)
    layers = []
    for d_in, d_out in zip(widths[:-2], widths[1:-1]):
        layers += [torch.nn.Linear(d_in, d_out), torch.nn.BatchNorm1d(d_out), torch.nn.ReLU(),
                   torch.nn.Dropout(p)]
    layers.append(torch.nn.Linear(widths[-2], widths[-1]))
    model = torch.nn.Sequential(*layers).train()
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    X = torch.randn(batch, widths[0])
    y = torch.randint(0, widths[-1], (batch,))

    def step():
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        loss.backward()
        optimizer.step()

    return step


def load_torch(threads):
    """PyTorch with ``threads`` intra-op threads, or (None, reason) when it is not installed."""
    try:
        import torch
    except ImportError:
        return None, "PyTorch is not installed (pip install torch to compare; it is optional)"
    if threads:
        torch.set_num_threads(threads)
    return torch, None


def time_interleaved(contenders, reps, rounds=20, warmup=0.5):
    """Median seconds per call of each closure in ``contenders`` (a dict), measured in
    ``rounds`` rounds in which each runs reps / rounds times, after ``warmup`` s of each."""
    for run in contenders.values():
        end = time.perf_counter() + warmup
        while time.perf_counter() < end:
            run()
    samples = {name: [] for name in contenders}
    per_round = max(1, reps // rounds)
    clock = time.perf_counter
    for _ in range(rounds):
        for name, run in contenders.items():
            out = samples[name]
            for _ in range(per_round):
                start = clock()
                run()
                out.append(clock() - start)
    return {name: statistics.median(s) for name, s in samples.items()}


def _p(p):
    return f"{p:g}"


def bench_steps(torch, quick, verbose=True):
    """One row per size and dropout rate; all contenders of a size interleaved in one timing."""
    rows = []
    for name, widths, batch, reps in SIZES:
        contenders = {"gemm": gemm_floor(widths, batch),
                      "gemm_step": gemm_floor(widths, batch, first_dX=False)}
        for p in DROPOUTS:
            contenders[f"bpcourse {_p(p)}"] = bpcourse_step(widths, batch, p)
            if torch is not None:
                contenders[f"torch {_p(p)}"] = torch_step(torch, widths, batch, p)
        reps = max(10, reps // 5) if quick else reps
        t = time_interleaved(contenders, reps, warmup=0.2 if quick else 0.5)
        for p in DROPOUTS:
            bp, th = t[f"bpcourse {_p(p)}"], t.get(f"torch {_p(p)}")
            row = {"size": name, "widths": list(widths), "batch": batch, "dropout": p, "reps": reps,
                   "bpcourse_ms": bp * 1e3, "gemm_floor_ms": t["gemm"] * 1e3,
                   "gemm_step_ms": t["gemm_step"] * 1e3,
                   "torch_ms": th * 1e3 if th else None,
                   "bpcourse_over_floor": bp / t["gemm"],
                   "bpcourse_over_gemm_step": bp / t["gemm_step"],
                   "bpcourse_over_torch": bp / th if th else None}
            rows.append(row)
            if verbose:
                print(f"  ({name}) {'-'.join(map(str, widths))}, batch {batch}, dropout {_p(p)}: "
                      f"bpcourse {row['bpcourse_ms']:.3f} ms, GEMM floor {row['gemm_floor_ms']:.3f} ms"
                      + (f", PyTorch {row['torch_ms']:.3f} ms" if row["torch_ms"] else ""),
                      flush=True)
    return rows


# ---------------------------------------------------------------- where the time goes

# The parts of a step, in the order printed; a module's forward or backward is one part.
PARTS = [
    ("dense forward", "Dense forward: X W + b"),
    ("dense backward", "Dense backward: dW, db, dX"),
    ("batchnorm forward", "batch norm forward"),
    ("batchnorm backward", "batch norm backward"),
    ("relu", "ReLU forward + backward"),
    ("dropout forward", "dropout forward: mask, X · mask"),
    ("dropout backward", "dropout backward: dout · mask"),
    ("softmax-ce", "softmax-CE: loss and dZ"),
    ("adam", "Adam step"),
    ("zero_grad", "zero_grad"),
]
_MODULE_PART = {("Dense", "forward"): "dense forward", ("Dense", "backward"): "dense backward",
                ("BatchNorm", "forward"): "batchnorm forward",
                ("BatchNorm", "backward"): "batchnorm backward",
                ("ReLU", "forward"): "relu", ("ReLU", "backward"): "relu",
                ("Dropout", "forward"): "dropout forward", ("Dropout", "backward"): "dropout backward"}


def profiled_step(widths, batch, p, seed=0):
    """The step of ``bpcourse_step`` with a clock around each part: returns (step, times), where
    each call of step() writes the seconds of every part of that step into the dict ``times``.

    Every module's forward and backward is wrapped (on the instance: the classes and the
    closure's calls are the ones of the plain step); the loss, the optimizer step and
    zero_grad are timed around the same calls."""
    model, criterion, optimizer, X, y = bpcourse_model(widths, batch, p, seed)
    clock = time.perf_counter
    times = collections.defaultdict(float)

    def wrap(module, direction, part):
        method = getattr(module, direction)

        def timed(*args, **kwargs):
            start = clock()
            out = method(*args, **kwargs)
            times[part] += clock() - start
            return out

        setattr(module, direction, timed)

    for m in model.modules:
        for direction in ("forward", "backward"):
            wrap(m, direction, _MODULE_PART[type(m).__name__, direction])

    def step():
        times.clear()
        start = clock()
        optimizer.zero_grad()
        t1 = clock()
        Z = model(X)
        t2 = clock()
        criterion(Z, y)
        dZ = criterion.backward()
        t3 = clock()
        model.backward(dZ, input_grad=False)
        t4 = clock()
        optimizer.step()
        end = clock()
        times["zero_grad"] += t1 - start
        times["softmax-ce"] += t3 - t2
        times["adam"] += end - t4
        times["step"] = end - start

    return step, times


def bench_profile(quick, p=DROPOUTS[-1], sizes=("b", "c")):
    """Per-part medians of the instrumented step, beside the plain step and the GEMMs the step
    computes (forward, and backward without the first dX), all interleaved."""
    out = []
    for name, widths, batch, reps in SIZES:
        if name not in sizes:
            continue
        reps = max(10, reps // 5) if quick else reps
        step, times = profiled_step(widths, batch, p)
        samples = collections.defaultdict(list)

        def instrumented():
            step()
            for part, seconds in times.items():
                samples[part].append(seconds)

        contenders = {"instrumented": instrumented,
                      "plain": bpcourse_step(widths, batch, p),
                      "gemm_forward": gemm_floor(widths, batch, which="forward"),
                      "gemm_backward": gemm_floor(widths, batch, first_dX=False, which="backward"),
                      "gemm": gemm_floor(widths, batch)}
        t = time_interleaved(contenders, reps, warmup=0.2 if quick else 0.5)
        parts = {part: statistics.median(s) * 1e3 for part, s in samples.items()}
        out.append({"size": name, "widths": list(widths), "batch": batch, "dropout": p,
                    "reps": reps, "parts_ms": parts, "step_ms": t["plain"] * 1e3,
                    "gemm_forward_ms": t["gemm_forward"] * 1e3,
                    "gemm_backward_ms": t["gemm_backward"] * 1e3,
                    "gemm_floor_ms": t["gemm"] * 1e3, "load_average": _load()})
        print(f"  profile ({name}) done", flush=True)
    return out


def report_profile(profiles):
    for pr in profiles:
        parts, step = pr["parts_ms"], pr["step_ms"]
        gemm_f, gemm_b = pr["gemm_forward_ms"], pr["gemm_backward_ms"]
        gemms = gemm_f + gemm_b
        print()
        print(f"where the time goes, ({pr['size']}) {'-'.join(map(str, pr['widths']))}, batch "
              f"{pr['batch']}, dropout {_p(pr['dropout'])} (medians of {pr['reps']} steps, "
              f"load {pr['load_average']}):")
        head = f"  {'part':<34} {'ms':>8} {'of step':>8} {'GEMMs in it':>12} {'over floor':>11}"
        print(head)
        print("  " + "-" * (len(head) - 2))
        gemm_in = {"dense forward": gemm_f, "dense backward": gemm_b}
        total = 0.0
        for key, label in PARTS:
            ms = parts.get(key, 0.0)
            total += ms
            g = gemm_in.get(key)
            print(f"  {label:<34} {ms:>8.3f} {100 * ms / step:>7.1f}% "
                  f"{'' if g is None else f'{g:.3f}':>12} {ms - (g or 0):>11.3f}")
        rest = parts["step"] - total
        print(f"  {'the rest (Sequential, Python)':<34} {rest:>8.3f} {100 * rest / step:>7.1f}% "
              f"{'':>12} {rest:>11.3f}")
        print(f"  {'instrumented step':<34} {parts['step']:>8.3f}")
        print(f"  {'plain step':<34} {step:>8.3f} {100.0:>7.1f}% {gemms:>12.3f} {step - gemms:>11.3f}")
        print(f"  GEMM floor {pr['gemm_floor_ms']:.3f} ms ({gemms:.3f} without the 1st dX): "
              f"step / floor {step / pr['gemm_floor_ms']:.2f}; time over the GEMMs the step "
              f"computes {step - gemms:.3f} ms, over the floor {step - pr['gemm_floor_ms']:.3f} ms")
    if profiles:
        print("  (GEMMs in it: the same matrix products timed alone, interleaved; over floor: "
              "the part's time minus them)")


# ---------------------------------------------------------------- the course as a whole

def bench_readme():
    """Run the README's digits example (its code block, as the test does); time and accuracy."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    source = text.split("## The model API in a dozen lines")[1].split("```python\n")[1].split("```")[0]
    import matplotlib
    matplotlib.use("Agg")
    from bpcourse.training import evaluate
    namespace = {}
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source.replace("history.plot()", "None"), "README.md", "exec"), namespace)
    seconds = time.perf_counter() - start
    _, acc = evaluate(namespace["model"], namespace["X_test"], namespace["y_test"])
    return {"seconds": seconds, "test_accuracy": acc, "epochs": len(namespace["history"].epoch)}


def bench_notebooks():
    """Execute copies of the solution notebooks with tools/run_notebooks.py; total seconds."""
    with tempfile.TemporaryDirectory(prefix="bpcourse-nb-") as tmp:
        paths = []
        for nb in sorted((REPO / "solutions").glob("*.ipynb")):
            shutil.copy(nb, tmp)
            paths.append(str(Path(tmp) / nb.name))
        start = time.perf_counter()
        r = subprocess.run([sys.executable, str(REPO / "tools" / "run_notebooks.py"), *paths],
                           capture_output=True, text=True, cwd=REPO)
        wall = time.perf_counter() - start
    per = {m[0]: float(m[1]) for m in re.findall(r"([\w.-]+\.ipynb): ([\d.]+) s", r.stdout)}
    return {"seconds": wall, "kernel_seconds": sum(per.values()), "per_notebook": per,
            "ok": r.returncode == 0, "error": r.stderr[-2000:] if r.returncode else None}


def bench_grading():
    start = time.perf_counter()
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "grade_100.py"), "--jobs", "2"],
                       capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - start
    m = re.search(r"wall time ([\d.]+) s", r.stdout)
    return {"seconds": float(m[1]) if m else wall, "ok": r.returncode == 0,
            "error": (r.stdout + r.stderr)[-2000:] if r.returncode else None}


# ---------------------------------------------------------------- report

def _ratio(x):
    return "—" if x is None else f"{x:.2f}"


def report(result, earlier=None):
    m = result["machine"]
    print()
    print(f"bpcourse benchmark, {m['date']}")
    print(f"machine: {m['cpu']}, {m['cpus']} CPUs; Python {m['python']}, numpy {m['numpy']}")
    for b in m.get("blas_info") or []:
        print(f"BLAS (threadpoolctl): internal_api {b['internal_api']}, version {b['version']}, "
              f"architecture {b['architecture']}, num_threads {b['num_threads']}, "
              f"threading_layer {b['threading_layer']} ({Path(b['filepath'] or '?').name})")
    if not m.get("blas_info"):
        print(f"BLAS: {m['blas']}")
    if m.get("blas_environment"):
        print(f"BLAS environment: {m['blas_environment']}")
    if m.get("caches"):
        print(f"caches used to size the pieces: {m['caches']}")
    print(f"PyTorch: {result['torch']}")
    load = (m["load_average"], result.get("load_average_after"))
    print(f"load average (1 min) before / after: {load[0]} / {load[1]}"
          + ("  (the machine was busy: timings are noisy)" if max(x or 0 for x in load) > 1 else ""))
    print()
    head = (f"{'size':<4} {'layers':<17} {'batch':>5} {'p':>4}  {'bpcourse':>9}  {'GEMM floor':>10}  "
            f"{'(no 1st dX)':>11}  {'PyTorch':>9}  {'bp/floor':>8}  {'bp/torch':>8}")
    print(head)
    print("-" * len(head))
    for r in result["steps"]:
        torch_ms = f"{r['torch_ms']:.3f} ms" if r["torch_ms"] else "—"
        print(f"({r['size']})  {'-'.join(map(str, r['widths'])):<17} {r['batch']:>5} {_p(r['dropout']):>4}  "
              f"{r['bpcourse_ms']:>6.3f} ms  {r['gemm_floor_ms']:>7.3f} ms  "
              f"{r['gemm_step_ms']:>8.3f} ms  {torch_ms:>9}  "
              f"{r['bpcourse_over_floor']:>8.2f}  {_ratio(r['bpcourse_over_torch']):>8}")
    print("(one training step: forward + backward + Adam, float32; p: dropout rate; medians; "
          "bp/floor = bpcourse / GEMM floor)")
    if result.get("repeats"):
        print()
        print(f"over {len(result['repeats'])} repeated measurements of the steps (min – max):")
        for key, (lo, hi) in ratio_ranges(result["repeats"]).items():
            print(f"  {key:<28} {lo:.2f} – {hi:.2f}")
    if result.get("profile"):
        report_profile(result["profile"])
    print()
    if result.get("readme"):
        r = result["readme"]
        print(f"README digits model: {r['test_accuracy']:.4f} test accuracy after {r['epochs']} "
              f"epochs, {r['seconds']:.2f} s")
    if result.get("notebooks"):
        r = result["notebooks"]
        print(f"all notebooks (solutions/, {len(r['per_notebook'])}): {r['seconds']:.1f} s"
              + ("" if r["ok"] else f"  FAILED: {r['error']}"))
    if result.get("grading"):
        r = result["grading"]
        print(f"grading 100 submissions, --jobs 2: {r['seconds']:.1f} s"
              + ("" if r["ok"] else f"  FAILED: {r['error']}"))
    print()
    print("targets (this run):")
    for name, (goal, value, ok) in result["targets"].items():
        mark = "ok  " if ok else ("FAIL" if ok is False else "n/a ")
        print(f"  [{mark}] {name:<38} {goal:<16} {value}")
    if earlier:
        print()
        print(f"compared with {earlier['machine']['date']} (earlier → now):")
        before = {(r["size"], r.get("dropout")): r for r in earlier.get("steps", [])}
        for r in result["steps"]:
            e = before.get((r["size"], r["dropout"])) or before.get((r["size"], None))
            if e:
                print(f"  ({r['size']}, p {_p(r['dropout'])}) bpcourse {e['bpcourse_ms']:.3f} → "
                      f"{r['bpcourse_ms']:.3f} ms (× {r['bpcourse_ms'] / e['bpcourse_ms']:.2f}), "
                      f"ratio to floor {e['bpcourse_over_floor']:.2f} → {r['bpcourse_over_floor']:.2f}")
        for key in ("readme", "notebooks", "grading"):
            if (earlier.get(key) or {}).get("seconds") and (result.get(key) or {}).get("seconds"):
                print(f"  {key}: {earlier[key]['seconds']:.1f} → {result[key]['seconds']:.1f} s")


def ratio_ranges(repeats):
    """(min, max) of each ratio over repeated measurements (lists of step rows)."""
    ranges = {}
    for rows in repeats:
        for r in rows:
            for what, key in (("bp/floor", "bpcourse_over_floor"), ("bp/torch", "bpcourse_over_torch")):
                if r[key] is None:
                    continue
                name = f"{what} ({r['size']}), p {_p(r['dropout'])}"
                lo, hi = ranges.get(name, (r[key], r[key]))
                ranges[name] = (min(lo, r[key]), max(hi, r[key]))
    return dict(sorted(ranges.items()))


def markdown(result):
    """The table of the step timings and the course timings, in Markdown (for the README)."""
    lines = ["| size | layers, batch | dropout | bpcourse | GEMM floor | no 1st dX | PyTorch | bp / floor | bp / PyTorch |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["steps"]:
        torch_ms = f"{r['torch_ms']:.3f} ms" if r["torch_ms"] else "—"
        lines.append(f"| ({r['size']}) | {'-'.join(map(str, r['widths']))}, {r['batch']} | "
                     f"{_p(r['dropout'])} | {r['bpcourse_ms']:.3f} ms | {r['gemm_floor_ms']:.3f} ms | "
                     f"{r['gemm_step_ms']:.3f} ms | {torch_ms} | {r['bpcourse_over_floor']:.2f} | "
                     f"{_ratio(r['bpcourse_over_torch'])} |")
    lines.append("")
    for name, (goal, value, ok) in result["targets"].items():
        lines.append(f"- {name}: {value} (target {goal}: {'met' if ok else 'not met' if ok is False else 'not measured'})")
    return "\n".join(lines)


def check_targets(result):
    rows = result["steps"]
    targets = {}
    over_torch = [r["bpcourse_over_torch"] for r in rows]
    targets["bpcourse / PyTorch at (a), (b), (c)"] = (
        TARGETS["bpcourse / PyTorch at (a), (b), (c)"],
        ", ".join(f"({r['size']}, p {_p(r['dropout'])}) {_ratio(r['bpcourse_over_torch'])}"
                  for r in rows),
        None if None in over_torch else all(x <= 1.0 for x in over_torch))
    for size, limit in (("c", 1.3), ("b", 2.0)):
        mine = [r for r in rows if r["size"] == size]
        key = f"bpcourse / GEMM floor at ({size})"
        targets[key] = (TARGETS[key], ", ".join(
            f"p {_p(r['dropout'])} {r['bpcourse_over_floor']:.2f} "
            f"({r['bpcourse_over_gemm_step']:.2f} without the 1st dX)" for r in mine),
            all(r["bpcourse_over_floor"] <= limit for r in mine))
    if result.get("readme"):
        r = result["readme"]
        targets["README digits model"] = (TARGETS["README digits model"],
                                          f"{100 * r['test_accuracy']:.1f} % in {r['seconds']:.2f} s",
                                          r["test_accuracy"] >= 0.97 and r["seconds"] < 5)
    for key, name, limit in (("notebooks", "all notebooks", 120),
                             ("grading", "100 submissions, --jobs 2", 60)):
        if result.get(key):
            r = result[key]
            targets[name] = (TARGETS[name], f"{r['seconds']:.1f} s", r["ok"] and r["seconds"] < limit)
    return targets


@contextlib.contextmanager
def blas_threads(n):
    """Limit the BLAS to ``n`` threads (threadpoolctl) inside the block; no-op for None."""
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        sys.exit("--threads needs threadpoolctl (pip install threadpoolctl)")
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions, and skip the notebooks and the grading")
    parser.add_argument("--skip", default="",
                        help="comma-separated parts to skip: torch, readme, notebooks, grading")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "latest.json"),
                        help="where to write the results (default benchmarks/results/latest.json)")
    parser.add_argument("--compare", metavar="EARLIER.json", help="an earlier run's JSON to compare with")
    parser.add_argument("--markdown", action="store_true", help="also print the table in Markdown")
    parser.add_argument("--profile", action="store_true",
                        help="also print where the time of a step goes, part by part, at (b) and (c)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="measure the steps N times (the table shows the last; the range of "
                             "the ratios over all N is printed)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="BLAS threads (threadpoolctl) and PyTorch threads; default: as found")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.quick:
        skip |= {"notebooks", "grading"}
    unknown = skip - {"torch", "readme", "notebooks", "grading"}
    if unknown:
        parser.error(f"--skip: unknown part(s) {sorted(unknown)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    start = time.perf_counter()
    with blas_threads(args.threads):
        result = {"machine": machine_info(), "quick": args.quick}
        torch, why_not = (None, "skipped (--skip torch)") if "torch" in skip else \
            load_torch(result["machine"]["blas_threads"] or args.threads)
        result["torch"] = (f"{torch.__version__}, {torch.get_num_threads()} threads, "
                           f"torch.optim.Adam defaults" if torch is not None else why_not)
        if torch is None:
            print(f"note: no PyTorch column: {why_not}")
        repeats = []
        for i in range(args.repeat):
            print(f"training steps{f' ({i + 1} of {args.repeat})' if args.repeat > 1 else ''} ...",
                  flush=True)
            repeats.append(bench_steps(torch, args.quick))
        result["steps"] = repeats[-1]
        if args.repeat > 1:
            result["repeats"] = repeats
        if args.profile:
            print("profile ...", flush=True)
            result["profile"] = bench_profile(args.quick)
    if "readme" not in skip:
        print("README digits model ...", flush=True)
        result["readme"] = bench_readme()
    if "notebooks" not in skip:
        print("notebooks ...", flush=True)
        result["notebooks"] = bench_notebooks()
    if "grading" not in skip:
        print("grading 100 submissions ...", flush=True)
        result["grading"] = bench_grading()
    result["seconds"] = time.perf_counter() - start
    result["load_average_after"] = _load()
    result["targets"] = check_targets(result)

    earlier = json.loads(Path(args.compare).read_text(encoding="utf-8")) if args.compare else None
    report(result, earlier)
    if args.markdown:
        print()
        print(markdown(result))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwhole run {result['seconds']:.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
