"""Self-contained HTML pages for the reports: inline CSS, figures as data URIs, no script.

Every page carries a Content-Security-Policy that allows no network request, no script and
no frame: a page opened from disk loads nothing from anywhere, and text from a submission
(its code, its error messages, its file names), escaped on the way in, could not run even
if it were not.  Figures are matplotlib figures drawn at twice their displayed size (sharp
on HiDPI screens) into PNG data URIs; code is highlighted by Pygments with its CSS inline.
"""

import base64
import functools
import html
import io
from urllib.parse import quote

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'none'"
CSS_PX_PER_INCH = 100       # a figure of 7.2 × 3 inches is shown at 720 × 300 CSS pixels
PIXEL_RATIO = 2             # and drawn at 1440 × 600

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
h3 { margin-bottom: .3em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .93em; }
th, td { border: 1px solid #d6d6d6; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.verdict { white-space: nowrap; }
.ok { color: #1a7f37; } .bad { color: #b42318; } .warn { color: #9a6700; }
.muted { color: #666; } .small { font-size: .88em; }
.box { border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; margin: .8em 0; }
.box.bad { border-color: #f1b5ae; background: #fff6f5; color: inherit; }
.box.ok { border-color: #b7dfc3; background: #f4fbf6; color: inherit; }
.box.note { border-color: #e8d48b; background: #fffbea; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: .9em; color: #555; }
pre.message { white-space: pre-wrap; background: #f6f6f6; padding: .5em .7em; border-radius: 4px;
              margin: .3em 0; font-size: .9em; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.highlight { border: 1px solid #e2e2e2; border-radius: 4px; overflow-x: auto; }
.highlight pre { margin: 0; padding: .5em .7em; font-size: 14px; line-height: 1.4; }
details > summary { cursor: pointer; font-weight: 600; margin: .6em 0; }
.highlight .linenos { color: #999; user-select: none; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.side > div { min-width: 0; }
"""


def esc(text):
    """``text`` (anything) as HTML text, quotes included."""
    return html.escape("" if text is None else str(text), quote=True)


def href(*parts):
    """A relative link to ``parts`` (a student's folder, a file), each part URL-quoted."""
    return "/".join(quote(str(p), safe="") for p in parts)


def page(title, body, extra_css=""):
    """A whole HTML document around ``body`` (HTML)."""
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)}</title>\n<style>{_STYLE}{extra_css}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")


def new_figure(width, height):
    """A matplotlib ``Figure`` (no pyplot: nothing global, no GUI backend) of ``width`` ×
    ``height`` inches, laid out by matplotlib's constrained layout."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def figure_img(fig, alt):
    """``fig`` as an ``<img>``: a PNG data URI at PIXEL_RATIO × its displayed size."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=CSS_PX_PER_INCH * PIXEL_RATIO,
                metadata={"Software": None})
    width, height = (round(x * CSS_PX_PER_INCH) for x in fig.get_size_inches())
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" width="{width}" height="{height}" '
            f'alt="{esc(alt)}">')



def code_css():
    """Pygments' CSS for the ``.highlight`` blocks that ``code_html`` writes."""
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style="default").get_style_defs(".highlight")


def code_html(source, first_line=1, marked=()):
    """``source`` (Python) highlighted by Pygments, numbered from ``first_line``; the lines of
    ``marked`` (numbered like the display) get a highlighted background."""
    marked = set(marked)
    lines = []
    highlighted = _highlighted_lines(source)
    width = len(str(first_line + len(highlighted) - 1))   # numbers right-aligned: the code
    for n, line in enumerate(highlighted, start=first_line):  # starts in one column
        number = f'<span class="linenos">{n:>{width}} </span>'
        lines.append(f'<span class="hll">{number}{line}\n</span>' if n in marked
                     else f"{number}{line}\n")
    return f'<div class="highlight"><pre>{"".join(lines)}</pre></div>\n'


@functools.lru_cache(maxsize=4096)
def _highlighted_lines(source):
    """Pygments' HTML of ``source``, a string per line (its spans closed at each line's end).
    Cached: in a class, many students' short functions are the same text."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    text = highlight(source, PythonLexer(stripnl=False, ensurenl=True), _formatter())
    return tuple(text.split("\n")[:-1])


@functools.lru_cache(maxsize=1)
def _formatter():
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style="default", nowrap=True)
