"""A wheel is the whole course: `pip install bpcourse` from it is all a learner needs.

Build the wheel (from a copy of the package's sources, with pip), install it into a fresh
virtualenv outside the repository, and run that environment's `bpcourse open --no-browser`
on a temporary workspace, with JupyterLab options after `--`, until JupyterLab answers and
lists the course notebooks of the workspace.  About a minute (most of it pip installing the
dependencies from its cache), in parallel with the rest of the suite.
"""

import json
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile

REPO = Path(__file__).resolve().parent.parent


def _run(*args, **kwargs):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert r.returncode == 0, f"{args}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read()


def test_a_wheel_installed_in_a_fresh_venv_opens_the_course(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "bpcourse", src / "bpcourse",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", src,
         timeout=300)
    (wheel,) = (tmp_path / "dist").glob("bpcourse-*.whl")
    shipped = sorted(p.name for p in (REPO / "bpcourse" / "notebooks").glob("*.ipynb"))
    assert len(shipped) >= 10
    with zipfile.ZipFile(wheel) as zf:
        in_wheel = sorted(n.split("/")[-1] for n in zf.namelist()
                          if n.startswith("bpcourse/notebooks/") and n.endswith(".ipynb"))
    assert in_wheel == shipped

    venv, outside = tmp_path / "venv", tmp_path / "elsewhere"
    outside.mkdir()
    _run(sys.executable, "-m", "venv", venv, timeout=120)
    start = time.monotonic()
    _run(venv / "bin" / "pip", "install", "-q", wheel, timeout=900, cwd=outside)
    print(f"\npip install of the wheel into a fresh venv: {time.monotonic() - start:.0f} s")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    home = tmp_path / "home"
    dirs = {name: tmp_path / name for name in ("config", "data", "runtime", "settings", "lab-ws")}
    for d in [home, *dirs.values()]:
        d.mkdir()
    env.update(HOME=str(home), PATH=f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
               JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
               JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
               JUPYTERLAB_WORKSPACES_DIR=str(dirs["lab-ws"]), JUPYTER_PLATFORM_DIRS="1")
    where = _run(venv / "bin" / "python", "-c", "import bpcourse; print(bpcourse.__file__)",
                 cwd=outside, env=env).stdout.strip()
    assert where.startswith(str(venv)), where            # the wheel's, not the repository's

    workspace, port = tmp_path / "my course", _free_port()
    log = open(tmp_path / "open.log", "wb")
    server = subprocess.Popen(
        [str(venv / "bin" / "bpcourse"), "open", str(workspace), "--no-browser", "--",
         f"--port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
         "--ServerApp.token=", "--ServerApp.password=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=outside, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "open.log").read_text(errors="replace")[-3000:]
            try:
                if _get(f"{url}/api/status")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "JupyterLab did not answer within 120 s"
            time.sleep(0.25)
        print(f"JupyterLab answered {time.monotonic() - deadline + 120:.1f} s after `bpcourse open`")
        status, body = _get(f"{url}/api/contents/")
        listed = sorted(item["name"] for item in json.loads(body)["content"])
        assert status == 200 and listed == shipped               # the workspace is the root
        status, body = _get(f"{url}/api/contents/{shipped[0]}")
        assert status == 200 and json.loads(body)["type"] == "notebook"
        status, body = _get(f"{url}/lab")
        assert status == 200 and b"JupyterLab" in body
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
    out = (tmp_path / "open.log").read_text(errors="replace")
    assert "Created your workspace" in out and str(workspace) in out
    assert sorted(p.name for p in workspace.glob("*.ipynb")) == shipped
    assert (workspace / ".bpcourse" / "workspace.json").is_file()
