"""The trusted side of the sandbox: start it, bound it, read what it wrote, safely.

Each submission runs in ``runner.py`` under ``supervisor.py`` (see there for the limits,
the Landlock restriction and the clean-up).  This side sends the job on the runner's
stdin, receives the isolation report on a pipe that is closed before any submitted code
runs, and reads the outputs (JSON and ``transport``'s arrays files, never pickle) from
the only folder the sandbox may write, refusing anything that is not a small regular file
of the expected shape.  If the runner dies, a new one is started (with the job sent again
from memory) for the exercises it had not finished.
"""

from dataclasses import dataclass
import functools
import json
import os
from pathlib import Path
import shutil
import stat
import subprocess
import sys
import tempfile

import numpy as np

from ..checks import driver
from . import processes, transport

SUPERVISOR = Path(__file__).with_name("supervisor.py")
MAX_JSON_BYTES = 64 * 2**20
MAX_ARRAYS_BYTES = 256 * 2**20
MAX_TEXT = 2000            # characters kept of any text a submission produces
STATUSES = {"ok", "error", "not_implemented", "missing", "no_cache"}


@dataclass
class Limits:
    timeout: float = 5.0        # seconds of CPU time per exercise (see wall_timeout)
    memory_mb: int = 1024       # address space of each sandboxed process (and, as root, of all)
    file_mb: int = 64           # largest file the sandbox may write
    max_procs: int = 64         # processes (enforced by rlimit for users, by a cgroup for root)
    landlock: bool = True

    @property
    def wall_timeout(self):
        """Seconds per exercise on the clock: generous, so that a submission slowed down by
        others spinning beside it loses nothing; it ends those that wait or sleep."""
        return max(2 * self.timeout, self.timeout + 3)

    @property
    def idle_timeout(self):
        """Seconds per exercise that its process may sleep or wait (not for a core: a
        starved process is not idle), where the kernel keeps scheduler statistics."""
        return min(self.wall_timeout, max(1.0, self.timeout / 2))


@dataclass
class Outcome:
    """What happened to one exercise in the sandbox."""

    state: str                  # done | timeout | crashed
    detail: str = ""
    results: list = None        # per case, per call: the driver's results (when done)
    seconds: float = 0.0


class Sandbox:
    """Runs submissions; one instance per grading run (it owns a numpy-only site folder)."""

    def __init__(self, limits):
        self.limits = limits
        self.root = Path(tempfile.mkdtemp(prefix="bpcourse-grade-"))
        self.site = self._numpy_only_site()

    def _numpy_only_site(self):
        """A folder whose only packages are links to numpy (and its bundled libraries)."""
        site = self.root / "site"
        site.mkdir()
        numpy_dir = Path(np.__file__).parent
        for name in ("numpy", "numpy.libs"):
            target = numpy_dir.parent / name
            if target.exists():
                (site / name).symlink_to(target)
        return site

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def run(self, units, calls_by_exercise, names, inject=None, uses=None):
        """Run every exercise of ``calls_by_exercise`` ({key: [case calls]}) for one student.

        ``inject`` ({key: [function names]}) gives those exercises the course's reference
        functions under those names (after the submission's code is loaded); the reference
        sources travel in this job only, so a runner that injects should run nothing else.
        ``uses`` ({key: [function names]}) names the exercises' functions each exercise
        calls: one that timed out, crashed or ran out of memory in its own exercise (run
        earlier in this job) raises at once there instead of running again.
        Returns ``({key: Outcome}, isolation)`` where isolation says how the sandbox was
        restricted (as reported before the submission's code was loaded)."""
        work = Path(tempfile.mkdtemp(prefix="job-", dir=self.root))
        try:
            return self._run_in(work, units, calls_by_exercise, names, inject or {}, uses or {})
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _run_in(self, work, units, calls_by_exercise, names, inject, uses):
        arrays = {}
        job = {
            "units": [{"name": u.name, "source": u.source, "keep": u.keep} for u in units],
            "names": sorted(names),
            "calls": driver.encode(calls_by_exercise, arrays),
            "memory_mb": self.limits.memory_mb, "file_mb": self.limits.file_mb,
            "max_procs": self.limits.max_procs, "timeout": self.limits.timeout,
            "wall_timeout": self.limits.wall_timeout, "idle_timeout": self.limits.idle_timeout,
            "site": str(self.site), "landlock": self.limits.landlock,
            "uses": {key: sorted(set(n)) for key, n in uses.items() if key in calls_by_exercise},
        }
        if inject:
            job["inject"] = {key: sorted(set(names)) for key, names in inject.items()}
            # without the exercises graded in this job: a submission that digs the job out of
            # memory (gc.get_objects, sys._getframe, sys.modules) finds no reference of them
            job["reference"] = reference_sources(without={k.split(".")[0] for k in calls_by_exercise})
        outcomes, isolation = {}, "not reported"
        for _ in range(len(calls_by_exercise) + 1):  # a restart per exercise at most
            pending = [e for e in calls_by_exercise if e not in outcomes]
            if not pending:
                break
            for sub in ("out", "cwd"):  # fresh folders: nothing left from a dead runner counts
                shutil.rmtree(work / sub, ignore_errors=True)
                (work / sub).mkdir()
            transport.write_arrays(work / "inputs.arrays", arrays)
            job["exercises"] = pending
            isolation = self._start_and_wait(work, job, len(pending))
            for exercise in pending:
                outcome = self._collect(work / "out", exercise)
                if outcome is not None:
                    outcomes[exercise] = outcome
            started = [e for e in pending if e not in outcomes and _is_file(work / "out" / f"{e}.started")]
            # the last one started was running when the runner itself died (those before it
            # that have no state ran to their end: they run again)
            for exercise in started[-1:]:
                outcomes[exercise] = Outcome("crashed", "the sandbox process was killed while "
                                                        "running it (by the submission itself?)")
            if not started:
                break  # the runner did nothing more: do not loop
        for exercise in calls_by_exercise:
            outcomes.setdefault(exercise, Outcome("crashed", "the sandbox could not run it"))
        return outcomes, isolation

    def _start_and_wait(self, work, job, n_pending):
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work / "cwd"), "LANG": "C.UTF-8",
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
        budget = self.limits.wall_timeout * n_pending + 15
        report_r, report_w = os.pipe()
        try:
            with open(work / "console.txt", "wb") as console:
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", str(SUPERVISOR), str(work), f"{budget:g}",
                     str(self.limits.max_procs), str(self.limits.memory_mb), str(report_w)],
                    cwd=work / "cwd", env=env, stdin=subprocess.PIPE, stdout=console,
                    stderr=console, pass_fds=(report_w,), start_new_session=True)
            os.close(report_w)
            report_w = None
            try:
                proc.stdin.write(json.dumps(job).encode())
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                processes.wait(proc, budget + 10)
            except subprocess.TimeoutExpired:  # the supervisor cleans up on SIGTERM
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            os.set_blocking(report_r, False)
            try:
                report = os.read(report_r, 300).decode("utf-8", "replace")
            except BlockingIOError:
                report = ""
            return report or "not reported (the sandbox did not start)"
        finally:
            os.close(report_r)
            if report_w is not None:
                os.close(report_w)

    # ------------------------------------------------------------ reading outputs

    def _collect(self, out, exercise):
        status_file = out / f"{exercise}.status"
        if not os.path.lexists(status_file):
            return None
        try:
            status = json.loads(_read_file(status_file, 4096))
            state, seconds = status["state"], float(status.get("seconds", 0.0))
            if state in ("timeout", "crashed"):
                return Outcome(state, str(status.get("detail", ""))[:300], None, seconds)
            if state != "done":
                raise ValueError(f"unknown state {state!r}")
            return Outcome("done", "", _read_results(out, exercise), seconds)
        except Exception as e:  # anything odd a submission left there costs it this exercise
            return Outcome("crashed", f"its outputs are malformed ({type(e).__name__})")


#: The reference modules a whole network's exercise may need, in import order.
REFERENCE_MODULES = ("_validate", "_fast", "layers", "losses", "lr_scheduler", "optim", "network",
                     "autograd")


def reference_sources(without=()):
    """[[module name, source], ...] of the course's reference modules, read from bpcourse,
    with the top-level functions named in ``without`` blanked out (line numbers kept)."""
    return [list(pair) for pair in _reference_sources(frozenset(without))]


@functools.lru_cache(maxsize=64)
def _reference_sources(without):
    package = Path(__file__).resolve().parent.parent
    return tuple((name, _without_functions((package / f"{name}.py").read_text(encoding="utf-8"),
                                           without))
                 for name in REFERENCE_MODULES)


def _without_functions(source, names):
    import ast

    from .submission import _parse  # one thread at a time (see there)

    lines = source.splitlines(keepends=True)
    for node in _parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            lines[first - 1:node.end_lineno] = ["\n"] * (node.end_lineno - first + 1)
    return "".join(lines)


def _is_file(path):
    return os.path.lexists(path)


def _read_file(path, limit):
    """The bytes of a regular file of at most ``limit`` bytes (no symlink, FIFO or device)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{Path(path).name} is not a regular file")
        if info.st_size > limit:
            raise ValueError(f"{Path(path).name} is larger than {limit} bytes")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"{Path(path).name} is larger than {limit} bytes")
    return data


def _read_results(out, exercise):
    encoded = json.loads(_read_file(out / f"{exercise}.json", MAX_JSON_BYTES))
    arrays = transport.read_arrays(_read_file(out / f"{exercise}.arrays", MAX_ARRAYS_BYTES))
    results = driver.decode(encoded, arrays)
    _validate(results)
    return results


def _validate(results):
    """Refuse anything but the exact shape of data the driver writes; shorten long texts."""
    if not isinstance(results, list):
        raise TypeError("results are not a list")
    for case in results:
        if not isinstance(case, list):
            raise TypeError("a case's results are not a list")
        for r in case:
            if not isinstance(r, dict) or r.get("status") not in STATUSES:
                raise TypeError("a result has no valid status")
            if not all(isinstance(r.get(k), t) for k, t in
                       (("warnings", list), ("printed", str), ("arrays_after", list))):
                raise TypeError("a result is incomplete")
            if not all(isinstance(w, str) for w in r["warnings"]) or \
                    not all(isinstance(a, np.ndarray) for a in r["arrays_after"]):
                raise TypeError("a result holds unexpected values")
            changed = r.get("dicts_changed", [])
            if not (isinstance(changed, list) and all(type(i) is int for i in changed)):
                raise TypeError("a result's changed inputs are malformed")
            r["dicts_changed"] = changed[:100]
            if r["error"] is not None and not isinstance(r["error"], str):
                raise TypeError("an error is not text")
            r["warnings"] = [w[:300] for w in r["warnings"][:10]]
            r["printed"] = r["printed"][:MAX_TEXT]
            if r["error"] is not None:
                r["error"] = r["error"][:MAX_TEXT]
            returned = r.get("returned")
            if r["status"] == "ok":
                if not (isinstance(returned, dict) and isinstance(returned.get("tuple"), bool)
                        and isinstance(returned.get("items"), list)):
                    raise TypeError("a returned value is malformed")
                for item in returned["items"]:
                    _validate_item(item)
            elif returned is not None:
                raise TypeError("a failed call returned something")


def _validate_item(item, depth=1):
    """One returned item, exactly as ``driver.pack`` makes it (containers nested at most
    ``driver.MAX_DEPTH`` deep, ``driver.MAX_ITEMS`` long)."""
    kind = item.get("kind") if isinstance(item, dict) else None
    if kind == "array" and isinstance(item.get("value"), np.ndarray):
        return
    if kind in ("tuple", "list", "dict") and depth <= driver.MAX_DEPTH \
            and isinstance(item.get("items"), list) and len(item["items"]) <= driver.MAX_ITEMS:
        if kind == "dict":
            keys = item.get("keys")
            if not (isinstance(keys, list) and len(keys) == len(item["items"])
                    and all(isinstance(k, str) and len(k) <= 200 for k in keys)
                    and len(set(keys)) == len(keys)):
                raise TypeError("a returned dict is malformed")
        for inner in item["items"]:
            _validate_item(inner, depth + 1)
        return
    if kind == "float" and isinstance(item.get("value"), (int, float)) and \
            not isinstance(item.get("value"), bool):
        item["value"] = float(item["value"])
        return
    if kind == "other" and isinstance(item.get("type"), str):
        item["type"] = item["type"][:200]
        return
    raise TypeError("a returned item is malformed")
