"""Checks for whole networks: the two-layer network of notebook 5, and the MLP of notebook 10
(forward, backward, a training step, an epoch).

These functions call the layer functions by name.  In a notebook they call whatever the
notebook holds under those names (yours where they passed their check, the reference where
they did not); the grader gives them the same (see ``Exercise.uses``).  So a mistake in a
layer is reported by that layer's check, not again here.
"""

import numpy as np

from ... import layers, network as net
from ...losses import softmax_cross_entropy
from ...optim import adam_step
from ..build import call, normal, numerical_gradient, ok, spec
from ..core import Case, Exercise, Mistake, compare_all


# ---------------------------------------------------------------- inputs

def _mlp(rng, sizes, batchnorm, dropout, dtype=np.float64, lr=0.01):
    """Parameters with nothing trivial in them (biases, gamma, beta, running statistics all
    random), inputs X (N, D0), and the config."""
    config = {"batchnorm": batchnorm, "dropout": dropout, "lr": lr}
    params = net.init_mlp(sizes, config, rng, dtype=dtype, last_scale=1.0)
    for key, p in params.items():
        if key.startswith(("b", "beta")):
            params[key] = normal(rng, p.shape, dtype, 0.3)
        elif key.startswith("gamma"):
            params[key] = rng.uniform(0.5, 1.5, p.shape).astype(dtype)
        elif key.startswith("running_mean"):
            params[key] = normal(rng, p.shape, dtype, 0.5)
        elif key.startswith("running_var"):
            params[key] = rng.uniform(0.5, 2.0, p.shape).astype(dtype)
    return params, config


def _shapes(params):
    return ", ".join(f"{k} {params[k].shape}" for k in params if k.startswith("W"))


def _seed(rng):
    return int(rng.integers(2**31))


# ---------------------------------------------------------------- two_layer_loss_and_grads

def two_layer_cases(rng, given):
    cases = []
    for dtype, label in ((np.float64, "float64"), (np.float32, "float32")):
        N, D, H, C = 7, 3, 6, 4
        params = [normal(rng, (D, H), dtype), normal(rng, H, dtype, 0.3),
                  normal(rng, (H, C), dtype), normal(rng, C, dtype, 0.3)]
        X, y = normal(rng, (N, D), dtype), rng.integers(0, C, N)
        cases.append(Case(f"random {label} network 3 → 6 → 4, a batch of {N}",
                          [call("two_layer_loss_and_grads", spec(params), X, y)], {"N": N}))
    N, D, H, C = 5, 2, 4, 3
    params = [normal(rng, (D, H)), normal(rng, H, scale=0.3), normal(rng, (H, C)),
              normal(rng, C, scale=0.3)]
    X, y = normal(rng, (N, D)), rng.integers(0, C, N)
    grads = []
    for i in range(4):
        def loss(p, i=i):
            trial = list(params)
            trial[i] = p
            return net.two_layer_loss_and_grads(trial, X, y)[0]
        grads.append(numerical_gradient(loss, params[i]))
    loss0 = net.two_layer_loss_and_grads(params, X, y)[0]
    cases.append(Case("gradient check: every gradient against centred numerical gradients (float64)",
                      [call("two_layer_loss_and_grads", spec(params), X, y)], {"N": N},
                      expected=[ok(loss0, grads)]))
    return cases


def _two_layer_variant(params, X, y, relu_backward=True, extra_n=False, order=(0, 1, 2, 3)):
    W1, b1, W2, b2 = params
    Z1, c1 = layers.dense_forward(X, W1, b1)
    A1, cr = layers.relu_forward(Z1)
    Z2, c2 = layers.dense_forward(A1, W2, b2)
    loss, dZ2 = softmax_cross_entropy(Z2, y)
    dA1, dW2, db2 = layers.dense_backward(dZ2, c2)
    dZ1 = layers.relu_backward(dA1, cr) if relu_backward else dA1
    _, dW1, db1 = layers.dense_backward(dZ1, c1)
    grads = [dW1, db1, dW2, db2]
    if extra_n:
        grads = [g / len(X) for g in grads]
    return loss, [grads[i] for i in order]


two_layer_loss_and_grads = Exercise(
    name="two_layer_loss_and_grads", notebook="05_dense_backward",
    signature="two_layer_loss_and_grads(params, X, y) -> (loss, [dW1, db1, dW2, db2])",
    arg_names=("params", "X", "y"), outputs=("loss", "grads"),
    make_cases=two_layer_cases,
    uses=("dense_forward", "relu_forward", "softmax_cross_entropy", "dense_backward",
          "relu_backward"),
    mistakes=[
        Mistake("the gradient must go through ReLU on its way down: dZ1 = relu_backward(dA1, "
                "cache) before the first layer's dense_backward.",
                fn=lambda p, X, y: _two_layer_variant(p, X, y, relu_backward=False)),
        Mistake("the 1/N is already in dZ2 (the mean loss): no layer divides its gradients "
                "by N again.", fn=lambda p, X, y: _two_layer_variant(p, X, y, extra_n=True)),
        Mistake("return the gradients in the order of the parameters, [dW1, db1, dW2, db2] "
                "(the backward pass meets them in reverse).",
                fn=lambda p, X, y: _two_layer_variant(p, X, y, order=(2, 3, 0, 1))),
        Mistake("a shape error: each dense_backward needs the cache of its own layer (the first "
                "layer's cache holds X, W1, b1), and the gradient of that layer's output.",
                error=r"shape|matmul|not aligned|broadcast"),
    ],
    hints=(
        "Forward with the layer functions, keeping each cache; then the backward calls in "
        "reverse order, each with its own layer's cache.",
        "softmax_cross_entropy gives the loss and dZ2; dense_backward(dZ2, cache2) gives dA1, "
        "dW2, db2; ReLU's backward turns dA1 into dZ1; dense_backward(dZ1, cache1) gives dW1 "
        "and db1 (its dX is not needed).",
        "Z1, c1 = dense_forward(X, W1, b1); A1, cr = relu_forward(Z1); Z2, c2 = "
        "dense_forward(A1, W2, b2); loss, dZ2 = softmax_cross_entropy(Z2, y); dA1, dW2, db2 = "
        "dense_backward(dZ2, c2); dZ1 = relu_backward(dA1, cr); _, dW1, db1 = "
        "dense_backward(dZ1, c1); return loss, [dW1, db1, dW2, db2]",
    ),
)


# ---------------------------------------------------------------- mlp_forward

def forward_cases(rng, given):
    cases = []
    params, config = _mlp(rng, [5, 7, 6, 4], False, 0.0)
    X = normal(rng, (9, 5))
    cases.append(Case(f"float64, two hidden layers ({_shapes(params)}), no batch norm, no "
                      f"dropout, training mode",
                      [call("mlp_forward", X, spec(params), spec(config), {"rng": 0})]))
    params, config = _mlp(rng, [6, 8, 5, 3], True, 0.3, np.float32)
    X, seed = normal(rng, (10, 6), np.float32), _seed(rng)
    forward = call("mlp_forward", X, spec(params), spec(config), {"rng": seed})
    cases.append(Case("float32 with batch norm and dropout 0.3, training mode (the masks come "
                      "from rng, one dropout_forward per hidden layer)", [forward, forward]))
    params, config = _mlp(rng, [4, 6, 5, 3], True, 0.5)
    X = normal(rng, (8, 4))
    cases.append(Case("eval mode (train=False) with batch norm and dropout: running statistics, "
                      "no dropout",
                      [call("mlp_forward", X, spec(params), spec(config), {"rng": _seed(rng)},
                            False)]))
    params, config = _mlp(rng, [6, 3], True, 0.2)
    cases.append(Case("one layer only (K = 1): no hidden layer, so no ReLU, batch norm or dropout",
                      [call("mlp_forward", normal(rng, (5, 6)), spec(params), spec(config),
                            {"rng": 1})]))
    params, config = _mlp(rng, [5, 6, 7, 6, 4], True, 0.0)
    cases.append(Case("four layers with batch norm (any depth), float64",
                      [call("mlp_forward", normal(rng, (7, 5)), spec(params), spec(config),
                            {"rng": 2})]))
    return cases


def _forward_variant(X, params, config, rng=None, train=True, *, relu_last=False,
                     running_in_train=False, batch_in_eval=False, dropout_in_eval=False,
                     relu_before_bn=False):
    """mlp_forward with one thing done wrong (the logits only: the caches are not judged)."""
    K = net.n_layers(params)
    A = X
    for l in range(1, K + 1):
        Z, _ = layers.dense_forward(A, params[f"W{l}"], params[f"b{l}"])
        if l == K:
            break
        if relu_before_bn:
            Z = np.maximum(Z, 0)
        if config["batchnorm"]:
            gamma, beta = params[f"gamma{l}"], params[f"beta{l}"]
            if (train and not running_in_train) or (not train and batch_in_eval):
                Z, _ = layers.batchnorm_forward(Z, gamma, beta)
            else:
                Z = gamma * (Z - params[f"running_mean{l}"]) / \
                    np.sqrt(params[f"running_var{l}"] + net.BN_EPS) + beta
        A = Z if relu_before_bn else np.maximum(Z, 0)
        if config["dropout"] > 0 and (train or dropout_in_eval):
            A, _ = layers.dropout_forward(A, config["dropout"], rng)
    if relu_last:
        Z = np.maximum(Z, 0)
    return Z, None


def _variant(**wrong):
    return lambda *args, **kwargs: _forward_variant(*args, **kwargs, **wrong)


def _two_calls_differ(case, got, expected=None):
    """Two calls with the same inputs (and generators of the same seed) gave different results."""
    if len(got) < 2 or any(g["status"] != "ok" for g in got[:2]):
        return False
    return not _same(got[0]["returned"], got[1]["returned"])


def _same(a, b):
    """Packed results that are exactly equal (arrays bit for bit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return False
        return all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    return type(a) is type(b) and a == b


mlp_forward = Exercise(
    name="mlp_forward", notebook="10_training_loop",
    signature="mlp_forward(X, params, config, rng=None, train=True) -> (logits, caches)",
    arg_names=("X", "params", "config", "rng", "train"), outputs=("logits", None),
    make_cases=forward_cases,
    uses=("dense_forward", "batchnorm_forward", "relu_forward", "dropout_forward"),
    mistakes=[
        Mistake("no ReLU after the last layer: the logits are the last dense layer's Z (the "
                "loss's softmax needs negative logits too).", fn=_variant(relu_last=True)),
        Mistake("batch norm in eval mode during training: with train=True normalize with the "
                "batch's own statistics (batchnorm_forward); the running statistics are for "
                "train=False.", fn=_variant(running_in_train=True)),
        Mistake("in eval mode (train=False) batch norm uses the running statistics, "
                "gamma·(Z − running_mean)/√(running_var + 1e-5) + beta, not the batch's: a "
                "prediction must not depend on the other examples of the batch.",
                fn=_variant(batch_in_eval=True)),
        Mistake("dropout is the identity in eval mode (train=False): drop units only while "
                "training.", fn=_variant(dropout_in_eval=True)),
        Mistake("the block is Dense → BatchNorm → ReLU → Dropout: batch norm normalizes the "
                "dense layer's output, before the ReLU.", fn=_variant(relu_before_bn=True)),
        Mistake("two calls with generators of the same seed gave different logits: draw the "
                "dropout masks with dropout_forward(A, p, rng) from the rng argument, never "
                "from np.random.", test=_two_calls_differ),
        Mistake("a shape error: layer l is dense_forward(A, params[f'W{l}'], params[f'b{l}']) "
                "with A the previous layer's output (X for l = 1); count the layers from the W "
                "keys.", error=r"shape|matmul|not aligned|broadcast|KeyError"),
    ],
    hints=(
        "Loop over the layers 1 … K (one per W key): a dense layer, and for every layer but the "
        "last the rest of the block; append each layer's (kind, cache).",
        "Hidden block l: dense_forward, then batchnorm_forward when config['batchnorm'] (in eval "
        "mode, the running statistics instead), relu_forward, then dropout_forward(A, p, rng) "
        "when training and p > 0. The last layer is dense_forward alone: its Z are the logits.",
        "for l in 1..K: Z, c = dense_forward(A, params[f'W{l}'], params[f'b{l}']); "
        "caches.append(('dense', c)); if l == K: break; if batchnorm: Z, c = "
        "batchnorm_forward(Z, params[f'gamma{l}'], params[f'beta{l}']) (train) or gamma·(Z − "
        "running_mean)/√(running_var + 1e-5) + beta (eval); A, c = relu_forward(Z); if train "
        "and p > 0: A, c = dropout_forward(A, p, rng); return Z, caches (None in eval mode).",
    ),
)


# ---------------------------------------------------------------- mlp_backward

def backward_cases(rng, given):
    cases = []
    # first, before any other call: a grads dict that outlives the call starts out empty here
    params, config = _mlp(rng, [3, 4, 2], False, 0.5)
    X = normal(rng, (5, 3))
    logits, caches = net.mlp_forward(X, params, config, np.random.default_rng(_seed(rng)))
    dlogits = normal(rng, logits.shape, scale=0.2)
    twice = call("mlp_backward", dlogits, spec(caches))
    cases.append(Case("called twice with the same inputs: the same gradients both times",
                      [twice, twice], {"N": len(X)},
                      judge=lambda case, got, expected: compare_all(mlp_backward, case, got,
                                                                    expected)))
    for dtype, label, bn, p in ((np.float64, "float64", True, 0.3),
                                (np.float32, "float32", False, 0.0)):
        params, config = _mlp(rng, [5, 6, 7, 3], bn, p, dtype)
        X, seed = normal(rng, (8, 5), dtype), _seed(rng)
        logits, caches = net.mlp_forward(X, params, config, np.random.default_rng(seed))
        dlogits = normal(rng, logits.shape, dtype, 0.2)
        what = "batch norm and dropout 0.3" if bn else "no batch norm, no dropout"
        cases.append(Case(f"{label}, {what}, the caches as documented",
                          _backward_calls(dlogits, caches, X, params, config, seed, given),
                          {"N": len(X)}))
    params, config = _mlp(rng, [4, 5, 6, 3], True, 0.4)
    X, seed = normal(rng, (6, 4)), _seed(rng)
    logits, caches = net.mlp_forward(X, params, config, np.random.default_rng(seed))
    dlogits = normal(rng, logits.shape, scale=0.2)
    grads = net.mlp_backward(dlogits, caches)
    numerical = {}
    for key in grads:  # the same generator seed each time: the same dropout masks
        def f(x, key=key):
            trial = dict(params)
            trial[key] = x
            out, _ = net.mlp_forward(X, trial, config, np.random.default_rng(seed))
            return float(np.sum(out * dlogits))
        numerical[key] = numerical_gradient(f, params[key])
    cases.append(Case("gradient check: every gradient of a network with batch norm and dropout "
                      "(a fixed mask) against centred numerical gradients (float64)",
                      _backward_calls(dlogits, caches, X, params, config, seed, given),
                      {"N": len(X)}, expected=[ok(numerical, tuple_=False)]))
    return cases


def _backward_calls(dlogits, caches, X, params, config, seed, given):
    calls = [call("mlp_backward", dlogits, spec(caches))]
    if "mlp_forward" in given:
        calls.append(call("mlp_backward", dlogits, {"cache_of": call(
            "mlp_forward", X, spec(params), spec(config), {"rng": seed})}))
    return calls


def _backward_variant(dlogits, caches, *, skip=(), number_up=False,
                      no_bn_params=False):
    grads = {}
    n_dense = sum(kind == "dense" for kind, _ in caches)
    l = 1 if number_up else n_dense
    d = dlogits
    for kind, cache in reversed(caches):
        if kind in skip:
            continue
        if kind == "dense":
            d, grads[f"W{l}"], grads[f"b{l}"] = layers.dense_backward(d, cache)
            l += 1 if number_up else -1
        elif kind == "batchnorm":
            d, dgamma, dbeta = layers.batchnorm_backward(d, cache)
            if not no_bn_params:
                grads[f"gamma{l}"], grads[f"beta{l}"] = dgamma, dbeta
        elif kind == "relu":
            d = layers.relu_backward(d, cache)
        else:
            d = layers.dropout_backward(d, cache)
    return grads


def _added_on_second_call(case, got, expected):
    """The second of two identical calls returned the first call's gradients plus the right
    ones: a grads dict that outlives the call keeps adding."""
    if len(got) < 2 or any(g["status"] != "ok" for g in got[:2]):
        return False
    first, second = (g["returned"]["items"][0] for g in got[:2])
    right = expected[0]["returned"]["items"][0]
    if not all(item["kind"] == "dict" for item in (first, second, right)) or \
            not set(right["keys"]) <= set(first["keys"]) & set(second["keys"]):
        return False
    for key, r in zip(right["keys"], right["items"]):
        a = first["items"][first["keys"].index(key)]
        b = second["items"][second["keys"].index(key)]
        if not (a["kind"] == b["kind"] == "array" and a["value"].shape == r["value"].shape):
            return False
        if not np.allclose(b["value"] - a["value"], r["value"], rtol=1e-6, atol=1e-10):
            return False
    return True


mlp_backward = Exercise(
    name="mlp_backward", notebook="10_training_loop",
    signature="mlp_backward(dlogits, caches) -> grads",
    arg_names=("dlogits", "caches"), outputs=("grads",),
    make_cases=backward_cases, needs=("mlp_forward",),
    uses=("dense_backward", "batchnorm_backward", "relu_backward", "dropout_backward"),
    mistakes=[
        Mistake("number the layers from the end: walking back, the first dense cache is layer "
                "K (the last), so its gradients are W{K} and b{K}.",
                fn=lambda d, c: _backward_variant(d, c, number_up=True)),
        Mistake("a layer's gradients are missing: batch norm's dgamma and dbeta belong in grads "
                "too, as gamma{l} and beta{l} of the layer it follows.",
                fn=lambda d, c: _backward_variant(d, c, no_bn_params=True)),
        Mistake("the gradient must go back through every dropout: dropout_backward(d, mask) "
                "with the mask of the forward pass.",
                fn=lambda d, c: _backward_variant(d, c, skip=("dropout",))),
        Mistake("the gradient must go back through every ReLU: relu_backward(d, Z).",
                fn=lambda d, c: _backward_variant(d, c, skip=("relu",))),
        Mistake("the gradients of the previous call were not cleared: the second call returned "
                "the first one's plus the new ones. Start from a new, empty grads dict inside "
                "the function (not a global one, not a default argument grads={}), as "
                "optimizer.zero_grad() does in PyTorch.", test=_added_on_second_call),
        Mistake("two calls with the same caches gave different gradients: the backward pass "
                "must reuse the dropout masks saved in the caches, never draw new ones.",
                test=_two_calls_differ),
        Mistake("a shape error: walk the caches in reverse (reversed(caches)), and give each "
                "layer's backward the gradient of its own output and its own cache.",
                error=r"shape|matmul|not aligned|broadcast"),
    ],
    hints=(
        "Walk the caches backwards, calling each layer's backward on the gradient that arrives; "
        "the dense and batch-norm layers also give gradients of their parameters.",
        "Keep a layer counter l that starts at K (the number of dense caches): a 'dense' cache "
        "gives dW, db for layer l and then l decreases; a 'batchnorm' cache belongs to the "
        "current l (gamma{l}, beta{l}); 'relu' and 'dropout' only pass the gradient on.",
        "grads = {}; l = number of dense caches; d = dlogits; for kind, cache in "
        "reversed(caches): dense: d, grads[f'W{l}'], grads[f'b{l}'] = dense_backward(d, cache); "
        "l -= 1 | batchnorm: d, grads[f'gamma{l}'], grads[f'beta{l}'] = batchnorm_backward(d, "
        "cache) | relu: d = relu_backward(d, cache) | dropout: d = dropout_backward(d, cache); "
        "return grads",
    ),
)


# ---------------------------------------------------------------- train_step

def step_cases(rng, given):
    cases = []
    params, config = _mlp(rng, [5, 6, 4, 3], True, 0.2, lr=0.01)
    X, y = normal(rng, (8, 5)), rng.integers(0, 3, 8)
    state = net.init_adam_state(params)
    cases.append(Case("the first step (t = 0, zero moments), float64, batch norm and dropout 0.2, "
                      "lr 0.01", [call("train_step", spec(params), spec(state), X, y,
                                       spec(config), {"rng": _seed(rng)})]))
    params, config = _mlp(rng, [4, 7, 3], False, 0.0, np.float32, lr=0.003)
    state = net.init_adam_state(params)
    state["t"] = 7
    for moments, scale in ((state["m"], 0.1), (state["v"], 0.01)):
        for k in moments:
            moments[k] = np.abs(normal(rng, moments[k].shape, np.float32, scale))
    X, y = normal(rng, (6, 4), np.float32), rng.integers(0, 3, 6)
    cases.append(Case("a later step (t = 7, non-zero moments), float32, no batch norm, lr 0.003",
                      [call("train_step", spec(params), spec(state), X, y, spec(config),
                            {"rng": _seed(rng)})]))
    params, config = _mlp(rng, [3, 5, 5, 2], True, 0.0, lr=0.05)
    state = net.init_adam_state(params)
    X, y = normal(rng, (4, 3)) * 3 + 1, rng.integers(0, 2, 4)
    cases.append(Case("a batch of 4 with batch norm: the running variance uses the unbiased "
                      "batch variance (× N/(N − 1))",
                      [call("train_step", spec(params), spec(state), X, y, spec(config),
                            {"rng": 0})]))
    return cases


def _step_variant(params, state, X, y, config, rng=None, *, t_offset=1, default_lr=False,
                  no_running=False, biased_var=False, swapped_momentum=False,
                  old_moments=False):
    logits, caches = net.mlp_forward(X, params, config, rng)
    loss, dlogits = softmax_cross_entropy(logits, y)
    grads = net.mlp_backward(dlogits, caches)
    t = state["t"] + t_offset
    new_params, m, v = dict(params), dict(state["m"]), dict(state["v"])
    for key, grad in grads.items():
        lr = {} if default_lr else {"lr": config["lr"]}
        new_params[key], m[key], v[key] = adam_step(params[key], grad, state["m"][key],
                                                    state["v"][key], t, **lr)
    if not no_running:
        w = 0.9 if swapped_momentum else 0.1
        for l, (_, _, mu, var, _, _) in enumerate([c for k, c in caches if k == "batchnorm"], 1):
            N = len(X)
            unbias = 1.0 if biased_var else N / (N - 1)
            new_params[f"running_mean{l}"] = (1 - w) * params[f"running_mean{l}"] + w * mu
            new_params[f"running_var{l}"] = (1 - w) * params[f"running_var{l}"] \
                + w * var * unbias
    if old_moments:
        m, v = state["m"], state["v"]
    return new_params, {"t": state["t"] + 1, "m": m, "v": v}, loss


def _step(**wrong):
    return lambda *args, **kwargs: _step_variant(*args, **kwargs, **wrong)


train_step = Exercise(
    name="train_step", notebook="10_training_loop",
    signature="train_step(params, state, X, y, config, rng=None) -> (params, state, loss)",
    arg_names=("params", "state", "X", "y", "config", "rng"),
    outputs=("params", "state", "loss"),
    make_cases=step_cases,
    uses=("mlp_forward", "mlp_backward", "softmax_cross_entropy", "adam_step"),
    mistakes=[
        Mistake("t is the number of this step, state['t'] + 1 (1 for the first step): Adam's "
                "bias correction divides by 1 − β₁ᵗ.", fn=_step(t_offset=0)),
        Mistake("use config['lr'] as Adam's learning rate (adam_step(..., lr=config['lr'])): "
                "the check passes other values than Adam's default.", fn=_step(default_lr=True)),
        Mistake("the running statistics of every batch norm must be updated from the batch's "
                "mu and var (in its cache): running ← 0.9·running + 0.1·batch.",
                fn=_step(no_running=True)),
        Mistake("the running variance is updated with the UNBIASED batch variance, "
                "var · N/(N − 1), as PyTorch does (the cache holds the biased one).",
                fn=_step(biased_var=True)),
        Mistake("batch norm's momentum 0.1 is the weight of the NEW batch: running ← "
                "0.9·running + 0.1·batch, not the other way round.",
                fn=_step(swapped_momentum=True)),
        Mistake("return Adam's new moments m and v in the new state: the next step needs them.",
                fn=_step(old_moments=True)),
    ],
    hints=(
        "Forward in training mode, the loss and its gradient, backward; then one adam_step per "
        "key of grads, and the running statistics from the batch-norm caches. Build new dicts: "
        "the caller keeps the old ones.",
        "t = state['t'] + 1; new = dict(params); for each key of grads, adam_step(params[key], "
        "grads[key], m[key], v[key], t, lr=config['lr']) gives the new parameter and moments. "
        "The l-th batch-norm cache (X, X_hat, mu, var, gamma, eps) updates running_mean{l} and "
        "running_var{l} with momentum 0.1 and the unbiased variance var·N/(N − 1).",
        "logits, caches = mlp_forward(X, params, config, rng); loss, dl = "
        "softmax_cross_entropy(logits, y); grads = mlp_backward(dl, caches); t = state['t'] + 1; "
        "new, m, v = dict(params), dict(state['m']), dict(state['v']); for k in grads: new[k], "
        "m[k], v[k] = adam_step(params[k], grads[k], state['m'][k], state['v'][k], t, "
        "lr=config['lr']); for l, bn cache: new[f'running_mean{l}'] = 0.9·rm + 0.1·mu; "
        "new[f'running_var{l}'] = 0.9·rv + 0.1·var·N/(N − 1); return new, {'t': t, 'm': m, "
        "'v': v}, loss",
    ),
)


# ---------------------------------------------------------------- train_epoch

def epoch_cases(rng, given):
    cases = []
    params, config = _mlp(rng, [4, 6, 3], True, 0.2, lr=0.01)
    X, y = normal(rng, (23, 4)), rng.integers(0, 3, 23)
    seed = _seed(rng)
    epoch = call("train_epoch", spec(params), spec(net.init_adam_state(params)), X, y,
                 spec(config), {"rng": seed}, 8)
    cases.append(Case("23 examples in batches of 8 (8, 8, 7), batch norm and dropout, float64",
                      [epoch, epoch]))
    params, config = _mlp(rng, [5, 4, 2], False, 0.0, np.float32, lr=0.02)
    X, y = normal(rng, (20, 5), np.float32), rng.integers(0, 2, 20)
    cases.append(Case("20 examples in batches of 6 (6, 6, 6, 2), float32",
                      [call("train_epoch", spec(params), spec(net.init_adam_state(params)), X, y,
                            spec(config), {"rng": _seed(rng)}, 6)]))
    return cases


def _epoch_variant(params, state, X, y, config, rng, batch_size=64, *, shuffle=True,
                   weighted=True, last_only=False, drop_last=False):
    N = len(X)
    order = rng.permutation(N) if shuffle else np.arange(N)
    stop = N - N % batch_size if drop_last else N
    losses, sizes = [], []
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        params, state, loss = net.train_step(params, state, X[idx], y[idx], config, rng)
        losses.append(loss)
        sizes.append(len(idx))
    if last_only:
        mean = losses[-1]
    elif weighted:
        mean = float(np.dot(losses, sizes) / sum(sizes))
    else:
        mean = float(np.mean(losses))
    return params, state, mean


def _epoch(**wrong):
    return lambda *args, **kwargs: _epoch_variant(*args, **kwargs, **wrong)


train_epoch = Exercise(
    name="train_epoch", notebook="10_training_loop",
    signature="train_epoch(params, state, X, y, config, rng, batch_size=64) -> (params, state, loss)",
    arg_names=("params", "state", "X", "y", "config", "rng", "batch_size"),
    outputs=("params", "state", "loss"),
    make_cases=epoch_cases, uses=("train_step",),
    mistakes=[
        Mistake("shuffle first: visit the examples in the order rng.permutation(N), a new order "
                "every epoch.", fn=_epoch(shuffle=False)),
        Mistake("the epoch's loss is the mean over its N examples: weight each batch's loss by "
                "its size (the last batch is smaller).", fn=_epoch(weighted=False)),
        Mistake("return the mean loss of the whole epoch, not the last batch's.",
                fn=_epoch(last_only=True)),
        Mistake("every example is used once per epoch: keep the last, smaller batch.",
                fn=_epoch(drop_last=True)),
        Mistake("two epochs from generators of the same seed differ: shuffle with the rng "
                "argument (rng.permutation(N)), not np.random, and pass the same rng to "
                "train_step.", test=_two_calls_differ),
    ],
    hints=(
        "Shuffle the indices once with rng, cut them into consecutive batches, and call "
        "train_step on each, carrying params and state from step to step.",
        "order = rng.permutation(N); for start in range(0, N, batch_size): idx = "
        "order[start:start + batch_size]; the loss of the epoch is Σ loss_batch · len(idx) / N.",
        "order = rng.permutation(N); total = 0.0; for start in range(0, N, batch_size): idx = "
        "order[start:start + batch_size]; params, state, loss = train_step(params, state, "
        "X[idx], y[idx], config, rng); total += loss * len(idx); return params, state, total / N",
    ),
)


EXERCISES = [two_layer_loss_and_grads, mlp_forward, mlp_backward, train_step, train_epoch]
