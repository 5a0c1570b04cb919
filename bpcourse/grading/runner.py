"""The sandbox side of the grader: runs ONE student's code on the inputs it is given.

Started (by ``supervisor.py``) as ``python -I -S runner.py WORKDIR FD`` in the empty folder
WORKDIR/cwd, in its own session, with a minimal environment; the job (code, inputs, limits)
arrives on stdin, the inputs' arrays in WORKDIR/inputs.npz.  Before any submitted code is
loaded it:

- sets resource limits (address space, file size, no core dumps, processes);
- restricts itself with Landlock where the kernel has it (writes only in WORKDIR/out and
  WORKDIR/cwd, reads only of Python and numpy, no programs, no TCP, no signals to processes
  outside the sandbox), and reports what it applied on the pipe FD, which it then closes;
- sees only numpy and the standard library (``bpcourse`` is neither on the path nor
  importable), and becomes a child subreaper so that no descendant escapes it.

Then, for each exercise, it forks a child that loads the submitted code, runs the
exercise's calls through ``driver.run_calls`` and writes the outputs, as JSON and .npz
(never pickle), to ``WORKDIR/out``.  A whole network's exercise calls its layers by name; when
the job says so (``inject``), the child defines the layers that did not pass as the course's
reference ones (their sources come in the job, for this runner's exercises only).  The parent kills a child that runs past the time
limit, with its process group and any orphan.  The grading process, which never runs
submitted code, reads the outputs and judges them.

Standard library and numpy only; ``driver.py``, ``landlock.py`` and ``processes.py`` are
loaded by path.
"""

import ast
import ctypes
import importlib.abc
import importlib.util
import json
import os
import resource
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PR_SET_CHILD_SUBREAPER = 36


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _NoBpcourse(importlib.abc.MetaPathFinder):
    """Refuse ``import bpcourse``: the reference implementation is not for submissions."""

    def find_spec(self, name, path=None, target=None):
        if name == "bpcourse" or name.startswith("bpcourse."):
            raise ImportError("bpcourse (the course's reference implementation) cannot be "
                              "imported by a graded submission")
        return None


def _limit(memory_mb, file_mb, max_procs):
    for limit, value in ((resource.RLIMIT_AS, memory_mb * 2**20),
                         (resource.RLIMIT_FSIZE, file_mb * 2**20),
                         (resource.RLIMIT_CORE, 0),
                         (resource.RLIMIT_NPROC, max_procs)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass  # e.g. a lower hard limit already: keep it
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails, it does not kill


def _readable(site, np):
    """What submitted code may read: the standard library (not its site-packages, where
    bpcourse may be installed), numpy, /dev and /proc."""
    import sysconfig

    paths = ["/dev", "/proc", site, os.path.realpath(os.path.dirname(np.__file__))]
    libs = os.path.realpath(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs"))
    paths.append(libs)
    for key in ("stdlib", "platstdlib"):
        stdlib = sysconfig.get_paths()[key]
        for entry in os.listdir(stdlib):
            if entry not in ("site-packages", "dist-packages"):
                paths.append(os.path.join(stdlib, entry))
    return paths


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def _units(job):
    """Compile each kept top-level statement of each unit separately, keeping line numbers."""
    units = []
    for unit in job["units"]:
        tree = ast.parse(unit["source"], unit["name"])
        codes = [compile(ast.Module([tree.body[i]], []), unit["name"], "exec") for i in unit["keep"]]
        units.append((unit["name"], codes))
    return units


def _child(exercise, job, units, driver, np, out_dir, cases):
    """Load the submission, run one exercise's calls, write the outputs.  Never returns."""
    import builtins

    import linecache

    namespace = {"__name__": "submission", "__builtins__": builtins}
    for unit in job["units"]:  # so that error messages can quote the learner's line
        lines = unit["source"].splitlines(keepends=True)
        linecache.cache[unit["name"]] = (len(unit["source"]), None, lines, unit["name"])
    for _, codes in units:
        for code in codes:
            try:
                exec(code, namespace)
            except BaseException:  # a broken statement: the names it defines stay undefined
                pass
    inject = job.get("inject", {}).get(exercise)
    if inject:  # functions it calls that did not pass (or are not there): the reference ones
        modules = _reference_modules(job["reference"])
        for name in inject:
            namespace[name] = next(getattr(m, name) for m in modules if hasattr(m, name))
    functions = {n: namespace[n] for n in job["names"] if callable(namespace.get(n))}
    results = [driver.run_calls(functions, calls) for calls in cases]
    out_arrays = {}
    encoded = driver.encode(results, out_arrays)
    np.savez(os.path.join(out_dir, f"{exercise}.npz.tmp.npz"), **out_arrays)
    os.replace(os.path.join(out_dir, f"{exercise}.npz.tmp.npz"), os.path.join(out_dir, f"{exercise}.npz"))
    _write_json(os.path.join(out_dir, f"{exercise}.json"), encoded)
    os._exit(0)


def _reference_modules(sources):
    """The course's reference modules, from their sources ([[name, text], ...] in import
    order), as submodules of a package of their own (never importable as ``bpcourse``)."""
    import types

    package = types.ModuleType("_course_reference")
    package.__path__ = []
    sys.modules[package.__name__] = package
    modules = []
    for name, text in sources:
        module = types.ModuleType(f"{package.__name__}.{name}")
        module.__package__ = package.__name__
        sys.modules[module.__name__] = module
        exec(compile(text, f"<bpcourse reference: {name}.py>", "exec"), module.__dict__)
        setattr(package, name, module)
        modules.append(module)
    return modules[::-1]  # the highest level first: network, then optim, losses, layers


def _wait(pid, timeout):
    """Wait for child ``pid`` up to ``timeout`` s; returns its wait status, or None on timeout."""
    try:  # a pidfd becomes readable the moment the child exits
        import select

        fd = os.pidfd_open(pid)
        try:
            ready = select.poll()
            ready.register(fd, select.POLLIN)
            if not ready.poll(timeout * 1000):
                return None
        finally:
            os.close(fd)
        return os.waitpid(pid, 0)[1]
    except (AttributeError, OSError):
        pass  # no pidfd here: poll with waitpid
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.01)


def main(workdir, report_fd):
    job = json.load(sys.stdin)
    out_dir = os.path.join(workdir, "out")
    _limit(job["memory_mb"], job["file_mb"], job["max_procs"])
    sys.path[:0] = [job["site"]]
    sys.meta_path.insert(0, _NoBpcourse())
    driver = _load("bpcourse_grading_driver", os.path.join(HERE, "..", "checks", "driver.py"))
    landlock = _load("bpcourse_grading_landlock", os.path.join(HERE, "landlock.py"))
    processes = _load("bpcourse_grading_processes", os.path.join(HERE, "processes.py"))
    import numpy as np  # before the restriction: numpy may write caches on first import

    writable = [out_dir, os.path.join(workdir, "cwd")]
    isolation = landlock.restrict(writable, [workdir] + _readable(job["site"], np)) \
        if job["landlock"] else "disabled (--no-landlock)"
    with os.fdopen(report_fd, "w", encoding="utf-8") as report:  # closed before submitted code runs
        report.write(isolation)
    try:
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    units = _units(job)
    with np.load(os.path.join(workdir, "inputs.npz"), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for exercise in job["exercises"]:
        if os.path.exists(os.path.join(out_dir, f"{exercise}.json")):
            continue  # done by an earlier runner
        _write_json(os.path.join(out_dir, f"{exercise}.started"), {"t": time.time()})
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                os.setpgid(0, 0)
                _child(exercise, job, units, driver, np, out_dir,
                       driver.decode(job["calls"][exercise], arrays))
            finally:
                os._exit(70)
        status = _wait(pid, job["timeout"])
        elapsed = time.monotonic() - start
        if status is None:
            state = {"state": "timeout", "detail": f"did not finish within {job['timeout']:g} s"}
            processes.kill(pid)
            os.waitpid(pid, 0)
        elif not os.path.exists(os.path.join(out_dir, f"{exercise}.json")):
            if os.WIFSIGNALED(status):
                sig = signal.Signals(os.WTERMSIG(status)).name
                detail = f"the process running it was killed by {sig}"
                if os.WTERMSIG(status) == signal.SIGKILL:
                    detail += " (out of memory, or killed by itself)"
            else:
                detail = f"the process running it exited with code {os.WEXITSTATUS(status)} " \
                         f"(sys.exit, os._exit or an uncatchable error) before reporting"
            state = {"state": "crashed", "detail": detail}
        else:
            state = {"state": "done"}
        state["seconds"] = round(elapsed, 4)
        _write_json(os.path.join(out_dir, f"{exercise}.status"), state)
        processes.kill(pid)  # anything the child left behind in its group
        processes.reap_all()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
