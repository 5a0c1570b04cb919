"""The optimizer explorer: SGD, momentum and Adam on 2-D loss surfaces, with sliders.

``descend`` runs one optimizer on a ``Surface`` with the step functions of notebook 9 (the
learner's where given) and returns the path of visited points; ``OptimizerExplorer`` draws
the three paths on the contours of the surface and the loss over the steps beside them::

    from bpcourse.widgets import OptimizerExplorer
    OptimizerExplorer(functions={"sgd_step": sgd_step, "sgd_momentum_step": sgd_momentum_step,
                                 "adam_step": adam_step})

The surfaces and their default settings are those of notebook 9, section 6, so the explorer
opens on the picture of that section.
"""

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np

from ..plots import DIVERGED, clip_path, draw_paths
from ._common import (esc, figure_image, figure_png, log_axis, lr_slider, new_figure, pick_functions,
                      sources_html)

METHODS = ("SGD", "momentum", "Adam")
FUNCTION_NAMES = ("sgd_step", "sgd_momentum_step", "adam_step")
COLORS = {"SGD": "C0", "momentum": "C1", "Adam": "C2"}


@dataclass(frozen=True)
class Surface:
    """A 2-D loss ``f(x, y)`` (vectorized), its gradient ``grad(w)`` and the default settings."""

    title: str
    f: object
    grad: object
    start: tuple
    steps: int
    lrs: dict
    xlim: tuple
    ylim: tuple
    loss_scale: str = "log"
    loss_ylim: tuple = None


def quad(x, y):
    """The narrow valley f = ½(x² + 100 y²): curvatures 1 and 100."""
    return 0.5 * (x**2 + 100 * y**2)


def quad_grad(w):
    return np.array([w[0], 100 * w[1]])


def rosenbrock(x, y):
    """The Rosenbrock function, a curved valley; minimum 0 at (1, 1)."""
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def rosenbrock_grad(w):
    x, y = w
    return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])


def saddle(x, y):
    """A saddle: a minimum along x, a maximum along y, at (0, 0)."""
    return 0.5 * (x**2 - y**2)


def saddle_grad(w):
    return np.array([w[0], -w[1]])


SURFACES = {
    "valley": Surface("narrow valley ½(x² + 100y²)", quad, quad_grad, (-1.8, 0.5), 100,
                      {"SGD": 0.019, "momentum": 0.01, "Adam": 0.1}, (-2, 2), (-1, 1)),
    "rosenbrock": Surface("Rosenbrock (1−x)² + 100(y−x²)²", rosenbrock, rosenbrock_grad,
                          (-1.2, 1.0), 1000, {"SGD": 0.0015, "momentum": 0.0005, "Adam": 0.1},
                          (-2, 2), (-1, 3)),
    "saddle": Surface("saddle ½(x² − y²)", saddle, saddle_grad, (1.5, 0.001), 50,
                      {"SGD": 0.05, "momentum": 0.05, "Adam": 0.05}, (-2, 2), (-2, 2),
                      loss_scale="linear", loss_ylim=(-3, 1.5)),
}


def descend(method, grad, w0, n_steps, lr, momentum=0.9, beta1=0.9, beta2=0.999, functions=None):
    """Run 'SGD', 'momentum' or 'Adam' from ``w0``; returns the path of points (T + 1, 2).

    Uses ``sgd_step``, ``sgd_momentum_step`` (u ← ρu + dw, w ← w − lr·u) and ``adam_step``
    from ``functions`` (a mapping or namespace; the reference where missing).  A run whose
    point leaves |x|, |y| < 10⁶ stops there (it has diverged).
    """
    F, _ = pick_functions(functions, FUNCTION_NAMES)
    w = np.array(w0, dtype=np.float64)
    state1, state2 = np.zeros_like(w), np.zeros_like(w)   # the velocity, or Adam's m and v
    path = [w]
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, n_steps + 1):
            dw = grad(w)
            if method == "SGD":
                w = F.sgd_step(w, dw, lr)
            elif method == "momentum":
                w, state1 = F.sgd_momentum_step(w, dw, state1, lr, momentum)
            elif method == "Adam":
                w, state1, state2 = F.adam_step(w, dw, state1, state2, t, lr, beta1, beta2)
            else:
                raise ValueError(f"method must be one of {METHODS}, got {method!r}")
            path.append(w)
            if not np.all(np.abs(w) < DIVERGED):
                break
    return np.array(path)


def diverged(path):
    """True when the run stopped because a coordinate left |w| < 10⁶."""
    return not np.all(np.abs(path[-1]) < DIVERGED)


def summary_lines(surface, paths, lrs):
    """The end point of each path, as notebook 9 prints them, and the step where a path
    leaves the plotted region (the figure draws it up to there)."""
    lines = [f"{surface.title}, {max(len(p) for p in paths.values()) - 1} steps from "
             f"{surface.start}:"]
    for method, path in paths.items():
        label = f"{method} (lr={lrs[method]:.3g})"
        x, y = path[-1]
        if diverged(path):
            line = f"  {label:22s} diverged at step {len(path) - 1} (|w| > 1e6)"
        else:
            line = f"  {label:22s} ends at ({x:+.3f}, {y:+.3f}), f = {surface.f(x, y):.3g}"
        exit_ = clip_path(path, surface.xlim, surface.ylim)[1]
        if exit_ is not None:
            line += f"; outside the plot from step {exit_[0]} on"
        lines.append(line)
    return lines


class OptimizerExplorer(widgets.VBox):
    """SGD, momentum and Adam on a 2-D surface: paths on the contours, and the loss per step.

    Controls: ``surface`` (dropdown), ``lr`` (dict method -> slider), ``momentum``,
    ``beta1``, ``beta2``, ``steps`` and a ``defaults_button``.  The plotted data are in
    ``paths`` (method -> array (T + 1, 2)) and ``losses`` (method -> f along the path);
    ``image`` holds the figure (PNG), redrawn on every change, ``axes`` its two matplotlib axes
    (paths, loss); ``summary`` the end points.  The lr sliders hold every learning rate with
    two significant digits from 0.0001 to 10.
    """

    def __init__(self, surface="valley", functions=None):
        self.functions, self.yours = pick_functions(functions, FUNCTION_NAMES)
        w = widgets
        style = {"description_width": "100px"}
        wide = w.Layout(width="330px")
        self.surface = w.Dropdown(options=[(s.title, k) for k, s in SURFACES.items()],
                                  value=surface, description="surface", style=style,
                                  layout=w.Layout(width="400px"))
        self.lr = {m: lr_slider(0.01, f"lr {m}", style=style, layout=wide) for m in METHODS}
        self.momentum = w.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="momentum ρ",
                                      continuous_update=False, style=style, layout=wide)
        self.beta1 = w.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="Adam β₁",
                                   continuous_update=False, style=style, layout=wide)
        self.beta2 = w.FloatSlider(value=0.999, min=0.9, max=0.9999, step=0.0001,
                                   description="Adam β₂", readout_format=".4f",
                                   continuous_update=False, style=style, layout=wide)
        self.steps = w.IntSlider(value=100, min=1, max=2000, description="steps",
                                 continuous_update=False, style=style, layout=wide)
        self.defaults_button = w.Button(description="notebook 9's settings", icon="undo",
                                        tooltip="the settings of notebook 9 for this surface",
                                        layout=w.Layout(width="190px", margin="2px 0 0 104px"))
        self.summary = w.HTML()
        self.paths, self.losses, self.redraws = {}, {}, 0
        self._fig = new_figure((10, 4.2))
        self.axes = self._fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
        self._ax_paths, self._ax_loss = self.axes
        self._fig.subplots_adjust(left=0.07, right=0.98, bottom=0.2, top=0.92, wspace=0.22)
        self.image = figure_image(self._fig)
        self._drawn_surface = None
        self._path_artists = []
        self._legend = None
        self._quiet = False
        self.apply_defaults()
        for control in [self.momentum, self.beta1, self.beta2, self.steps, *self.lr.values()]:
            control.observe(self._changed, names="value")
        self.surface.observe(self._surface_changed, names="value")
        self.defaults_button.on_click(lambda _: self.apply_defaults())
        left = w.VBox([self.surface, *self.lr.values(), self.steps])
        right = w.VBox([self.momentum, self.beta1, self.beta2, self.defaults_button])
        super().__init__([w.HBox([left, right]), self.image, self.summary,
                          w.HTML(sources_html(FUNCTION_NAMES, self.yours))])
        self.add_class("bp-optimizer-explorer")

    # ------------------------------------------------------------------ state

    @property
    def settings(self):
        """The current slider values, as a dict."""
        return {"surface": self.surface.value, "steps": self.steps.value,
                "lr": {m: s.value for m, s in self.lr.items()}, "momentum": self.momentum.value,
                "beta1": self.beta1.value, "beta2": self.beta2.value}

    def apply_defaults(self):
        """Set the sliders to notebook 9's settings for the current surface, and redraw."""
        s = SURFACES[self.surface.value]
        self._quiet = True
        try:
            for m in METHODS:
                self.lr[m].value = s.lrs[m]
            self.steps.value = s.steps
            self.momentum.value, self.beta1.value, self.beta2.value = 0.9, 0.9, 0.999
        finally:
            self._quiet = False
        self.update()

    def _changed(self, change):
        if not self._quiet:
            self.update()

    def _surface_changed(self, change):
        self.apply_defaults()

    def compute(self):
        """Run the three optimizers with the current settings; returns (paths, losses)."""
        s = SURFACES[self.surface.value]
        paths = {m: descend(m, s.grad, s.start, self.steps.value, self.lr[m].value,
                            self.momentum.value, self.beta1.value, self.beta2.value,
                            self.functions) for m in METHODS}
        with np.errstate(over="ignore", invalid="ignore"):
            losses = {m: s.f(p[:, 0], p[:, 1]) for m, p in paths.items()}
        return paths, losses

    def update(self):
        """Recompute the paths and redraw the figure and the summary."""
        self.paths, self.losses = self.compute()
        s = SURFACES[self.surface.value]
        lrs = {m: self.lr[m].value for m in METHODS}
        self._draw(s, lrs)
        self.summary.value = ("<pre class='bp-summary' style='font-size:12px;margin:2px 0'>"
                              + esc("\n".join(summary_lines(s, self.paths, lrs))) + "</pre>")

    # ------------------------------------------------------------------ drawing

    def _draw(self, s, lrs):
        ax, axl = self._ax_paths, self._ax_loss
        if self._drawn_surface != self.surface.value:
            ax.clear()
            gx, gy = np.meshgrid(np.linspace(*s.xlim, 200), np.linspace(*s.ylim, 200))
            fz = s.f(gx, gy)
            ax.contour(gx, gy, np.log1p(fz - fz.min()), levels=30, cmap="viridis", linewidths=0.6)
            ax.plot(*s.start, "k*", ms=8)
            ax.set_xlim(s.xlim)
            ax.set_ylim(s.ylim)
            ax.set_xlabel("x")
            ax.set_ylabel("y")
            ax.set_title(s.title, fontsize=11)
            self._drawn_surface = self.surface.value
            self._path_artists = []                 # (ax.clear() removed them)
        for artist in self._path_artists:
            artist.remove()
        if self._legend is not None:
            self._legend.remove()
        self._path_artists = draw_paths(
            ax, self.paths, s.xlim, s.ylim, COLORS,
            labels={m: f"{m} (lr={lrs[m]:.3g}" + (f", diverged at step {len(p) - 1})" if diverged(p)
                                                 else ")") for m, p in self.paths.items()},
            diverged={m: diverged(p) for m, p in self.paths.items()})
        # one legend for both plots, below them: it never covers a path or a curve
        self._legend = self._fig.legend(
            handles=[a for a in self._path_artists if not a.get_label().startswith("_")
                     and a.get_label()], loc="lower center", ncol=3, fontsize=9, frameon=False)
        axl.clear()
        for m, loss in self.losses.items():
            axl.plot(np.arange(len(loss)), loss, color=COLORS[m], lw=1.3, label=m)
        if s.loss_scale == "log":
            log_axis(axl, [np.minimum(l, 1e8) for l in self.losses.values()], max_decades=14)
        if s.loss_ylim:
            axl.set_ylim(s.loss_ylim)
        axl.set_xlabel("step")
        axl.set_ylabel("f")
        axl.set_title(f"loss per step ({self.steps.value} steps from {s.start})", fontsize=10)
        axl.grid(alpha=0.3)
        self.image.value = figure_png(self._fig)
        self.redraws += 1

    def __repr__(self):
        return "OptimizerExplorer: SGD, momentum and Adam on 2-D surfaces (run the cell to use it)"
