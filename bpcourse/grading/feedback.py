"""``OUT/<student>/feedback.html``: one student's feedback, a page that stands alone.

Built from the student's ``results.json`` (nothing else): the score; per exercise its points,
its verdict, the first failing check (its label, and the message that says what was
expected and what came back), the named mistake with its hint, the grader's note, the
hidden checks' outcome (how many passed and the named mistake, never their inputs:
the label, the message with its expected values), and the student's own function (with the helpers it calls) as the
grader read it, highlighted by Pygments.
"""

from pathlib import Path

from . import pages
from .results import FAILED_HOW, atomic_write, exercise_tests, named_mistake
from .results import exercise_status as _status

_VERDICT = {"passed": ("ok", "✓ passed"), "failed": ("bad", "✗ failed"),
            "missing": ("bad", "✗ not found"), "not_implemented": ("warn", "… not implemented"),
            "refused": ("bad", "✗ not graded")}


def feedback_html(result):
    """The feedback page of one results dict (Gradescope's format, as ``grade`` writes it)."""
    data = result.get("extra_data") or {}
    student = data.get("student", "student")
    entries = exercise_tests(result)
    maximum = round(sum(e["max_score"] for e in entries), 2)
    n_passed = sum(_status(e) == "passed" for e in entries)
    body = [f"<h1>Feedback for {pages.esc(student)}</h1>",
            f'<p class="score"><strong>{result["score"]:g} / {maximum:g} points</strong> · '
            f"{n_passed} of {len(entries)} exercises passed all their checks</p>"]
    notes = data.get("notes")
    if notes is None:  # results written before the notes were data: from the summary text
        notes = [line.removeprefix("Note: ") for line in result.get("output", "").splitlines()[1:]]
    if notes:
        body.append('<div class="box note"><strong>About your submission</strong><ul>'
                    + "".join(f"<li>{pages.esc(n)}</li>" for n in notes) + "</ul></div>")
    body.append(_summary_table(entries))
    body += [_section(e) for e in entries]
    body.append('<p class="muted small">Written by <code>bpcourse grade</code> from '
                'results.json. Each exercise is judged by the course\'s checks, the ones '
                '<code>check(...)</code> runs in the notebook (public) and, where the '
                'instructor added them, hidden ones (other inputs, edge cases).</p>')
    return pages.page(f"Feedback for {student}", "\n".join(body), pages.code_css())


def write_feedback(out_dir, student, result):
    """Write ``OUT/<student>/feedback.html``; returns its path."""
    path = Path(out_dir) / student / "feedback.html"
    atomic_write(path, feedback_html(result))
    return path


def _anchor(name):
    return "ex-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def _summary_table(entries):
    rows = []
    for e in entries:
        cls, verdict = _VERDICT.get(_status(e), ("bad", _status(e)))
        mistake = _mistake_text(e)
        rows.append(f'<tr><td><a href="#{_anchor(e["exercise"])}">{pages.esc(e["exercise"])}</a></td>'
                    f'<td>{pages.esc(e["notebook"])}</td>'
                    f'<td class="num">{e["score"]:g} / {e["max_score"]:g}</td>'
                    f'<td class="{cls} verdict">{verdict}</td><td>{pages.esc(mistake)}</td></tr>')
    return ('<table class="summary"><thead><tr><th>exercise</th><th>notebook</th>'
            '<th class="num">points</th><th>verdict</th><th>what to fix first</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _mistake_text(entry):
    for kind in ("public", "hidden"):
        test = entry[kind]
        failure = test and (test.get("extra_data") or {}).get("first_failure")
        if failure:
            text = named_mistake(failure)
            return f"{text} (a hidden check)" if kind == "hidden" else text
    return ""


def _section(entry):
    name, status = entry["exercise"], _status(entry)
    cls, verdict = _VERDICT.get(status, ("bad", status))
    out = [f'<section class="exercise" id="{_anchor(name)}">',
           f'<h2>{pages.esc(name)} <span class="small muted">({pages.esc(entry["notebook"])})'
           f'</span></h2>',
           f'<p><strong>{entry["score"]:g} / {entry["max_score"]:g} points</strong> · '
           f'<span class="{cls}">{verdict}</span></p>']
    public, hidden = entry["public"], entry["hidden"]
    pdata = (public or {}).get("extra_data") or {}
    if public is not None and "passed" not in pdata:
        out.append(f'<pre class="message">{pages.esc(public.get("output", ""))}</pre>')
    for kind, test in (("public", public), ("hidden", hidden)):
        data = (test or {}).get("extra_data") or {}
        if "passed" not in data:
            continue
        what = "hidden checks" if kind == "hidden" else "public checks" if hidden else "checks"
        out.append(f'<p>{data["passed"]} of {data["total"]} {what} passed'
                   + _how_failed(data.get("failed") or {}) + ".</p>")
        failure = data.get("first_failure")
        if failure and status not in ("missing", "not_implemented"):
            out.append(_failure_box(failure) if kind == "public" else _hidden_box(failure))
    note = pdata.get("note")
    if note:
        out.append(f'<div class="box note">{pages.esc(note)}</div>')
    out.append(_source_block(name, pdata.get("source"), status))
    out.append("</section>")
    return "\n".join(out)


def _how_failed(failed):
    parts = [f"{n} {FAILED_HOW.get(status, status)}" for status, n in sorted(failed.items())
             if status not in ("wrong",)]
    return f" ({'; '.join(parts)})" if parts else ""


def _failure_box(failure):
    out = [f'<div class="box bad"><strong>First failing check:</strong> {pages.esc(failure.get("label"))}',
           f'<pre class="message">{pages.esc(failure.get("message"))}</pre>']
    if failure.get("hint"):
        out.append(f'<p><strong>Likely mistake:</strong> {pages.esc(failure["hint"])}</p>')
    out.append("</div>")
    return "\n".join(out)


def _hidden_box(failure):
    """A failed hidden check as the learner may see it: that one failed, and its named
    mistake (or how it failed), never its inputs, its label or its expected values."""
    hint = failure.get("hint")
    what = (f"<p><strong>Likely mistake:</strong> {pages.esc(hint)}</p>" if hint else
            f"<p>How it failed: {pages.esc(named_mistake(failure))}.</p>")
    return ('<div class="box bad hidden-failure"><strong>A hidden check failed.</strong> '
            "Hidden checks run your function on other inputs than the notebook's (other "
            "shapes and values, edge cases); this page does not show them." + what + "</div>")


def _source_block(name, source, status):
    if not source:
        why = ("it is not in your submission" if status in ("missing", "refused")
               else "the grader could not show it")
        return f'<p class="muted">Your {pages.esc(name)}: {why}.</p>'
    blocks = [_code(name, source)]
    for helper in source.get("helpers") or []:
        blocks.append(_code(helper.get("name"), helper, f"a helper that {name} calls"))
    # the code of a passed exercise is there to look at, folded; a failed one's is open
    return (f'<details class="code"{"" if status == "passed" else " open"}><summary>Your code'
            f'</summary>{"".join(blocks)}</details>')


def _code(name, source, what=None):
    first = source.get("first_line", 1)
    return (f'<p class="small muted"><code>{pages.esc(name)}</code>'
            f'{", " + pages.esc(what) if what else ""}: {pages.esc(source.get("where"))}, '
            f'line {first}</p>' + pages.code_html(source.get("source", ""), first))
