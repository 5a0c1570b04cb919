"""Near-identical exercise code, pair by pair: ``OUT/similarity.html`` and ``similarity.json``.

For each exercise, the function each student submitted (with the helpers it calls, as
``results.json`` holds them) is normalized: its syntax tree, written out as a sequence of
tokens with every name the student chose (variables, arguments, helpers) as ``V`` and every
number and string as ``NUM`` / ``STR``; docstrings, comments, layout and type hints are gone,
Python's builtins, attribute names (``.sum``, ``.T``) and keyword names (``axis=``) stay.
The tokens are fingerprinted by winnowing (Schleimer, Wilkerson & Aiken, SIGMOD 2003) with
copydetect's implementation (``copydetect.utils``: ``winnow``, and ``compare_files`` for the
overlap of two fingerprints), over k-grams of tokens hashed with BLAKE2 (copydetect hashes
text with Python's ``hash``, which changes from run to run: scores would too).

Common ground is not evidence: the fingerprints of the course's reference implementation,
of the student notebooks' stubs, of the solution notebooks (``--solutions``) and of any
passage that more than half of the submissions share are removed before comparing.  A pair
is flagged when both its members have at least ``MIN_TOKENS`` tokens of their own left and
at least ``threshold`` of each one's own code is found in the other.

It flags, it never accuses: similar code has innocent explanations (allowed collaboration,
one natural solution to a short exercise, the same tutorial), and a person decides.
"""

import ast
import builtins
from dataclasses import dataclass, field
import hashlib
import json
from pathlib import Path
import sys

import numpy as np

from . import pages
from .results import atomic_write, exercise_tests
from .sources import full_text

K = 8                 # tokens in a k-gram (about one statement)
WINDOW = 4            # winnowing window: any match of K + WINDOW - 1 tokens is found
THRESHOLD = 0.9       # share of each one's own code found in the other
MIN_TOKENS = 30       # of a submission's own code (beyond the common ground) to compare it
COMMON_SHARE = 0.5    # a fingerprint in more than this share of the submissions is common
MAX_SHOWN = 200       # side-by-side views in the page (all pairs are in the table and JSON)

_BUILTINS = frozenset(dir(builtins))

DISCLAIMER = (
    "These pairs are flags for a person to look at, not findings of misconduct. Code that "
    "looks alike has innocent explanations: collaboration the course allows, a short "
    "exercise with one natural solution, the same tutorial or textbook. The course's "
    "reference implementation, the notebooks' stubs and code that more than half of the "
    "class shares are left out as common ground; what remains is compared after names "
    "and numbers are abstracted, so renaming variables does not hide a match, and a match "
    "does not mean the code was copied.")


# ---------------------------------------------------------------- normalizing

def tokens(source):
    """The normalized tokens of Python ``source`` with the line (1-based) of each:
    ``[(token, line)]``.  Raises SyntaxError for source that does not parse."""
    out = []

    def visit(node, line):
        line = getattr(node, "lineno", line)
        if isinstance(node, (ast.expr_context, ast.type_ignore)):
            return
        if isinstance(node, ast.Name):
            out.append((node.id if node.id in _BUILTINS else "V", line))
            return
        if isinstance(node, ast.Constant):
            v = node.value
            out.append((repr(v) if v is None or v is Ellipsis or isinstance(v, bool) else
                        "STR" if isinstance(v, (str, bytes)) else "NUM", line))
            return
        if isinstance(node, ast.arg):
            out.append(("V", line))  # its annotation is not code
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            return  # a docstring, or a string used as a comment
        out.append((type(node).__name__, line))
        if isinstance(node, ast.Attribute):
            out.append(("." + node.attr, line))
        elif isinstance(node, ast.keyword):
            out.append((f"{node.arg}=", line))
        elif isinstance(node, ast.alias):
            out.append((node.name, line))
        for name, value in ast.iter_fields(node):
            if name in ("returns", "annotation", "type_comment"):
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    visit(child, line)

    for stmt in ast.parse(source).body:
        visit(stmt, 1)
    return out


def _hash(kgram):
    """A stable 52-bit hash of a k-gram (copydetect's winnow compares hashes as float64)."""
    digest = hashlib.blake2b("\x1f".join(kgram).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 12


def kgram_hashes(toks, k=K):
    names = [t for t, _ in toks]
    return np.array([_hash(names[i:i + k]) for i in range(len(names) - k + 1)], dtype=np.int64)


@dataclass
class Fingerprint:
    """What copydetect's ``compare_files`` reads of a document (``CodeFingerprint``'s
    attributes), for a sequence of tokens in place of a file."""

    filtered_code: list            # the tokens
    lines: list                    # the line of each token
    hashes: set
    hash_idx: dict                 # hash -> [index of its k-gram]
    k: int = K
    offsets: np.ndarray = field(default_factory=lambda: np.array([]))
    token_coverage: float = 0.0    # tokens covered by the fingerprints kept


def winnowed(toks, k=K, window=WINDOW):
    """{hash: [k-gram index]} of the fingerprints that winnowing selects."""
    from copydetect.utils import winnow

    hashes = kgram_hashes(toks, k)
    if not len(hashes):
        return {}
    selected, idx = winnow(hashes, window, remove_duplicates=False)
    found = {}
    for h, i in zip(selected.tolist(), idx.tolist()):
        found.setdefault(h, []).append(i)
    return found


def fingerprint(toks, common=frozenset(), k=K, window=WINDOW):
    """The ``Fingerprint`` of ``toks`` without the hashes of ``common``."""
    from copydetect.utils import get_token_coverage

    kept = {h: i for h, i in winnowed(toks, k, window).items() if h not in common}
    return Fingerprint([t for t, _ in toks], [ln for _, ln in toks], set(kept), kept, k,
                       token_coverage=float(get_token_coverage(kept, k, len(toks))))


def compare(a, b):
    """(score, share of a found in b, share of b found in a, lines of a, lines of b): the
    score is the smaller share; the lines are those of the shared passages."""
    from copydetect.detector import compare_files

    if not a.hashes or not b.hashes or not a.hashes & b.hashes:
        return 0.0, 0.0, 0.0, [], []
    _, (share_a, share_b), (slices_a, slices_b) = compare_files(a, b)
    share_a, share_b = min(float(share_a), 1.0), min(float(share_b), 1.0)
    return (min(share_a, share_b), share_a, share_b, _lines(a, slices_a), _lines(b, slices_b))


def _lines(fp, slices):
    found = set()
    for start, end in zip(*slices):
        found.update(fp.lines[int(start):int(end)])
    return sorted(found)


# ---------------------------------------------------------------- common ground

def common_ground(names, solutions=None):
    """{exercise: set of hashes}: the fingerprints of the course's reference implementation,
    of the stubs of the student notebooks that ship with bpcourse and of the solution
    notebooks in ``solutions`` (a folder), for each exercise of ``names``."""
    import inspect

    from ..checks.registry import EXERCISES, reference_functions
    from .sources import exercise_source
    from .submission import read

    texts = {name: [] for name in names}
    reference = reference_functions()
    for name in names:
        if name in reference:
            try:
                texts[name].append(inspect.getsource(reference[name]))
            except (OSError, TypeError):
                pass
    folders = [Path(__file__).resolve().parent.parent / "notebooks"]
    if solutions:
        folders.append(Path(solutions))
    for folder in folders:
        if not folder.is_dir():
            continue
        sub = read(folder, set(EXERCISES), {n: set(ex.uses) for n, ex in EXERCISES.items()})
        for name in names:
            source = exercise_source(sub, name)
            if source is not None:
                texts[name].append(full_text(source))
    ground = {}
    for name, sources in texts.items():
        hashes = set()
        for text in sources:
            try:
                hashes |= set(winnowed(tokens(text)))
            except SyntaxError:
                pass
        ground[name] = hashes
    return ground


# ---------------------------------------------------------------- the report

def similarity_report(rows, solutions=None, threshold=THRESHOLD, min_tokens=MIN_TOKENS,
                      common_share=COMMON_SHARE):
    """The flagged pairs of ``rows`` ({student: results dict}): a dict with ``pairs`` (a
    list of {exercise, a, b, score, share_a, share_b, lines_a, lines_b}, highest score
    first), ``compared`` ({exercise: students compared}), ``skipped`` ({exercise: [(student,
    why)]}), ``sources`` ({(exercise, student): source entry}) and the settings."""
    by_exercise = {}
    for student, result in sorted(rows.items()):
        for entry in exercise_tests(result):
            test = entry["public"] or {}
            source = (test.get("extra_data") or {}).get("source")
            if source and (test.get("extra_data") or {}).get("status") != "not_implemented":
                by_exercise.setdefault(entry["exercise"], {})[student] = source
    ground = common_ground(list(by_exercise), solutions)
    pairs, compared, skipped, sources = [], {}, {}, {}
    for name, students in by_exercise.items():
        toks = {}
        for student, source in students.items():
            try:
                toks[student] = tokens(full_text(source))
            except SyntaxError as e:
                skipped.setdefault(name, []).append((student, f"does not parse: {e.msg}"))
        # passages most of the class shares are common ground too (as MOSS's -m)
        seen = {}
        for student, t in toks.items():
            for h in winnowed(t):
                seen[h] = seen.get(h, 0) + 1
        common = set(ground.get(name, ()))
        if len(toks) >= 4:
            common |= {h for h, n in seen.items() if n > common_share * len(toks)}
        fps = {}
        for student, t in toks.items():
            fp = fingerprint(t, common)
            if fp.token_coverage >= min_tokens:
                fps[student] = fp
            else:
                skipped.setdefault(name, []).append(
                    (student, f"{fp.token_coverage:.0f} tokens of its own beyond the common "
                              f"ground (fewer than {min_tokens}): not compared"))
        compared[name] = len(fps)
        # only pairs that share enough fingerprints can reach the threshold (a shared
        # fingerprint covers at most K tokens of the overlap): find them by an index of the
        # fingerprints, then measure them
        index = {}
        for student, fp in fps.items():
            for h in fp.hashes:
                index.setdefault(h, []).append(student)
        shared = {}
        for h, who in index.items():
            for i, a in enumerate(who):
                for b in who[i + 1:]:
                    key = (a, b) if a < b else (b, a)
                    got = shared.setdefault(key, [0, 0])
                    got[0] += len(fps[key[0]].hash_idx[h])
                    got[1] += len(fps[key[1]].hash_idx[h])
        for (a, b), (n_a, n_b) in sorted(shared.items()):
            if K * n_a < threshold * fps[a].token_coverage or \
                    K * n_b < threshold * fps[b].token_coverage:
                continue
            score, share_a, share_b, lines_a, lines_b = compare(fps[a], fps[b])
            if score >= threshold:
                pairs.append({"exercise": name, "a": a, "b": b, "score": round(score, 3),
                              "share_a": round(share_a, 3), "share_b": round(share_b, 3),
                              "lines_a": lines_a, "lines_b": lines_b})
                sources[(name, a)] = students[a]
                sources[(name, b)] = students[b]
    order = {name: i for i, name in enumerate(by_exercise)}
    pairs.sort(key=lambda p: (-p["score"], order[p["exercise"]], p["a"], p["b"]))
    return {"pairs": pairs, "compared": compared, "skipped": skipped, "sources": sources,
            "settings": {"threshold": threshold, "min_tokens": min_tokens, "k": K,
                         "window": WINDOW, "common_share": common_share,
                         "solutions": str(solutions) if solutions else None}}


def write(out_dir, found):
    """``OUT/similarity.html`` and ``OUT/similarity.json``."""
    out_dir = Path(out_dir)
    data = {key: found[key] for key in ("pairs", "compared", "settings")}
    data["skipped"] = {k: [list(s) for s in v] for k, v in found["skipped"].items()}
    data["note"] = DISCLAIMER
    atomic_write(out_dir / "similarity.json", json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    atomic_write(out_dir / "similarity.html", similarity_html(found))


def similarity_html(found):
    pairs, settings = found["pairs"], found["settings"]
    body = ["<h1>Similarity report</h1>",
            f'<div class="box note"><strong>Flags, not accusations.</strong> {pages.esc(DISCLAIMER)}</div>',
            f'<p>{len(pairs)} pair(s) flagged: at least {100 * settings["threshold"]:.0f} % of each '
            f"one's own code (beyond the common ground, names and numbers abstracted) is in "
            f"the other; submissions with fewer than {settings['min_tokens']} tokens of their "
            f"own are not compared.</p>"]
    repeat = {}
    for p in pairs:
        repeat.setdefault((p["a"], p["b"]), []).append(p["exercise"])
    several = sorted(((len(v), k, v) for k, v in repeat.items() if len(v) > 1), key=lambda t: (-t[0], t[1]))
    if several:
        body.append("<h2>Pairs flagged in more than one exercise</h2>")
        body.append('<table class="repeat"><thead><tr><th>students</th><th class="num">exercises</th>'
                    "<th>which</th></tr></thead><tbody>" + "".join(
                        f"<tr><td>{pages.esc(a)} · {pages.esc(b)}</td><td class=\"num\">{n}</td>"
                        f"<td>{pages.esc(', '.join(ex))}</td></tr>" for n, (a, b), ex in several)
                    + "</tbody></table>")
    body.append("<h2>Flagged pairs</h2>")
    if pairs:
        body.append('<table class="pairs"><thead><tr><th>exercise</th><th>students</th>'
                    '<th class="num">score</th><th class="num">of the first in the second</th>'
                    '<th class="num">of the second in the first</th></tr></thead><tbody>' + "".join(
                        f'<tr><td>{pages.esc(p["exercise"])}</td><td><a href="#pair-{i}">'
                        f'{pages.esc(p["a"])} · {pages.esc(p["b"])}</a></td>'
                        f'<td class="num">{p["score"]:.2f}</td><td class="num">{p["share_a"]:.2f}</td>'
                        f'<td class="num">{p["share_b"]:.2f}</td></tr>'
                        for i, p in enumerate(pairs)) + "</tbody></table>")
    else:
        body.append("<p>No pair of submissions reached the threshold.</p>")
    compared = found["compared"]
    body.append('<p class="small muted">Submissions compared per exercise (those with at least '
                f'{settings["min_tokens"]} tokens of their own beyond the common ground): '
                + pages.esc(", ".join(f"{k} {v}" for k, v in compared.items())) + ".</p>")
    for i, p in enumerate(pairs[:MAX_SHOWN]):
        body.append(_side_by_side(i, p, found["sources"]))
    if len(pairs) > MAX_SHOWN:
        body.append(f"<p>The first {MAX_SHOWN} pairs are shown side by side; similarity.json "
                    f"lists all {len(pairs)}.</p>")
    return pages.page("Similarity report", "\n".join(body), pages.code_css())


def _side_by_side(i, p, sources):
    columns = []
    for who, lines in ((p["a"], p["lines_a"]), (p["b"], p["lines_b"])):
        source = sources[(p["exercise"], who)]
        text = full_text(source)
        columns.append(f'<div><p><strong>{pages.esc(who)}</strong> <span class="small muted">'
                       f'{pages.esc(source.get("where"))}</span></p>'
                       + pages.code_html(text, 1, lines) + "</div>")
    return (f'<section class="pair" id="pair-{i}"><h3>{pages.esc(p["exercise"])}: '
            f'{pages.esc(p["a"])} and {pages.esc(p["b"])} (score {p["score"]:.2f})</h3>'
            f'<p class="small muted">Highlighted: the lines of the passages the two share '
            f'(after abstraction).</p><div class="side">{"".join(columns)}</div></section>')


# ---------------------------------------------------------------- the command

def add_parser(subparsers):
    p = subparsers.add_parser(
        "similarity", help="flag pairs of near-identical exercise code in a results folder",
        description="Per exercise, pairs of submissions whose code, names and numbers "
                    "abstracted, is near-identical beyond the common ground (the reference, the "
                    "stubs, the solutions, code most of the class shares). Writes "
                    "OUT/similarity.html (side by side) and OUT/similarity.json. It flags, it "
                    "does not accuse: a person looks at each pair.")
    p.add_argument("out", metavar="OUT", help="the results folder of `bpcourse grade`")
    p.add_argument("--solutions", metavar="DIR",
                   help="solution notebooks whose code is common ground too")
    p.add_argument("--threshold", type=float, default=THRESHOLD,
                   help=f"share of each one's own code found in the other (default {THRESHOLD})")
    p.set_defaults(run=_run)


def _run(args):
    from .reports import load_results

    if not 0 < args.threshold <= 1:
        print("bpcourse similarity: --threshold must be in (0, 1]", file=sys.stderr)
        return 2
    rows = load_results(args.out)
    if not rows:
        print(f"bpcourse similarity: no <student>/results.json in {args.out}", file=sys.stderr)
        return 2
    found = similarity_report(rows, solutions=args.solutions, threshold=args.threshold)
    write(args.out, found)
    print(f"{len(found['pairs'])} pair(s) flagged in {args.out}/similarity.html "
          f"(and similarity.json): flags for a person to look at, not findings.")
    for p in found["pairs"][:20]:
        print(f"  {p['exercise']:<26} {p['a']} · {p['b']}  {p['score']:.2f}")
    return 0
