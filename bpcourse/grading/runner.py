"""The sandbox side of the grader: runs ONE student's code on the inputs it is given.

Started (by ``supervisor.py``) as ``python -I -S runner.py WORKDIR FD`` in the empty folder
WORKDIR/cwd, in its own session, with a minimal environment; the job (code, inputs, limits)
arrives on stdin, the inputs' arrays in WORKDIR/inputs.arrays (``transport.py``).  Before
any submitted code is loaded it:

- sets resource limits (address space, file size, no core dumps, processes);
- restricts itself with Landlock where the kernel has it (writes only in WORKDIR/out and
  WORKDIR/cwd, reads only of Python and numpy, no programs, no TCP, no signals to processes
  outside the sandbox), and reports what it applied on the pipe FD, which it then closes;
- sees only numpy and the standard library (``bpcourse`` is neither on the path nor
  importable), and becomes a child subreaper so that no descendant escapes it.

Then it forks a child that runs the exercises one after the other: for each, it loads the
submitted code afresh, runs the exercise's calls through ``driver.run_calls`` and writes the
outputs, as JSON and an arrays file (never pickle), to ``WORKDIR/out``.  The child tells the
runner on a pipe as each exercise starts (and waits for its answer: the runner marks it
started first) and ends.  Between two exercises it undoes what the last one set process-wide
(numpy's and the standard library's names, the import path, timers, signal handlers,
tracing) and hands the next one to a fresh child when the last one left a thread, a
process or a quarter of the memory limit behind; an exercise that crashes in a child that
ran others before it is run again, first in a fresh child, and only that run counts.
One process for a whole submission, where a process per exercise spent more time starting
and ending processes than running the learner's code.

The runner kills the child when the exercise it runs uses more CPU time than the limit (its
threads included), sleeps or waits longer than the idle limit, or runs past the generous
limit on the clock, with its process group and any orphan; the exercises after it run in a
fresh child.  A whole network's exercise calls its layers by name; when the job says so
(``inject``), the child defines the layers that did not pass as the course's reference ones
(their sources come in the job, without the exercises graded in it); a function that timed
out, crashed or ran out of memory in its own exercise is, in the later exercises that call
it (``uses`` in the job), a stand-in that raises at once: the grading process reruns those
with the reference in its place, so a spinning layer costs its own limit once.  The grading
process, which never runs submitted code, reads the outputs and judges them.

Standard library and numpy only; ``driver.py``, ``landlock.py``, ``processes.py`` and
``transport.py`` are loaded by path.
"""

import ast
import ctypes
import json
import math
import os
import resource
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PR_SET_CHILD_SUBREAPER = 36


def _load(name, path):
    """One of the grader's modules, by path (importlib.util and .abc would add tens of ms
    to every sandbox's start)."""
    import types

    module = sys.modules[name] = types.ModuleType(name)
    module.__file__ = path
    with open(path, encoding="utf-8") as f:
        exec(compile(f.read(), path, "exec"), module.__dict__)
    return module


processes = _load("bpcourse_grading_processes", os.path.join(HERE, "processes.py"))


class _NoBpcourse:
    """Refuse ``import bpcourse``: the reference implementation is not for submissions (a
    finder of ``sys.meta_path``)."""

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


def _stand_in(name, state):
    """What a whole network's exercise calls in place of ``name`` once ``name`` timed out or
    crashed in its own check (``state``): an error at once, not the same wait again."""
    why = {"timeout": "did not finish within the limit", "memory": "ran out of memory"}.get(
        state, "crashed")

    def stand_in(*args, **kwargs):
        raise RuntimeError(f"{name} {why} in its own check, so it is not run again here")

    stand_in.__name__ = stand_in.__qualname__ = name
    return stand_in


def _limit_cpu(used, seconds, hard):
    """A CPU-time limit for the child process (and each it forks), a second above the one
    the runner watches for this exercise (``used`` s are gone already): a process that
    spins away from the runner's watch still ends.  ``hard`` bounds the whole batch."""
    soft = min(math.ceil(used + seconds) + 1, hard)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ValueError, OSError):
        pass


def _run_exercise(exercise, job, units, driver, transport, out_dir, cases, stand_ins):
    """Load the submission afresh, run one exercise's calls, write the outputs; returns
    whether a call of the exercise's own function ran out of memory.

    ``stand_ins`` ({name: state}): functions it calls that timed out, crashed or ran out of
    memory in their own check in this runner; they are replaced by ``_stand_in``."""
    import builtins

    namespace = {"__name__": "submission", "__builtins__": builtins}
    for _, codes in units:
        for code in codes:
            try:
                exec(code, namespace)
            except BaseException:  # a broken statement: the names it defines stay undefined
                pass
    inject = job.get("inject", {}).get(exercise)
    if inject:  # functions it calls that did not pass (or are not there): the reference ones
        modules = _reference_modules(job["compiled_reference"])
        for name in inject:
            namespace[name] = next(getattr(m, name) for m in modules if hasattr(m, name))
    for name, state in stand_ins.items():
        if name not in (inject or ()):
            namespace[name] = _stand_in(name, state)
    functions = {n: namespace[n] for n in job["names"] if callable(namespace.get(n))}
    kept = _KEPT  # what it defined and its functions returned lives until os._exit: no
    kept.append(namespace)  # __del__ of the submission's runs in this process
    results = [driver.run_calls(functions, calls, kept) for calls in cases]
    out_of_memory = any(call["fn"] == exercise and r.get("status") == "error"
                        and str(r.get("error") or "").startswith("MemoryError")
                        for calls, rs in zip(cases, results) for call, r in zip(calls, rs))
    out_arrays = {}
    encoded = driver.encode(results, out_arrays)
    path = os.path.join(out_dir, exercise)
    transport.write_arrays(path + ".arrays.tmp", out_arrays)
    os.replace(path + ".arrays.tmp", path + ".arrays")
    _write_json(path + ".json", encoded)
    return out_of_memory


_KEPT = []


def _address_space():
    """Bytes of address space this process uses (what RLIMIT_AS bounds)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def _left_behind(size_at_start, memory_mb):
    """What an exercise run in this process left that could change the next one's result:
    a thread, a process, or much more memory in use; None if nothing."""
    try:
        if len(os.listdir("/proc/self/task")) > 1:
            return "a thread"
        me = os.getpid()
        with open(f"/proc/self/task/{me}/children") as f:
            if f.read().split():
                return "a process"
        size = _address_space()
    except (OSError, ValueError):
        return "something the runner could not check"
    if size - size_at_start > memory_mb * 2**20 // 4:
        return "memory in use"
    return None


def _tidy(path, meta_path, modules):
    """Undo what an exercise may have set process-wide that would act in the next one: the
    import path and hooks, the names of ``modules`` ([(module dict, copy)]: numpy, the
    standard library's builtins, os and math, the runner and the driver), trace functions,
    timers and signal handlers."""
    for names, kept in modules:
        for name in [name for name in names if name not in kept]:
            del names[name]
        names.update(kept)
    sys.path[:], sys.meta_path[:] = path, meta_path
    sys.settrace(None)
    sys.setprofile(None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)
        for sig in (signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF, signal.SIGINT,
                    signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGXCPU):
            signal.signal(sig, signal.SIG_DFL)
    except (OSError, ValueError):
        pass


def _batch(keys, first, job, units, driver, transport, np, arrays, out_dir, failed, channel, go):
    """In the child: run ``keys[first:]`` one after the other in this process, telling the
    runner on ``channel`` as each starts ("start K", then waiting for the runner's answer on
    ``go``) and ends ("done K"), until one must run in a fresh process ("again K": an
    earlier one left something behind).  Never returns.  (An exercise that runs out of
    memory here did so itself: one that left more than a quarter of the limit in use is
    never followed in the same process.)"""
    import builtins

    failed = dict(failed)
    path, meta_path = list(sys.path), list(sys.meta_path)
    modules = [(vars(m), dict(vars(m))) for m in (builtins, os, math, np, np.linalg, np.random,
                                                   driver, transport, sys.modules[__name__])]
    size_at_start = _address_space()
    hard = math.ceil(sum(os.times()[:2]) + job["timeout"] * (len(keys) - first)) + len(keys) + 2
    for k in range(first, len(keys)):
        exercise = keys[k]
        if k > first:
            _tidy(path, meta_path, modules)
            left = _left_behind(size_at_start, job["memory_mb"])
            if left:
                os.write(channel, f"again {k} {left}\n".encode())
                os._exit(0)
        for suffix in ("json", "arrays"):  # only what this exercise writes counts
            try:
                os.unlink(os.path.join(out_dir, f"{exercise}.{suffix}"))
            except OSError:
                pass
        _limit_cpu(sum(os.times()[:2]), job["timeout"], hard)
        stand_ins = {n: failed[n] for n in job.get("uses", {}).get(exercise, ()) if n in failed}
        os.write(channel, f"start {k}\n".encode())
        if os.read(go, 1) != b"g":  # the runner has marked it started; no answer: it is gone
            os._exit(0)
        cases = driver.decode(job["calls"][exercise], arrays)
        out_of_memory = _run_exercise(exercise, job, units, driver, transport, out_dir, cases,
                                      stand_ins)
        if out_of_memory and exercise in job["names"]:
            failed[exercise] = "memory"
        os.write(channel, f"done {k} {int(out_of_memory)}\n".encode())
    os._exit(0)


def _compiled_reference(sources):
    """[(name, code)] of the course's reference modules' sources ([[name, text], ...]),
    compiled once in the runner for all the exercises that inject them."""
    return [(name, compile(text, f"<bpcourse reference: {name}.py>", "exec"))
            for name, text in sources]


def _reference_modules(compiled):
    """The course's reference modules, fresh, from ``_compiled_reference`` (in import
    order), as submodules of a package of their own (never importable as ``bpcourse``)."""
    import types

    package = types.ModuleType("_course_reference")
    package.__path__ = []
    sys.modules[package.__name__] = package
    modules = []
    for name, code in compiled:
        module = types.ModuleType(f"{package.__name__}.{name}")
        module.__package__ = package.__name__
        sys.modules[module.__name__] = module
        exec(code, module.__dict__)
        setattr(package, name, module)
        modules.append(module)
    return modules[::-1]  # the highest level first: network, then optim, losses, layers


def _cpu_seconds(pid):
    """CPU time used so far by process ``pid`` (all its threads), from /proc; 0 if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _schedstat(pid):
    """Seconds the main thread of ``pid`` has run or waited for a core, from /proc's
    scheduler statistics; None where the kernel does not keep them."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            running, queued = (int(n) for n in f.read().split()[:2])
    except (OSError, ValueError):
        return None
    return (running + queued) / 1e9


class _Channel:
    """The lines the batch child sends on its pipe, read without blocking."""

    def __init__(self, fd):
        self.fd, self.buffer, self.closed = fd, b"", False

    def read(self):
        lines = []
        while not self.closed:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not data:
                self.closed = True
                break
            self.buffer += data
            if len(self.buffer) > 2**16:  # a flood: not what the child says
                self.buffer, self.closed = b"", True
                lines.append(["flood"])
        *complete, self.buffer = self.buffer.split(b"\n")
        return lines + [line.decode("ascii", "replace").split(" ", 2) for line in complete]


def _watch(pid, channel, go, keys, first, job, record):
    """Follow the batch child ``pid`` through ``keys[first:]``, killing it when the exercise
    it runs goes over a limit; ``record(index, state, out_of_memory)`` is called as each one
    ends.  Returns
    the index to go on from: ``len(keys)`` when every one has ended, or the one to run in a
    fresh process.

    Limits are per exercise, from the moment the one before it ended: ``timeout`` s of CPU
    time (of the whole process: a thread it starts counts), ``idle_timeout`` s of the main
    thread sleeping or waiting (a starved process waits for a core, which is not idle; an
    exercise, a computation, never needs to wait), and the generous ``wall_timeout`` on the
    clock, the backstop where the kernel keeps no scheduler statistics.  CPU time, not wall
    time, is what a submission is limited to: one that spins in many processes beside it
    (another student's, graded in parallel) slows it down without using its time."""
    import select

    wall, timeout = job.get("wall_timeout", job["timeout"]), job["timeout"]
    idle = job.get("idle_timeout", wall)
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None  # no pidfd here: poll with waitpid
    poll = select.poll()
    poll.register(channel.fd, select.POLLIN)
    if pidfd is not None:
        poll.register(pidfd, select.POLLIN)
    at = {"current": first, "started": False, "since": time.monotonic(),
          "cpu": _cpu_seconds(pid), "sched": _schedstat(pid)}

    def take(messages):
        """Follow what the child said; returns "again" or "tampered" when it must stop."""
        for message in messages:
            current = str(at["current"])
            if message[:2] == ["again", current]:
                return "again"
            if message[:2] != ["done" if at["started"] else "start", current]:
                return "tampered"
            if not at["started"]:
                at["started"] = True
                # before any of its code runs: if the runner dies while it runs, the grader
                # knows which one it was (and nothing after it starts)
                _write_json(os.path.join(job["out_dir"], f"{keys[at['current']]}.started"),
                            {"t": time.time()})
                try:
                    os.write(go, b"g")
                except OSError:  # it is gone: its end shows below
                    pass
                continue
            record(at["current"], {"state": "done",
                                   "seconds": round(time.monotonic() - at["since"], 4)},
                   out_of_memory=message[2:] == ["1"])
            at.update(current=at["current"] + 1, started=False, since=time.monotonic(),
                      cpu=_cpu_seconds(pid), sched=_schedstat(pid))
        return None

    status, over, delay = None, None, 0.0005
    try:
        while over is None:
            poll.poll(int(delay * 1000) + 1)
            over = take(channel.read())
            if over is not None:
                break
            done, wait_status = os.waitpid(pid, os.WNOHANG)
            if done:
                status = wait_status
                over = take(channel.read())  # what it said just before it exited
                break
            elapsed, sched = time.monotonic() - at["since"], _schedstat(pid)
            if _cpu_seconds(pid) - at["cpu"] >= timeout:
                over = "cpu"
            elif elapsed >= wall:
                over = "wall"
            elif elapsed >= idle and None not in (sched, at["sched"]) \
                    and elapsed - (sched - at["sched"]) >= idle:
                over = "idle"
            delay = min(delay * 2, 0.02)
        used, elapsed = _cpu_seconds(pid) - at["cpu"], round(time.monotonic() - at["since"], 4)
        if status is None:
            processes.kill(pid)
            status = os.waitpid(pid, 0)[1]
    finally:
        if pidfd is not None:
            os.close(pidfd)
    current = at["current"]
    if current >= len(keys):
        return current
    if current > first and over not in ("cpu", "idle", "wall"):
        # it ended, or crashed, after others ran in this process (which may have left what
        # made it crash): it runs again, first in a fresh process, and only that counts
        return current
    if not at["started"] and current > first:
        return current  # over a limit before it began: what an earlier one left was running
    json_written = os.path.exists(os.path.join(job["out_dir"], f"{keys[current]}.json"))
    record(current, _ended(over, status, used, elapsed, job, json_written and at["started"]))
    return current + 1


def _ended(over, status, used, elapsed, job, json_written):
    """The state of the exercise that was running when its process ended."""
    wall, idle = job.get("wall_timeout", job["timeout"]), job.get("idle_timeout", job["timeout"])
    if over in ("cpu", "idle", "wall") or os.WIFSIGNALED(status) and \
            os.WTERMSIG(status) == signal.SIGXCPU:
        detail = {"wall": f"did not finish within {wall:g} s on the clock (it used {used:.1f} s "
                          f"of CPU time: it waited, slept or was starved)",
                  "idle": f"did not finish: it waited or slept for {idle:g} s (it used "
                          f"{used:.1f} s of CPU time; a computation never needs to wait)"
                  }.get(over, f"did not finish within {job['timeout']:g} s of CPU time")
        return {"state": "timeout", "detail": detail, "seconds": elapsed}
    if over == "tampered":
        return {"state": "crashed", "detail": "the process running it wrote to the runner's "
                                              "channel (by the submission itself?)",
                "seconds": elapsed}
    if json_written:  # it wrote its outputs, then exited by itself
        return {"state": "done", "seconds": elapsed}
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        detail = f"the process running it was killed by {sig}"
        if os.WTERMSIG(status) == signal.SIGKILL:
            detail += " (out of memory, or killed by itself)"
    else:
        detail = f"the process running it exited with code {os.WEXITSTATUS(status)} " \
                 f"(sys.exit, os._exit or an uncatchable error) before reporting"
    return {"state": "crashed", "detail": detail, "seconds": elapsed}


def main(workdir, report_fd):
    job = json.load(sys.stdin)
    out_dir = job["out_dir"] = os.path.join(workdir, "out")
    _limit(job["memory_mb"], job["file_mb"], job["max_procs"])
    sys.path[:0] = [job["site"]]
    sys.meta_path.insert(0, _NoBpcourse())
    driver = _load("bpcourse_grading_driver", os.path.join(HERE, "..", "checks", "driver.py"))
    landlock = _load("bpcourse_grading_landlock", os.path.join(HERE, "landlock.py"))
    transport = _load("bpcourse_grading_transport", os.path.join(HERE, "transport.py"))
    import numpy as np  # before the restriction: numpy may write caches on first import
    import numpy.random  # noqa: F401  (numpy imports it on first use: a submission that
    #                      changed sys.path or sys.meta_path must not break the driver's rng)

    writable = [out_dir, os.path.join(workdir, "cwd")]
    isolation = landlock.restrict(writable, [workdir] + _readable(job["site"], np)) \
        if job["landlock"] else "disabled (--no-landlock)"
    with os.fdopen(report_fd, "w", encoding="utf-8") as report:  # closed before submitted code runs
        report.write(isolation)
    try:
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    import linecache

    for unit in job["units"]:  # so that error messages can quote the learner's line
        lines = unit["source"].splitlines(keepends=True)
        linecache.cache[unit["name"]] = (len(unit["source"]), None, lines, unit["name"])
    units = _units(job)
    if "reference" in job:
        job["compiled_reference"] = _compiled_reference(job["reference"])
    with open(os.path.join(workdir, "inputs.arrays"), "rb") as f:
        arrays = transport.read_arrays(f.read())
    keys = job["exercises"]
    failed = {}  # function name -> "timeout" | "crashed" | "memory", in its own exercise

    # each state is written the moment it is known: the runner may be killed
    def record(index, state, out_of_memory=False):
        exercise = keys[index]
        if exercise in job["names"]:  # its own check (not the calls through its own forward)
            if state["state"] != "done":
                failed[exercise] = state["state"]
            elif out_of_memory:
                failed[exercise] = "memory"
        _write_json(os.path.join(out_dir, f"{exercise}.status"), state)

    k = 0
    while k < len(keys):
        for key in keys[k:]:  # only what a child run from here writes counts
            for suffix in ("json", "arrays", "status", "started"):
                try:
                    os.unlink(os.path.join(out_dir, f"{key}.{suffix}"))
                except OSError:
                    pass
        read_end, write_end = os.pipe()  # the child tells: start K, done K, again K
        go_read, go_write = os.pipe()    # the runner answers each start
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_end)
                os.close(go_write)
                os.setpgid(0, 0)
                _batch(keys, k, job, units, driver, transport, np, arrays, out_dir, failed,
                       write_end, go_read)
            finally:
                os._exit(70)
        os.close(write_end)
        os.close(go_read)
        os.set_blocking(read_end, False)
        try:
            k = _watch(pid, _Channel(read_end), go_write, keys, k, job, record)
        finally:
            os.close(read_end)
            os.close(go_write)
            processes.kill(pid)  # anything the child left behind in its group
            processes.reap_all()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
    sys.stderr.flush()
    os._exit(0)  # everything is written: no interpreter teardown (tens of ms with numpy)
