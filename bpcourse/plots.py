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
    a dict name -> array (T, 2) of visited points."""
    fig, ax = _axes(ax, (6, 5))
    gx, gy = np.meshgrid(np.linspace(*xlim, 300), np.linspace(*ylim, 300))
    fz = f(gx, gy)
    if log_levels:
        fz = np.log1p(fz - fz.min())
    ax.contour(gx, gy, fz, levels=levels, cmap="viridis", linewidths=0.6)
    for name, path in paths.items():
        path = np.asarray(path)
        ax.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1.2, label=name)
        ax.plot(*path[-1], "o", ms=5, color=ax.lines[-1].get_color())
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    return fig


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
