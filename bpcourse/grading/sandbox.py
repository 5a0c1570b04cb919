"""The trusted side of the sandbox: start the runner, bound it, collect what it wrote.

Each submission runs in ``runner.py`` (see there for the limits it sets itself), started
in its own session with a minimal environment, an empty working directory and a path that
holds numpy and nothing else.  This side enforces the overall time limit with SIGKILL,
kills every process the submission left behind, and reads the outputs it wrote (JSON and
.npz without pickle), refusing anything malformed.  If the runner itself dies, it is
started again for the exercises it had not reached.
"""

from dataclasses import dataclass
import ctypes
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

import numpy as np

from ..checks import driver

RUNNER = Path(__file__).with_name("runner.py")
PR_SET_CHILD_SUBREAPER = 36
MAX_JSON_BYTES = 64 * 2**20
MAX_NPZ_BYTES = 256 * 2**20
STATUSES = {"ok", "error", "not_implemented", "missing", "no_cache"}


@dataclass
class Limits:
    timeout: float = 5.0        # seconds per exercise
    memory_mb: int = 1024       # address space of the sandbox process
    file_mb: int = 64           # largest file the sandbox may write
    max_procs: int = 64         # processes of the user (enforced for non-root users)
    landlock: bool = True


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
        self.isolation = "not measured"
        self._live = set()
        self._lock = threading.Lock()
        try:  # orphans of submissions come back to us, to be killed
            ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        except (OSError, AttributeError):
            pass

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
        self.reap_strays()
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------ running

    def run(self, student, units, calls_by_exercise, names):
        """Run every exercise of ``calls_by_exercise`` ({name: [case calls]}) for one student."""
        work = Path(tempfile.mkdtemp(prefix="job-", dir=self.root))
        try:
            return self._run_in(work, units, calls_by_exercise, names)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _run_in(self, work, units, calls_by_exercise, names):
        (work / "cwd").mkdir()
        (work / "out").mkdir()
        arrays = {}
        job = {
            "units": [{"name": u.name, "source": u.source, "keep": u.keep} for u in units],
            "exercises": list(calls_by_exercise),
            "names": sorted(names),
            "calls": driver.encode(calls_by_exercise, arrays),
            "memory_mb": self.limits.memory_mb, "file_mb": self.limits.file_mb,
            "max_procs": self.limits.max_procs, "timeout": self.limits.timeout,
            "site": str(self.site), "landlock": self.limits.landlock,
        }
        (work / "job.json").write_text(json.dumps(job), encoding="utf-8")
        np.savez(work / "inputs.npz", **arrays)
        outcomes = {}
        for _ in range(len(calls_by_exercise) + 1):  # a restart per exercise at most
            pending = [e for e in calls_by_exercise if e not in outcomes]
            if not pending:
                break
            self._start_and_wait(work, len(pending))
            for exercise in pending:
                outcome = self._collect(work / "out", exercise)
                if outcome is not None:
                    outcomes[exercise] = outcome
            started = [e for e in pending if e not in outcomes and (work / "out" / f"{e}.started").exists()]
            for exercise in started:  # it was running when the runner itself died
                outcomes[exercise] = Outcome("crashed", "the sandbox process was killed while "
                                                        "running it (by the submission itself?)")
            if not started and any(e not in outcomes for e in pending):
                break  # the runner did nothing: do not loop
        for exercise in calls_by_exercise:
            outcomes.setdefault(exercise, Outcome("crashed", "the sandbox could not run it"))
        iso = work / "out" / "isolation.json"
        if iso.exists():
            try:
                self.isolation = json.loads(iso.read_text(encoding="utf-8"))["landlock"]
            except (ValueError, KeyError, TypeError):
                pass
        return outcomes

    def _start_and_wait(self, work, n_pending):
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work / "cwd"), "LANG": "C.UTF-8",
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
        with open(work / "console.txt", "wb") as console, self._lock:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(RUNNER), str(work)], cwd=work / "cwd", env=env,
                stdin=subprocess.DEVNULL, stdout=console, stderr=console, start_new_session=True)
            self._live.add(proc.pid)  # under the lock: never mistaken for a stray
        try:
            proc.wait(timeout=self.limits.timeout * n_pending + 20)
        except subprocess.TimeoutExpired:
            pass
        finally:
            _killpg(proc.pid)
            proc.wait()
            with self._lock:
                self._live.discard(proc.pid)
            self.reap_strays()

    def reap_strays(self):
        """Kill every child of this process that is not a live runner (orphans of submissions)."""
        me = str(os.getpid())
        for _ in range(20):
            with self._lock:
                strays = [pid for pid in _children(me) if pid not in self._live]
            if not strays:
                return
            for pid in strays:
                _killpg(pid)
            for pid in strays:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass

    # ------------------------------------------------------------ reading outputs

    def _collect(self, out, exercise):
        status_file = out / f"{exercise}.status"
        if not status_file.exists():
            return None
        try:
            status = json.loads(_read_limited(status_file, 4096))
            state, seconds = status["state"], float(status.get("seconds", 0.0))
        except (ValueError, KeyError, TypeError, OSError):
            return Outcome("crashed", "its status file was tampered with")
        if state in ("timeout", "crashed"):
            return Outcome(state, str(status.get("detail", ""))[:300], None, seconds)
        try:
            results = _read_results(out, exercise)
        except (ValueError, KeyError, TypeError, OSError) as e:
            return Outcome("crashed", f"its outputs are malformed ({e})", None, seconds)
        return Outcome("done", "", results, seconds)


def _read_limited(path, limit):
    if path.stat().st_size > limit:
        raise ValueError(f"{path.name} is larger than {limit} bytes")
    return path.read_bytes()


def _read_results(out, exercise):
    encoded = json.loads(_read_limited(out / f"{exercise}.json", MAX_JSON_BYTES))
    if (out / f"{exercise}.npz").stat().st_size > MAX_NPZ_BYTES:
        raise ValueError("the outputs are too large")
    with np.load(out / f"{exercise}.npz", allow_pickle=False) as npz:
        arrays = {}
        for key in npz.files:
            a = npz[key]
            if a.dtype.kind not in "biuf":
                raise ValueError(f"an output array has dtype {a.dtype}")
            arrays[key] = a
    results = driver.decode(encoded, arrays)
    _validate(results)
    return results


def _validate(results):
    """Refuse anything but the exact shape of data the driver writes."""
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
            if r["error"] is not None and not isinstance(r["error"], str):
                raise TypeError("an error is not text")
            returned = r.get("returned")
            if r["status"] == "ok":
                if not (isinstance(returned, dict) and isinstance(returned.get("tuple"), bool)
                        and isinstance(returned.get("items"), list)):
                    raise TypeError("a returned value is malformed")
                for item in returned["items"]:
                    _validate_item(item)
            elif returned is not None:
                raise TypeError("a failed call returned something")


def _validate_item(item):
    kind = item.get("kind") if isinstance(item, dict) else None
    if kind == "array" and isinstance(item.get("value"), np.ndarray):
        return
    if kind == "float" and isinstance(item.get("value"), (int, float)) and \
            not isinstance(item.get("value"), bool):
        item["value"] = float(item["value"])
        return
    if kind == "other" and isinstance(item.get("type"), str):
        return
    raise TypeError("a returned item is malformed")


def _killpg(pid):
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass


def _children(ppid):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == ppid:
                pids.append(int(entry))
    return pids
