"""``bpcourse grade`` against hostile submissions: untrusted code, trusted judge.

Every entry of ``HOSTILE`` is ``correct.py`` with ONE exercise replaced by hostile code.  They
are graded TOGETHER, in one ``bpcourse grade ... --jobs 2 --timeout 2`` batch, with a clean
student (``clean``, plain ``correct.py``).  Each hostile submission must lose the points of
what it broke and nothing else; the clean student must get exactly what a grading of it alone
gives; nothing outside the sandbox may be created or changed; no process may survive.

Two smaller batches run at the same time (to keep this file fast): attacks on the GRADER's
reading of the sandbox's outputs (files the submission leaves where the outputs go), and a
FIFO left where the grader reads, which must not hang the batch.
"""

from dataclasses import dataclass
import json
import os
from pathlib import Path
import resource
import secrets
import signal
import subprocess
import sys
import sysconfig
import textwrap
import time

import pytest

import bpcourse
from bpcourse.grading.course import DEFAULT_POINTS

sys.path.insert(0, str(Path(__file__).resolve().parent / "submissions"))
import catalogue  # noqa: E402

FULL_MARKS = sum(DEFAULT_POINTS[e] for e in catalogue.EXERCISES)

BPCOURSE = Path(sys.executable).with_name("bpcourse")
MARK = f"bpcHostile{os.getpid()}x{secrets.token_hex(4)}"   # in every path and process we make
PKG = Path(bpcourse.__file__).resolve().parent
REPO = PKG.parent
SITE = sysconfig.get_paths()["purelib"]
TMP_MARK = Path("/tmp") / f"{MARK}.txt"
SLEEP_SECONDS = "987.25"      # a sleep(1) argument no other process on this machine uses
BATCH_LIMIT = 120.0           # seconds: the hostile batch must finish within this
READER_LIMIT = 45.0           # seconds: the smaller batches (they normally take ~15 s)
ALL = "all"


@dataclass
class Hostile:
    exercise: str            # the exercise whose function is replaced
    code: str                # the replacement; it may use H_OUT, H_MARK, H_PKG... (see _prelude)
    lost: object = None      # exercises that may lose points (default: exercise); ALL: whole file
    zero: bool = True        # the replaced exercise must score 0
    notebook: bool = False   # submitted as a notebook (one cell per exercise)
    feedback: str = None     # words the replaced exercise's feedback must contain
    valid: bool = True       # the resulting source is valid Python


HOSTILE = {
    # ---------------------------------------------------------------- time
    "infinite_loop": Hostile("relu_forward", """
        def relu_forward(Z):
            while True:
                pass
        """, feedback="did not finish"),
    "sleeps": Hostile("cross_entropy", """
        def cross_entropy(P, y):
            import time
            time.sleep(1000)
        """, feedback="did not finish"),
    "ignores_signals_and_loops": Hostile("softmax", """
        def softmax(Z):
            import signal
            for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                      signal.SIGUSR1, signal.SIGALRM, signal.SIGXCPU):
                signal.signal(s, signal.SIG_IGN)
            while True:
                pass
        """, feedback="did not finish"),
    # ---------------------------------------------------------------- memory
    "eats_memory_list": Hostile("dropout_backward", """
        def dropout_backward(dout, cache):
            hog = []
            while True:
                hog.append(bytearray(64 * 2**20))
        """),
    "eats_memory_numpy": Hostile("sgd_momentum_step", """
        def sgd_momentum_step(w, dw, velocity, lr, momentum=0.9):
            big = np.ones((10**6, 10**5))
            return w - lr * big[0, 0] * dw, big
        """, feedback="MemoryError"),
    # ---------------------------------------------------------------- exits
    "sys_exit": Hostile("dense_forward", """
        def dense_forward(X, W, b):
            import sys
            sys.exit(0)
        """, feedback="crashed"),
    "os_exit": Hostile("adam_step", """
        def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
            import os
            os._exit(3)
        """, feedback="crashed"),
    "kills_itself": Hostile("tanh_forward", """
        def tanh_forward(Z):
            import os, signal
            os.kill(os.getpid(), signal.SIGKILL)
        """, feedback="SIGKILL"),
    "kills_its_parents": Hostile("sigmoid_backward", """
        def sigmoid_backward(dA, cache):
            import os, signal
            parent = os.getppid()
            try:  # the grading process, the parent of the sandbox's runner
                with open(f"/proc/{parent}/stat") as f:
                    grader = int(f.read().rsplit(")", 1)[1].split()[1])
                os.kill(grader, signal.SIGKILL)
            except (OSError, ValueError):
                pass
            os.kill(parent, signal.SIGKILL)
            return dA * cache * (1 - cache)
        """),
    # ------------------------------------- what an exercise leaves for the ones after it
    # (a submission's exercises run one after another in one process until one leaves
    # something behind; each of these returns the right answer, then leaves something)
    "leaves_spinning_threads": Hostile("sigmoid_forward", """
        def sigmoid_forward(Z):
            import threading
            def spin():
                while True:
                    pass
            for _ in range(3):
                threading.Thread(target=spin, daemon=True).start()
            e = np.exp(-np.abs(Z))
            A = np.where(Z >= 0, 1 / (1 + e), e / (1 + e))
            return A, A
        """, zero=False),
    "leaves_a_process_that_kills_its_parent": Hostile("tanh_forward", """
        def tanh_forward(Z):
            import os, signal, time
            parent = os.getpid()
            if os.fork() == 0:
                time.sleep(0.05)   # when a later exercise runs
                os.kill(parent, signal.SIGKILL)
                os._exit(0)
            A = np.tanh(Z)
            return A, A
        """, zero=False),
    "leaves_an_alarm_and_a_trace": Hostile("softmax", """
        def softmax(Z):
            import signal, sys
            signal.setitimer(signal.ITIMER_REAL, 0.01)  # SIGALRM, untrapped: the end
            signal.signal(signal.SIGUSR1, lambda *a: None)
            sys.settrace(lambda *a: None)   # every later call traced: slow
            E = np.exp(Z - Z.max(axis=1, keepdims=True))
            return E / E.sum(axis=1, keepdims=True)
        """, zero=False),
    "leaves_numpy_and_builtins_patched": Hostile("cross_entropy", """
        def cross_entropy(P, y):
            import builtins, math, os
            Y = _targets(y, P)
            loss = float(-(Y * np.log(np.maximum(P, np.finfo(P.dtype).tiny))).sum() / len(P))
            for name in ("exp", "log", "sum", "mean", "sqrt", "maximum", "where", "zeros_like"):
                setattr(np, name, lambda *a, **k: 0.0)
            np.random.default_rng = lambda *a, **k: None
            np.linalg.norm = lambda *a, **k: 0.0
            builtins.abs = builtins.max = builtins.range = lambda *a, **k: 0
            math.sqrt = lambda x: 0.0
            os.replace = lambda *a, **k: None   # its own outputs are not written either
            return loss
        """),
    # ---------------------------------------------------------------- floods
    "floods_stdout_print": Hostile("tanh_backward", """
        def tanh_backward(dA, cache):
            line = "flood " * 10000
            while True:
                print(line)
        """),
    "floods_stdout_os_write": Hostile("relu_backward", """
        def relu_backward(dA, cache):
            import os
            chunk = b"flood " * (2**22)
            for _ in range(400):  # gigabytes, to stdout and stderr
                for fd in (1, 2):
                    try:
                        os.write(fd, chunk)
                    except OSError:
                        pass
            return None
        """),
    # ---------------------------------------------------------------- children
    "spawns_popen": Hostile("sgd_step", """
        def sgd_step(w, dw, lr):
            import subprocess
            for argv in (["sh", "-c", f"sleep {H_SLEEP}; echo {H_MARK}"], ["sleep", H_SLEEP]):
                try:
                    subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
                except OSError:
                    pass
            return None
        """),
    "spawns_fork_setsid": Hostile("dropout_forward", """
        def dropout_forward(X, p, rng):
            import os, time
            if os.fork() == 0:
                os.setsid()
                time.sleep(987)
                os._exit(0)
            return None
        """),
    "spawns_double_fork_daemon": Hostile("numerical_gradient", """
        def numerical_gradient(f, x, h=1e-5):
            import os, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:  # the daemon: outlive the grading, then tamper with it
                    for _ in range(120):
                        time.sleep(0.25)
                        for path in (f"{H_OUT}/clean/results.json", f"{H_OUT}/gradebook.csv",
                                     f"{H_OUT}/zed/results.json"):
                            try:
                                with open(path, "w") as f:
                                    f.write('{"score": 100}')
                            except OSError:
                                pass
                    os._exit(0)
                os._exit(0)
            return None
        """),
    # ---------------------------------------------------------------- syntax errors
    "syntax_error_in_a_notebook_cell": Hostile("softmax", """
        def softmax(Z):
            E = np.exp(Z - Z.max(axis=1, keepdims=True)))
            return E / E.sum(axis=1, keepdims=True)
        """, notebook=True, feedback="syntax error", valid=False),
    "syntax_error_in_a_py": Hostile("softmax", """
        def softmax(Z):
            E = np.exp(Z - Z.max(axis=1, keepdims=True)))
            return E / E.sum(axis=1, keepdims=True)
        """, lost=ALL, valid=False),
    # ---------------------------------------------------------------- numpy patched
    "patches_numpy": Hostile("batchnorm_backward", """
        def batchnorm_backward(dout, cache):
            np.allclose = lambda *a, **k: True
            np.array_equal = lambda *a, **k: True
            np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)
            np.isfinite = lambda x, *a, **k: np.ones(np.shape(x), bool)
            np.isnan = lambda x, *a, **k: np.zeros(np.shape(x), bool)
            np.testing.assert_allclose = lambda *a, **k: None
            np.testing.assert_array_equal = lambda *a, **k: None
            for attr in ("__eq__", "__ne__"):
                try:
                    setattr(np.ndarray, attr, lambda self, other: attr == "__eq__")
                except TypeError:
                    pass
            X = cache[0]
            D = X.shape[1]
            return np.zeros_like(X), np.zeros(D, X.dtype), np.zeros(D, X.dtype)
        """),
    # ---------------------------------------------------------------- lies
    "prints_fake_results": Hostile("dense_backward", """
        def dense_backward(dZ, cache):
            import json, os
            fake = json.dumps({"score": 100, "output": f"{H_MARK} all passed", "tests": []})
            print(fake)
            os.write(1, (fake + "\\n").encode())
            for path in ("results.json", "../results.json", "../out/results.json",
                         "/autograder/results/results.json"):
                try:
                    with open(path, "w") as f:
                        f.write(fake)
                except OSError:
                    pass
            return None
        """),
    "ndarray_subclass_with_lying_eq": Hostile("batchnorm_forward", """
        class _AlwaysEqual(np.ndarray):
            def __eq__(self, other):
                return True

            def __ne__(self, other):
                return False

            def all(self, *args, **kwargs):
                return True


        def batchnorm_forward(X, gamma, beta, eps=1e-5):
            mu = X.mean(axis=0)
            var = X.var(axis=0)
            X_hat = (X - mu) / np.sqrt(var + eps)
            out = (gamma * X_hat + beta).view(_AlwaysEqual)  # right values, wrong type
            return out, (X, X_hat, mu, var, gamma, eps)
        """),
    "returns_nan": Hostile("sigmoid_forward", """
        def sigmoid_forward(Z):
            A = np.full(Z.shape, np.nan, Z.dtype)
            return A, A
        """),
    "returns_a_list": Hostile("adam_step", """
        def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
            m = beta1 * m + (1 - beta1) * dw
            v = beta2 * v + (1 - beta2) * dw * dw
            w = w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
            return w.tolist(), m.tolist(), v.tolist()
        """),
    "huge_error_message": Hostile("softmax_cross_entropy", """
        def softmax_cross_entropy(Z, y):
            raise ValueError("flood " * 1_500_000)  # 9 MB, five times
        """),
    # ---------------------------------------------------------------- the reference
    "imports_bpcourse_obfuscated": Hostile("softmax", """
        def softmax(Z):
            import glob, importlib, sys
            # drop every import hook that is not Python's own, then look everywhere
            sys.meta_path[:] = [f for f in sys.meta_path
                                if type(f).__module__.startswith(("importlib", "_frozen"))]
            extra = [H_REPO, H_SITE]
            for pth in glob.glob(f"{H_SITE}/*.pth"):
                try:
                    with open(pth) as f:
                        extra += [l.strip() for l in f if l.strip() and not l.startswith("import")]
                except OSError:
                    pass
            sys.path[:0] = extra
            reference = importlib.import_module("bp" + "course.losses")
            return reference.softmax(Z)
        """, feedback="course"),
    # ---------------------------------------------------------------- writing around
    "writes_files_around_it": Hostile("softmax_cross_entropy", """
        def softmax_cross_entropy(Z, y):
            import glob, os
            cwd = os.getcwd()
            targets = [f"{H_OUT}/{H_MARK}.txt", f"{H_OUT}/clean/results.json",
                       f"{H_OUT}/zed/results.json", f"{H_OUT}/gradebook.csv",
                       f"{H_PKG}/{H_MARK}.py", H_TMPFILE, f"{H_REPO}/{H_MARK}.txt"]
            root = os.path.dirname(os.path.dirname(cwd))  # the grader's folder of all jobs
            targets += [os.path.join(root, f"{H_MARK}.txt")]
            targets += [os.path.join(job, "out", "dense_forward.json")
                        for job in glob.glob(os.path.join(root, "job-*"))]
            denied = []
            for path in targets:
                try:
                    with open(path, "w") as f:
                        f.write('{"score": 100} ' + H_MARK)
                except OSError as e:
                    denied.append(type(e).__name__)
            raise RuntimeError(f"writes denied: {denied}")
        """, feedback="writes denied"),
    "reads_proc_cmdline_and_tampers_with_the_out_dir": Hostile("sgd_momentum_step", """
        def sgd_momentum_step(w, dw, velocity, lr, momentum=0.9):
            import os
            pid, outs = os.getpid(), []
            for _ in range(6):  # up the process tree, to the grading process
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        pid = int(f.read().rsplit(")", 1)[1].split()[1])
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        argv = f.read().decode(errors="replace").split("\\0")
                except (OSError, ValueError, IndexError):
                    break
                if "--out" in argv:
                    outs.append(argv[argv.index("--out") + 1])
            tried = []
            for out in outs:
                for rel in ("clean/results.json", "zed/results.json", "gradebook.csv",
                            "tampered.proc"):
                    try:
                        with open(os.path.join(out, rel), "w") as f:
                            f.write('{"score": 999}')
                        tried.append(f"{rel}: written")
                    except OSError as e:
                        tried.append(f"{rel}: {type(e).__name__}")
            raise RuntimeError(f"out dirs found: {outs}; {tried}")
        """, feedback="out dirs found: ['__OUT__']"),
    "rewrites_its_job_and_kills_the_runner": Hostile("softmax", """
        def softmax(Z):
            import json, os, signal
            job_path = os.path.join(os.path.dirname(os.getcwd()), "job.json")
            with open(job_path, encoding="utf-8") as f:
                job = json.load(f)
            targets = (H_TMPFILE + ".escaped", H_OUT + "/zed/results.json")
            payload = (
                "import os\\n"
                f"for p in {targets!r}:\\n"
                "    try:\\n"
                "        with open(p, 'w') as f:\\n"
                f"            f.write('escaped {H_MARK}')\\n"
                "    except OSError:\\n"
                "        pass\\n")
            job["landlock"] = False  # the runner that is started again trusts this file
            job["units"].insert(0, {"name": "payload", "source": payload, "keep": [0, 1]})
            with open(job_path, "w", encoding="utf-8") as f:
                json.dump(job, f)
            os.kill(os.getppid(), signal.SIGKILL)
        """),
}

# Files left where the grader reads the sandbox's outputs: the grader must survive them.
READER_ATTACKS = {
    "reader_dev_zero_symlink": Hostile("sgd_step", """
        def sgd_step(w, dw, lr):
            import json, os
            out = os.path.join(os.path.dirname(os.getcwd()), "out")
            try:  # "adam_step is done, its outputs are in /dev/zero"
                os.symlink("/dev/zero", os.path.join(out, "adam_step.json"))
                with open(os.path.join(out, "adam_step.status"), "w") as f:
                    json.dump({"state": "done", "seconds": 0}, f)
            except OSError:
                pass
            return w - lr * dw
        """, lost=("sgd_step", "adam_step"), zero=False),
    "reader_deeply_nested_json": Hostile("sgd_step", """
        def sgd_step(w, dw, lr):
            import os
            out = os.path.join(os.path.dirname(os.getcwd()), "out")
            with open(os.path.join(out, "sgd_step.json"), "w") as f:
                f.write("[" * 200000 + "]" * 200000)
            with open(os.path.join(out, "sgd_step.arrays"), "wb") as f:
                f.write(b"BPARRAY1" + (2).to_bytes(8, "little") + b"[]")
            os._exit(0)
        """),
    "reader_arrays_header_claims_700_TiB": Hostile("sgd_step", """
        def sgd_step(w, dw, lr):
            import json, os
            out = os.path.join(os.path.dirname(os.getcwd()), "out")
            header = json.dumps([["a0", "<f8", [10**7, 10**7]]]).encode()
            with open(os.path.join(out, "sgd_step.arrays"), "wb") as f:
                f.write(b"BPARRAY1" + len(header).to_bytes(8, "little") + header + bytes(64))
            with open(os.path.join(out, "sgd_step.json"), "w") as f:
                f.write('[[{"array": "a0"}]]')
            os._exit(0)
        """),
    "reader_spoofed_isolation": Hostile("sgd_step", """
        def sgd_step(w, dw, lr):
            import json, os, time
            out = os.path.join(os.path.dirname(os.getcwd()), "out")
            with open(os.path.join(out, "isolation.json"), "w") as f:
                json.dump({"landlock": f"{H_MARK} spoofed: no sandbox, everyone gets 100"}, f)
            time.sleep(0.8)  # be the last student to finish
            return w - lr * dw
        """, lost=("sgd_step",), zero=False),
}

FIFO_ATTACK = Hostile("sgd_step", """
    def sgd_step(w, dw, lr):
        import os
        iso = os.path.join(os.path.dirname(os.getcwd()), "out", "isolation.json")
        try:  # the grader reads this file after the run: make it block forever
            os.unlink(iso)
            os.mkfifo(iso)
        except OSError:
            pass
        return w - lr * dw
    """, lost=("sgd_step",), zero=False)


# ---------------------------------------------------------------- building and running

def _prelude(out):
    """Module-level constants the hostile code uses: paths hex-encoded, so that no string
    in a function spells "bpcourse" (the grader refuses such functions before running them)."""
    values = {"H_OUT": str(out), "H_MARK": MARK, "H_TMPFILE": str(TMP_MARK), "H_PKG": str(PKG),
              "H_REPO": str(REPO), "H_SITE": SITE, "H_SLEEP": SLEEP_SECONDS}
    return "".join(f"{k} = bytes.fromhex({v.encode().hex()!r}).decode()\n" for k, v in values.items())


def _write(folder, name, hostile, out):
    code = textwrap.dedent(hostile.code)
    if hostile.notebook:
        cells = [catalogue.code_cell("import numpy as np\nfrom bpcourse.checks import check")]
        cells += catalogue.exercise_cells(replacements={hostile.exercise: code})
        path = folder / f"{name}.ipynb"
        path.write_text(catalogue.notebook_json(cells), encoding="utf-8")
        return path
    return catalogue.write_py(folder / f"{name}.py", {hostile.exercise: _prelude(out) + "\n\n" + code},
                              validate=hostile.valid)


class Run:
    """A ``bpcourse grade`` started in the background, in its own session."""

    def __init__(self, root, label, submissions, out, limit, memory_limit=None):
        self.label, self.out, self.limit = label, out, limit
        self.sandbox_tmp = root / f"sbx-{label}-{MARK}"  # the grader's TMPDIR: marks its runners
        self.sandbox_tmp.mkdir()
        self.stdout_path, self.stderr_path = root / f"{label}.stdout", root / f"{label}.stderr"
        env = dict(os.environ, TMPDIR=str(self.sandbox_tmp))

        def limit_memory():  # a grader that reads /dev/zero must fail, not take the machine down
            if memory_limit:
                resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

        with open(self.stdout_path, "w") as so, open(self.stderr_path, "w") as se:
            self.start = time.monotonic()
            self.proc = subprocess.Popen(
                [str(BPCOURSE), "grade", *map(str, submissions), "--out", str(out),
                 "--jobs", "2", "--timeout", "2"],
                stdout=so, stderr=se, env=env, start_new_session=True, preexec_fn=limit_memory)
        self.hung = False

    def poll(self):
        """True once finished (or killed for running past its limit)."""
        if self.proc.poll() is None:
            if time.monotonic() < self.start + self.limit:
                return False
            self.hung = True
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if not hasattr(self, "seconds"):
            self.seconds = time.monotonic() - self.start
        return True

    def wait(self):
        while not self.poll():
            time.sleep(0.05)
        self.stdout = self.stdout_path.read_text(errors="replace")
        self.stderr = self.stderr_path.read_text(errors="replace")
        self.results = {}
        for path in sorted(self.out.glob("*/results.json")):
            try:
                self.results[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                self.results[path.parent.name] = None
        return self

    def describe(self):
        return (f"[{self.label}] exit {self.proc.returncode} after {self.seconds:.1f} s"
                f"{' (HUNG: killed)' if self.hung else ''}\nstdout:\n{self.stdout[-3000:]}\n"
                f"stderr:\n{self.stderr[-3000:]}")


def _scores(result):
    return {t["name"].split(" · ")[-1]: (t["score"], t["max_score"]) for t in result["tests"]}


def _feedback(result, exercise):
    test = next(t for t in result["tests"] if t["name"].split(" · ")[-1] == exercise)
    return " ".join(test["output"].split())


def _marked_processes():
    """(pid, cmdline) of every process whose command line holds our marker or sleep argument."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if MARK in cmdline or SLEEP_SECONDS in cmdline:
            found.append((int(entry), cmdline.strip()))
    return found


ZED = '{"score": 7, "tests": [], "output": "zed, graded in an earlier run"}\n'


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    subs, reader_subs, fifo_subs = root / "subs", root / "reader_subs", root / "fifo_subs"
    for d in (subs, reader_subs, fifo_subs):
        d.mkdir()
    outs = {k: root / f"out_{k}" for k in ("main", "clean", "reader", "fifo")}
    # a result of an earlier run of the same out dir, for a student not in this batch
    (outs["main"] / "zed").mkdir(parents=True)
    (outs["main"] / "zed" / "results.json").write_text(ZED, encoding="utf-8")
    main = [_write(subs, name, h, outs["main"]) for name, h in HOSTILE.items()]
    main.insert(len(main) // 2, catalogue.write_py(subs / "clean.py"))
    reader = [_write(reader_subs, name, h, outs["reader"]) for name, h in READER_ATTACKS.items()]
    reader.insert(len(reader) - 1, catalogue.write_py(reader_subs / "clean.py"))
    fifo = [_write(fifo_subs, "reader_fifo", FIFO_ATTACK, outs["fifo"]),
            catalogue.write_py(fifo_subs / "clean.py")]
    alone = root / "alone"
    alone.mkdir()
    started = {
        "main": Run(root, "main", main, outs["main"], BATCH_LIMIT),
        "clean": Run(root, "clean", [catalogue.write_py(alone / "clean.py")], outs["clean"],
                     BATCH_LIMIT),
        "reader": Run(root, "reader", reader, outs["reader"], READER_LIMIT, memory_limit=3 * 2**30),
        "fifo": Run(root, "fifo", fifo, outs["fifo"], READER_LIMIT),
    }
    while not all([r.poll() for r in started.values()]):
        time.sleep(0.05)
    done = {k: r.wait() for k, r in started.items()}
    for k, r in done.items():
        print(f"\n{k} batch: {r.seconds:.1f} s, exit {r.proc.returncode}{' HUNG' if r.hung else ''}")
    done["survivors"] = _marked_processes()
    yield done
    for pid, _ in _marked_processes():  # never leave anything behind, whatever failed
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for path in [*Path("/tmp").glob(f"{MARK}*"), *PKG.glob(f"{MARK}*"), *REPO.glob(f"{MARK}*")]:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------- the main batch

def test_the_hostile_batch_finishes_in_bounded_time(runs):
    run = runs["main"]
    print(f"\nthe hostile batch ({len(HOSTILE)} hostile submissions + clean) took {run.seconds:.1f} s")
    assert not run.hung, run.describe()
    assert run.proc.returncode == 0, run.describe()
    assert run.seconds < BATCH_LIMIT, run.describe()
    assert set(run.results) == set(HOSTILE) | {"clean", "zed"}, run.describe()


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_submission_loses_only_what_it_broke(runs, name):
    run, hostile = runs["main"], HOSTILE[name]
    result = run.results.get(name)
    assert result is not None, f"no results.json for {name}\n{run.describe()}"
    scores = _scores(result)
    assert set(scores) == set(catalogue.EXERCISES)
    if hostile.lost == ALL:
        assert result["score"] == 0 and all(s == 0 for s, _ in scores.values()), scores
        assert "syntax error" in result["output"], result["output"]
        return
    lost = set(hostile.lost or (hostile.exercise,))
    if hostile.zero:
        assert scores[hostile.exercise][0] == 0, (
            f"{name}: {hostile.exercise} scored {scores[hostile.exercise]}\n"
            f"{_feedback(result, hostile.exercise)[:2000]}")
    others = {ex: s for ex, s in scores.items() if ex not in lost and s[0] != s[1]}
    assert not others, (
        f"{name} broke {hostile.exercise} only, but these exercises lost points too: {others}\n"
        + "\n".join(f"--- {ex}: {_feedback(result, ex)[:600]}" for ex in others))
    if hostile.feedback:
        feedback = _feedback(result, hostile.exercise)
        assert hostile.feedback.replace("__OUT__", str(run.out)) in feedback, feedback[:2000]


def test_the_clean_student_gets_exactly_what_a_clean_grading_gives(runs):
    batch, alone = runs["main"].results["clean"], runs["clean"].results.get("clean")
    assert alone is not None, runs["clean"].describe()
    assert batch["score"] == sum(m for _, m in _scores(batch).values())
    batch, alone = (
        {k: v for k, v in r.items() if k != "execution_time"} for r in (batch, alone))
    assert batch == alone


def test_the_batch_reports_the_sandbox_it_really_used(runs):
    """The summary's "sandbox:" line is the grader's, not what a submission wrote."""
    def sandbox_line(run):
        return run.stdout.rsplit("sandbox: ", 1)[-1].strip()

    assert sandbox_line(runs["main"]) == sandbox_line(runs["clean"]), runs["main"].stdout[-600:]


def test_nothing_outside_the_sandbox_is_created_or_changed(runs):
    out, problems = runs["main"].out, []
    zed = (out / "zed" / "results.json").read_text(encoding="utf-8")
    if zed != ZED:
        problems.append(f"zed/results.json, written by an earlier run, became {zed[:200]!r}")
    allowed = {f"{s}/results.json" for s in [*HOSTILE, "clean", "zed"]} | {"gradebook.csv"}
    # the reports, written by the grader from the final results once every sandbox is gone
    allowed |= {f"{s}/feedback.html" for s in [*HOSTILE, "clean"]} | {"report.html"}
    found = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    if found != allowed:
        problems.append(f"unexpected files in the out dir: {sorted(found - allowed)}")
    rows = (out / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    if sorted(r.split(",")[0] for r in rows[2:]) != sorted([*HOSTILE, "clean"]) or \
            not next((r for r in rows if r.startswith("clean,")), "").endswith(f",{FULL_MARKS:g}"):
        problems.append(f"gradebook.csv is wrong: {rows[:3]}")
    for where, pattern in ((Path("/tmp"), f"{MARK}*"), (PKG, f"**/*{MARK}*"), (REPO, f"*{MARK}*")):
        written = list(where.glob(pattern))
        if written:
            problems.append(f"a submission wrote {[str(p) for p in written]}")
    if MARK in (PKG / "__init__.py").read_text(encoding="utf-8"):
        problems.append("a submission wrote into bpcourse/__init__.py")
    for run in runs.values():
        if isinstance(run, Run) and not run.hung and list(run.sandbox_tmp.iterdir()):
            problems.append(f"[{run.label}] sandbox files left: {list(run.sandbox_tmp.iterdir())}")
    assert not problems, "\n".join(problems)


def test_no_process_survives_grading(runs):
    assert runs["survivors"] == []


def test_fake_output_of_a_submission_never_reaches_the_grader(runs):
    run = runs["main"]
    assert "all passed" not in run.stdout and "flood flood" not in run.stdout
    assert MARK not in run.stdout and MARK not in run.stderr, run.stdout[-1500:]
    assert MARK not in json.dumps(run.results["clean"])
    fake = run.results["prints_fake_results"]
    assert fake["score"] == FULL_MARKS - 2 and MARK not in json.dumps(fake)   # dense_backward: 2 points


def test_feedback_stays_small_whatever_a_submission_raises_or_prints(runs):
    """A 30 MB exception message must not become a 100 MB results.json."""
    for student in ("huge_error_message", "floods_stdout_print", "floods_stdout_os_write"):
        size = (runs["main"].out / student / "results.json").stat().st_size
        assert size < 200_000, f"{student}/results.json is {size:,} bytes"


# ---------------------------------------------------------------- attacks on the grader's reading

@pytest.mark.parametrize("name", list(READER_ATTACKS))
def test_files_left_for_the_grader_cost_only_the_exercises_they_touch(runs, name):
    run, hostile = runs["reader"], READER_ATTACKS[name]
    assert not run.hung and run.proc.returncode == 0, run.describe()
    result = run.results.get(name)
    assert result is not None, run.describe()
    scores = _scores(result)
    lost = set(hostile.lost or (hostile.exercise,))
    others = {ex: s for ex, s in scores.items() if ex not in lost and s[0] != s[1]}
    assert not others, (f"{name}: exercises it did not touch lost points: {others}\n"
                        f"{result['output']}\n{_feedback(result, sorted(others)[0])[:800]}")


def test_a_spoofed_isolation_report_reaches_no_one(runs):
    run = runs["reader"]
    assert MARK not in run.stdout, run.stdout[-2000:]
    for student, result in run.results.items():
        if student != "reader_spoofed_isolation":
            assert MARK not in json.dumps(result), student


def test_a_fifo_where_the_grader_reads_does_not_hang_the_batch(runs):
    run = runs["fifo"]
    assert not run.hung, run.describe()
    assert run.proc.returncode == 0, run.describe()
    assert run.results.get("clean", {}).get("score") == FULL_MARKS, run.describe()
    assert set(run.results) == {"clean", "reader_fifo"}
