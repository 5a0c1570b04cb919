"""Checks for the tiny autograd of notebook 13: the backward pass over a tape, and a whole
network's gradients by it (tied weights and a residual connection: tensors used twice)."""

import numpy as np

from ... import autograd as ag
from ..build import away_from_kinks, call, normal, numerical_gradient, ok, spec
from ..core import Case, Exercise, Mistake, compare_all
from .network import _added_on_second_call, _mlp, _seed


# ---------------------------------------------------------------- tapes to walk back

def _tape_of(rng, sizes, batchnorm, dropout, dtype=np.float64, N=6, **extra):
    params, config = _mlp(rng, sizes, batchnorm, dropout, dtype)
    config.update(extra)
    X, y = normal(rng, (N, sizes[0]), dtype), rng.integers(0, sizes[-1], N)
    tape = ag.Tape()
    P = ag.parameters({k: v for k, v in params.items() if not k.startswith("running_")}, tape)
    A, K = ag.Tensor(X, tape), len(sizes) - 1
    masks = np.random.default_rng(_seed(rng))
    for l in range(1, K + 1):
        w = 2 if extra.get("tied") and 2 <= l < K else l
        Z = A.dense(P[f"W{w}"], P[f"b{w}"])
        if l == K:
            break
        if batchnorm:
            Z = Z.batchnorm(P[f"gamma{l}"], P[f"beta{l}"])
        H = Z.relu()
        if dropout:
            H = H.dropout(dropout, masks)
        A = A + H if extra.get("residual") and H.data.shape == A.data.shape else H
    loss = Z.softmax_ce(y)
    return tape.entries, loss.id, Z.id


def tape_cases(rng, given):
    cases = []
    entries, loss, _ = _tape_of(rng, [4, 5, 3], False, 0.0)
    twice = call("tape_backward", spec(entries), loss, 1.0)
    cases.append(Case("called twice on the same tape: the same gradients both times", [twice, twice],
                      judge=lambda case, got, expected: compare_all(tape_backward, case, got, expected)))
    entries, loss, _ = _tape_of(rng, [5, 6, 7, 3], True, 0.3)
    cases.append(Case("the tape of a network with batch norm and dropout (float64)",
                      [call("tape_backward", spec(entries), loss, 1.0)]))
    entries, loss, _ = _tape_of(rng, [5, 6, 6, 6, 3], False, 0.0, tied=True)
    cases.append(Case("tied weights: W2 and b2 used by two layers (their gradients are sums)",
                      [call("tape_backward", spec(entries), loss, 1.0)]))
    entries, loss, _ = _tape_of(rng, [4, 6, 6, 3], True, 0.0, np.float32, residual=True)
    cases.append(Case("a residual connection A + relu(...) (float32): A is used twice",
                      [call("tape_backward", spec(entries), loss, 1.0)]))
    entries, loss, logits = _tape_of(rng, [4, 5, 3], False, 0.2)
    cases.append(Case("from the logits, with their gradient given (not the loss, not 1.0)",
                      [call("tape_backward", spec(entries[:-1]), logits, normal(rng, (6, 3)))]))
    entries, loss, _ = _tape_of(rng, [3, 4, 2], False, 0.0)
    cases.append(Case("the loss's gradient given as 2.5 (everything scales by 2.5)",
                      [call("tape_backward", spec(entries), loss, 2.5)]))
    return cases


def _tape_variant(tape, output, grad=1.0, *, overwrite=False, forward_order=False,
                  seed_one=False, add_once=False, loss_rule_without_g=False):
    grads = {output: 1.0 if seed_one else grad}
    for op, inputs, out, cache in (tape if forward_order else reversed(tape)):
        if out not in grads:
            continue
        g = grads[out]
        if op == "add" and add_once:
            rules = (g,)
        elif op == "softmax_ce" and loss_rule_without_g:
            rules = (cache,)
        else:
            rules = ag._backward_rule(op, g, cache)
        for i, gi in zip(inputs, rules):
            grads[i] = gi if overwrite or i not in grads else grads[i] + gi
    return grads


def _tape(**wrong):
    return lambda *args, **kwargs: _tape_variant(*args, **kwargs, **wrong)


tape_backward = Exercise(
    name="tape_backward", notebook="13_autograd",
    signature="tape_backward(tape, output, grad=1.0) -> grads",
    arg_names=("tape", "output", "grad"), outputs=("grads",),
    make_cases=tape_cases,
    uses=("dense_backward", "batchnorm_backward", "relu_backward", "dropout_backward"),
    mistakes=[
        Mistake("a tensor used twice (tied weights, a residual connection) collects the SUM of "
                "the gradients coming back from its uses: add into grads[i], do not overwrite it.",
                fn=_tape(overwrite=True)),
        Mistake("start from the gradient you are given: grads = {output: grad}, not 1.0 (the "
                "output need not be the loss).", fn=_tape(seed_one=True)),
        Mistake("the loss's rule is g · dZ: the gradient that arrives (grad) times the cached "
                "dZ, not dZ alone.", fn=_tape(loss_rule_without_g=True)),
        Mistake("an addition passes the gradient to BOTH of its inputs, unchanged.",
                fn=_tape(add_once=True)),
        Mistake("the gradients of the previous call were not cleared: the second call returned "
                "the first one's plus the new ones. Start from a new dict inside the function, "
                "every call (not a global one, not a default argument).",
                test=_added_on_second_call),
        Mistake("walk the tape backwards, from the last entry to the first (reversed(tape)): an "
                "entry's output gradient is complete only when every later use has added to it.",
                error=r"KeyError|shape|matmul|not aligned|broadcast"),
    ],
    hints=(
        "A dict of gradients, seeded at the output; then the entries from last to first, each "
        "turning its output's gradient into gradients of its inputs.",
        "For each entry (op, inputs, out, cache) in reversed(tape) whose out has a gradient g: "
        "the op's backward rule gives one gradient per input (dense_backward for 'dense', g, g "
        "for 'add', g times the cached dZ for 'softmax_ce' ...); add each to what its input "
        "already has, since a tensor may be used more than once.",
        "grads = {output: grad}; for op, inputs, out, cache in reversed(tape): if out not in "
        "grads: continue; rule = {'dense': dense_backward(g, cache), 'batchnorm': "
        "batchnorm_backward(g, cache), 'relu': (relu_backward(g, cache),), 'dropout': "
        "(dropout_backward(g, cache),), 'add': (g, g), 'softmax_ce': (g * cache,)}[op]; for i, "
        "gi in zip(inputs, rule): grads[i] = grads[i] + gi if i in grads else gi; return grads",
    ),
)


# ---------------------------------------------------------------- a whole network by the tape

def grads_cases(rng, given):
    cases = []
    for dtype, label, bn, p in ((np.float64, "float64", True, 0.3), (np.float32, "float32", False, 0.0)):
        params, config = _mlp(rng, [5, 6, 7, 3], bn, p, dtype)
        X, y = normal(rng, (8, 5), dtype), rng.integers(0, 3, 8)
        what = "batch norm and dropout 0.3" if bn else "no batch norm, no dropout"
        cases.append(Case(f"{label}, {what}: the gradients of mlp_backward",
                          [call("autograd_grads", X, y, spec(params), spec(config),
                                {"rng": _seed(rng)})]))
    for _ in range(50):   # inputs whose ReLU inputs are all away from the kink at 0
        params, config = _mlp(rng, [4, 5, 5, 5, 3], False, 0.0)
        config["tied"] = True
        X, y = normal(rng, (6, 4)), rng.integers(0, 3, 6)
        tape, _, _ = ag.record_mlp(X, y, params, config)
        if away_from_kinks([cache for op, _, _, cache in tape.entries if op == "relu"]):
            break
    numerical = {}
    for key in ("W1", "b1", "W2", "b2", "W4", "b4"):
        def f(x, key=key):
            return ag.autograd_grads(X, y, {**params, key: x}, config)[0]
        numerical[key] = numerical_gradient(f, params[key])
    loss0 = ag.autograd_grads(X, y, params, config)[0]
    cases.append(Case("tied weights (layers 2 and 3 share W2, b2): against centred numerical "
                      "gradients (float64)",
                      [call("autograd_grads", X, y, spec(params), spec(config), {"rng": 0})],
                      expected=[ok(loss0, numerical)]))
    params, config = _mlp(rng, [4, 6, 6, 3], True, 0.2)
    config["residual"] = True
    X, y = normal(rng, (7, 4)), rng.integers(0, 3, 7)
    cases.append(Case("a residual connection (A + block(A)) with batch norm and dropout",
                      [call("autograd_grads", X, y, spec(params), spec(config), {"rng": _seed(rng)})]))
    params, config = _mlp(rng, [3, 4, 2], False, 0.0)
    X, y = normal(rng, (5, 3)), rng.integers(0, 2, 5)
    cases.append(Case("loss.backward() called twice (backward_calls=2): the same gradients as once",
                      [call("autograd_grads", X, y, spec(params), spec(config), {"rng": 0}, 2)]))
    return cases


def _grads_twice_doubled(X, y, params, config, rng=None, backward_calls=1):
    loss, grads = ag.autograd_grads(X, y, params, config, rng)
    return loss, {k: g * backward_calls for k, g in grads.items()}


def _grads_untied(X, y, params, config, rng=None, backward_calls=1):
    """Tied weights as separate tensors: each key keeps the gradient of its last use only."""
    tape = ag.Tape()
    trained = {k: v for k, v in params.items() if not k.startswith("running_")}
    P = ag.parameters(trained, tape)
    K = sum(1 for k in params if k.startswith("W"))
    A, last = ag.Tensor(X, tape), {}
    for l in range(1, K + 1):
        w = 2 if config.get("tied") and 2 <= l < K else l
        W, b = (ag.Tensor(trained[f"W{w}"], tape), ag.Tensor(trained[f"b{w}"], tape)) \
            if w != l else (P[f"W{w}"], P[f"b{w}"])
        last[f"W{w}"], last[f"b{w}"] = W, b
        Z = A.dense(W, b)
        if l == K:
            break
        if config["batchnorm"]:
            Z = Z.batchnorm(P[f"gamma{l}"], P[f"beta{l}"])
        H = Z.relu()
        if config["dropout"] > 0:
            H = H.dropout(config["dropout"], rng)
        A = A + H if config.get("residual") and H.data.shape == A.data.shape else H
    loss = Z.softmax_ce(y)
    grads = ag.tape_backward(tape.entries, loss.id)
    out = {k: grads[t.id] for k, t in P.items() if t.id in grads}
    out.update({k: grads[t.id] for k, t in last.items() if t.id in grads})
    return float(loss.data), out


autograd_grads = Exercise(
    name="autograd_grads", notebook="13_autograd",
    signature="autograd_grads(X, y, params, config, rng=None, backward_calls=1) -> (loss, grads)",
    arg_names=("X", "y", "params", "config", "rng", "backward_calls"), outputs=("loss", "grads"),
    make_cases=grads_cases,
    uses=("tape_backward", "dense_forward", "batchnorm_forward", "relu_forward",
          "dropout_forward", "softmax_cross_entropy"),
    mistakes=[
        Mistake("calling backward() a second time doubled the gradients: backward must compute "
                "them afresh (set each tensor's .grad from this pass's gradients), not add them to "
                "what the last call left.", fn=_grads_twice_doubled),
        Mistake("a parameter used by several layers must be ONE tensor, used several times: its "
                "gradient is then the sum over its uses. A new Tensor per use keeps only one "
                "use's gradient.", fn=_grads_untied),
    ],
    hints=(
        "The network of notebook 10, written with Tensor operations on one tape; then one "
        "backward() from the loss, and the .grad of every parameter tensor.",
        "Make one Tensor per parameter (parameters(params, tape)) and one for X on the same tape; "
        "each layer is a method call (A.dense(W, b), .batchnorm(gamma, beta), .relu(), "
        ".dropout(p, rng)); the loss is logits.softmax_ce(y); backward() runs tape_backward from "
        "the loss's id and sets .grad of every watched tensor from its result.",
        "tape = Tape(); P = parameters(trained params, tape); A = Tensor(X, tape); for l in 1..K: "
        "Z = A.dense(P[f'W{w}'], P[f'b{w}']) (w = 2 for tied layers 2 … K-1); if l == K: break; "
        "batch norm, relu, dropout as configured; A = A + H if residual else H; loss = "
        "Z.softmax_ce(y); loss.backward() (backward_calls times); return float(loss.data), "
        "{k: t.grad for k, t in P.items() if t.grad is not None}",
    ),
)

EXERCISES = [tape_backward, autograd_grads]
