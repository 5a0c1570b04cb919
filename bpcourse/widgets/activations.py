"""The activation and batch-norm explorer: what a deep network does to its activations and its
gradients at initialization, layer by layer, with and without batch normalization.

``deep_net_stats`` runs one forward and one backward pass through
``Dense → [BatchNorm] → activation`` (``depth`` times) ``→ Dense`` and returns the inputs and
outputs of every activation and the norm of every weight gradient; ``ActivationExplorer``
draws their histograms and the gradient norms per layer, with sliders::

    from bpcourse.widgets import ActivationExplorer
    ActivationExplorer(activation="sigmoid", depth=10)            # notebook 6
    ActivationExplorer(activation="relu", depth=7, batchnorm=True) # notebook 7

Layer l draws its weights with seed l, as ``nn.Dense(..., rng=l, init=...)`` does (He for
ReLU, Xavier for sigmoid and tanh), times the slider's init scale: at scale 1 the numbers
are those of notebook 6, section 6.
"""

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import MaxNLocator

from ._common import figure_image, figure_png, log_axis, new_figure, pick_functions, sources_html

#: activation -> (forward, backward, default initialization)
ACTIVATIONS = {
    "sigmoid": ("sigmoid_forward", "sigmoid_backward", "xavier"),
    "tanh": ("tanh_forward", "tanh_backward", "xavier"),
    "relu": ("relu_forward", "relu_backward", "he"),
}
FUNCTION_NAMES = ("dense_forward", "dense_backward", "relu_forward", "relu_backward",
                  "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
                  "batchnorm_forward", "batchnorm_backward", "softmax_cross_entropy")
MAX_SHOWN = 5   # histograms per row


def init_weights(depth, n_in, width, n_out, init, scale=1.0):
    """Weights of the hidden layers and the output layer: layer l with seed l, as nn.Dense.

    He: W ~ N(0, 2 / fan_in); Xavier: W ~ N(0, 2 / (fan_in + fan_out)); times ``scale``.
    """
    sizes = [n_in] + [width] * depth + [n_out]
    Ws = []
    for l, (D, M) in enumerate(zip(sizes[:-1], sizes[1:])):
        var = 2 / D if init == "he" else 2 / (D + M)
        Ws.append(np.random.default_rng(l).normal(0.0, np.sqrt(var), size=(D, M)) * scale)
    return Ws


def deep_net_stats(X, y, activation="sigmoid", depth=10, width=64, init=None, init_scale=1.0,
                   batchnorm=False, gamma=1.0, beta=0.0, functions=None):
    """One forward and one backward pass at initialization; per-layer statistics.

    The network: ``depth`` times Dense(·, width) [→ BatchNorm(gamma, beta)] → activation, then
    Dense(width, C), float64, biases 0; the loss is softmax cross-entropy on (X, y).
    Returns a dict: ``pre`` (the input of each activation, (N, width) each), ``post`` (its
    output), ``grad_norms`` (‖dW‖ of every dense layer, depth + 1 values, input side first),
    ``loss``.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    F, _ = pick_functions(functions, FUNCTION_NAMES)
    fwd_name, bwd_name, default_init = ACTIVATIONS[activation]
    forward, backward = getattr(F, fwd_name), getattr(F, bwd_name)
    X = np.asarray(X, dtype=np.float64)
    n_classes = int(np.max(y)) + 1
    Ws = init_weights(depth, X.shape[1], width, n_classes, init or default_init, init_scale)
    g = np.full(width, float(gamma))
    b = np.full(width, float(beta))
    A, caches, pre, post = X, [], [], []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for W in Ws[:-1]:
            Z, cache_dense = F.dense_forward(A, W, np.zeros(W.shape[1]))
            cache_bn = None
            if batchnorm:
                Z, cache_bn = F.batchnorm_forward(Z, g, b)
            A, cache_act = forward(Z)
            caches.append((cache_dense, cache_bn, cache_act))
            pre.append(Z)
            post.append(A)
        logits, cache_out = F.dense_forward(A, Ws[-1], np.zeros(n_classes))
        finite = np.all(np.isfinite(logits))
        if finite:
            loss, dout = F.softmax_cross_entropy(logits, y)
            dA, dW, _ = F.dense_backward(dout, cache_out)
            norms = [np.linalg.norm(dW)]
            for cache_dense, cache_bn, cache_act in reversed(caches):
                dZ = backward(dA, cache_act)
                if cache_bn is not None:
                    dZ, _, _ = F.batchnorm_backward(dZ, cache_bn)
                dA, dW, _ = F.dense_backward(dZ, cache_dense)
                norms.append(np.linalg.norm(dW))
            grad_norms = np.array(norms[::-1])
        else:  # the forward pass overflowed: no gradient to show
            loss, grad_norms = np.inf, np.full(depth + 1, np.nan)
    return {"pre": pre, "post": post, "grad_norms": grad_norms, "loss": float(loss)}


def shown_layers(depth, k=MAX_SHOWN):
    """Up to ``k`` hidden layers, evenly spread from the first to the last (0-based)."""
    return sorted(set(np.linspace(0, depth - 1, min(depth, k)).round().astype(int).tolist()))


def default_batch():
    """The batch of notebook 6: the first 256 training digits, float64."""
    from ..data import load_digits

    (X, y), _ = load_digits(dtype=np.float64)
    return X[:256], y[:256]


class ActivationExplorer(widgets.VBox):
    """Histograms of the activations layer by layer, and ‖dW‖ per layer, at initialization.

    ``ActivationExplorer(X=None, y=None, activation="sigmoid", depth=10, width=64,
    init_scale=1.0, batchnorm=False, show="activations", functions=None)``: with
    ``batchnorm=True`` a second row shows the same network with batch norm before every
    activation (sliders ``gamma`` and ``beta`` set its γ and β).  Controls: ``activation``,
    ``depth``, ``init_scale``, ``show`` ("activations" = outputs of f, "pre-activations" =
    inputs of f), ``gamma``, ``beta``.  Data: ``stats`` (plain) and ``stats_bn`` (``None``
    without batch norm), as ``deep_net_stats`` returns them; ``hist`` holds the plotted
    histograms as {row: [(layer, counts, edges), ...]}.
    """

    def __init__(self, X=None, y=None, activation="sigmoid", depth=10, width=64, init_scale=1.0,
                 batchnorm=False, show="activations", functions=None):
        w = widgets
        if X is None:
            X, y = default_batch()
        self.X, self.y, self.width, self.with_bn = X, y, width, bool(batchnorm)
        self.functions, self.yours = pick_functions(functions, FUNCTION_NAMES)
        style = {"description_width": "80px"}
        wide = w.Layout(width="320px")
        self.activation = w.Dropdown(options=list(ACTIVATIONS), value=activation,
                                     description="activation", style=style, layout=wide)
        self.depth = w.IntSlider(value=depth, min=1, max=30, description="depth",
                                 continuous_update=False, style=style, layout=wide)
        self.init_scale = w.FloatLogSlider(value=init_scale, base=10, min=-1, max=1, step=0.02,
                                           description="init scale", readout_format=".3g",
                                           continuous_update=False, style=style, layout=wide)
        self.show = w.ToggleButtons(options=["activations", "pre-activations"], value=show,
                                    tooltips=["outputs of the activation f", "inputs of f"],
                                    style={"button_width": "120px"})
        self.gamma = w.FloatSlider(value=1.0, min=0.0, max=3.0, step=0.05, description="γ (BN)",
                                   continuous_update=False, style=style, layout=wide)
        self.beta = w.FloatSlider(value=0.0, min=-2.0, max=2.0, step=0.05, description="β (BN)",
                                  continuous_update=False, style=style, layout=wide)
        self.summary = w.HTML()
        self.stats = self.stats_bn = None
        self.hist, self.redraws = {}, 0
        self._build_figure()
        self.image = figure_image(self._fig)
        controls = [self.activation, self.depth, self.init_scale]
        for c in controls + [self.show, self.gamma, self.beta]:
            c.observe(self._changed, names="value")
        right = [self.show] + ([self.gamma, self.beta] if self.with_bn else [])
        super().__init__([w.HBox([w.VBox(controls), w.VBox(right)]), self.image, self.summary,
                          w.HTML(sources_html(FUNCTION_NAMES, self.yours))])
        self.add_class("bp-activation-explorer")
        self.update()

    def _changed(self, change):
        self.update()

    def compute(self):
        """Run the plain (and batch-norm) network with the current settings."""
        common = dict(activation=self.activation.value, depth=self.depth.value, width=self.width,
                      init_scale=self.init_scale.value, functions=self.functions)
        stats = deep_net_stats(self.X, self.y, **common)
        stats_bn = None
        if self.with_bn:
            stats_bn = deep_net_stats(self.X, self.y, batchnorm=True, gamma=self.gamma.value,
                                      beta=self.beta.value, **common)
        return stats, stats_bn

    def update(self):
        """Recompute and redraw."""
        self.stats, self.stats_bn = self.compute()
        self._draw()
        self.summary.value = self._summary_html()

    # ------------------------------------------------------------------ drawing

    def _rows(self):
        rows = [("plain", self.stats)]
        if self.with_bn:
            rows.append(("batch norm", self.stats_bn))
        return rows

    def _build_figure(self):
        n_rows = 2 if self.with_bn else 1
        self._fig = new_figure((10, 2.0 + 1.9 * n_rows))
        gs = self._fig.add_gridspec(n_rows, MAX_SHOWN + 3, left=0.02, right=0.98,
                                    bottom=0.14 if n_rows == 2 else 0.2, top=0.86 if n_rows == 2 else 0.8,
                                    wspace=0.3, hspace=0.75)
        self._hist_axes = [[self._fig.add_subplot(gs[r, c]) for c in range(MAX_SHOWN)]
                           for r in range(n_rows)]
        self._stairs = [[None] * MAX_SHOWN for _ in range(n_rows)]
        for r, row in enumerate(self._hist_axes):
            for c, ax in enumerate(row):
                self._stairs[r][c] = ax.stairs([0.0], [0.0, 1.0], fill=True, color=f"C{r}", alpha=0.85)
                ax.set_yticks([])
                ax.xaxis.set_major_locator(MaxNLocator(3))
                ax.tick_params(labelsize=7)
        self._grad_ax = self._fig.add_subplot(gs[:, MAX_SHOWN + 1:])

    def _draw(self):
        key = "post" if self.show.value == "activations" else "pre"
        depth = self.depth.value
        layers = shown_layers(depth)
        act = self.activation.value
        self.hist = {}
        for r, (name, stats) in enumerate(self._rows()):
            arrays = [stats[key][l] for l in layers]
            lo, hi = _hist_range(arrays, act if key == "post" else None)
            self.hist[name] = []
            for c, ax in enumerate(self._hist_axes[r]):
                if c >= len(layers):
                    ax.set_visible(False)
                    continue
                ax.set_visible(True)
                a = arrays[c]
                values = a[np.isfinite(a)]
                zeros = ""
                if key == "post" and act == "relu":  # the zeros get their own number, not a bar
                    zeros = f" · zeros {np.mean(values == 0):.0%}"
                    values = values[values != 0]
                counts, edges = np.histogram(values, bins=40, range=(lo, hi))
                self.hist[name].append((layers[c] + 1, counts, edges))
                self._stairs[r][c].set_data(counts, edges)
                ax.set_xlim(lo, hi)
                ax.set_ylim(0, max(counts.max(), 1) * 1.08)
                std = np.std(a) if np.all(np.isfinite(a)) else np.inf
                ax.set_title(f"{name}: layer {layers[c] + 1}\nstd {std:.2g}{zeros}", fontsize=8)
        what = "activations f(Z)" if key == "post" else "pre-activations Z (inputs of f)"
        self._fig.suptitle(f"{act}, {depth} hidden layers, init scale "
                           f"{self.init_scale.value:.3g}: {what} at initialization "
                           f"(256 examples × {self.width} units)", fontsize=10)
        ax = self._grad_ax
        ax.clear()
        for r, (name, stats) in enumerate(self._rows()):
            g = stats["grad_norms"]
            ok = np.isfinite(g) & (g > 0)
            ax.plot(np.arange(1, len(g) + 1)[ok], g[ok], "o-", ms=3, color=f"C{r}", label=name)
        ax.set_yscale("log")
        log_axis(ax, [stats["grad_norms"] for _, stats in self._rows()])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer (1 = input side)", fontsize=8)
        ax.set_title("‖dW‖ per layer (log)", fontsize=9, pad=18 if self.with_bn else 6)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if self.with_bn and ax.lines:   # above the axes: the lines can go anywhere in them
            ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2,
                      frameon=False, borderaxespad=0.2, handlelength=1.5)
        self.image.value = figure_png(self._fig)
        self.redraws += 1

    def _summary_html(self):
        key = "post" if self.show.value == "activations" else "pre"
        lines = []
        for name, stats in self._rows():
            stds = [np.std(a) for a in stats[key]]
            g = stats["grad_norms"]
            lines.append(
                f"{name + ':':11s} std of the {self.show.value}, layer 1 … {len(stds)}: "
                f"{stds[0]:.3g} … {stds[-1]:.3g} · ‖dW‖: layer 1 {g[0]:.2g}, layer {len(stds)} "
                f"{g[-2]:.2g}, output {g[-1]:.2g}")
        return ("<pre class='bp-summary' style='font-size:12px;margin:2px 0'>"
                + "\n".join(lines) + "</pre>")

    def __repr__(self):
        return ("ActivationExplorer: activations and gradients layer by layer "
                "(run the cell to use it)")


def _hist_range(arrays, activation):
    """A common x range for a row of histograms."""
    if activation == "sigmoid":
        return 0.0, 1.0
    if activation == "tanh":
        return -1.0, 1.0
    finite = [np.abs(a[np.isfinite(a)]) for a in arrays]
    m = max((np.percentile(f, 99.5) for f in finite if f.size), default=1.0)
    m = float(m) if np.isfinite(m) and m > 0 else 1.0
    return (0.0, m) if activation == "relu" else (-m, m)
