"""The widgets in a real browser: JupyterLab on 127.0.0.1, driven by Debian's Chromium.

One test, about 35-50 s on two cores (server start included): start JupyterLab (no token;
temporary workspace, Jupyter config/data/runtime and JupyterLab settings dirs), open a notebook
that uses the four widgets, Run All (from the Run menu), and check that

- every widget renders (its DOM element, its figure as an <img> with a src), the figures at
  twice the pixels of their displayed size (sharp on HiDPI screens);
- the stepper's "Next" button moves it: the step title and the numbers change, and at the
  dW₂ step the page shows the same dW₂ as bpcourse's reference; on through the update into
  the second iteration, the lr slider moved with the keyboard to 4, Reset, and on to the
  update again: the title says lr = 4 and the new parameters shown are bpcourse's reference
  update with lr 4; at every step of the way, measured in the browser, every text of the
  graph lies inside its box and no two boxes overlap;
- a stepper given a buggy dense_backward shows its wrong step in an amber frame with the
  reference's numbers beside, and its update in a dashed amber frame as "a correct update
  of wrong gradients";
- moving the optimizer explorer's "lr SGD" slider with the keyboard changes the figure
  (the image's src) and the summary line, and reaches 0.021 (notebook 9's value);
- moving the activation explorer's "depth" slider changes its figure;
- the dashboard's Stop button, clicked while a 20-epoch training (notebook 10's) runs paced
  in the background, stops it early, and the kernel still holds the history of the
  completed epochs.

Screenshots go to $BPCOURSE_SCREENSHOTS (default: <tmp>/bpcourse-browser-screenshots):
00_opened, 01_run_all, 02_stepper_dW2, 03_optimizer_explorer, 04_activation_explorer,
05_dashboard_stopped, 06_page, 07_stepper_reset_lr4, 08_stepper_buggy_db2,
09_stepper_buggy_update (and failure.png when it fails).

Needs Chromium at /usr/bin/chromium (Debian's `chromium` package; or $BPCOURSE_CHROMIUM) and
the `playwright` Python package (never `playwright install`: the system Chromium is used).
Without them the test is skipped — unless BPCOURSE_REQUIRE_BROWSER is set (CI sets it), then
it fails.
"""

import json
import os
from pathlib import Path
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
import pytest

CHROMIUM = os.environ.get("BPCOURSE_CHROMIUM", "/usr/bin/chromium")
REQUIRED = bool(os.environ.get("BPCOURSE_REQUIRE_BROWSER"))
SHOTS = Path(os.environ.get("BPCOURSE_SCREENSHOTS")
             or Path(tempfile.gettempdir()) / "bpcourse-browser-screenshots")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-extensions",
                 "--disable-default-apps", "--mute-audio"]
DASHBOARD_EPOCHS = 20   # notebook 10's run: about 2 s unpaced, 10 s paced

NOTEBOOK_CELLS = [
    ("markdown", "# bpcourse widgets in the browser"),
    ("code", "import numpy as np\n"
             "from bpcourse import nn, optim\n"
             "from bpcourse.data import load_digits\n"
             "from bpcourse.widgets import (ActivationExplorer, OptimizerExplorer, StepperWidget,\n"
             "                              TrainingDashboard)"),
    ("code", "stepper = StepperWidget()\nstepper"),
    ("code", "def dense_backward(dZ, cache):   # a bug: the bias gradient averaged, not summed\n"
             "    X, W, b = cache\n"
             "    return dZ @ W.T, X.T @ dZ, dZ.mean(axis=0)\n\n"
             "buggy = StepperWidget(functions={'dense_backward': dense_backward})\n"
             "buggy.stepper.goto('backward', 'b2')\n"
             "buggy.refresh()\n"
             "buggy"),
    ("code", "explorer = OptimizerExplorer()\nexplorer"),
    ("code", "acts = ActivationExplorer(activation='relu', depth=7, batchnorm=True)\nacts"),
    ("code", "(X, y), (X_test, y_test) = load_digits(seed=0)\n"
             "g = np.random.default_rng(0)\n"
             "model = nn.Sequential(nn.Dense(64, 128, rng=g), nn.ReLU(), nn.Dense(128, 10, rng=g))\n"
             f"dash = TrainingDashboard(model, X, y, optim.Adam(model.parameters(), lr=1e-2),\n"
             f"                         epochs={DASHBOARD_EPOCHS}, validation_data=(X_test, y_test), rng=0)\n"
             "dash.start()"),
    ("code", "h = dash.history\n"
             "print(f'CHECK state={dash.state} epochs={len(h.epoch) if h else 0} '\n"
             "      f'interrupted={h.interrupted if h else None} '\n"
             "      f'numbered={h.epoch == list(range(1, len(h.epoch) + 1)) if h else None}')"),
]


def _missing():
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package is not installed (pip install playwright)")
    return missing


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_notebook(path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "markdown" else
                nbformat.v4.new_code_cell(src) for kind, src in NOTEBOOK_CELLS]
    nbformat.write(nb, path)


def _lab_settings(settings_dir):
    """User settings that keep JupyterLab quiet and render every cell (no windowing)."""
    for plugin, values in {
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                        "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 with a temporary workspace; yields its base URL."""
    missing = _missing()
    if missing:
        reason = "; ".join(missing)
        if REQUIRED:
            pytest.fail(f"BPCOURSE_REQUIRE_BROWSER is set but the browser test cannot run: {reason}")
        pytest.skip(f"browser test skipped (set BPCOURSE_REQUIRE_BROWSER=1 to make this a "
                    f"failure): {reason}")
    base = tmp_path_factory.mktemp("jupyterlab")
    workspace = base / "workspace"
    workspace.mkdir()
    _write_notebook(workspace / "widgets.ipynb")
    dirs = {name: base / name for name in ("config", "data", "runtime", "settings", "workspaces",
                                           "home")}
    for d in dirs.values():
        d.mkdir()
    _lab_settings(dirs["settings"])
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
               JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
               JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]), BPCOURSE_HOME=str(dirs["home"]),
               IPYTHONDIR=str(dirs["home"] / "ipython"), JUPYTER_PLATFORM_DIRS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    port = _free_port()
    log = open(base / "jupyterlab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.token=",
         "--ServerApp.password=", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--ServerApp.root_dir={workspace}",
         "--ServerApp.allow_root=True", "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"JupyterLab exited: see {base / 'jupyterlab.log'}:\n"
                                   + (base / "jupyterlab.log").read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("JupyterLab did not start within 60 s")
            time.sleep(0.25)
        yield url
    finally:
        try:  # shut down the server and its kernels cleanly ...
            req = urllib.request.Request(f"{url}/api/shutdown", method="POST")
            urllib.request.urlopen(req, timeout=5).close()
            server.wait(timeout=15)
        except Exception:
            pass
        if server.poll() is None:  # ... or stop the process we started
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()


def _kernel_ready(page, timeout=90.0, until=None):
    """Wait until the notebook's kernel is idle (or ``until()`` is true), accepting the
    "Select Kernel" dialog that JupyterLab sometimes shows while it starts the kernel."""
    deadline = time.monotonic() + timeout
    indicator = page.locator(".jp-Notebook-ExecutionIndicator")
    ready_since = None
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog").filter(has_text="Select Kernel")
        if dialog.count():
            if page.locator(".lm-Menu").count():   # a menu opened over the dialog: close it
                page.keyboard.press("Escape")
            dialog.locator("button.jp-mod-accept").first.click()
            ready_since = None
            continue
        if until is not None:
            ready = bool(until())
        else:
            bar = " ".join(page.locator(".jp-StatusBar-Widget").all_text_contents())
            ready = (indicator.count() > 0 and indicator.first.get_attribute("data-status") == "idle"
                     and "(ipykernel) | Idle" in bar)
        if not ready:
            ready_since = None
        elif ready_since is None:
            ready_since = time.monotonic()
        elif time.monotonic() - ready_since > 1.0:   # and no dialog came up meanwhile
            return
        time.sleep(0.2)
    raise AssertionError("the notebook's kernel did not become ready")


def _run_all(page, attempts=3):
    """Run ▸ Run All Cells, from the menu; retried if a late dialog swallowed the click."""
    first_prompt = page.locator(".jp-CodeCell .jp-InputPrompt").first
    for attempt in range(attempts):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
        try:
            _kernel_ready(page, timeout=20, until=lambda: re.search(
                r"\[[*\d]+\]", first_prompt.text_content() or ""))
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise


def _img_src(locator):
    return locator.locator("img").first.get_attribute("src")


def _wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _wait_for_change(get, old, timeout=30.0, what="the view"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = get()
        if new != old:
            return new
        time.sleep(0.1)
    raise AssertionError(f"{what} did not change within {timeout} s")


_GRAPH_BOXES_JS = """svg => {
    const box = e => { const b = e.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; };
    return {
        boxes: [...svg.querySelectorAll('rect.bp-box, ellipse.bp-op')].map(
            e => [e.dataset.name, ...box(e)]),
        texts: [...svg.querySelectorAll('text')].map(t => [t.textContent, ...box(t)]),
    };
}"""


def _assert_graph_layout(svg, where):
    """In the browser's own font metrics: no two boxes of the graph overlap and every text
    lies inside a box (or an operation's ellipse)."""
    found = svg.evaluate(_GRAPH_BOXES_JS)
    boxes, texts = found["boxes"], found["texts"]
    assert len(boxes) == 14, where
    for i, (a, *ra) in enumerate(boxes):
        for b, *rb in boxes[i + 1:]:
            apart = ra[2] <= rb[0] or rb[2] <= ra[0] or ra[3] <= rb[1] or rb[3] <= ra[1]
            assert apart, f"{where}: {a} {ra} overlaps {b} {rb}"
    for text, *rt in texts:
        inside = [n for n, *r in boxes if r[0] - 0.5 <= rt[0] and rt[2] <= r[2] + 0.5
                  and r[1] - 0.5 <= rt[1] and rt[3] <= r[3] + 0.5]
        assert inside, f"{where}: the text {text!r} {rt} sticks out of its box"


def _press_until(page, handle, readout, target, key="ArrowRight", limit=120):
    """Press ``key`` on a slider's handle until its readout shows ``target``."""
    handle.focus()
    for _ in range(limit):
        if readout.text_content().strip() == target:
            return
        page.keyboard.press(key)
        time.sleep(0.02)
    _wait_until(lambda: readout.text_content().strip() == target, 10, f"the slider at {target}")


def test_widgets_render_and_respond_in_jupyterlab(jupyterlab):
    from playwright.sync_api import expect, sync_playwright

    from bpcourse import layers
    from bpcourse.losses import softmax_cross_entropy
    from bpcourse.widgets.stepper import DEFAULT_EXAMPLE

    # the dW₂ the stepper must show, from bpcourse's reference functions
    ex = {k: np.array(v, dtype=float) for k, v in DEFAULT_EXAMPLE.items()}
    Z1, _ = layers.dense_forward(ex["X"], ex["W1"], ex["b1"])
    A1, _ = layers.relu_forward(Z1)
    Z2, cache2 = layers.dense_forward(A1, ex["W2"], ex["b2"])
    _, dZ2 = softmax_cross_entropy(Z2, ex["y"].astype(int))
    dA1, dW2, db2_ref = layers.dense_backward(dZ2, cache2)
    # the update with lr 4 from the start, and the loss after it
    from bpcourse.optim import sgd_step
    dZ1 = layers.relu_backward(dA1, Z1)
    _, dW1, db1 = layers.dense_backward(dZ1, (ex["X"], ex["W1"], ex["b1"]))
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2_ref}
    new_lr4 = {k: sgd_step(ex[k], g, 4.0) for k, g in grads.items()}
    A1n = layers.relu_forward(layers.dense_forward(ex["X"], new_lr4["W1"], new_lr4["b1"])[0])[0]
    loss_lr4 = softmax_cross_entropy(layers.dense_forward(A1n, new_lr4["W2"], new_lr4["b2"])[0],
                                     ex["y"].astype(int))[0]

    SHOTS.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{jupyterlab}/lab/tree/widgets.ipynb")
            page.locator(".jp-Notebook").first.wait_for()
            _kernel_ready(page)
            page.screenshot(path=str(SHOTS / "00_opened.png"))

            _run_all(page)

            stepper = page.locator(".bp-stepper").first
            buggy = page.locator(".bp-stepper").nth(1)
            explorer = page.locator(".bp-optimizer-explorer")
            acts = page.locator(".bp-activation-explorer")
            dash = page.locator(".bp-dashboard")
            for widget in (stepper, buggy, explorer, acts, dash):
                widget.wait_for(timeout=120_000)
            for widget in (explorer, acts, dash):
                expect(widget.locator("img").first).to_have_attribute("src", re.compile(r"\S"))
                # HiDPI: twice the pixels of the displayed size (900 CSS px for 10 inches)
                natural, shown = widget.locator("img").first.evaluate(
                    "img => [img.naturalWidth, img.getBoundingClientRect().width]")
                assert natural == 1800 and shown == 900, (natural, shown)
            page.screenshot(path=str(SHOTS / "01_run_all.png"))

            # --- the dashboard: Stop while it trains in the background
            status = dash.locator(".bp-status")
            _wait_until(lambda: (m := re.search(r"epoch (\d+) of", status.text_content() or ""))
                        and int(m.group(1)) >= 3, 120, "three epochs on the dashboard")
            assert "paced for watching" in status.text_content()
            dash.get_by_role("button", name="Stop").click()
            expect(status).to_contain_text("stopped by the Stop button after epoch", timeout=60_000)
            stopped_after = int(re.search(r"after epoch (\d+)", status.text_content()).group(1))
            assert 3 <= stopped_after < DASHBOARD_EPOCHS
            dash_src = _img_src(dash)
            time.sleep(1.0)
            assert _img_src(dash) == dash_src, "the dashboard kept drawing after Stop"
            dash.scroll_into_view_if_needed()
            dash.screenshot(path=str(SHOTS / "05_dashboard_stopped.png"))
            # the kernel still has the history: run the last cell again
            check_cell = page.locator(".jp-Notebook .jp-CodeCell").filter(has_text="CHECK state")
            check_cell.locator(".cm-content").click()
            page.keyboard.press("Control+Enter")
            expect(check_cell.locator(".jp-OutputArea-output")).to_contain_text(
                f"CHECK state=stopped epochs={stopped_after} interrupted=True numbered=True",
                timeout=30_000)

            # --- the stepper: Next moves through the graph
            title = stepper.locator(".bp-title")
            first_title = title.text_content()
            assert "the input X" in first_title
            next_button = stepper.get_by_role("button", name="Next")
            next_button.click()
            second = _wait_for_change(title.text_content, first_title, what="the stepper's step")
            assert "Z₁ = X W₁ + b₁" in second
            for _ in range(5):   # on to the backward pass: dW₂
                old = title.text_content()
                next_button.click()
                _wait_for_change(title.text_content, old, what="the stepper's step")
            assert "dW₂ = A₁ᵀ dZ₂" in title.text_content()
            shown = stepper.locator(".bp-step").text_content().replace("−", "-")
            for v in dW2.ravel():
                assert f"{v + 0.0:.4f}" in shown, (v, shown)
            stepper.scroll_into_view_if_needed()
            stepper.screenshot(path=str(SHOTS / "02_stepper_dW2.png"))

            # --- on to the update and the second iteration; lr 4; Reset; to the update again
            svg = stepper.locator("svg.bp-graph")
            for _ in range(7):
                old = title.text_content()
                next_button.click()
                _wait_for_change(title.text_content, old, what="the stepper's step")
            assert "iteration 2 · step 1 of 13" in stepper.locator(".bp-position").text_content()
            readout = stepper.locator(".widget-readout")
            assert readout.text_content().strip() == "0.5"
            _press_until(page, stepper.locator(".noUi-handle"), readout, "4")
            old = stepper.locator(".bp-position").text_content()
            stepper.get_by_role("button", name="Reset").click()
            _wait_for_change(lambda: stepper.locator(".bp-position").text_content(), old,
                             what="the stepper's position after Reset")
            assert "iteration 1 · step 1 of 13" in stepper.locator(".bp-position").text_content()
            for i in range(12):
                _assert_graph_layout(svg, f"step {i + 1}")
                old = title.text_content()
                next_button.click()
                _wait_for_change(title.text_content, old, what="the stepper's step")
            _assert_graph_layout(svg, "step 13")
            assert "θ ← θ − lr · dθ" in title.text_content() and "(lr = 4)" in title.text_content()
            assert readout.text_content().strip() == "4"
            update = stepper.locator(".bp-update")
            shown = update.text_content().replace("−", "-")
            assert "- 4 ×" in shown.replace("\xa0", " ")
            for k in ("W1", "b1", "W2", "b2"):  # the new parameters: the reference, lr 4
                for v in new_lr4[k].ravel():
                    assert f"{v + 0.0:.4f}" in shown, (k, v, shown)
            expect(stepper.locator(".bp-step")).to_contain_text(f"after {loss_lr4:.4f}")
            stepper.scroll_into_view_if_needed()
            stepper.screenshot(path=str(SHOTS / "07_stepper_reset_lr4.png"))

            # --- the stepper with a buggy dense_backward: amber frames
            wrong = buggy.locator(".bp-step.bp-wrong")
            expect(wrong).to_have_count(1)
            style = wrong.evaluate("e => { const s = getComputedStyle(e); return "
                                   "[s.borderTopColor, s.borderTopStyle, s.borderTopWidth]; }")
            assert style == ["rgb(224, 138, 0)", "solid", "3px"], style
            text = wrong.text_content().replace("−", "-")
            assert "reference, same inputs" in text and "differs from bpcourse's reference" in text
            for v in (db2_ref, db2_ref / 2):     # the reference's db₂ beside the learner's
                for x in v:
                    assert f"{x + 0.0:.4f}" in text, (x, text)
            buggy.scroll_into_view_if_needed()
            buggy.screenshot(path=str(SHOTS / "08_stepper_buggy_db2.png"))
            buggy_title = buggy.locator(".bp-title")
            for _ in range(5):                  # db₂ is step 8; the update is step 13
                old = buggy_title.text_content()
                buggy.get_by_role("button", name="Next").click()
                _wait_for_change(buggy_title.text_content, old, what="the buggy stepper's step")
            inherited = buggy.locator(".bp-step.bp-inherited")
            expect(inherited).to_contain_text("a correct update of wrong gradients")
            assert inherited.evaluate("e => getComputedStyle(e).borderTopStyle") == "dashed"
            assert "equals bpcourse's reference" not in inherited.text_content()
            buggy.screenshot(path=str(SHOTS / "09_stepper_buggy_update.png"))

            # --- the optimizer explorer: move the "lr SGD" slider with the keyboard
            summary = explorer.locator(".bp-summary")
            old_summary, old_src = summary.text_content(), _img_src(explorer)
            assert "SGD (lr=0.019)" in old_summary
            handle = explorer.locator(".widget-slider").filter(has_text="lr SGD").locator(
                ".noUi-handle")
            handle.focus()
            page.keyboard.press("ArrowRight")
            new_src = _wait_for_change(lambda: _img_src(explorer), old_src, what="the explorer's figure")
            new_summary = _wait_for_change(summary.text_content, old_summary,
                                           what="the explorer's summary")
            assert new_src and "SGD (lr=0.019)" not in new_summary
            lr_new = float(re.search(r"SGD \(lr=([0-9.e-]+)\)", new_summary).group(1))
            assert lr_new == 0.02               # the next two-digit value
            sgd_readout = explorer.locator(".widget-slider").filter(has_text="lr SGD").locator(
                ".widget-readout")
            _press_until(page, handle, sgd_readout, "0.021")
            expect(summary).to_contain_text("SGD (lr=0.021)")
            expect(summary).to_contain_text("outside the plot from step 8 on")
            explorer.scroll_into_view_if_needed()
            explorer.screenshot(path=str(SHOTS / "03_optimizer_explorer.png"))

            # --- the activation explorer: one step of the depth slider
            old_src = _img_src(acts)
            handle = acts.locator(".widget-slider").filter(has_text="depth").locator(".noUi-handle")
            handle.focus()
            page.keyboard.press("ArrowRight")
            _wait_for_change(lambda: _img_src(acts), old_src, what="the activation explorer's figure")
            expect(acts.locator(".bp-summary")).to_contain_text("layer 1 … 8")
            acts.scroll_into_view_if_needed()
            acts.screenshot(path=str(SHOTS / "04_activation_explorer.png"))
            page.screenshot(path=str(SHOTS / "06_page.png"))
        except BaseException:
            try:  # what the page looked like, for the failure report
                page.screenshot(path=str(SHOTS / "failure.png"))
                print(f"failure screenshot: {SHOTS / 'failure.png'}")
            except Exception:
                pass
            raise
        finally:
            browser.close()
    print(f"browser test: {time.monotonic() - start:.1f} s in the browser; screenshots in {SHOTS}")
