"""Waiting for, finding and killing the processes a sandboxed submission left behind.

Standard library only: ``supervisor.py`` and ``runner.py`` load this file by path.
"""

import os
import signal


def children():
    """This process's children, orphans re-parented to it (as a subreaper) included."""
    me = os.getpid()
    try:
        with open(f"/proc/{me}/task/{me}/children") as f:
            return [int(pid) for pid in f.read().split()]
    except OSError:  # no such file on this kernel: scan /proc
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        parent = f.read().rsplit(")", 1)[1].split()[1]
                except (OSError, IndexError):
                    continue
                if parent == str(me):
                    found.append(int(entry))
        return found


def kill(pid):
    """SIGKILL the process group led by ``pid``, and ``pid`` itself."""
    for send in (os.killpg, os.kill):
        try:
            send(pid, signal.SIGKILL)
        except OSError:
            pass


def reap_all():
    """Kill and reap every child until none is left (bounded, in case of a fork storm)."""
    for _ in range(50):
        pids = children()
        if not pids:
            return
        for pid in pids:
            kill(pid)
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def wait(proc, timeout):
    """``proc.wait(timeout)``, woken the moment the process exits (a pidfd): Popen.wait with
    a timeout polls, sleeping up to 50 ms past the exit, on every sandbox run."""
    import select
    import subprocess

    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return proc.wait(timeout=timeout)
    try:
        poll = select.poll()
        poll.register(fd, select.POLLIN)
        if not poll.poll(timeout * 1000):
            raise subprocess.TimeoutExpired(proc.args, timeout)
    finally:
        os.close(fd)
    return proc.wait()
