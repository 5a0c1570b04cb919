"""The backprop stepper: a 2 → 3 → 2 network (ReLU, softmax cross-entropy) as a computational
graph, stepped node by node — the forward pass, the backward pass, the parameter update.

``BackpropStepper`` holds the numbers (no widgets): a list of ``Step`` records, one per node,
and a position in it that ``next()``, ``prev()`` and ``reset()`` move.  ``StepperWidget``
(``stepper_widget``) draws the graph (SVG, ``stepper_graph``) and the current step (HTML) and
moves through the steps with buttons::

    from bpcourse.widgets import StepperWidget
    StepperWidget(functions={"dense_backward": dense_backward})   # your function where it passed

Every step runs the functions it was given (the learner's, or bpcourse's reference) and
compares its result twice: with the reference functions on the same inputs (is this step's
function right?) and with the whole network computed by the reference from the iteration's
parameters (is the value right, or does it carry an earlier step's error?).
"""

from dataclasses import dataclass, field

import numpy as np

from ._common import fmt, pick_functions, reference

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
    function: str = ""              # the exercise function behind the step, e.g. "dense_backward"
    truth: dict = field(default_factory=dict)   # the reference network's values (same names)
    lr: float = None                # the update step's learning rate

    def max_difference(self, against=None):
        """The largest |yours − reference| over this step's results (0.0 when they agree);
        ``against="truth"`` compares with the reference network instead."""
        other = self.truth if against == "truth" else self.reference
        diffs = [float(np.max(np.abs(np.asarray(self.results[k], float) -
                                     np.asarray(other[k], float))))
                 for k in other if k in self.results]
        return max(diffs, default=0.0)

    def matches_reference(self, rtol=1e-6, atol=1e-9):
        """Does this step's function give the reference's result on the same inputs?"""
        return _close(self.results, self.reference, rtol, atol)

    def matches_truth(self, rtol=1e-6, atol=1e-9):
        """Is the value the reference network's (no error of this step or an earlier one)?"""
        return _close(self.results, self.truth, rtol, atol)

    def status(self):
        """None (nothing to compare), "ok", "wrong" (this step's function differs from the
        reference on the same inputs) or "inherited" (the function is right, but its inputs
        carry an earlier step's error, so the value differs from the reference network's)."""
        if not self.reference:
            return None
        if not self.matches_reference():
            return "wrong"
        return "ok" if self.matches_truth() else "inherited"


def _close(results, other, rtol, atol):
    return all(np.allclose(results[k], other[k], rtol=rtol, atol=atol, equal_nan=True)
               for k in other if k in results)


class BackpropStepper:
    """Forward, backward and update of a 2 → 3 → 2 ReLU network, one graph node at a time.

    ``functions``: None (the reference), a mapping or a namespace of exercise functions
    (e.g. ``your_functions()``); missing names use the reference.  ``example``: a dict with
    ``X`` (N, 2), ``y`` (N,), ``W1`` (2, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,); default
    ``DEFAULT_EXAMPLE``.  ``lr``: the learning rate of the update step.

    The position is ``(iteration, index)``: ``steps`` are the 13 steps of the current
    iteration (5 forward, 7 backward, 1 update); after the update, ``next()`` starts the next
    iteration with the updated parameters.  Each iteration keeps the learning rate it was
    computed with (``lr`` is the current iteration's); ``set_lr`` changes it from the current
    iteration on, and ``reset()`` recomputes everything with the current one.
    """

    def __init__(self, functions=None, example=None, lr=0.5):
        self.F, self.yours = pick_functions(functions, FUNCTION_NAMES)
        ex = dict(DEFAULT_EXAMPLE if example is None else example)
        self.X = np.array(ex["X"], dtype=np.float64)
        self.y = np.array(ex["y"], dtype=np.int64)
        params = {k: np.array(ex[k], dtype=np.float64) for k in PARAMS}
        self._check_example(params)
        self._lrs = [float(lr)]          # the learning rate of each iteration
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
        it = self.iteration
        if it not in self._steps:
            self._steps[it] = self._build(self._params[it], self._lrs[it])
        return self._steps[it]

    @property
    def lr(self):
        """The learning rate of the current iteration's update."""
        return self._lrs[self.iteration]

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
                self._lrs.append(self.lr)
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

    def reset(self, lr=None):
        """Back to the first step of the first iteration, everything recomputed with ``lr``
        (default: the current iteration's learning rate, the one the widget's slider shows)."""
        lr = self.lr if lr is None else float(lr)
        del self._params[1:]
        self._lrs, self._steps = [lr], {}
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
        """Change the current iteration's learning rate: its update step is recomputed, later
        iterations are dropped (they will follow from the new update, with this lr)."""
        self._lrs[self.iteration] = float(lr)
        del self._params[self.iteration + 1:]
        del self._lrs[self.iteration + 1:]
        for it in [k for k in self._steps if k >= self.iteration]:
            del self._steps[it]

    def params_off(self):
        """True when this iteration's parameters come from an earlier update that differs from
        the reference network's (a learner's bug upstream)."""
        return any(self._steps[it][-1].status() not in ("ok", None)
                   for it in range(self.iteration) if it in self._steps)

    def wrong_steps(self):
        """The 1-based numbers of the steps up to the current one whose function differs
        from the reference (the source of every "inherited" error after them)."""
        return [i + 1 for i, s in enumerate(self.steps[: self.index + 1]) if s.status() == "wrong"]

    # ------------------------------------------------------------------ what is known

    def known(self, index=None):
        """What the graph shows at step ``index`` of this iteration (default: the current one):
        ``(values, grads, new_params)``.

        values: forward values computed so far (name -> array), grads: gradients computed
        so far (name -> array, keyed by the variable, e.g. "W2"), new_params: the updated
        parameters once the update step is reached.
        """
        values, grads, new = {}, {}, {}
        for s in self.steps[: (self.index if index is None else index) + 1]:
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

    def flags(self):
        """The graph's boxes whose numbers differ from the reference network's so far:
        box name -> "wrong" (computed by a function with a bug) or "inherited"."""
        flags = {}
        for s in self.steps[: self.index + 1]:
            status = s.status()
            if status not in ("wrong", "inherited"):
                continue
            for k in s.results:
                if k in s.truth and not _close({k: s.results[k]}, {k: s.truth[k]}, 1e-6, 1e-9):
                    box = {"P": "L", "L_new": "L"}.get(k, k)
                    box = box[1:] if s.phase == "backward" else box.removesuffix("_new")
                    if flags.get(box) != "wrong":
                        flags[box] = status
        return flags

    # ------------------------------------------------------------------ the steps

    def _build(self, p, lr):
        F, X, y = self.F, self.X, self.y
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
        truth = reference_network(X, y, p, lr)
        for step, function in zip(steps, STEP_FUNCTIONS):
            step.function = function
            step.truth = {k: truth[k] for k in step.results if k in truth}
        steps[-1].lr = lr
        return steps

    def __repr__(self):
        s = self.step
        return (f"BackpropStepper(iteration {self.iteration + 1}, step {self.index + 1} of "
                f"{len(self.steps)}: {s.phase} {s.node})")


#: The exercise function behind each of the 13 steps.
STEP_FUNCTIONS = ("", "dense_forward", "relu_forward", "dense_forward",
                  "softmax, softmax_cross_entropy", "softmax_cross_entropy", "dense_backward",
                  "dense_backward", "dense_backward", "relu_backward", "dense_backward",
                  "dense_backward", "sgd_step")


def reference_network(X, y, p, lr):
    """Every value of one iteration computed with bpcourse's reference functions from the
    parameters ``p``: the stepper's names ("Z1", ..., "dW2", ..., "W2_new", "L_new")."""
    ref = {name: reference(name) for name in FUNCTION_NAMES}
    t = {"X": X}
    t["Z1"], c1 = ref["dense_forward"](X, p["W1"], p["b1"])
    t["A1"], c_relu = ref["relu_forward"](t["Z1"])
    t["Z2"], c2 = ref["dense_forward"](t["A1"], p["W2"], p["b2"])
    t["P"] = ref["softmax"](t["Z2"])
    L, t["dZ2"] = ref["softmax_cross_entropy"](t["Z2"], y)
    t["L"] = np.float64(L)
    t["dA1"], t["dW2"], t["db2"] = ref["dense_backward"](t["dZ2"], c2)
    t["dZ1"] = ref["relu_backward"](t["dA1"], c_relu)
    _, t["dW1"], t["db1"] = ref["dense_backward"](t["dZ1"], c1)
    new = {k: ref["sgd_step"](p[k], t["d" + k], lr) for k in PARAMS}
    t.update({k + "_new": v for k, v in new.items()})
    Z1n, _ = ref["dense_forward"](X, new["W1"], new["b1"])
    Z2n, _ = ref["dense_forward"](ref["relu_forward"](Z1n)[0], new["W2"], new["b2"])
    t["L_new"] = np.float64(ref["softmax_cross_entropy"](Z2n, y)[0])
    return t
