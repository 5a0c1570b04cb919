"""Helpers the widgets share: which functions to run, figures as PNG, numbers as text."""

import html
import io
from collections.abc import Mapping
from types import SimpleNamespace

import numpy as np

#: Resolution of the widgets' figures (pixels per inch): a 10-inch figure is 900 px wide.
DPI = 90


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


def figure_png(fig):
    """The figure as PNG bytes (fast compression: redraws must be quick)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def log_axis(ax, series, min_decades=2.0, max_decades=None):
    """Log-scale y limits around the data (at least ``min_decades`` wide, at most
    ``max_decades`` from the top), with labels on the decades only."""
    from matplotlib.ticker import NullFormatter

    ax.set_yscale("log")
    values = np.concatenate([np.ravel(np.asarray(v, float)) for v in series]) if series else []
    values = values[np.isfinite(values) & (values > 0)] if len(values) else values
    if len(values):
        lo, hi = np.log10(values.min()), np.log10(values.max())
        if max_decades is not None:
            lo = max(lo, hi - max_decades)
        mid, half = (lo + hi) / 2, max((hi - lo) / 2 + 0.15, min_decades / 2)
        ax.set_ylim(10 ** (mid - half), 10 ** (mid + half))
    ax.yaxis.set_minor_formatter(NullFormatter())


def fmt(x, digits=4):
    """A number as the widgets print it: fixed point, a minus sign, no negative zero."""
    x = float(x)
    if x == 0:
        x = 0.0
    if np.isfinite(x) and x != 0 and (abs(x) >= 10 ** 5 or abs(x) < 10 ** -digits / 2):
        return f"{x:.{max(digits - 2, 1)}e}".replace("-", "−")
    return f"{x:.{digits}f}".replace("-", "−")


def matrix_html(a, digits=4):
    """A small array (scalar, vector or matrix) as an HTML table of numbers."""
    a = np.asarray(a)
    show = (lambda v: str(int(v))) if a.dtype.kind in "iub" else (lambda v: fmt(v, digits))
    if a.ndim == 0:
        return f"<span class='bp-num'>{show(a)}</span>"
    rows = a.reshape(1, -1) if a.ndim == 1 else a
    body = "".join(
        "<tr>" + "".join(f"<td>{show(v)}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table class='bp-matrix'>{body}</table>"


def shape_text(a):
    """'(2, 3)' for an array, 'scalar' for a number."""
    a = np.asarray(a)
    return "scalar" if a.ndim == 0 else "(" + ", ".join(str(s) for s in a.shape) + ")"


def esc(text):
    return html.escape(str(text), quote=True)
