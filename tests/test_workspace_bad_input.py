"""Bad input gets a clear message and loses nothing: a notebook that is not JSON, a workspace
that is a file, a read-only disk, a full disk during an update, two updates at once.

The read-only and full disks are real: a small tmpfs, mounted in a private mount namespace
(``unshare -Urm``, no privileges needed), where the commands run.  The full disk is also
simulated at every single write of an update, to show that each file is always either as it
was or completely new.
"""

import errno
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import textwrap

import pytest

from bpcourse import cli
from bpcourse.workspace import files as files_module
from bpcourse.workspace.create import ensure_workspace
from bpcourse.workspace.files import WorkspaceError
from bpcourse.workspace.manifest import STATE, Workspace
from bpcourse.workspace.progress import NOT_STARTED, PASSED, progress
from bpcourse.workspace.release import course_notebooks
from bpcourse.workspace.update import update

from workspace_helpers import (MINE, NOTEBOOK, POINTS, SLACK, edit, first_release, learner_implements,
                               md, set_exercise, snapshot, solution_source, write_release)

BPCOURSE = Path(sys.executable).with_name("bpcourse")


def big_release():
    """The tiny course's next release, with a large output in each notebook (fills a disk)."""
    rel = first_release()
    for name, cells in rel.items():
        cells.append(md("New section\n" + "x" * 300_000, f"{name[:2]}-big"))
    rel["03_new.ipynb"] = [md("# New\n" + "y" * 300_000, "c0")]
    return rel


@pytest.fixture
def tiny(tmp_path):
    rel1 = write_release(tmp_path / "release1", first_release())
    rel2 = write_release(tmp_path / "release2", big_release())
    ws, _ = ensure_workspace(tmp_path / "ws", source=rel1, echo=lambda *a: None)
    return ws.path, rel1, rel2


# ====================================================================== a notebook that is not JSON

def test_progress_names_a_notebook_that_is_not_json_and_grades_the_others(tmp_path):
    ws, _ = ensure_workspace(tmp_path / "ws", echo=lambda *a: None)
    broken = next(n for n in course_notebooks() if n in NOTEBOOK.values())   # one with exercises
    (ws.path / broken).write_text('{"cells": [\n  {"cell_type": "code",, }')
    other = next(n for n in POINTS if NOTEBOOK[n] != broken)
    set_exercise(ws.path / NOTEBOOK[other], other, solution_source(other))
    result = progress(ws.path, timeout=SLACK)
    rows = {r.exercise: r for r in result.rows}
    assert rows[other].status == PASSED
    in_broken = [n for n in POINTS if NOTEBOOK[n] == broken]
    assert in_broken and all(rows[n].status == NOT_STARTED for n in in_broken)
    (note,) = [n for n in result.notes if broken in n]
    assert "is not a valid notebook (invalid JSON at line 2, column 24" in note, note
    assert (ws.path / broken).read_text() == '{"cells": [\n  {"cell_type": "code",, }'
    r = subprocess.run([str(BPCOURSE), "progress", str(ws.path), "--timeout", str(SLACK)], capture_output=True, text=True)
    assert r.returncode == 0 and f"note: {broken} is not a valid notebook" in r.stdout


def test_update_leaves_a_notebook_that_is_not_json_alone(tiny):
    ws, rel1, rel2 = tiny
    (ws / "01_dense.ipynb").write_text("{ truncated")
    outcome = update(ws, rel2)
    ((name, new, why),) = outcome.offered
    assert name == "01_dense.ipynb" and "not a valid notebook (invalid JSON at line 1" in why
    assert (ws / "01_dense.ipynb").read_text() == "{ truncated"
    assert (ws / new).read_bytes() == (rel2 / "01_dense.ipynb").read_bytes()


def test_submit_packs_a_broken_notebook_as_it_is_and_says_so(tmp_path):
    ws, _ = ensure_workspace(tmp_path / "ws", echo=lambda *a: None)
    broken = next(iter(course_notebooks()))
    (ws.path / broken).write_text("not json")
    r = subprocess.run([str(BPCOURSE), "submit", str(ws.path), "--out", str(tmp_path / "b.zip"),
                        "--timeout", str(SLACK)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"note: {broken} is not a valid notebook" in r.stdout
    import zipfile

    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        assert zf.read(broken) == b"not json"


# ====================================================================== a workspace that is a file

@pytest.mark.parametrize("command", ["open", "update", "progress", "submit"])
def test_a_workspace_that_is_a_file(command, tmp_path, no_lab, capsys):
    path = tmp_path / "ws"
    path.write_text("my shopping list")
    args = [command, str(path)] + (["--out", str(tmp_path / "x.zip")] if command == "submit" else [])
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert f"{path} is a file, not a" in err and err.startswith(f"bpcourse {command}: "), err
    assert path.read_text() == "my shopping list" and not no_lab
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ws"]


def test_a_workspace_inside_a_file(tmp_path, no_lab, capsys):
    (tmp_path / "file").write_text("x")
    assert cli.main(["open", str(tmp_path / "file" / "ws")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'file'} is a file, not a folder" in err and "Nothing was created" in err


def test_a_damaged_manifest_is_reported_and_nothing_is_touched(tiny, capsys):
    ws, rel1, rel2 = tiny
    (ws / STATE / "workspace.json").write_text("{ damaged")
    before = snapshot(ws)
    assert cli.main(["update", str(ws), "--from", str(rel2)]) == 2
    err = capsys.readouterr().err
    assert "workspace.json is damaged" in err and "Your notebooks are untouched" in err
    assert snapshot(ws) == before


# ====================================================================== the disk is full

def _count_writes(monkeypatch, ws, rel2, tmp_path):
    """How many os.write calls an update makes (on a copy of the workspace)."""
    copy = tmp_path / "count"
    shutil.copytree(ws, copy)
    calls = []
    real = os.write
    monkeypatch.setattr(files_module.os, "write", lambda fd, data: calls.append(1) or real(fd, data))
    update(copy, rel2)
    monkeypatch.setattr(files_module.os, "write", real)
    return len(calls)


def test_a_full_disk_at_any_write_of_an_update_loses_nothing(tiny, tmp_path, monkeypatch):
    """The update fails at the n-th write, for every n: each notebook is then as it was or
    completely updated, no temporary file is left, and a second update finishes the job."""
    ws, rel1, rel2 = tiny
    edit(ws / "01_dense.ipynb", learner_implements)            # one merge, one replacement
    (ws / "mine.ipynb").write_text("my own")
    n_writes = _count_writes(monkeypatch, ws, rel2, tmp_path)
    assert n_writes >= 6
    finished = tmp_path / "finished"
    shutil.copytree(ws, finished)
    update(finished, rel2)
    real = os.write
    for n in range(1, n_writes + 1):
        trial = tmp_path / f"trial{n}"
        shutil.copytree(ws, trial)
        before = {p.name: p.read_bytes() for p in trial.glob("*.ipynb")}
        count = []

        def write(fd, data, count=count, n=n):
            count.append(1)
            if len(count) == n:
                real(fd, bytes(data)[:len(data) // 2])       # half of it lands, then ENOSPC
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(fd, data)

        monkeypatch.setattr(files_module.os, "write", write)
        with pytest.raises(WorkspaceError) as err:
            update(trial, rel2)
        monkeypatch.setattr(files_module.os, "write", real)
        message = str(err.value)
        assert "the disk is full" in message and "nothing of yours was lost" in message, message
        assert not [p for p in trial.rglob("*") if p.name.endswith(".tmp")], n
        for p in trial.glob("*.ipynb"):
            assert p.read_bytes() in (before.get(p.name), (finished / p.name).read_bytes()), (n, p.name)
        assert (trial / "mine.ipynb").read_text() == "my own"
        mine_now = [c["source"] for c in json.loads((trial / "01_dense.ipynb").read_text())["cells"]]
        assert MINE in ["".join(s) if isinstance(s, list) else s for s in mine_now], n
        Workspace.load(trial)                                     # the manifest is whole
        update(trial, rel2)                                       # space again: it finishes
        assert {p.name: p.read_bytes() for p in trial.glob("*.ipynb")} == \
            {p.name: p.read_bytes() for p in finished.glob("*.ipynb")}, n


# ====================================================================== two updates at once

def test_a_second_update_while_one_runs_is_refused_and_changes_nothing(tiny):
    ws, rel1, rel2 = tiny
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from bpcourse.workspace.files import locked
            with locked({str(ws / STATE)!r}):
                print("held", flush=True)
                sys.stdin.read()
            """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(ws)
        r = subprocess.run([str(BPCOURSE), "update", str(ws), "--from", str(rel2)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2
        assert f"another bpcourse update is running on this workspace (process {holder.pid})" \
            in r.stderr and "nothing was changed" in r.stderr, r.stderr
        assert snapshot(ws) == before
    finally:
        holder.communicate("", timeout=30)
    r = subprocess.run([str(BPCOURSE), "update", str(ws), "--from", str(rel2)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_two_updates_started_together_merge_once(tiny):
    ws, rel1, rel2 = tiny
    edit(ws / "01_dense.ipynb", learner_implements)
    procs = [subprocess.Popen([str(BPCOURSE), "update", str(ws), "--from", str(rel2)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    merged = [out for code, out, err in results if code == 0 and "merged    01_dense" in out]
    others = [(code, out, err) for code, out, err in results if not (code == 0 and "merged" in out)]
    assert len(merged) == 1, results
    ((code, out, err),) = others
    assert (code == 2 and "another bpcourse update is running" in err) or \
        (code == 0 and "is up to date" in out), (code, out, err)
    assert len(list((ws / STATE / "backups").glob("*/01_dense.ipynb"))) == 1
    assert MINE in [c.source for c in __import__("nbformat").read(ws / "01_dense.ipynb", as_version=4).cells]
    assert not list(ws.glob("*.new.ipynb"))


# ====================================================================== real read-only and full disks

def _unshare_reason():
    if not shutil.which("unshare"):
        return "no `unshare` command (util-linux)"
    r = subprocess.run(["unshare", "-Urm", "sh", "-c", "mount -t tmpfs tmpfs /mnt 2>&1 || "
                        "mount -t tmpfs tmpfs /tmp"], capture_output=True, text=True)
    return None if r.returncode == 0 else f"unshare -Urm cannot mount a tmpfs here: {r.stderr.strip()}"


NAMESPACE_SCRIPT = r'''
import json, subprocess, sys
from pathlib import Path

mnt, rel1, rel2, out = map(Path, sys.argv[1:5])
results = {}

def sh(*args):
    subprocess.run(args, check=True)

def run(*args):
    r = subprocess.run([sys.argv[5], *map(str, args)], capture_output=True, text=True)
    return {"code": r.returncode, "out": r.stdout, "err": r.stderr}

def snap(folder):
    return {str(p.relative_to(folder)): p.read_bytes().hex() for p in sorted(folder.rglob("*")) if p.is_file()}

sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt))
from bpcourse.workspace.create import ensure_workspace
ensure_workspace(mnt / "tiny", source=rel1, echo=lambda *a: None)
# --- full: the release does not fit in the 2 MB disk
before = snap(mnt / "tiny")
results["full"] = run("update", mnt / "tiny", "--from", rel2)
after = snap(mnt / "tiny")
new = {p.name: p.read_bytes().hex() for p in rel2.glob("*.ipynb")}
results["full_files_ok"] = all(after.get(k) in (before.get(k), new.get(k)) for k in after if k.endswith(".ipynb") and "/" not in k)
results["full_lost"] = [k for k in before if k.endswith(".ipynb") and "/" not in k and k not in after]
results["full_tmp"] = [k for k in after if k.endswith(".tmp")]
sh("mount", "-o", "remount,size=16m", str(mnt))
results["full_again"] = run("update", mnt / "tiny", "--from", rel2)
results["full_final_ok"] = all((mnt / "tiny" / p.name).read_bytes() == p.read_bytes() for p in rel2.glob("*.ipynb"))
# --- read-only: a workspace made, then the disk remounted read-only
ensure_workspace(mnt / "full", echo=lambda *a: None)
sh("mount", "-o", "remount,ro", str(mnt))
before = snap(mnt)
results["ro_update"] = run("update", mnt / "full", "--from", rel2)
results["ro_create"] = run("open", mnt / "new")
results["ro_progress"] = run("progress", mnt / "full", "--timeout", 60)
results["ro_submit_inside"] = run("submit", mnt / "full", "--out", mnt / "full" / "me.zip", "--timeout", 60)
from bpcourse import cli, launch
import contextlib, io
launch.subprocess.call = lambda cmd: 0
err = io.StringIO()
with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    results["ro_open_code"] = cli.main(["open", str(mnt / "full")])
results["ro_open_err"] = err.getvalue()
results["ro_unchanged"] = snap(mnt) == before
out.write_text(json.dumps(results))
'''


@pytest.fixture(scope="module")
def real_disks(tmp_path_factory):
    reason = _unshare_reason()
    if reason:
        pytest.skip(f"real read-only / full disk tests need a private tmpfs: {reason}")
    root = tmp_path_factory.mktemp("disks")
    rel1 = write_release(root / "release1", first_release())
    rel2 = write_release(root / "release2", big_release())
    (root / "mnt").mkdir()
    script = root / "inside.py"
    script.write_text(NAMESPACE_SCRIPT)
    r = subprocess.run(["unshare", "-Urm", sys.executable, str(script), str(root / "mnt"), str(rel1),
                        str(rel2), str(root / "results.json"), str(BPCOURSE)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads((root / "results.json").read_text())


def test_a_really_full_disk_stops_the_update_cleanly(real_disks):
    full = real_disks["full"]
    assert full["code"] == 2, full
    assert "the disk is full" in full["err"] and "nothing of yours was lost" in full["err"], full["err"]
    assert real_disks["full_files_ok"] and not real_disks["full_lost"] and not real_disks["full_tmp"]
    assert real_disks["full_again"]["code"] == 0, real_disks["full_again"]
    assert real_disks["full_final_ok"]


def test_a_read_only_disk(real_disks):
    update_ = real_disks["ro_update"]
    assert update_["code"] == 2 and "the disk is read-only" in update_["err"], update_
    assert "nothing was changed" in update_["err"]
    create = real_disks["ro_create"]
    assert create["code"] == 2 and "the disk is read-only" in create["err"], create
    assert "bpcourse open PATH" in create["err"] and "Nothing was created" in create["err"]
    prog = real_disks["ro_progress"]
    assert prog["code"] == 0 and "not started" in prog["out"], prog   # reading is enough
    sub = real_disks["ro_submit_inside"]
    assert sub["code"] == 2 and "the disk is read-only" in sub["err"], sub
    assert real_disks["ro_open_code"] == 0
    assert "is not writable" in real_disks["ro_open_err"] and "cannot save" in real_disks["ro_open_err"]
    assert real_disks["ro_unchanged"]
