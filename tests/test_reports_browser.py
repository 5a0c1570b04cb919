"""The grader's reports in a real browser: report.html, a feedback.html and similarity.html,
as ``bpcourse grade --similarity`` writes them, opened from disk in Debian's Chromium.

A small class is graded through the real command (about 10-20 s): a correct submission, one
with a named mistake, one whose dense_forward is right only for small batches (it fails a
hidden check: ``--hidden all``), one that crashes its sandbox, and two whose batchnorm_backward
is the same code with other names (the similarity report flags them).  Each page is opened
with every request that is not the page itself refused and recorded, and the test checks that

- every figure is a loaded image (``naturalWidth`` > 0), drawn at twice its displayed size;
- every table renders: a visible box with rows, and the rows the results call for;
- the feedback page shows the learner's code highlighted (Pygments' colours applied: the
  function's name is not in the text's colour) and the failure with its named mistake, and
  that a hidden check failed without its inputs;
- the similarity page shows the flagged pair side by side (two columns next to each other)
  and says that it flags, not accuses;
- no page asks for anything over the network, and the browser reports no error.

Screenshots (full pages) go to $BPCOURSE_SCREENSHOTS (default:
<tmp>/bpcourse-browser-screenshots): reports_class.png, reports_feedback.png,
reports_similarity.png.

Needs Chromium at /usr/bin/chromium (or $BPCOURSE_CHROMIUM) and the ``playwright`` package
(never ``playwright install``).  Without them the test is skipped, unless
BPCOURSE_REQUIRE_BROWSER is set: then it fails.
"""

import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "submissions"))
import catalogue  # noqa: E402

CHROMIUM = os.environ.get("BPCOURSE_CHROMIUM", "/usr/bin/chromium")
REQUIRED = bool(os.environ.get("BPCOURSE_REQUIRE_BROWSER"))
SHOTS = Path(os.environ.get("BPCOURSE_SCREENSHOTS")
             or Path(tempfile.gettempdir()) / "bpcourse-browser-screenshots")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-extensions",
                 "--disable-default-apps", "--mute-audio"]
BPCOURSE = Path(sys.executable).with_name("bpcourse")
EXERCISES = ["dense_forward", "dense_backward", "softmax", "batchnorm_backward", "adam_step"]

SMALL_BATCHES = '''
def dense_forward(X, W, b):
    Z = np.zeros((len(X), W.shape[1]), dtype=X.dtype)
    for n in range(min(len(X), 10)):
        Z[n] = X[n] @ W + b
    return Z, (X, W, b)
'''
STAGED = '''
def batchnorm_backward(dout, cache):
    X, X_hat, mu, var, gamma, eps = cache
    N = X.shape[0]
    std = np.sqrt(var + eps)
    dgamma = np.sum(dout * X_hat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dxhat = dout * gamma
    dvar = np.sum(dxhat * (X - mu), axis=0) * -0.5 * std ** -3
    dmu = np.sum(-dxhat / std, axis=0) + dvar * np.mean(-2.0 * (X - mu), axis=0)
    dX = dxhat / std + dvar * 2.0 * (X - mu) / N + dmu / N
    return dX, dgamma, dbeta
'''
RENAMED = '''
def batchnorm_backward(g, c):
    """Mine."""
    inp, xn, m, s2, scale, e = c
    n = inp.shape[0]
    sd = np.sqrt(s2 + e)   # standard deviation
    dscale = np.sum(g * xn, axis=0)
    dshift = np.sum(g, axis=0)
    dxn = g * scale
    ds2 = np.sum(dxn * (inp - m), axis=0) * -0.5 * sd ** -3
    dm = np.sum(-dxn / sd, axis=0) + ds2 * np.mean(-2 * (inp - m), axis=0)
    dinp = dxn / sd + ds2 * 2 * (inp - m) / n + dm / n
    return dinp, dscale, dshift
'''


def _missing():
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package is not installed (pip install playwright)")
    return missing


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    missing = _missing()
    if missing:
        reason = "; ".join(missing)
        if REQUIRED:
            pytest.fail(f"BPCOURSE_REQUIRE_BROWSER is set but the browser test cannot run: {reason}")
        pytest.skip(f"browser test skipped (set BPCOURSE_REQUIRE_BROWSER=1 to make this a "
                    f"failure): {reason}")
    root = tmp_path_factory.mktemp("reports-browser")
    subs = root / "subs"
    subs.mkdir()
    wrong = catalogue.WRONG["db_not_summed"]
    exercise, crash = catalogue.HOSTILE_SIMPLE["os_exit"]
    catalogue.write_py(subs / "alice.py")
    catalogue.write_py(subs / "bob.py", {wrong.exercise: wrong.code})
    catalogue.write_py(subs / "carol.py", {"dense_forward": SMALL_BATCHES})
    catalogue.write_py(subs / "erin.py", {exercise: crash})
    catalogue.write_py(subs / "finn.py", {"batchnorm_backward": STAGED})
    catalogue.write_py(subs / "gus.py", {"batchnorm_backward": RENAMED})
    out = root / "out"
    r = subprocess.run([str(BPCOURSE), "grade", *sorted(map(str, subs.glob("*.py"))),
                        "--out", str(out), "--exercises", *EXERCISES, "--hidden", "all",
                        "--similarity", "--jobs", "2", "--timeout", "5"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return out


def _open(browser, path):
    """A page showing ``path`` (file://), every other request refused and recorded."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    outside, errors = [], []
    own = path.resolve().as_uri()

    def route(r):
        if r.request.url == own:
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(own)
    page.wait_for_load_state("load")
    return page, outside, errors


def _images(page):
    return page.evaluate("""() => Array.from(document.images).map(i => ({
        complete: i.complete, natural: i.naturalWidth, naturalHeight: i.naturalHeight,
        shown: i.getBoundingClientRect().width, alt: i.alt}))""")


def _tables(page):
    return page.evaluate("""() => Array.from(document.querySelectorAll('table')).map(t => ({
        cls: t.className, rows: t.querySelectorAll('tbody tr').length,
        width: t.getBoundingClientRect().width, height: t.getBoundingClientRect().height,
        cells: Array.from(t.querySelectorAll('tbody tr')).map(r => r.innerText)}))""")


def test_the_reports_render_in_chromium(graded):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    students = sorted(p.parent.name for p in graded.glob("*/results.json"))
    assert students == ["alice", "bob", "carol", "erin", "finn", "gus"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            # ------------------------------------------------ the class report
            page, outside, errors = _open(browser, graded / "report.html")
            images = _images(page)
            assert len(images) == 4, images      # scores, pass rate, mistakes, time
            for img in images:
                assert img["complete"] and img["natural"] > 0, img
                assert img["natural"] == pytest.approx(2 * img["shown"], abs=2), img
            tables = {t["cls"]: t for t in _tables(page)}
            assert {"numbers", "exercises", "mistakes", "troubles", "students"} <= set(tables)
            for t in tables.values():
                assert t["width"] > 200 and t["height"] > 20 and t["rows"] >= 1, t
            assert tables["students"]["rows"] == len(students)
            assert tables["exercises"]["rows"] == len(EXERCISES)
            assert any("not summed over the batch" in c and "bob" in c
                       for c in tables["mistakes"]["cells"]), tables["mistakes"]["cells"]
            assert any("erin" in c and "adam_step" in c for c in tables["troubles"]["cells"])
            hidden = tables.get("hidden")
            assert hidden and any("carol" in c and "dense_forward" in c for c in hidden["cells"])
            link = page.locator("a[href='bob/feedback.html']").first
            assert link.is_visible()
            page.screenshot(path=str(SHOTS / "reports_class.png"), full_page=True)
            assert outside == [] and errors == [], (outside, errors)
            page.close()

            # ------------------------------------------------ a feedback page
            page, outside, errors = _open(browser, graded / "bob" / "feedback.html")
            tables = _tables(page)
            assert tables[0]["cls"] == "summary" and tables[0]["rows"] == len(EXERCISES)
            assert tables[0]["height"] > 20
            section = page.locator("#ex-dense_backward")
            text = section.inner_text()
            assert "First failing check" in text and "not summed over the batch" in text
            code = section.locator(".highlight").first
            assert code.is_visible() and code.bounding_box()["height"] > 50
            colours = page.evaluate("""() => {
                const name = document.querySelector('#ex-dense_backward .highlight .nf');
                const pre = document.querySelector('#ex-dense_backward .highlight pre');
                return [getComputedStyle(name).color, getComputedStyle(pre).color];}""")
            assert colours[0] != colours[1], colours   # Pygments' CSS is applied
            assert _images(page) == []
            page.screenshot(path=str(SHOTS / "reports_feedback.png"), full_page=True)
            assert outside == [] and errors == [], (outside, errors)
            page.close()

            # ------------------------------------------------ a hidden check that failed
            page, outside, errors = _open(browser, graded / "carol" / "feedback.html")
            text = page.locator("#ex-dense_forward").inner_text()
            assert "A hidden check failed." in text
            result = json.loads((graded / "carol" / "results.json").read_text(encoding="utf-8"))
            failure = next(t["extra_data"]["first_failure"] for t in result["tests"]
                           if t["extra_data"]["exercise"] == "dense_forward"
                           and t["extra_data"]["checks"] == "hidden")
            assert failure["label"] not in page.content() and "expected" not in text
            page.close()

            # ------------------------------------------------ the similarity report
            page, outside, errors = _open(browser, graded / "similarity.html")
            assert "Flags, not accusations." in page.inner_text("body")
            tables = {t["cls"]: t for t in _tables(page)}
            assert [c.split("\t")[:2] for c in tables["pairs"]["cells"]] == \
                [["batchnorm_backward", "finn · gus"]]
            columns = page.locator("section.pair .side > div")
            assert columns.count() == 2
            a, b = (columns.nth(i).bounding_box() for i in range(2))
            assert b["x"] >= a["x"] + a["width"] and abs(a["y"] - b["y"]) < 2   # side by side
            assert page.locator("section.pair .hll").count() > 10              # shared lines
            page.screenshot(path=str(SHOTS / "reports_similarity.png"), full_page=True)
            assert outside == [] and errors == [], (outside, errors)
            page.close()
        finally:
            browser.close()
