"""Plots the notebooks share: decision boundaries, loss surfaces with optimizer paths,
quantities per layer, activation histograms, digit images.  Each returns its figure."""

import numpy as np


def _axes(ax, figsize=(5, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


def plot_decision_boundary(predict, X, y, ax=None, resolution=200, title=None, margin=0.5):
    """Colour the plane by ``predict`` (a function (K, 2) -> labels (K,)) and scatter (X, y)."""
    fig, ax = _axes(ax)
    x0 = np.linspace(X[:, 0].min() - margin, X[:, 0].max() + margin, resolution)
    x1 = np.linspace(X[:, 1].min() - margin, X[:, 1].max() + margin, resolution)
    g0, g1 = np.meshgrid(x0, x1)
    grid = np.column_stack([g0.ravel(), g1.ravel()]).astype(X.dtype)
    from matplotlib.colors import ListedColormap
    import matplotlib.pyplot as plt

    labels = np.asarray(predict(grid)).reshape(g0.shape)
    K = int(max(labels.max(), y.max())) + 1
    # Pastel1 and Set1 list the same hues in the same order: class k is one hue in both.
    regions = ListedColormap(plt.cm.Pastel1.colors[:K])
    points = ListedColormap(plt.cm.Set1.colors[:K])
    ax.contourf(g0, g1, labels, levels=np.arange(K + 1) - 0.5, cmap=regions, vmin=-0.5,
                vmax=K - 0.5)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=points, vmin=-0.5, vmax=K - 0.5, s=12,
               edgecolors="k", linewidths=0.3)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return fig


def plot_trajectories(f, paths, ax=None, xlim=(-2, 2), ylim=(-2, 2), levels=30, title=None,
                      log_levels=True):
    """Contours of a 2-D function ``f(x, y)`` (vectorized) with optimizer ``paths``,
    a dict name -> array (T, 2) of visited points.

    A path is drawn inside the plotted region only: when it ends outside, an arrow marks where
    it leaves ("diverged" when its last point is non-finite or beyond 10⁶).  The legend goes where it
    covers the fewest path points."""
    fig, ax = _axes(ax, (6, 5))
    gx, gy = np.meshgrid(np.linspace(*xlim, 300), np.linspace(*ylim, 300))
    fz = f(gx, gy)
    if log_levels:
        fz = np.log1p(fz - fz.min())
    ax.contour(gx, gy, fz, levels=levels, cmap="viridis", linewidths=0.6)
    names = list(paths)
    draw_paths(ax, paths, xlim, ylim, colors={n: f"C{i}" for i, n in enumerate(names)},
               labels={n: n for n in names},
               diverged={n: not np.all(np.abs(np.asarray(p)[-1]) < DIVERGED) for n, p in paths.items()})
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title)
    return fig


#: A coordinate beyond this counts as diverged (the optimizer explorer stops the run there).
DIVERGED = 1e6


def clip_path(path, xlim, ylim):
    """The part of a path (T, 2) inside the box ``xlim`` × ``ylim``, for drawing.

    Returns ``(xy, exit)``: ``xy`` (K, 2) holds the points inside, runs separated by NaN rows;
    a step that leaves the box ends on its border, a step that comes back starts on it, and
    a step from outside to outside is left out (it would cross the plot as a long line).
    ``exit`` is ``(step, point)`` when the path ends outside: the step from which on it stays
    outside and where it crosses the border then; None when it ends inside.
    """
    path = np.asarray(path, dtype=float)
    (x0, x1), (y0, y1) = xlim, ylim

    def inside(p):
        return bool(np.all(np.isfinite(p)) and x0 <= p[0] <= x1 and y0 <= p[1] <= y1)

    def border(p_in, p_out):
        """Where the segment from p_in (inside) towards p_out first meets the border."""
        with np.errstate(all="ignore"):
            d = p_out - p_in
            ts = [1.0]
            for k, (lo, hi) in enumerate((xlim, ylim)):
                if d[k] > 0:
                    ts.append((hi - p_in[k]) / d[k])
                elif d[k] < 0:
                    ts.append((lo - p_in[k]) / d[k])
            t = min(t for t in ts if np.isfinite(t))
            point = p_in + t * d if np.all(np.isfinite(d)) else p_in
        return np.clip(point, [x0, y0], [x1, y1])

    gap = np.array([np.nan, np.nan])
    out, exit_ = [], None
    for i, p in enumerate(path):
        now = inside(p)
        before = i > 0 and inside(path[i - 1])
        if now:
            if i > 0 and not before:
                out += [gap, border(p, path[i - 1])]
            out.append(p)
        elif before:
            crossing = border(path[i - 1], p)
            out.append(crossing)
            exit_ = (i, crossing)
    if len(path) and inside(path[-1]):
        exit_ = None
    elif exit_ is None and len(path):      # it starts outside and never comes in
        exit_ = (0, np.clip(path[0], [x0, y0], [x1, y1]))
    xy = np.array(out).reshape(-1, 2)
    return xy, exit_


def draw_paths(ax, paths, xlim, ylim, colors, labels, diverged):
    """Draw optimizer paths (name -> (T, 2)) clipped to the plotted region: each path inside the
    region only, its end point when it ends inside, and — when it ends outside — an arrow to
    where it leaves for good, labelled "diverged at step T" (``diverged[name]``) or "leaves
    the plot at step k".  ``colors`` and ``labels`` map names to line colours and legend
    labels.  Returns the artists drawn (the lines carry the labels)."""
    artists, marks = [], []
    span = np.array([xlim[1] - xlim[0], ylim[1] - ylim[0]], dtype=float)
    centre = np.array([np.mean(xlim), np.mean(ylim)])
    for name, path in paths.items():
        path, color = np.asarray(path, dtype=float), colors[name]
        xy, exit_ = clip_path(path, xlim, ylim)
        artists += ax.plot(xy[:, 0], xy[:, 1], ".-", ms=2.5, lw=1.1, color=color,
                           label=labels[name])
        if exit_ is None:
            artists += ax.plot(*path[-1], "o", ms=5, color=color)
            continue
        step, point = exit_
        text = (f"diverged at step {len(path) - 1}" if diverged[name]
                else f"leaves the plot at step {step}")
        # the label sits inside, towards the centre; labels of nearby exits are stacked
        inward = (centre - point) / span
        norm = np.hypot(*inward)
        offset = 38 * inward / norm if norm > 0 else np.array([0.0, -38.0])
        near = sum(np.hypot(*((point - p) / span)) < 0.25 for p in marks)
        offset = offset + np.array([0.0, -15.0 * near if point[1] > centre[1] else 15.0 * near])
        marks.append(point)
        artists.append(ax.annotate(
            text, xy=point, xytext=tuple(offset), textcoords="offset points",
            ha="center", va="center", fontsize=8, color=color,
            bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=color, lw=0.8, alpha=0.9),
            arrowprops=dict(arrowstyle="-|>", color=color, lw=1.2, shrinkA=0, shrinkB=0),
            annotation_clip=False))
    return artists


def log_yaxis(ax, series, min_decades=2.0, max_decades=None, minor_labels=False):
    """A log y axis with limits around the positive finite values of ``series`` (at least
    ``min_decades`` wide, at most ``max_decades`` below the top) and labels on the decades
    (with ``minor_labels``, on some minor ticks too when the axis spans two decades or less).

    Zeros, negative and non-finite values are left out (not drawn); when no value is positive
    and finite the axis stays linear.  Returns True when the axis is logarithmic."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    values = [np.ravel(np.asarray(v, dtype=float)) for v in series if len(np.ravel(v))]
    values = np.concatenate(values) if values else np.array([])
    values = values[np.isfinite(values) & (values > 0)]
    if not len(values):
        return False
    ax.set_yscale("log", nonpositive="mask")
    lo, hi = np.log10(values.min()), np.log10(values.max())
    if max_decades is not None:
        lo = max(lo, hi - max_decades)
    mid, half = (lo + hi) / 2, max((hi - lo) / 2 + 0.15, min_decades / 2)
    ax.set_ylim(10 ** (mid - half), 10 ** (mid + half))
    if minor_labels and 2 * half < 2.1:   # a decade or two: plain 0.1, 0.2, 0.5, 1, 2, 5 …
        ax.yaxis.set_major_formatter(FuncFormatter(_one_two_five))
        ax.yaxis.set_minor_formatter(FuncFormatter(_one_two_five))
    else:
        ax.yaxis.set_minor_formatter(NullFormatter())
    return True


def _one_two_five(value, _):
    """A log-axis label for 1, 2 and 5 times a power of ten, as a plain number."""
    if value <= 0:
        return ""
    mantissa = round(value / 10 ** np.floor(np.log10(value) + 1e-9), 6)
    return f"{value:g}" if mantissa in (1.0, 2.0, 5.0) else ""


def plot_per_layer(values, ax=None, ylabel="gradient norm", log=True, title=None):
    """Lines of a quantity per layer, e.g. ``{"sigmoid": [...], "relu": [...]}``."""
    fig, ax = _axes(ax, (6, 3.5))
    for name, v in values.items():
        ax.plot(np.arange(1, len(v) + 1), v, "o-", label=name)
    ax.set_xlabel("layer (1 = closest to the input)")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return fig


def plot_histograms(arrays, labels=None, axes=None, bins=50, range_=None, title=None):
    """One histogram per array (e.g. the activations of each layer), side by side."""
    import matplotlib.pyplot as plt

    n = len(arrays)
    if axes is None:
        fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.2), sharey=True)
    axes = np.atleast_1d(axes)
    fig = axes[0].figure
    for i, (ax, a) in enumerate(zip(axes, arrays)):
        ax.hist(np.ravel(a), bins=bins, range=range_, color="C0")
        ax.set_title(labels[i] if labels else f"layer {i + 1}", fontsize=9)
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_digits(X, y=None, n=20, predicted=None, cols=10):
    """A grid of 8×8 digit images (rows of X with 64 values), titled with labels."""
    import matplotlib.pyplot as plt

    n = min(n, len(X))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 1.05))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(np.asarray(X[i]).reshape(8, 8), cmap="gray_r")
        if y is not None:
            label = f"{y[i]}" if predicted is None else f"{predicted[i]} ({y[i]})"
            color = "k" if predicted is None or predicted[i] == y[i] else "C3"
            ax.set_title(label, fontsize=9, color=color)
    fig.tight_layout()
    return fig
