"""The reports of ``bpcourse grade``: the learner's source as the grader read it, the verdict
as data in results.json, the feedback pages, the class report and ``--no-reports``.

Most tests build results the way the grader does (``results_json`` of ``Report``s judged by
the checks, with the sources of a parsed submission) but judge in this process, on trusted
test code, which is fast; one small class goes through the real command.
"""

import base64
from html.parser import HTMLParser
import json
from pathlib import Path
import re
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from bpcourse import cli
from bpcourse.checks import driver
from bpcourse.checks.registry import EXERCISES
from bpcourse.checks.report import CaseResult, Report, judge, make_cases
from bpcourse.grading import class_report, feedback, pages
from bpcourse.grading.course import GradedExercise
from bpcourse.grading.results import exercise_tests, named_mistake, results_json
from bpcourse.grading.sources import exercise_source, exercise_sources, full_text
from bpcourse.grading.submission import read

sys.path.insert(0, str(Path(__file__).resolve().parent / "submissions"))
import catalogue  # noqa: E402
from catalogue import WRONG  # noqa: E402

BPCOURSE = Path(sys.executable).with_name("bpcourse")
NAMES = ["dense_forward", "dense_backward", "softmax", "sgd_step"]
GRADED = [GradedExercise(n, EXERCISES[n].notebook, p) for n, p in zip(NAMES, [2, 2, 2, 1])]


def _grade_here(path, graded=GRADED, hidden=False, seconds=1.0):
    """Grade ``path`` as ``grade_one`` does, but in this process (trusted test code)."""
    sub = read(path, set(EXERCISES))
    namespace = {}
    for unit in sub.units:
        exec(compile(unit.source, unit.name, "exec"), namespace)
    reports = {}
    for g in graded:
        if g.name not in sub.defined:
            cases = make_cases(g.name, 0, (), hidden=hidden)
            reports[g.name] = Report(g.name, [CaseResult(c.label, False, f"{g.name} was not found",
                                                         None, "missing", c.hidden) for c in cases])
            continue
        cases = make_cases(g.name, 0, sub.defined, hidden=hidden)
        got = [driver.run_calls(namespace, c.calls) for c in cases]
        reports[g.name] = judge(g.name, cases, got)
    return results_json(sub.student, graded, reports, list(sub.problems), seconds, "test",
                        exercise_sources(sub, [g.name for g in graded]))


def _write(tmp_path, name, replacements=None):
    return catalogue.write_py(tmp_path / f"{name}.py", replacements)


# ---------------------------------------------------------------- the learner's source

def test_the_source_is_the_last_definition_with_the_helpers_it_calls(tmp_path):
    path = tmp_path / "s.py"
    path.write_text(textwrap.dedent('''\
        import numpy as np


        def _ones(n):
            return np.ones(n)


        def softmax(Z):
            return Z  # an early try, replaced below


        def _shift(Z):
            return Z - Z.max(axis=1, keepdims=True) + 0 * _ones(1)


        @staticmethod
        def unused():
            pass


        def softmax(Z):
            E = np.exp(_shift(Z))
            return E / E.sum(axis=1, keepdims=True)
        '''))
    sub = read(path, set(EXERCISES))
    found = exercise_source(sub, "softmax")
    assert found["where"] == "s.py" and found["first_line"] == 21
    assert found["source"].startswith("def softmax(Z):\n    E = np.exp(_shift(Z))")
    assert "an early try" not in found["source"]
    assert [h["name"] for h in found["helpers"]] == ["_shift", "_ones"]      # transitively
    assert found["helpers"][0]["first_line"] == 12
    assert found["helpers"][1]["source"] == "def _ones(n):\n    return np.ones(n)\n"
    assert "unused" not in full_text(found)
    assert exercise_source(sub, "dense_forward") is None                     # not defined


def test_the_source_of_a_notebook_cell_and_an_exercise_it_calls_is_not_a_helper(tmp_path):
    cells = [catalogue.code_cell("import numpy as np")]
    cells += catalogue.exercise_cells(["dense_forward", "dense_backward",
                                       "two_layer_loss_and_grads"])
    path = tmp_path / "nb.ipynb"
    path.write_text(catalogue.notebook_json(cells))
    sub = read(path, set(EXERCISES))
    found = exercise_source(sub, "two_layer_loss_and_grads")
    assert found["where"].startswith("nb.ipynb, cell ") and found["first_line"] == 1
    assert "dense_backward" in found["source"] and found["helpers"] == []
    decorated = tmp_path / "d.py"
    decorated.write_text("import functools\n\n@functools.lru_cache\ndef sgd_step(w, dw, lr):\n"
                         "    return w - lr * dw\n")
    found = exercise_source(read(decorated, set(EXERCISES)), "sgd_step")
    assert found["first_line"] == 3 and found["source"].startswith("@functools.lru_cache\n")


# ---------------------------------------------------------------- the verdict as data

def test_results_json_holds_each_verdict_as_data(tmp_path):
    wrong = WRONG["db_not_summed"]
    result = _grade_here(_write(tmp_path, "bob", {wrong.exercise: wrong.code, "sgd_step": None}))
    assert result["extra_data"]["notes"] == []
    data = {t["extra_data"]["exercise"]: t["extra_data"] for t in result["tests"]}
    ok = data["dense_forward"]
    assert ok["status"] == "passed" and ok["passed"] == ok["total"] > 0
    assert ok["first_failure"] is None and ok["failed"] == {}
    assert ok["source"]["source"].startswith("def dense_forward(X, W, b):")
    bad = data["dense_backward"]
    assert bad["status"] == "failed" and bad["passed"] < bad["total"]
    assert bad["failed"] == {"wrong": bad["total"] - bad["passed"]}
    first = bad["first_failure"]
    assert "db should have shape" in first["message"] and first["status"] == "wrong"
    assert "not summed over the batch" in first["hint"]
    assert first["label"] in result["tests"][1]["output"]
    assert "dZ.sum" not in bad["source"]["source"] and "return dZ @ W.T, X.T @ dZ, dZ" \
        in bad["source"]["source"]
    missing = data["sgd_step"]
    assert missing["status"] == "missing" and missing["source"] is None
    json.dumps(result)  # all of it is JSON


def test_hidden_checks_get_their_own_verdict_and_the_source_stays_with_the_public_one(tmp_path):
    path = tmp_path / "small.py"
    path.write_text(textwrap.dedent('''\
        import numpy as np


        def dense_forward(X, W, b):
            Z = np.zeros((len(X), W.shape[1]), dtype=X.dtype)
            for n in range(min(len(X), 10)):
                Z[n] = X[n] @ W + b
            return Z, (X, W, b)
        '''))
    graded = [GradedExercise("dense_forward", "01_forward_pass", 2, hidden=True)]
    result = _grade_here(path, graded, hidden=True)
    public, hidden = (t["extra_data"] for t in result["tests"])
    assert public["checks"] == "public" and hidden["checks"] == "hidden"
    assert public["status"] == hidden["status"] == "failed"          # the exercise's status
    assert public["passed"] == public["total"] and public["first_failure"] is None
    assert hidden["passed"] < hidden["total"]
    assert hidden["first_failure"]["label"].startswith("hidden: ")
    assert public["source"] is not None and hidden["source"] is None
    (entry,) = exercise_tests(result)
    assert entry["score"] == result["score"] and entry["max_score"] == 2
    html = feedback.feedback_html(result)
    assert "A hidden check failed." in html and "(a hidden check)" in html
    assert "hidden checks passed" in html
    # the learner is told that a hidden check failed and how, not its inputs or values
    assert pages.esc(hidden["first_failure"]["label"]) not in html
    assert pages.esc(hidden["first_failure"]["message"]) not in html
    assert "hidden:" not in html and "expected" not in html
    assert hidden["first_failure"]["label"] in json.dumps(result)   # the instructor has them


# ---------------------------------------------------------------- the feedback page

EVIL = '''
def softmax(Z):
    """</pre><script>alert("x")</script><img src="http://example.com/x.png">"""
    s = "<b>&amp;</b>"
    return Z + len(s) * 0  # </div><style>body{display:none}</style>
'''


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _no_outside_references(html):
    """No script, no style sheet, frame or object from anywhere, every image a data URI and
    every link relative (another report page, an anchor); and the CSP that forbids loads."""
    parser = _Tags()
    parser.feed(html)
    tags = parser.tags
    assert {t for t, _ in tags} <= {"html", "head", "meta", "title", "style", "body", "h1", "h2",
                                    "h3", "p", "div", "span", "pre", "code", "table", "thead",
                                    "tbody", "tr", "th", "td", "a", "img", "figure",
                                    "figcaption", "section", "details", "summary", "strong",
                                    "ul", "li"}, sorted({t for t, _ in tags})
    for tag, attrs in tags:
        if tag == "img":
            assert attrs["src"].startswith("data:image/png;base64,")
        if tag == "a":
            assert not re.match(r"[a-z]+:|//", attrs["href"]), attrs["href"]
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    assert tags.count(("style", {})) == 1
    style = html[html.index("<style>"):html.index("</style>")]
    assert "@import" not in style and "url(" not in style
    assert ("meta", {"http-equiv": "Content-Security-Policy", "content": pages.CSP}) in tags


def test_a_feedback_page_names_the_mistake_shows_the_failure_and_the_code(tmp_path):
    wrong = WRONG["db_not_summed"]
    result = _grade_here(_write(tmp_path, "bob", {wrong.exercise: wrong.code, "sgd_step": None}))
    html = feedback.feedback_html(result)
    _no_outside_references(html)
    assert "<h1>Feedback for bob</h1>" in html
    assert f"{result['score']:g} / 7 points" in html
    section = html[html.index('id="ex-dense_backward"'):html.index('id="ex-softmax"')]
    data = result["tests"][1]["extra_data"]
    assert pages.esc(data["first_failure"]["label"]) in section
    assert pages.esc(data["first_failure"]["message"]) in section          # expected vs got
    assert "Likely mistake:" in section and "not summed over the batch" in section
    assert '<details class="code" open>' in section                        # a failure: open
    assert '<span class="nf">dense_backward</span>' in section             # highlighted
    assert re.search(r'<span class="linenos">\s*\d+ </span>', section)
    ok = html[html.index('id="ex-dense_forward"'):html.index('id="ex-dense_backward"')]
    assert '<details class="code">' in ok                                  # a pass: folded
    missing = html[html.index('id="ex-sgd_step"'):]
    assert "not found" in missing and "it is not in your submission" in missing
    assert ".highlight .k" in html                                         # Pygments' CSS inline


def test_a_feedback_page_escapes_the_submission(tmp_path):
    raising = "def sgd_step(w, dw, lr):\n    raise ValueError('</pre><script>alert(2)</script>')\n"
    path = catalogue.write_py(tmp_path / "mallory.py", {"softmax": EVIL, "sgd_step": raising})
    result = _grade_here(path)
    html = feedback.feedback_html(result)
    _no_outside_references(html)
    assert "alert" in html and "&lt;/pre&gt;&lt;script&gt;" in html
    assert "ValueError: &lt;/pre&gt;&lt;script&gt;alert(2)" in html        # the message too
    assert "<style>body{display:none}" not in html and "</div><style>" not in html


def test_a_feedback_page_of_results_without_the_verdict_as_data_still_shows_the_output():
    report = Report("softmax", [CaseResult("grading", False, "the grader failed: X", None, "error")])
    graded = [GradedExercise("softmax", "02_loss", 2)]
    result = results_json("zoe", graded, {"softmax": report}, ["the grader failed"], 0.0, "?")
    for t in result["tests"]:
        t["extra_data"] = {"exercise": "softmax", "checks": "public"}   # as an older grader wrote
    html = feedback.feedback_html(result)
    assert "the grader failed: X" in html and "✗ failed" in html


# ---------------------------------------------------------------- the class report

@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    """Eight students: 3 correct, 2 with the same dense_backward mistake, 1 with another,
    1 without sgd_step, 1 whose softmax 'timed out' and 1 whose softmax 'crashed' (those
    two made by hand: they cannot happen in this process)."""
    tmp = tmp_path_factory.mktemp("klass")
    rows = {}
    for i, name in enumerate(["amy", "ann", "art"]):
        rows[name] = _grade_here(_write(tmp, name), seconds=1.0 + i)
    for name in ("bob", "bea"):
        w = WRONG["db_not_summed"]
        rows[name] = _grade_here(_write(tmp, name, {w.exercise: w.code}), seconds=2.0)
    w = WRONG["dw_without_transpose"]
    rows["cy"] = _grade_here(_write(tmp, "cy", {w.exercise: w.code}), seconds=1.5)
    rows["dee"] = _grade_here(_write(tmp, "dee", {"sgd_step": None}), seconds=0.5)
    for name, status, error in (("tim", "timeout", "did not finish within 2 s"),
                                ("cru", "crashed", "the process running it exited with code 3")):
        result = _grade_here(_write(tmp, name), seconds=4.0)
        for t in result["tests"]:
            if t["extra_data"]["exercise"] == "softmax":
                d = t["extra_data"]
                message = f"softmax {'did not finish in time' if status == 'timeout' else 'crashed'}: {error}"
                d.update(status="failed", passed=0, failed={status: d["total"]},
                         first_failure={"label": "random logits", "message": message,
                                        "hint": None, "status": status})
                result["score"] -= t["score"]
                t["score"], t["status"] = 0.0, "failed"
        rows[name] = result
    return rows


def test_the_class_summary_counts_statuses_mistakes_and_troubles(klass):
    s = class_report.class_summary(klass)
    ex = {e["exercise"]: e for e in s["exercises"]}
    assert list(ex) == NAMES and s["maximum"] == 7
    assert sorted(ex["dense_backward"]["failed"] + ex["dense_backward"]["partly"]) == ["bea", "bob", "cy"]
    assert len(ex["dense_backward"]["passed"]) == len(klass) - 3
    assert ex["sgd_step"]["absent"] == ["dee"]
    mistakes = s["mistakes"]["dense_backward"]
    (top, count), (other, one) = mistakes.most_common()
    assert count == 2 and "not summed over the batch" in top and one == 1
    assert s["examples"][("dense_backward", top)] == ["bea", "bob"]
    assert "sgd_step" not in s["mistakes"]              # not attempted is not a mistake
    assert s["mistakes"]["softmax"] == {"did not finish in time": 1, "crashed its process": 1}
    troubles = {(t["student"], t["exercise"]): t["how"] for t in s["troubles"]}
    assert troubles == {("tim", "softmax"): ["timeout"], ("cru", "softmax"): ["crashed"]}
    assert s["times"]["tim"] == 4.0 and s["scores"]["dee"] == 6


def _images(html):
    """(width, height) attributes and the PNG's own size, of every embedded image."""
    found = []
    for m in re.finditer(r'<img src="data:image/png;base64,([^"]+)" width="(\d+)" height="(\d+)"', html):
        png = base64.b64decode(m.group(1))
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        w, h = struct.unpack(">II", png[16:24])
        found.append(((int(m.group(2)), int(m.group(3))), (w, h)))
    return found


def test_the_class_report_has_its_figures_at_twice_their_size_and_its_tables(klass):
    html = class_report.report_html(klass)
    _no_outside_references(html)
    images = _images(html)
    assert len(images) == 4 == html.count("<figure>")      # scores, pass rate, mistakes, time
    for (w, h), (pw, ph) in images:
        assert (pw, ph) == (2 * w, 2 * h) and w >= 600
    for table in ("numbers", "exercises", "mistakes", "troubles", "students"):
        assert f'<table class="{table}">' in html
    mistakes = html[html.index('<table class="mistakes">'):html.index("</table>", html.index('<table class="mistakes">'))]
    row = next(r for r in mistakes.split("<tr>") if "not summed over the batch" in r)
    assert '<td class="num">2</td>' in row
    assert '<a href="bea/feedback.html">bea</a>, <a href="bob/feedback.html">bob</a>' in row
    troubles = html[html.index('<table class="troubles">'):]
    assert "tim" in troubles and "timed out (4 checks)" in troubles
    assert "cru" in troubles and "crashed (4 checks)" in troubles
    assert "exited with code 3" in troubles
    students = html[html.index('<table class="students">'):]
    assert students.count("<tr>") == len(klass) + 1


def test_the_class_report_shows_the_instructor_the_failed_hidden_checks(tmp_path):
    small = tmp_path / "sam.py"
    small.write_text(textwrap.dedent('''\
        import numpy as np


        def dense_forward(X, W, b):
            Z = np.zeros((len(X), W.shape[1]), dtype=X.dtype)
            for n in range(min(len(X), 10)):
                Z[n] = X[n] @ W + b
            return Z, (X, W, b)
        '''))
    graded = [GradedExercise("dense_forward", "01_forward_pass", 2, hidden=True),
              GradedExercise("softmax", "02_loss", 2, hidden=True)]
    rows = {"sam": _grade_here(small, graded, hidden=True),
            "amy": _grade_here(_write(tmp_path, "amy"), graded, hidden=True)}
    html = class_report.report_html(rows)
    _no_outside_references(html)
    table = html[html.index('<table class="hidden">'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") == 2                  # the header and sam's dense_forward
    (entry,) = [e for e in exercise_tests(rows["sam"]) if e["exercise"] == "dense_forward"]
    failure = entry["hidden"]["extra_data"]["first_failure"]
    assert "sam" in table and pages.esc(failure["label"]) in table       # the inputs, for
    assert pages.esc(failure["message"][:100]) in table                  # the instructor
    assert "1 exercise submission(s) failed hidden checks; 1 of them passed every public" in html
    plain = class_report.report_html({"amy": _grade_here(_write(tmp_path, "amy"))})
    assert "Hidden checks" not in plain and '<table class="hidden">' not in plain


def test_the_figures_change_with_the_class(klass):
    """The figures are drawn from the data: another class gives other pictures."""
    fewer = {k: v for k, v in klass.items() if k not in ("bob", "bea", "tim")}
    a, b = class_report.report_html(klass), class_report.report_html(fewer)
    imgs = lambda html: re.findall(r'src="(data:image/png;base64,[^"]+)"', html)  # noqa: E731
    assert all(x != y for x, y in zip(imgs(a), imgs(b)))


def test_an_empty_class_gets_a_page_saying_so():
    assert "No results to report." in class_report.report_html({})


def test_student_names_are_quoted_in_links_and_escaped_in_text(klass):
    rows = {'a b/"<i>': klass["amy"]}
    html = class_report.report_html(rows)
    assert 'href="a%20b%2F%22%3Ci%3E/feedback.html"' in html and "&lt;i&gt;" in html
    assert "<i>" not in html


def test_named_mistakes_fall_back_to_how_the_check_failed():
    assert named_mistake({"hint": "a missing transpose", "status": "wrong"}) == "a missing transpose"
    assert named_mistake({"hint": None, "status": "wrong"}).startswith("wrong result")
    assert named_mistake({"hint": None, "status": "timeout"}) == "did not finish in time"
    assert named_mistake(None) is None


# ---------------------------------------------------------------- through the command

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("graded")
    subs = root / "subs"
    subs.mkdir()
    catalogue.write_py(subs / "alice.py")
    w = WRONG["db_not_summed"]
    catalogue.write_py(subs / "bob.py", {w.exercise: w.code})
    exercise, code = catalogue.HOSTILE_SIMPLE["os_exit"]
    catalogue.write_py(subs / "erin.py", {exercise: code})
    runs = {}
    for flag in ("reports", "--no-reports"):
        out = root / flag.strip("-")
        args = [str(BPCOURSE), "grade", *sorted(map(str, subs.glob("*.py"))), "--out", str(out),
                "--exercises", "dense_forward", "dense_backward", "sgd_step", "adam_step",
                "--jobs", "2"] + ([flag] if flag.startswith("--") else [])
        r = subprocess.run(args, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        runs[flag] = (out, r)
    return runs


def test_grade_writes_a_feedback_page_per_student_and_the_class_report(graded):
    out, r = graded["reports"]
    assert re.search(r"^reports written in [0-9.]+ s: report\.html, 3 feedback pages", r.stdout,
                     re.MULTILINE), r.stdout
    html = (out / "report.html").read_text(encoding="utf-8")
    assert len(_images(html)) == 4
    assert "adam_step" in html[html.index('<table class="troubles">'):]   # erin's os._exit
    for student in ("alice", "bob", "erin"):
        page = (out / student / "feedback.html").read_text(encoding="utf-8")
        result = json.loads((out / student / "results.json").read_text(encoding="utf-8"))
        assert f"{result['score']:g} / 8 points" in page
    bob = (out / "bob" / "feedback.html").read_text(encoding="utf-8")
    assert "not summed over the batch" in bob
    erin = (out / "erin" / "feedback.html").read_text(encoding="utf-8")
    assert "os._exit" in erin and "crashed" in erin


def test_no_reports_writes_only_the_results_and_report_writes_them_later(graded, capsys):
    out, r = graded["--no-reports"]
    assert "reports written" not in r.stdout
    assert not (out / "report.html").exists() and not list(out.glob("*/feedback.html"))
    assert sorted(p.parent.name for p in out.glob("*/results.json")) == ["alice", "bob", "erin"]
    assert cli.main(["report", str(out)]) == 0
    assert "3 feedback pages" in capsys.readouterr().out
    assert (out / "report.html").is_file()
    same = graded["reports"][0]
    for student in ("alice", "bob"):      # the same page as grade writes, from the same results
        a = (out / student / "feedback.html").read_text(encoding="utf-8")
        b = (same / student / "feedback.html").read_text(encoding="utf-8")
        strip = lambda t: re.sub(r"[0-9.]+ s", "", t)  # noqa: E731
        assert strip(a) == strip(b)


def test_report_of_a_folder_without_results_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "no <student>/results.json" in capsys.readouterr().err


def test_figures_are_pngs_at_the_pixel_ratio():
    fig = pages.new_figure(3.0, 2.0)
    ax = fig.add_subplot()
    ax.plot(np.arange(3))
    ((w, h), (pw, ph)), = _images(pages.figure_img(fig, "a line"))
    assert (w, h) == (300, 200) and (pw, ph) == (600, 400)
