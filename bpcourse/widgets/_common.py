"""Helpers the widgets share: which functions to run, figures as PNG, numbers as text."""

import html
import io
from collections.abc import Mapping
from types import SimpleNamespace

import numpy as np

#: Display size of the widgets' figures (CSS pixels per inch): a 10-inch figure shows 900 px wide.
DPI = 90
#: Pixel density of their PNGs: rendered at 2 × DPI, shown at 1 × (sharp on HiDPI screens).
PIXEL_RATIO = 2


def pick_functions(functions, names):
    """The functions to run, by name: the learner's where ``functions`` has them, else the reference.

    ``functions`` is None, a mapping (e.g. ``{"dense_backward": dense_backward}``) or an
    object with attributes (e.g. the namespace ``your_functions()`` returns).  Returns
    ``(namespace, yours)`` with ``yours`` the names that are not bpcourse's reference.
    """
    from ..checks.registry import reference_functions

    reference = reference_functions()
    chosen, yours = {}, []
    for name in names:
        if functions is None:
            fn = None
        elif isinstance(functions, Mapping):
            fn = functions.get(name)
        else:
            fn = getattr(functions, name, None)
        if fn is None:
            fn = reference[name]
        elif not callable(fn):
            raise TypeError(f"functions[{name!r}] must be a function, got {type(fn).__name__}")
        chosen[name] = fn
        if fn is not reference[name]:
            yours.append(name)
    return SimpleNamespace(**chosen), yours


def reference(name):
    """bpcourse's reference implementation of exercise ``name``."""
    from ..checks.registry import reference_functions

    return reference_functions()[name]


def sources_html(names, yours):
    """One line saying which functions are the learner's and which are the reference."""
    mine = [n for n in names if n in yours]
    ref = [n for n in names if n not in yours]
    parts = []
    if mine:
        parts.append("<b>yours</b>: " + ", ".join(f"<code>{n}</code>" for n in mine))
    if ref:
        parts.append("reference: " + ", ".join(f"<code>{n}</code>" for n in ref))
    return f"<div style='font-size:11px;color:#555'>Functions — {' · '.join(parts)}</div>"


def new_figure(figsize):
    """A matplotlib Figure on the Agg canvas, outside pyplot: nothing is shown by itself."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def figure_image(fig):
    """An ``Image`` widget for ``fig``'s PNGs: ``PIXEL_RATIO`` times the pixels, shown at the
    figure's 1× size (``width`` in CSS pixels) and never wider than the notebook."""
    import ipywidgets as widgets

    return widgets.Image(format="png", width=str(round(fig.get_figwidth() * DPI)),
                         layout=widgets.Layout(max_width="100%", height="auto"))


def figure_png(fig):
    """The figure as PNG bytes at ``PIXEL_RATIO`` × ``DPI`` (fast compression: redraws must
    be quick)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI * PIXEL_RATIO, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def log_axis(ax, series, min_decades=2.0, max_decades=None):
    """Log-scale y limits around the data: ``bpcourse.plots.log_yaxis``."""
    from ..plots import log_yaxis

    return log_yaxis(ax, series, min_decades, max_decades)


def lr_values(lo=1e-4, hi=10.0):
    """Every learning rate with two significant digits from ``lo`` to ``hi``: 0.0001, 0.00011,
    …, 0.0099, 0.01, 0.011, …, 9.9, 10 (90 a decade), as the floats their decimals parse to."""
    values = []
    for e in range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1):
        values += [float(f"{m}e{e}") for m in range(10, 100)]
    return [v for v in values if lo <= v <= hi]


def lr_slider(value, description, lo=1e-4, hi=10.0, **kwargs):
    """A log-spaced learning-rate slider over ``lr_values(lo, hi)`` (plus ``value`` if it is
    not one of them): one arrow key press moves to the next two-digit value."""
    import ipywidgets as widgets

    values = lr_values(lo, hi)
    if float(value) not in values:
        values = sorted(values + [float(value)])
    return widgets.SelectionSlider(options=[(f"{v:g}", v) for v in values], value=float(value),
                                   description=description, continuous_update=False, **kwargs)


def fmt(x, digits=4):
    """A number as the widgets print it: fixed point, a minus sign, no negative zero."""
    x = float(x)
    if x == 0:
        x = 0.0
    if np.isfinite(x) and x != 0 and (abs(x) >= 10 ** 5 or abs(x) < 10 ** -digits / 2):
        return f"{x:.{max(digits - 2, 1)}e}".replace("-", "−")
    return f"{x:.{digits}f}".replace("-", "−")


def matrix_html(a, digits=4, marked=None):
    """A small array (scalar, vector or matrix) as an HTML table of numbers; entries where the
    boolean array ``marked`` (same shape) is True get the class ``bp-diff``."""
    a = np.asarray(a)
    show = (lambda v: str(int(v))) if a.dtype.kind in "iub" else (lambda v: fmt(v, digits))
    marks = np.zeros(a.shape, bool) if marked is None else np.broadcast_to(marked, a.shape)
    if a.ndim == 0:
        cls = "bp-num bp-diff" if marks else "bp-num"
        return f"<span class='{cls}'>{show(a)}</span>"
    rows = a.reshape(1, -1) if a.ndim == 1 else a
    row_marks = marks.reshape(rows.shape)
    body = "".join(
        "<tr>" + "".join(f"<td class='bp-diff'>{show(v)}</td>" if m else f"<td>{show(v)}</td>"
                         for v, m in zip(row, mrow)) + "</tr>"
        for row, mrow in zip(rows, row_marks)
    )
    return f"<table class='bp-matrix'>{body}</table>"


def shape_text(a):
    """'(2, 3)' for an array, 'scalar' for a number."""
    a = np.asarray(a)
    return "scalar" if a.ndim == 0 else "(" + ", ".join(str(s) for s in a.shape) + ")"


def esc(text):
    return html.escape(str(text), quote=True)
