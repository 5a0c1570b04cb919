"""Trusted watchdog of one sandbox run: start the runner, bound it, leave nothing behind.

    python -I -S supervisor.py WORKDIR SECONDS MAX_PROCS MEMORY_MB REPORT_FD

It becomes a child subreaper (every orphan of the sandbox is re-parented to it), puts
itself in a fresh pids and memory cgroup when it can (root on a cgroup v1 machine: a fork
bomb or many memory-hungry processes are then bounded as a whole), starts ``runner.py``
with the same stdin (the job, sent by the grader) and the REPORT_FD pipe (where the runner
reports its isolation before it loads any submitted code), waits at
most SECONDS, then kills the runner's group, every descendant, and everything in its
cgroups.  The runner restricts itself with Landlock, so (on kernels with Landlock's
signal scoping) nothing in the sandbox can signal this process.

Standard library only.
"""

import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
CGROUP_V1 = "/sys/fs/cgroup"


def _load_processes():
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "processes.py")
    spec = importlib.util.spec_from_file_location("bpcourse_grading_processes", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


processes = _load_processes()


def _cgroups(max_procs, memory_mb):
    """Join fresh pids/memory cgroups (v1) when allowed; returns their folders."""
    if os.geteuid() != 0:
        return []
    joined = []
    for controller, settings in (("pids", {"pids.max": str(max_procs + 8)}),
                                 ("memory", {"memory.limit_in_bytes": str((memory_mb + 256) * 2**20)})):
        folder = os.path.join(CGROUP_V1, controller, f"bpcourse-{os.getpid()}")
        try:
            os.mkdir(folder)
            for name, value in settings.items():
                with open(os.path.join(folder, name), "w") as f:
                    f.write(value)
            with open(os.path.join(folder, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
            joined.append(folder)
        except OSError:
            continue
    return joined


def _empty(folders):
    """Kill every process left in our cgroups (but this one), then remove them."""
    me = os.getpid()
    for folder in folders:
        for _ in range(50):
            try:
                with open(os.path.join(folder, "cgroup.procs")) as f:
                    pids = [int(p) for p in f.read().split() if int(p) != me]
            except OSError:
                break
            if not pids:
                break
            for pid in pids:
                processes.kill(pid)
            time.sleep(0.01)
        try:
            parent = os.path.dirname(folder)
            with open(os.path.join(parent, "cgroup.procs"), "w") as f:
                f.write(str(me))
            os.rmdir(folder)
        except OSError:
            pass


def main(workdir, seconds, max_procs, memory_mb, report_fd):
    try:
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    folders = _cgroups(max_procs, memory_mb)
    try:  # if the memory cgroup runs out, the kernel must pick a sandboxed process, not us
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("-1000")
    except OSError:
        pass
    runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runner.py")
    proc = subprocess.Popen([sys.executable, "-I", "-S", runner, workdir, str(report_fd)],
                            pass_fds=(report_fd,), start_new_session=True,
                            cwd=os.path.join(workdir, "cwd"))
    os.close(report_fd)  # only the runner holds the report pipe now
    signal.signal(signal.SIGTERM, lambda *_: (processes.kill(proc.pid), sys.exit(1)))
    try:
        processes.wait(proc, seconds)  # woken the moment it exits
    except subprocess.TimeoutExpired:
        pass
    finally:
        processes.kill(proc.pid)
        proc.wait()
        processes.reap_all()  # orphans come to us: kill and reap until none is left
        _empty(folders)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
