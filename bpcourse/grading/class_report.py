"""``OUT/report.html``: what a class did, for its instructor.

Built from the students' results (``results.json``, as ``grade`` writes them): the
distribution of the scores, the pass rate of each exercise, the named mistakes the class
made most (per exercise, with counts and example students), the time each submission took
to grade, and the submissions whose code timed out or crashed; then a table of the students
with links to their feedback pages.  The figures are matplotlib's, embedded (``pages.py``).
"""

from collections import Counter
import statistics

from . import pages
from .results import exercise_status as _status, exercise_tests, first_failure, named_mistake

#: colours that stay apart for colour-blind readers (Okabe & Ito)
PASSED, PARTLY, FAILED, ABSENT, BLUE = "#009E73", "#E69F00", "#D55E00", "#BBBBBB", "#0072B2"
EXAMPLES = 3          # example students per mistake
TOP_MISTAKES = 12     # in the figure


def class_summary(rows):
    """The numbers behind the report, from ``{student: results dict}``: a dict with
    ``exercises`` (in course order: name, notebook, max_score, and per status the students),
    ``mistakes`` ({exercise: Counter of named mistakes}), ``examples``
    ({(exercise, mistake): [students]}), ``troubles`` (timeouts and crashes: student,
    exercise, how, message), ``hidden`` (failed hidden checks: student, exercise, the
    public and hidden checks passed of how many, the first failure), ``scores`` and ``times`` ({student: ...}) and ``maximum``."""
    exercises, mistakes, examples, troubles, hidden = {}, {}, {}, [], []
    scores, times = {}, {}
    for student in sorted(rows):
        result = rows[student]
        scores[student] = result["score"]
        times[student] = result.get("execution_time", 0.0)
        for entry in exercise_tests(result):
            name = entry["exercise"]
            ex = exercises.setdefault(name, {"exercise": name, "notebook": entry["notebook"],
                                             "max_score": entry["max_score"], "passed": [],
                                             "partly": [], "failed": [], "absent": [],
                                             "points": []})
            ex["points"].append(entry["score"])
            status = _status(entry)
            if status == "passed":
                ex["passed"].append(student)
            elif status in ("missing", "not_implemented"):
                ex["absent"].append(student)
            else:
                ex["partly" if entry["score"] > 0 else "failed"].append(student)
                mistake = named_mistake(first_failure(entry))
                if mistake:
                    mistakes.setdefault(name, Counter())[mistake] += 1
                    examples.setdefault((name, mistake), []).append(student)
            hdata = (entry["hidden"] or {}).get("extra_data") or {}
            if hdata.get("first_failure") and status not in ("missing", "not_implemented",
                                                             "refused"):
                pdata = (entry["public"] or {}).get("extra_data") or {}
                hidden.append({"student": student, "exercise": name,
                               "public": (pdata.get("passed", 0), pdata.get("total", 0)),
                               "hidden": (hdata.get("passed", 0), hdata.get("total", 0)),
                               "failure": hdata["first_failure"]})
            for kind in ("public", "hidden"):
                data = (entry[kind] or {}).get("extra_data") or {}
                failed = data.get("failed") or {}
                how = [s for s in ("timeout", "crashed") if failed.get(s)]
                if how:
                    message = (data.get("first_failure") or {}).get("message")
                    troubles.append({"student": student, "exercise": name, "checks": kind,
                                     "how": how, "counts": {h: failed[h] for h in how},
                                     "message": message})
    maximum = round(sum(ex["max_score"] for ex in exercises.values()), 2)
    return {"exercises": list(exercises.values()), "mistakes": mistakes, "examples": examples,
            "troubles": troubles, "hidden": hidden, "scores": scores, "times": times, "maximum": maximum}


def report_html(rows, similarity=None, feedback=True):
    """The class report of ``{student: results dict}``.  ``similarity``: the summary of a
    similarity report written beside it (``{"pairs": n, "href": ...}``), or None; with
    ``feedback``, the students' names link to their feedback pages."""
    s = class_summary(rows)
    n = len(rows)
    scores = list(s["scores"].values())
    body = ["<h1>Class report</h1>"]
    if not n:
        body.append("<p>No results to report.</p>")
        return pages.page("Class report", "\n".join(body))
    full = sum(score == s["maximum"] for score in scores)
    total_time = sum(s["times"].values())
    body.append(
        '<table class="numbers"><tbody>'
        f'<tr><th>submissions</th><td class="num">{n}</td></tr>'
        f'<tr><th>points (max {s["maximum"]:g})</th><td class="num">mean {statistics.fmean(scores):.2f} · '
        f'median {statistics.median(scores):g} · min {min(scores):g} · max {max(scores):g}</td></tr>'
        f'<tr><th>full marks</th><td class="num">{full} ({100 * full / n:.0f} %)</td></tr>'
        f'<tr><th>timed out or crashed</th><td class="num">{_n(len({t["student"] for t in s["troubles"]}), "submission")}'
        f'</td></tr>'
        f'<tr><th>grading time</th><td class="num">{total_time:.1f} s of a worker in all, '
        f'{total_time / n:.2f} s per submission</td></tr>'
        "</tbody></table>")
    if similarity is not None:
        body.append(f'<p>Similarity report: <a href="{similarity["href"]}">{similarity["pairs"]} '
                    f'pair(s) of near-identical exercise code</a> to look at (flags, not '
                    f'verdicts).</p>')
    body += ["<h2>Scores</h2>", _figure(_score_figure(s), "the distribution of the scores",
                                        f"Points of the {n} submissions (out of {s['maximum']:g})."),
             "<h2>Exercises</h2>",
             _figure(_pass_figure(s), "the pass rate of each exercise",
                     "Per exercise: the share of the class that passed all its checks, passed "
                     "some of them, passed none, or did not attempt it (missing or not "
                     "implemented)."),
             _exercise_table(s, n)]
    body.append("<h2>The most common mistakes</h2>")
    if s["mistakes"]:
        body.append(_figure(_mistake_figure(s), "the most common named mistakes",
                            "The first failure of each failed exercise, by its named mistake "
                            "(or by how it failed when no known mistake explains it)."))
        body.append(_mistake_table(s, feedback))
    else:
        body.append("<p>No exercise failed.</p>")
    body += ["<h2>Time per submission</h2>",
             _figure(_time_figure(s), "the grading time of each submission",
                     "Seconds to grade each submission, its sandboxed runs included; those "
                     "with a check that timed out in blue.")]
    body.append("<h2>Timed out or crashed</h2>")
    body.append(_trouble_table(s, feedback) if s["troubles"] else
                "<p>No submission timed out or crashed.</p>")
    if any(e.get("hidden") for r in rows.values() for e in exercise_tests(r)):
        body.append("<h2>Hidden checks</h2>")
        body.append(_hidden_table(s, feedback) if s["hidden"] else
                    "<p>Every submission passed the hidden checks of the exercises it attempted.</p>")
    body += ["<h2>Students</h2>", _student_table(rows, s, feedback)]
    body.append('<p class="muted small">Written by <code>bpcourse grade</code> from the '
                'students\' results.json.</p>')
    return pages.page("Class report", "\n".join(body))


def _n(count, noun):
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _figure(fig, alt, caption):
    return f"<figure>{pages.figure_img(fig, alt)}<figcaption>{pages.esc(caption)}</figcaption></figure>"


def _student_link(student, feedback):
    name = pages.esc(student)
    return f'<a href="{pages.href(student, "feedback.html")}">{name}</a>' if feedback else name


def _score_figure(s):
    scores, maximum = list(s["scores"].values()), s["maximum"]
    fig = pages.new_figure(7.2, 2.8)
    ax = fig.add_subplot()
    width = max(1.0, round(maximum / 25)) if maximum else 1.0
    edges = [i * width for i in range(int(maximum // width) + 2)]
    ax.hist(scores, bins=edges, color=BLUE, edgecolor="white")
    mean = statistics.fmean(scores)
    ax.axvline(mean, color="#333", linestyle="--", linewidth=1, label=f"mean {mean:.1f}")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.set_xlim(0, edges[-1])
    ax.set_xlabel(f"points (out of {maximum:g})")
    ax.set_ylabel("submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    _tidy(ax)
    return fig


def _pass_figure(s):
    exercises = s["exercises"]
    fig = pages.new_figure(7.2, 0.6 + 0.24 * len(exercises))
    ax = fig.add_subplot()
    names = [ex["exercise"] for ex in exercises]
    y = range(len(names))
    left = [0.0] * len(names)
    for key, colour, label in (("passed", PASSED, "passed"), ("partly", PARTLY, "some checks"),
                               ("failed", FAILED, "no check"), ("absent", ABSENT, "not attempted")):
        share = [100 * len(ex[key]) / max(len(ex["points"]), 1) for ex in exercises]
        ax.barh(y, share, left=left, color=colour, label=label, height=0.75)
        left = [a + b for a, b in zip(left, share)]
    ax.set_yticks(list(y), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of the class")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=4, fontsize=8, frameon=False)
    _tidy(ax)
    return fig


def _mistake_figure(s):
    ranked = sorted(((count, name, mistake) for name, c in s["mistakes"].items()
                     for mistake, count in c.items()), key=lambda t: (-t[0], t[1], t[2]))
    ranked = ranked[:TOP_MISTAKES]
    fig = pages.new_figure(7.2, 0.7 + 0.42 * len(ranked))
    ax = fig.add_subplot()
    labels = [f"{name}:\n{_short(mistake, 64)}" for _, name, mistake in ranked]
    ax.barh(range(len(ranked)), [c for c, _, _ in ranked], color=FAILED, height=0.7)
    ax.set_yticks(range(len(ranked)), labels, fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlabel("students")
    ax.xaxis.get_major_locator().set_params(integer=True)
    _tidy(ax)
    return fig


def _time_figure(s):
    timed_out = {t["student"] for t in s["troubles"] if "timeout" in t["how"]}
    times = s["times"]
    fig = pages.new_figure(7.2, 2.6)
    ax = fig.add_subplot()
    top = max(times.values()) if times else 1.0
    bins = [top * i / 30 for i in range(31)] if top > 0 else 10
    groups = [[t for st, t in times.items() if st not in timed_out],
              [t for st, t in times.items() if st in timed_out]]
    ax.hist(groups, bins=bins, stacked=True, color=[PASSED, BLUE],
            label=["no timeout", "a check timed out"], edgecolor="white")
    ax.set_xlabel("seconds to grade the submission")
    ax.set_ylabel("submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, frameon=False)
    _tidy(ax)
    return fig


def _tidy(ax):
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _short(text, n):
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 1].rstrip() + "…"


def _exercise_table(s, n):
    rows = []
    for ex in s["exercises"]:
        top = s["mistakes"].get(ex["exercise"])
        mistake = ""
        if top:
            text, count = top.most_common(1)[0]
            mistake = f"{pages.esc(_short(text, 90))} ({count})"
        mean = statistics.fmean(ex["points"]) if ex["points"] else 0.0
        rows.append(f'<tr><td>{pages.esc(ex["exercise"])}</td><td>{pages.esc(ex["notebook"])}</td>'
                    f'<td class="num">{ex["max_score"]:g}</td>'
                    f'<td class="num">{100 * len(ex["passed"]) / max(n, 1):.0f} %</td>'
                    f'<td class="num">{mean:.2f}</td><td class="num">{len(ex["absent"])}</td>'
                    f'<td>{mistake}</td></tr>')
    return ('<table class="exercises"><thead><tr><th>exercise</th><th>notebook</th>'
            '<th class="num">points</th><th class="num">passed</th><th class="num">mean points</th>'
            '<th class="num">not attempted</th><th>most common mistake (students)</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _mistake_table(s, feedback):
    rows = []
    for ex in s["exercises"]:
        counter = s["mistakes"].get(ex["exercise"])
        if not counter:
            continue
        for mistake, count in counter.most_common():
            students = s["examples"][(ex["exercise"], mistake)]
            shown = ", ".join(_student_link(st, feedback) for st in students[:EXAMPLES])
            more = f" and {len(students) - EXAMPLES} more" if len(students) > EXAMPLES else ""
            rows.append(f'<tr><td>{pages.esc(ex["exercise"])}</td><td>{pages.esc(mistake)}</td>'
                        f'<td class="num">{count}</td><td>{shown}{more}</td></tr>')
    return ('<table class="mistakes"><thead><tr><th>exercise</th><th>mistake</th>'
            '<th class="num">students</th><th>for example</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _trouble_table(s, feedback):
    rows = []
    for t in s["troubles"]:
        how = ", ".join(f"{'timed out' if h == 'timeout' else 'crashed'} ({t['counts'][h]} checks)"
                        for h in t["how"])
        rows.append(f'<tr><td>{_student_link(t["student"], feedback)}</td>'
                    f'<td>{pages.esc(t["exercise"])}{" (hidden checks)" if t["checks"] == "hidden" else ""}</td>'
                    f'<td>{pages.esc(how)}</td><td class="small">{pages.esc(_short(t["message"] or "", 200))}</td></tr>')
    return ('<table class="troubles"><thead><tr><th>student</th><th>exercise</th><th>how</th>'
            f'<th>first message</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _hidden_table(s, feedback):
    """The failed hidden checks, for the instructor only: the learners' feedback pages say
    that a hidden check failed and its named mistake, never its inputs or its values."""
    lines = []
    for h in sorted(s["hidden"], key=lambda h: (h["exercise"], h["student"])):
        f = h["failure"]
        public_all = h["public"][0] == h["public"][1]
        lines.append(f'<tr><td>{pages.esc(h["exercise"])}</td>'
                     f'<td>{_student_link(h["student"], feedback)}</td>'
                     f'<td class="num{"" if public_all else " bad"}">{h["public"][0]} / {h["public"][1]}</td>'
                     f'<td class="num bad">{h["hidden"][0]} / {h["hidden"][1]}</td>'
                     f'<td>{pages.esc(f.get("label"))}</td>'
                     f'<td class="small">{pages.esc(_short(f.get("message") or "", 240))}</td>'
                     f'<td>{pages.esc(named_mistake(f))}</td></tr>')
    only_hidden = sum(h["public"][0] == h["public"][1] for h in s["hidden"])
    return (f'<p>{len(s["hidden"])} exercise submission(s) failed hidden checks; {only_hidden} of '
            f'them passed every public check (what the notebook runs). The learners\' feedback '
            f'pages say that a hidden check failed and name the mistake, but show neither the '
            f'inputs nor the values below.</p>'
            '<table class="hidden"><thead><tr><th>exercise</th><th>student</th>'
            '<th class="num">public passed</th><th class="num">hidden passed</th>'
            '<th>first failing hidden check</th><th>what it found</th><th>mistake</th></tr>'
            f'</thead><tbody>{"".join(lines)}</tbody></table>')


def _student_table(rows, s, feedback):
    lines = []
    for student in sorted(rows):
        result = rows[student]
        entries = exercise_tests(result)
        passed = sum(_status(e) == "passed" for e in entries)
        notes = (result.get("extra_data") or {}).get("notes") or []
        lines.append(f'<tr><td>{_student_link(student, feedback)}</td>'
                     f'<td class="num">{result["score"]:g}</td>'
                     f'<td class="num">{passed} / {len(entries)}</td>'
                     f'<td class="num">{s["times"][student]:.2f}</td>'
                     f'<td class="small">{pages.esc(_short("; ".join(notes), 160))}</td></tr>')
    return ('<table class="students"><thead><tr><th>student</th><th class="num">points</th>'
            '<th class="num">exercises passed</th><th class="num">seconds</th><th>notes</th>'
            f'</tr></thead><tbody>{"".join(lines)}</tbody></table>')
