"""The backprop stepper: a 2 → 3 → 2 network (ReLU, softmax cross-entropy) as a computational
graph, stepped node by node — the forward pass, the backward pass, the parameter update.

``BackpropStepper`` holds the numbers (no widgets): a list of ``Step`` records, one per node,
and a position in it that ``next()``, ``prev()`` and ``reset()`` move.  ``StepperWidget`` draws
the graph (SVG) and the current step (HTML) and moves through the steps with buttons::

    from bpcourse.widgets import StepperWidget
    StepperWidget(functions={"dense_backward": dense_backward})   # your function where it passed

Every step runs the functions it was given (the learner's, or bpcourse's reference) and also
computes the same node with the reference functions from the same inputs, so the widget can
say whether they agree.
"""

from dataclasses import dataclass, field

import ipywidgets as widgets
import numpy as np

from ._common import esc, fmt, matrix_html, pick_functions, reference, shape_text, sources_html

#: The functions the stepper runs (the learner's where given).
FUNCTION_NAMES = ("dense_forward", "relu_forward", "softmax", "softmax_cross_entropy",
                  "dense_backward", "relu_backward", "sgd_step")

#: The default example: two examples, small weights with one decimal, so every number can be
#: followed by hand.  Unit 3 of the hidden layer is inactive for both examples and unit 1 for
#: the second one: ReLU's backward has something to block.
DEFAULT_EXAMPLE = {
    "X": [[1.0, 2.0], [-1.0, 0.5]],
    "y": [0, 1],
    "W1": [[0.5, -0.4, 0.3], [0.2, 0.6, -0.5]],
    "b1": [0.1, 0.0, -0.1],
    "W2": [[0.7, -0.3], [-0.2, 0.5], [0.4, 0.1]],
    "b2": [0.0, 0.1],
}

PARAMS = ("W1", "b1", "W2", "b2")

#: How names are shown: subscripts and transposes in Unicode.
PRETTY = {"X": "X", "y": "y", "W1": "W₁", "b1": "b₁", "Z1": "Z₁", "A1": "A₁", "W2": "W₂",
          "b2": "b₂", "Z2": "Z₂", "P": "P", "L": "L", "mask": "1[Z₁ > 0]", "L_new": "L (after)"}


def pretty(name):
    if name.startswith("d") and name[1:] in PRETTY:
        return "d" + PRETTY[name[1:]]
    if name.endswith("_new") and name[:-4] in PRETTY:
        return PRETTY[name[:-4]] + " (new)"
    return PRETTY.get(name, name)


@dataclass
class Step:
    """One node of one pass: what arrives, the local derivative, what it computes.

    ``results`` maps names to the arrays this step computes with the stepper's functions;
    ``reference`` maps the same names to what bpcourse's reference functions compute from
    the same inputs.  ``arriving`` and ``local`` are lists of (label, array): for a forward
    step the inputs of the node, for a backward step the gradient that arrives and the local
    derivative it is multiplied with.
    """

    phase: str                      # "forward", "backward" or "update"
    node: str                       # the graph node: "X", "Z1", ..., "W1", ..., "update"
    title: str                      # the formula, e.g. "dW₂ = A₁ᵀ dZ₂"
    note: str                       # one or two sentences on what happens
    arriving: list = field(default_factory=list)
    local: list = field(default_factory=list)
    results: dict = field(default_factory=dict)
    reference: dict = field(default_factory=dict)

    def max_difference(self):
        """The largest |yours − reference| over this step's results (0.0 when they agree)."""
        diffs = [float(np.max(np.abs(np.asarray(self.results[k], float) -
                                     np.asarray(self.reference[k], float))))
                 for k in self.reference if k in self.results]
        return max(diffs, default=0.0)

    def matches_reference(self, rtol=1e-6, atol=1e-9):
        return all(np.allclose(self.results[k], self.reference[k], rtol=rtol, atol=atol)
                   for k in self.reference if k in self.results)


class BackpropStepper:
    """Forward, backward and update of a 2 → 3 → 2 ReLU network, one graph node at a time.

    ``functions``: None (the reference), a mapping or a namespace of exercise functions
    (e.g. ``your_functions()``); missing names use the reference.  ``example``: a dict with
    ``X`` (N, 2), ``y`` (N,), ``W1`` (2, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,); default
    ``DEFAULT_EXAMPLE``.  ``lr``: the learning rate of the update step.

    The position is ``(iteration, index)``: ``steps`` are the 13 steps of the current
    iteration (5 forward, 7 backward, 1 update); after the update, ``next()`` starts the next
    iteration with the updated parameters.
    """

    def __init__(self, functions=None, example=None, lr=0.5):
        self.F, self.yours = pick_functions(functions, FUNCTION_NAMES)
        ex = dict(DEFAULT_EXAMPLE if example is None else example)
        self.X = np.array(ex["X"], dtype=np.float64)
        self.y = np.array(ex["y"], dtype=np.int64)
        params = {k: np.array(ex[k], dtype=np.float64) for k in PARAMS}
        self._check_example(params)
        self.lr = float(lr)
        self._params = [params]          # the parameters at the start of each iteration
        self._steps = {}                 # iteration -> its list of steps
        self.iteration = 0
        self.index = 0

    def _check_example(self, p):
        N, D = self.X.shape
        if p["W1"].shape[0] != D or p["b1"].shape != (p["W1"].shape[1],) \
                or p["W2"].shape[0] != p["W1"].shape[1] or p["b2"].shape != (p["W2"].shape[1],):
            raise ValueError("example: W1 must be (D, H), b1 (H,), W2 (H, C), b2 (C,) "
                             f"for X of shape {self.X.shape}")
        if self.y.shape != (N,):
            raise ValueError(f"example: y must hold one label per row of X, got {self.y.shape}")

    # ------------------------------------------------------------------ position

    @property
    def steps(self):
        """The steps of the current iteration."""
        if self.iteration not in self._steps:
            self._steps[self.iteration] = self._build(self._params[self.iteration])
        return self._steps[self.iteration]

    @property
    def step(self):
        """The current step."""
        return self.steps[self.index]

    @property
    def params(self):
        """The parameters of the current iteration (before its update)."""
        return self._params[self.iteration]

    def next(self):
        """Move one node on (after the update: the next iteration's first step)."""
        if self.index < len(self.steps) - 1:
            self.index += 1
        else:
            update = self.steps[-1].results
            if len(self._params) == self.iteration + 1:
                self._params.append({k: update[k + "_new"] for k in PARAMS})
            self.iteration += 1
            self.index = 0
        return self.step

    def prev(self):
        """Move one node back (from an iteration's first step: the previous update)."""
        if self.index > 0:
            self.index -= 1
        elif self.iteration > 0:
            self.iteration -= 1
            self.index = len(self.steps) - 1
        return self.step

    def reset(self):
        """Back to the first step of the first iteration."""
        self.iteration = self.index = 0
        return self.step

    def goto(self, phase, node=None):
        """Jump to the first step of ``phase`` (and ``node``) in the current iteration."""
        for i, s in enumerate(self.steps):
            if s.phase == phase and (node is None or s.node == node):
                self.index = i
                return s
        raise ValueError(f"no {phase} step at node {node!r}")

    def set_lr(self, lr):
        """Change the learning rate: the update step is recomputed, later iterations dropped."""
        self.lr = float(lr)
        del self._params[self.iteration + 1:]
        for it in [k for k in self._steps if k >= self.iteration]:
            del self._steps[it]

    # ------------------------------------------------------------------ what is known

    def known(self):
        """What the graph shows at the current position: ``(values, grads, new_params)``.

        values: forward values computed so far (name -> array), grads: gradients computed
        so far (name -> array, keyed by the variable, e.g. "W2"), new_params: the updated
        parameters once the update step is reached.
        """
        values, grads, new = {}, {}, {}
        for s in self.steps[: self.index + 1]:
            for k, v in s.results.items():
                if s.phase == "forward":
                    values[k] = v
                elif s.phase == "backward":
                    grads[k[1:]] = v
                elif k.endswith("_new"):
                    new[k[:-4]] = v
        for k in PARAMS:
            values.setdefault(k, self.params[k])
        values.setdefault("y", self.y)
        return values, grads, new

    # ------------------------------------------------------------------ the steps

    def _build(self, p):
        F, X, y, lr = self.F, self.X, self.y, self.lr
        W1, b1, W2, b2 = (p[k] for k in PARAMS)
        N = len(X)
        ref = {name: reference(name) for name in FUNCTION_NAMES}
        steps = []

        # forward
        steps.append(Step(
            "forward", "X", "the input X and the labels y",
            f"A batch of N = {N} examples with {X.shape[1]} features each, and their class "
            f"labels. The parameters W₁, b₁, W₂, b₂ are the network's current weights.",
            arriving=[("X", X), ("y", y)], results={"X": X},
        ))
        Z1, cache1 = F.dense_forward(X, W1, b1)
        steps.append(Step(
            "forward", "Z1", "Z₁ = X W₁ + b₁",
            "The first dense layer: every row of X times W₁, plus b₁ (broadcast to every row).",
            arriving=[("X", X), ("W₁", W1), ("b₁", b1)], results={"Z1": Z1},
            reference={"Z1": ref["dense_forward"](X, W1, b1)[0]},
        ))
        A1, cache_relu = F.relu_forward(Z1)
        steps.append(Step(
            "forward", "A1", "A₁ = relu(Z₁) = max(Z₁, 0)",
            "ReLU, entry by entry: negative pre-activations become 0 (the unit is inactive "
            "for that example).",
            arriving=[("Z₁", Z1)], results={"A1": A1},
            reference={"A1": ref["relu_forward"](Z1)[0]},
        ))
        Z2, cache2 = F.dense_forward(A1, W2, b2)
        steps.append(Step(
            "forward", "Z2", "Z₂ = A₁ W₂ + b₂",
            "The second dense layer gives the logits: one row of class scores per example.",
            arriving=[("A₁", A1), ("W₂", W2), ("b₂", b2)], results={"Z2": Z2},
            reference={"Z2": ref["dense_forward"](A1, W2, b2)[0]},
        ))
        P = F.softmax(Z2)
        L, dZ2 = F.softmax_cross_entropy(Z2, y)
        ref_L, ref_dZ2 = ref["softmax_cross_entropy"](Z2, y)
        steps.append(Step(
            "forward", "L", "P = softmax(Z₂),  L = −(1/N) Σₙ log P[n, yₙ]",
            "Softmax turns each row of logits into probabilities; the loss is the mean over "
            "the batch of −log of the probability of the right class.",
            arriving=[("Z₂", Z2), ("y", y)], results={"P": P, "L": np.float64(L)},
            reference={"P": ref["softmax"](Z2), "L": np.float64(ref_L)},
        ))

        # backward
        Y = np.zeros_like(P)
        Y[np.arange(N), y] = 1
        steps.append(Step(
            "backward", "Z2", "dZ₂ = ∂L/∂Z₂ = (P − Y) / N",
            "The backward pass starts at the loss with ∂L/∂L = 1. Through softmax and "
            "cross-entropy together the local derivative is (P − Y)/N: the probabilities minus "
            "the one-hot labels, divided by N because the loss is a mean (notebook 4).",
            arriving=[("∂L/∂L", np.float64(1.0))],
            local=[("∂L/∂Z₂ = (P − Y)/N", (P - Y) / N)],
            results={"dZ2": dZ2}, reference={"dZ2": ref_dZ2},
        ))
        dA1, dW2, db2 = F.dense_backward(dZ2, cache2)
        ref_dA1, ref_dW2, ref_db2 = ref["dense_backward"](dZ2, (A1, W2, b2))
        steps.append(Step(
            "backward", "W2", "dW₂ = A₁ᵀ dZ₂",
            "Z₂ = A₁W₂ + b₂ is linear in W₂ with coefficient A₁: entry (h, c) collects "
            "A₁[n, h]·dZ₂[n, c] summed over the batch — the product A₁ᵀ dZ₂ (notebook 5).",
            arriving=[("dZ₂", dZ2)], local=[("∂Z₂/∂W₂: the coefficient A₁", A1)],
            results={"dW2": dW2}, reference={"dW2": ref_dW2},
        ))
        steps.append(Step(
            "backward", "b2", "db₂ = Σₙ dZ₂[n, :]",
            "b₂ was added to every row (broadcast), with local derivative 1: its gradient is "
            "the sum of dZ₂ over the batch. No 1/N here — it is already inside dZ₂.",
            arriving=[("dZ₂", dZ2)], local=[("∂Z₂[n, c]/∂b₂[c] = 1", np.ones(N))],
            results={"db2": db2}, reference={"db2": ref_db2},
        ))
        steps.append(Step(
            "backward", "A1", "dA₁ = dZ₂ W₂ᵀ",
            "Z₂ is linear in A₁ with coefficient W₂: each example's gradient goes back "
            "through the weights, dZ₂[n] W₂ᵀ. This is the gradient that flows on down.",
            arriving=[("dZ₂", dZ2)], local=[("∂Z₂/∂A₁: the coefficient W₂", W2)],
            results={"dA1": dA1}, reference={"dA1": ref_dA1},
        ))
        dZ1 = F.relu_backward(dA1, cache_relu)
        mask = (Z1 > 0).astype(np.float64)
        steps.append(Step(
            "backward", "Z1", "dZ₁ = dA₁ ⊙ 1[Z₁ > 0]",
            "ReLU's local derivative is 1 where the unit was active (Z₁ > 0) and 0 elsewhere: "
            "the gradient passes through active units and is blocked at inactive ones.",
            arriving=[("dA₁", dA1)], local=[("relu′(Z₁) = 1[Z₁ > 0]", mask)],
            results={"dZ1": dZ1}, reference={"dZ1": ref["relu_backward"](dA1, Z1)},
        ))
        dX, dW1, db1 = F.dense_backward(dZ1, cache1)
        _, ref_dW1, ref_db1 = ref["dense_backward"](dZ1, (X, W1, b1))
        steps.append(Step(
            "backward", "W1", "dW₁ = Xᵀ dZ₁",
            "The same rule as for W₂, one layer down. Columns of inactive units get 0: "
            "no gradient arrived there.",
            arriving=[("dZ₁", dZ1)], local=[("∂Z₁/∂W₁: the coefficient X", X)],
            results={"dW1": dW1}, reference={"dW1": ref_dW1},
        ))
        steps.append(Step(
            "backward", "b1", "db₁ = Σₙ dZ₁[n, :]",
            "The sum of dZ₁ over the batch. (dX = dZ₁W₁ᵀ would come next, but nothing below "
            "X has parameters: the backward pass can stop here.)",
            arriving=[("dZ₁", dZ1)], local=[("∂Z₁[n, h]/∂b₁[h] = 1", np.ones(N))],
            results={"db1": db1}, reference={"db1": ref_db1},
        ))

        # update
        grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
        new = {k: F.sgd_step(p[k], grads[k], lr) for k in PARAMS}
        ref_new = {k: ref["sgd_step"](p[k], grads[k], lr) for k in PARAMS}
        Z1n, _ = F.dense_forward(X, new["W1"], new["b1"])
        A1n, _ = F.relu_forward(Z1n)
        Z2n, _ = F.dense_forward(A1n, new["W2"], new["b2"])
        L_new, _ = F.softmax_cross_entropy(Z2n, y)
        results = {k + "_new": v for k, v in new.items()}
        results["L_new"] = np.float64(L_new)
        steps.append(Step(
            "update", "update", f"θ ← θ − lr · dθ   (lr = {lr:g})",
            f"Gradient descent on every parameter, with sgd_step. A forward pass with the new "
            f"parameters gives the loss after the step: {fmt(L)} → {fmt(L_new)}. "
            f"Next ▶ starts the next iteration from here.",
            arriving=[("d" + PRETTY[k], grads[k]) for k in PARAMS],
            results=results, reference={k + "_new": v for k, v in ref_new.items()},
        ))
        return steps

    def __repr__(self):
        s = self.step
        return (f"BackpropStepper(iteration {self.iteration + 1}, step {self.index + 1} of "
                f"{len(self.steps)}: {s.phase} {s.node})")


# ====================================================================== drawing

_COLORS = {"forward": "#1f77b4", "backward": "#d62728", "update": "#2ca02c"}
_CHAR_W, _LINE_H = 6.9, 13


def _lines(a):
    """An array as lines of 2-decimal numbers for the graph's boxes."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return [fmt(a, 4)]
    rows = a.reshape(1, -1) if a.ndim == 1 else a
    return [" ".join(f"{round(v, 2) + 0.0:+.2f}".replace("-", "−") for v in row) for row in rows]


# name -> (x centre, y top) of the variable boxes; ops: name -> (x, y, label)
_BOXES = {"X": (62, 150), "W1": (110, 8), "b1": (265, 8), "Z1": (300, 150), "A1": (525, 150),
          "W2": (590, 8), "b2": (705, 8), "Z2": (735, 150), "y": (840, 245), "L": (930, 150)}
_OPS = {"dense1": (185, 172, "·W+b"), "relu": (410, 172, "ReLU"), "dense2": (640, 172, "·W+b"),
        "loss": (840, 172, "softmax\nCE")}
_EDGES = [("X", "dense1"), ("W1", "dense1"), ("b1", "dense1"), ("dense1", "Z1"), ("Z1", "relu"),
          ("relu", "A1"), ("A1", "dense2"), ("W2", "dense2"), ("b2", "dense2"), ("dense2", "Z2"),
          ("Z2", "loss"), ("y", "loss"), ("loss", "L")]
# the edges a step travels: forward into its node, backward out of it
_STEP_EDGES = {
    ("forward", "Z1"): {("X", "dense1"), ("W1", "dense1"), ("b1", "dense1"), ("dense1", "Z1")},
    ("forward", "A1"): {("Z1", "relu"), ("relu", "A1")},
    ("forward", "Z2"): {("A1", "dense2"), ("W2", "dense2"), ("b2", "dense2"), ("dense2", "Z2")},
    ("forward", "L"): {("Z2", "loss"), ("y", "loss"), ("loss", "L")},
    ("backward", "Z2"): {("Z2", "loss"), ("loss", "L")},
    ("backward", "W2"): {("W2", "dense2"), ("dense2", "Z2")},
    ("backward", "b2"): {("b2", "dense2"), ("dense2", "Z2")},
    ("backward", "A1"): {("A1", "dense2"), ("dense2", "Z2")},
    ("backward", "Z1"): {("Z1", "relu"), ("relu", "A1")},
    ("backward", "W1"): {("W1", "dense1"), ("dense1", "Z1")},
    ("backward", "b1"): {("b1", "dense1"), ("dense1", "Z1")},
}


def render_graph(stepper):
    """The computational graph as SVG, with the values and gradients known at this step."""
    values, grads, new = stepper.known()
    step = stepper.step
    color = _COLORS[step.phase]
    boxes = {}
    parts = []
    for name, (cx, top) in _BOXES.items():
        lines = []  # (text, colour)
        if name == "L":
            if "L" in values:
                lines.append((f"L = {fmt(values['L'], 4)}", "#1f4e79"))
            if new:
                lines.append((f"after: {fmt(step.results['L_new'], 4)}", "#1b6e1b"))
        elif name == "y":
            lines.append((" ".join(str(int(v)) for v in stepper.y), "#333"))
        else:
            if name in values:
                lines += [(t, "#1f4e79") for t in _lines(values[name])]
            if name in grads:
                lines += [(("d " if i == 0 else "  ") + t, "#b22222")
                          for i, t in enumerate(_lines(grads[name]))]
            if name in new:
                lines += [(("→ " if i == 0 else "  ") + t, "#1b6e1b")
                          for i, t in enumerate(_lines(new[name]))]
        header = PRETTY[name]
        known = stepper.y if name == "y" else values.get(name)
        shape = "" if known is None or name == "L" else shape_text(known)
        width = max(64, 14 + _CHAR_W * max([len(t) for t, _ in lines] + [len(header) + len(shape) + 1]))
        height = 22 + _LINE_H * len(lines) + (4 if lines else 0)
        x0 = cx - width / 2
        boxes[name] = (x0, top, width, height)
        current = (step.node == name) or (step.phase == "update" and name in PARAMS)
        stroke, sw = (color, 3) if current else ("#888", 1)
        fill = "#fff7d6" if current else ("#f4f8fc" if name in values or name == "y" else "#fafafa")
        parts.append(f"<rect x='{x0:.1f}' y='{top}' width='{width:.1f}' height='{height}' rx='6' "
                     f"fill='{fill}' stroke='{stroke}' stroke-width='{sw}'/>")
        parts.append(f"<text x='{x0 + 7:.1f}' y='{top + 15}' font-weight='bold' font-size='13'>"
                     f"{esc(header)}<tspan font-weight='normal' font-size='10' fill='#777'> "
                     f"{esc(shape)}</tspan></text>")
        for i, (t, c) in enumerate(lines):
            parts.append(f"<text x='{x0 + 7:.1f}' y='{top + 31 + i * _LINE_H}' font-family="
                         f"'DejaVu Sans Mono, monospace' font-size='11' fill='{c}' "
                         f"xml:space='preserve'>{esc(t)}</text>")
    active = _STEP_EDGES.get((step.phase, step.node), set())
    edges = []
    for a, b in _EDGES:
        (x1, y1), (x2, y2) = _anchor(a, b, boxes)
        on = (a, b) in active
        c, w = (color, 2.6) if on else ("#999", 1.2)
        if step.phase == "backward" and on:  # gradients flow against the arrows
            x1, y1, x2, y2 = x2, y2, x1, y1
        marker = "bp-arrow-on" if on else "bp-arrow"
        edges.append(f"<line x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}' stroke='{c}' "
                     f"stroke-width='{w}' marker-end='url(#{marker}-{step.phase})'/>")
    ops = []
    for name, (x, y, label) in _OPS.items():
        on = any(name in e for e in active)
        ops.append(f"<ellipse cx='{x}' cy='{y}' rx='30' ry='19' fill='{'#fff7d6' if on else '#eee'}' "
                   f"stroke='{color if on else '#888'}' stroke-width='{2.5 if on else 1}'/>")
        for i, t in enumerate(label.split("\n")):
            dy = (i - (label.count("\n")) / 2) * 12 + 4
            ops.append(f"<text x='{x}' y='{y + dy:.1f}' text-anchor='middle' font-size='11'>"
                       f"{esc(t)}</text>")
    height = max(t + h for (_, t, _, h) in boxes.values()) + 10
    defs = "".join(
        f"<marker id='{m}-{step.phase}' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='9' "
        f"markerHeight='9' markerUnits='userSpaceOnUse' orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='{c}'/>"
        f"</marker>" for m, c in (("bp-arrow", "#999"), ("bp-arrow-on", color)))
    return (f"<svg class='bp-graph' viewBox='0 0 1000 {height:.0f}' width='100%' "
            f"style='max-width:1000px;font-family:DejaVu Sans, sans-serif' "
            f"xmlns='http://www.w3.org/2000/svg'><defs>{defs}</defs>"
            + "".join(edges) + "".join(ops) + "".join(parts) + "</svg>")


def _anchor(a, b, boxes):
    """End points of the edge a → b between box borders and op ellipses."""
    def point(name, towards):
        if name in _OPS:
            x, y, _ = _OPS[name]
            tx, ty = towards
            dx, dy = tx - x, ty - y
            k = 1 / max(np.hypot(dx / 30, dy / 19), 1e-9)
            return x + dx * k, y + dy * k
        x0, top, w, h = boxes[name]
        tx, ty = towards
        if ty < top:                       # target above: leave from the top
            return x0 + w / 2, top
        if ty > top + h:                   # target below: leave from the bottom
            return x0 + w / 2, top + h
        return (x0 + w if tx > x0 + w else x0), min(top + 22, top + h / 2)
    ca = _centre(a, boxes)
    cb = _centre(b, boxes)
    return point(a, cb), point(b, ca)


def _centre(name, boxes):
    if name in _OPS:
        return _OPS[name][:2]
    x0, top, w, h = boxes[name]
    return x0 + w / 2, min(top + 22, top + h / 2)


_CSS = """<style>
.bp-step table.bp-matrix {border-collapse:collapse;font-family:'DejaVu Sans Mono',monospace;
  font-size:12px;margin:2px 0}
.bp-step table.bp-matrix td {padding:1px 6px;text-align:right;border-left:1px solid #ccc;
  border-right:1px solid #ccc}
.bp-step .bp-col {display:inline-block;vertical-align:top;margin-right:22px}
.bp-step .bp-label {font-size:12px;color:#555}
.bp-step .bp-num {font-family:'DejaVu Sans Mono',monospace;font-size:12px}
</style>"""


def render_step(stepper):
    """The current step as HTML: formula, what arrives, the local derivative, the result."""
    s = stepper.step
    color = _COLORS[s.phase]
    n = len(stepper.steps)
    head = (f"<div class='bp-position' style='font-size:12px;color:#555'>iteration "
            f"{stepper.iteration + 1} · step {stepper.index + 1} of {n} · "
            f"<b style='color:{color}'>{s.phase}</b></div>"
            f"<div class='bp-title' style='font-size:16px;margin:4px 0 6px 0'><b>{esc(s.title)}</b>"
            f"</div>")
    cols = []
    if s.phase == "backward":
        for label, a in s.arriving:
            cols.append(_col(f"gradient arriving: {label}", a))
        for label, a in s.local:
            cols.append(_col(f"local derivative: {label}", a))
    elif s.phase == "forward":
        for label, a in s.arriving:
            cols.append(_col(f"input {label}", a))
    if s.phase == "update":
        cols.append(_update_table(stepper, s))
    elif not (s.phase == "forward" and s.node == "X"):
        for name, a in s.results.items():
            cols.append(_col(f"<b>{esc(pretty(name))}</b> {shape_text(a)}", a, bold=True))
    if s.reference:
        diff = s.max_difference()
        if s.matches_reference():
            check = (f"<span style='color:#1b6e1b'>✓ equals bpcourse's reference (largest "
                     f"difference {diff:.1e})</span>")
        else:
            check = (f"<span style='color:#b22222'>✗ differs from bpcourse's reference by up to "
                     f"{diff:.2e}: the function behind this step has a bug</span>")
    else:
        check = ""
    return (f"{_CSS}<div class='bp-step'>{head}<div>{''.join(cols)}</div>"
            f"<div style='font-size:13px;margin-top:6px'>{esc(s.note)}</div>"
            f"<div class='bp-check' style='font-size:12px;margin-top:4px'>{check}</div></div>")


def _update_table(stepper, s):
    """One row per parameter: θ − lr · dθ = θ (new)."""
    lr = stepper.lr
    rows = []
    for k, (label, g) in zip(PARAMS, s.arriving):
        rows.append(
            f"<tr><td style='padding-right:8px'><b>{PRETTY[k]}</b></td>"
            f"<td>{matrix_html(stepper.params[k])}</td><td>&nbsp;−&nbsp;{lr:g}&nbsp;×&nbsp;</td>"
            f"<td>{matrix_html(g)}</td><td>&nbsp;=&nbsp;</td>"
            f"<td>{matrix_html(s.results[k + '_new'])}</td></tr>")
    header = ("<tr class='bp-label'><td></td><td>θ</td><td></td><td>dθ</td><td></td>"
              "<td>θ (new)</td></tr>")
    loss = (f"<div class='bp-label' style='margin-top:4px'>loss on this batch: before "
            f"<span class='bp-num'>{fmt(stepper.steps[4].results['L'])}</span>, after "
            f"<span class='bp-num'>{fmt(s.results['L_new'])}</span></div>")
    return f"<table class='bp-update'>{header}{''.join(rows)}</table>{loss}"


def _col(label, a, bold=False):
    lab = label if bold else esc(label) + f" <span style='color:#999'>{shape_text(a)}</span>"
    return f"<div class='bp-col'><div class='bp-label'>{lab}</div>{matrix_html(a)}</div>"


# ====================================================================== the widget

class StepperWidget(widgets.VBox):
    """The backprop stepper in a notebook: the graph, the current step, buttons and lr.

    ``StepperWidget(functions=None, example=None, lr=0.5)``; the logic is ``.stepper`` (a
    ``BackpropStepper``).  Buttons: ``reset_button``, ``prev_button``, ``next_button``;
    ``lr_slider`` sets the learning rate of the update step.  ``graph`` (HTML, SVG) and
    ``details`` (HTML) show the state.
    """

    def __init__(self, functions=None, example=None, lr=0.5):
        w = widgets
        self.stepper = BackpropStepper(functions, example, lr)
        self.reset_button = w.Button(description="Reset", icon="undo", tooltip="back to the start",
                                     layout=w.Layout(width="90px"))
        self.prev_button = w.Button(description="Back", icon="step-backward",
                                    layout=w.Layout(width="90px"))
        self.next_button = w.Button(description="Next", icon="step-forward", button_style="primary",
                                    layout=w.Layout(width="110px"))
        self.lr_slider = w.FloatSlider(value=lr, min=0.05, max=5.0, step=0.05, description="lr",
                                       continuous_update=False, readout_format=".2f",
                                       layout=w.Layout(width="260px"))
        self.graph = w.HTML(layout=w.Layout(width="100%"))
        self.details = w.HTML(layout=w.Layout(width="100%"))
        self.sources = w.HTML(sources_html(FUNCTION_NAMES, self.stepper.yours))
        self.reset_button.on_click(lambda _: self._move(self.stepper.reset))
        self.prev_button.on_click(lambda _: self._move(self.stepper.prev))
        self.next_button.on_click(lambda _: self._move(self.stepper.next))
        self.lr_slider.observe(self._on_lr, names="value")
        controls = w.HBox([self.reset_button, self.prev_button, self.next_button, self.lr_slider])
        super().__init__([controls, self.graph, self.details, self.sources])
        self.add_class("bp-stepper")
        self.refresh()

    def _move(self, action):
        action()
        self.refresh()

    def _on_lr(self, change):
        self.stepper.set_lr(change["new"])
        self.refresh()

    def refresh(self):
        """Redraw the graph and the step panel from the stepper's state."""
        self.graph.value = render_graph(self.stepper)
        self.details.value = render_step(self.stepper)
        st = self.stepper
        self.prev_button.disabled = st.iteration == 0 and st.index == 0

    def __repr__(self):
        return "StepperWidget: a 2 → 3 → 2 network stepped node by node (run the cell to use it)"
