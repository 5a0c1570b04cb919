"""The widgets, driven through the ipywidgets Python API (no browser): clicking buttons and
moving sliders changes the state and the plotted data as the math says."""

import time

import numpy as np
import pytest

from bpcourse import layers, losses, nn, optim
from bpcourse.data import load_digits
from bpcourse.training import TrainingDiverged, fit
from bpcourse.widgets import (ActivationExplorer, BackpropStepper, OptimizerExplorer,
                              StepperWidget, TrainingDashboard, deep_net_stats, descend)
from bpcourse.widgets._common import fmt
from bpcourse.widgets.optimizers import SURFACES


# ====================================================================== the stepper

def reference_pass(stepper, params=None):
    """Forward and backward of the stepper's network with bpcourse's reference functions."""
    p = params or stepper.params
    X, y = stepper.X, stepper.y
    Z1, c1 = layers.dense_forward(X, p["W1"], p["b1"])
    A1, _ = layers.relu_forward(Z1)
    Z2, c2 = layers.dense_forward(A1, p["W2"], p["b2"])
    L, dZ2 = losses.softmax_cross_entropy(Z2, y)
    dA1, dW2, db2 = layers.dense_backward(dZ2, c2)
    dZ1 = layers.relu_backward(dA1, Z1)
    _, dW1, db1 = layers.dense_backward(dZ1, c1)
    return {"X": X, "Z1": Z1, "A1": A1, "Z2": Z2, "P": losses.softmax(Z2), "L": L,
            "dZ2": dZ2, "dW2": dW2, "db2": db2, "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


def shown_numbers(html):
    return html.replace("−", "-")


def test_stepper_visits_every_node_forward_then_backward_then_update():
    st = BackpropStepper()
    order = [(s.phase, s.node) for s in st.steps]
    assert order == [("forward", n) for n in ("X", "Z1", "A1", "Z2", "L")] + \
        [("backward", n) for n in ("Z2", "W2", "b2", "A1", "Z1", "W1", "b1")] + [("update", "update")]


def test_stepper_buttons_show_the_reference_value_and_gradient_at_every_node():
    w = StepperWidget()
    ref = reference_pass(w.stepper)
    assert w.prev_button.disabled
    seen = set()
    for i in range(12):
        step = w.stepper.step
        assert w.stepper.index == i
        for name, value in step.results.items():
            if name in ref:
                np.testing.assert_allclose(value, ref[name], rtol=1e-12, atol=1e-15)
                seen.add(name)
                for v in np.ravel(value):   # the numbers are on display
                    assert fmt(v).replace("−", "-") in shown_numbers(w.details.value), (name, v)
        if step.reference:
            assert step.matches_reference() and "✓ equals bpcourse's reference" in w.details.value
        if step.phase == "backward":   # the gradient that arrives is the one computed before
            assert w.details.value.count("gradient arriving") == 1
        w.next_button.click()
    assert seen == set(ref)
    assert w.stepper.step.phase == "update"
    # the graph shows the gradients next to the values, in the nodes
    assert "d −0.21 +0.21" in w.graph.value            # dW₂'s first row, 2 decimals
    assert f"after: {fmt(w.stepper.step.results['L_new'])}" in w.graph.value


def test_stepper_hand_numbers_of_the_default_example():
    st = BackpropStepper()
    st.goto("forward", "L")
    assert f"{st.step.results['L']:.4f}" == "0.4893"
    st.goto("backward", "b1")
    # unit 3 is inactive for both examples: no gradient reaches its weights
    np.testing.assert_array_equal(st.known()[1]["W1"][:, 2], 0.0)
    assert st.step.results["db1"][2] == 0.0


def test_stepper_update_step_and_the_next_iteration():
    w = StepperWidget(lr=0.5)
    st = w.stepper
    ref = reference_pass(st)
    st.goto("update")
    w.refresh()
    res = st.step.results
    for k in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(res[k + "_new"], st.params[k] - 0.5 * ref["d" + k], rtol=1e-12)
    assert res["L_new"] < ref["L"]
    assert "θ (new)" in w.details.value
    w.next_button.click()                       # iteration 2 starts from the new parameters
    assert (st.iteration, st.index) == (1, 0)
    for k in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(st.params[k], res[k + "_new"])
    st.goto("forward", "L")
    assert st.step.results["L"] == pytest.approx(res["L_new"], rel=1e-12)
    st.reset()
    w.prev_button.click()                       # nothing before the first step
    assert (st.iteration, st.index) == (0, 0)
    w.next_button.click()
    w.prev_button.click()
    assert (st.iteration, st.index) == (0, 0)
    # the lr slider recomputes the update
    st.goto("update")
    w.lr_slider.value = 1.0
    np.testing.assert_allclose(st.step.results["W2_new"], st.params["W2"] - 1.0 * ref["dW2"])
    assert "lr = 1" in w.details.value


def test_stepper_runs_the_learners_functions_and_says_when_they_differ():
    def dense_backward(dZ, cache):          # a classic bug: the bias gradient averaged
        X, W, b = cache
        return dZ @ W.T, X.T @ dZ, dZ.mean(axis=0)

    w = StepperWidget(functions={"dense_backward": dense_backward})
    assert "<b>yours</b>: <code>dense_backward</code>" in w.sources.value
    w.stepper.goto("backward", "b2")
    w.refresh()
    step = w.stepper.step
    assert not step.matches_reference()
    np.testing.assert_allclose(step.results["db2"], step.reference["db2"] / 2)
    assert "✗ differs from bpcourse's reference" in w.details.value

    def relu_backward(dA, cache):           # a correct one of the learner's: ✓
        return dA * (cache > 0)

    w = StepperWidget(functions={"relu_backward": relu_backward})
    w.stepper.goto("backward", "Z1")
    w.refresh()
    assert w.stepper.F.relu_backward is relu_backward
    assert "✓ equals bpcourse's reference" in w.details.value


def test_widget_reprs_are_short_and_fixed():
    for r in (repr(StepperWidget()), repr(OptimizerExplorer())):
        assert len(r) < 110 and "0x" not in r


# ====================================================================== the optimizer explorer

def manual_paths(surface, steps, lr, mu, b1, b2):
    s = SURFACES[surface]
    paths = {}
    for method in ("SGD", "momentum", "Adam"):
        w = np.array(s.start, float)
        v = np.zeros(2)
        m = np.zeros(2)
        path = [w]
        for t in range(1, steps + 1):
            g = s.grad(w)
            if method == "SGD":
                w = optim.sgd_step(w, g, lr[method])
            elif method == "momentum":
                w, v = optim.sgd_momentum_step(w, g, v, lr[method], mu)
            else:
                w, m, v = optim.adam_step(w, g, m, v, t, lr[method], b1, b2)
            path.append(w)
            if not np.all(np.abs(w) < 1e6):
                break
        paths[method] = np.array(path)
    return paths


def test_optimizer_explorer_opens_on_notebook_9s_numbers():
    e = OptimizerExplorer()
    assert e.summary.value.splitlines()[1:4] == [
        "  SGD (lr=0.019)         ends at (-0.264, +0.000), f = 0.0349",
        "  momentum (lr=0.01)     ends at (+0.005, +0.001), f = 3.4e-05",
        "  Adam (lr=0.1)          ends at (-0.002, -0.002), f = 0.000254</pre>"]
    assert e.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_optimizer_sliders_give_the_paths_of_repeated_step_calls():
    e = OptimizerExplorer()
    before, redraws = e.image.value, e.redraws
    e.steps.value = 60
    e.lr["SGD"].value = 0.015
    e.lr["momentum"].value = 0.02
    e.lr["Adam"].value = 0.05
    e.momentum.value = 0.8
    e.beta1.value = 0.5
    e.beta2.value = 0.99
    assert e.redraws == redraws + 7 and e.image.value != before
    expected = manual_paths("valley", 60, {"SGD": 0.015, "momentum": 0.02, "Adam": 0.05},
                            0.8, 0.5, 0.99)
    for method, path in expected.items():
        np.testing.assert_array_equal(e.paths[method], path)
        np.testing.assert_array_equal(e.losses[method], SURFACES["valley"].f(path[:, 0], path[:, 1]))
    assert "SGD (lr=0.015)" in e.summary.value


def test_optimizer_surface_change_resets_to_its_settings_and_divergence_is_reported():
    e = OptimizerExplorer()
    e.surface.value = "rosenbrock"
    assert e.steps.value == 1000 and e.lr["SGD"].value == 0.0015
    assert "Adam (lr=0.1)          ends at (+0.996, +0.993)" in e.summary.value
    e.surface.value = "valley"
    e.lr["SGD"].value = 0.03            # beyond 2/L = 0.02
    assert len(e.paths["SGD"]) < 101 and "diverged at step" in e.summary.value
    e.defaults_button.click()
    assert e.lr["SGD"].value == 0.019 and "diverged" not in e.summary.value


def test_optimizer_explorer_runs_the_learners_step_functions():
    calls = []

    def sgd_step(w, dw, lr):
        calls.append(lr)
        return w - lr * dw

    e = OptimizerExplorer(functions={"sgd_step": sgd_step})
    assert len(calls) == 100 and set(calls) == {0.019}
    np.testing.assert_array_equal(e.paths["SGD"], descend("SGD", SURFACES["valley"].grad,
                                                         (-1.8, 0.5), 100, 0.019))


# ====================================================================== the activation explorer

@pytest.fixture(scope="module")
def digits_batch():
    (X, y), _ = load_digits(dtype=np.float64)
    return X[:256], y[:256]


def test_deep_net_stats_equal_the_model_api_of_notebook_6(digits_batch):
    X, y = digits_batch
    for act, module, init in (("sigmoid", nn.Sigmoid, "xavier"), ("relu", nn.ReLU, "he")):
        mods = []
        for l in range(10):
            mods += [nn.Dense(64, 64, rng=l, init=init, dtype=np.float64), module()]
        mods.append(nn.Dense(64, 10, rng=10, init=init, dtype=np.float64))
        model = nn.Sequential(*mods)
        _, dZ = losses.softmax_cross_entropy(model.forward(X), y)
        model.backward(dZ)
        norms = [np.linalg.norm(m.W.grad) for m in mods if isinstance(m, nn.Dense)]
        stats = deep_net_stats(X, y, activation=act, depth=10)
        np.testing.assert_allclose(stats["grad_norms"], norms, rtol=1e-10)
    assert stats["grad_norms"].shape == (11,)


def test_batchnorm_histograms_have_std_one_and_follow_gamma_beta(digits_batch):
    X, y = digits_batch
    e = ActivationExplorer(X, y, activation="tanh", depth=8, batchnorm=True, show="pre-activations")
    for Z in e.stats_bn["pre"]:
        np.testing.assert_allclose(Z.std(axis=0), 1.0, atol=1e-3)
    for layer, counts, edges in e.hist["batch norm"]:     # the plotted histograms
        centres = (edges[:-1] + edges[1:]) / 2
        mean = np.average(centres, weights=counts)
        std = np.sqrt(np.average((centres - mean) ** 2, weights=counts))
        assert std == pytest.approx(1.0, abs=0.05)
    assert [h[0] for h in e.hist["batch norm"]] == [1, 3, 5, 6, 8]
    redraws = e.redraws
    e.gamma.value, e.beta.value = 2.0, 0.5
    assert e.redraws == redraws + 2
    for Z in e.stats_bn["pre"]:
        np.testing.assert_allclose(Z.std(axis=0), 2.0, atol=2e-3)
        np.testing.assert_allclose(Z.mean(axis=0), 0.5, atol=1e-9)
    # the plain network's pre-activations do not care about γ and β
    plain_before = [Z.std() for Z in e.stats["pre"]]
    e.gamma.value = 1.0
    assert [Z.std() for Z in e.stats["pre"]] == plain_before


def test_activation_sliders_change_depth_scale_and_the_gradient_sizes(digits_batch):
    X, y = digits_batch
    e = ActivationExplorer(X, y, activation="sigmoid", depth=10)
    g = e.stats["grad_norms"]
    assert g[0] / g[9] < 1e-4                       # vanishing, as notebook 6 measures
    assert f"{g[0]:.2g}" in e.summary.value and e.stats_bn is None
    image = e.image.value
    e.activation.value = "tanh"
    assert e.image.value != image
    g = e.stats["grad_norms"]
    assert 0.1 < g[0] / g[9] < 10
    e.depth.value = 4
    assert len(e.stats["pre"]) == 4 and len(e.stats["grad_norms"]) == 5
    assert [h[0] for h in e.hist["plain"]] == [1, 2, 3, 4]
    std1 = np.std(e.stats["pre"][0])
    e.init_scale.value = 2.0                        # first layer: pre-activations double
    assert np.std(e.stats["pre"][0]) == pytest.approx(2 * std1, rel=1e-9)
    e.show.value = "pre-activations"
    assert "pre-activations" in e.summary.value


# ====================================================================== the dashboard

@pytest.fixture(scope="module")
def small_digits():
    (X, y), (Xt, yt) = load_digits(seed=0)
    return X[:300], y[:300], Xt[:100], yt[:100]


def small_model():
    g = np.random.default_rng(0)
    return nn.Sequential(nn.Dense(64, 32, rng=g), nn.ReLU(), nn.Dense(32, 10, rng=g))


def dashboard(data, epochs, cls=TrainingDashboard):
    X, y, Xt, yt = data
    model = small_model()
    return cls(model, X, y, optim.Adam(model.parameters(), lr=1e-2), epochs=epochs,
               batch_size=32, validation_data=(Xt, yt), rng=0)


def reference_history(data, epochs):
    X, y, Xt, yt = data
    model = small_model()
    return fit(model, X, y, optim.Adam(model.parameters(), lr=1e-2), epochs=epochs, batch_size=32,
               validation_data=(Xt, yt), rng=0, progress=False)


def test_dashboard_history_is_fits_and_the_figure_is_redrawn_once_per_epoch(small_digits):
    d = dashboard(small_digits, epochs=4)
    image = d.image
    pictures = []
    image.observe(lambda change: pictures.append(change["new"]), names="value")
    history = d.run()
    ref = reference_history(small_digits, 4)
    for key in ("epoch", "loss", "accuracy", "val_loss", "val_accuracy"):
        assert getattr(history, key) == getattr(ref, key)
    assert len(pictures) == 4 and len(set(pictures)) == 4     # one new picture per epoch ...
    assert d.image is image and d.children[-1] is image         # ... in the same Image widget
    assert d.redraws == 1 + 4                                   # (1: the empty axes at the start)
    assert d.progress.value == 4 and d.progress.bar_style == "success"
    assert d.state == "done" and "done: 4 epochs" in d.status.value
    assert d.stop_button.disabled and not history.interrupted


def test_dashboard_stop_button_stops_background_training_and_keeps_the_history(small_digits):
    d = dashboard(small_digits, epochs=200)
    assert d.start() is d and d.running and not d.stop_button.disabled
    deadline = time.monotonic() + 20
    while (d.history is None or len(d.history.epoch) < 2) and time.monotonic() < deadline:
        time.sleep(0.01)
    d.stop_button.click()
    history = d.wait()
    n = len(history.epoch)
    assert 2 <= n < 200 and history.interrupted and d.state == "stopped"
    assert d.progress.value == n and f"after epoch {n} of 200" in d.status.value
    assert "the Stop button" in d.status.value
    ref = reference_history(small_digits, n)            # the epochs it did are fit's epochs
    assert history.loss == ref.loss and history.val_accuracy == ref.val_accuracy


def test_dashboard_kernel_interrupt_while_waiting_stops_and_keeps_the_history(small_digits,
                                                                              monkeypatch):
    d = dashboard(small_digits, epochs=200)
    d.start()
    thread = d._thread
    real_join = thread.join
    interrupted = []

    def join(timeout=None):                 # what Ctrl-C / ■ does to the waiting main thread
        if not interrupted and d.history is not None and len(d.history.epoch) >= 1:
            interrupted.append(True)
            raise KeyboardInterrupt
        return real_join(timeout)

    monkeypatch.setattr(thread, "join", join)
    history = d.wait()
    assert interrupted and history.interrupted and d.state == "stopped"
    assert 1 <= len(history.epoch) < 200 and "a kernel interrupt" in d.status.value


def test_dashboard_foreground_keyboard_interrupt_keeps_the_history(small_digits):
    class Interrupting(TrainingDashboard):
        def __call__(self, history):
            super().__call__(history)
            if len(history.epoch) == 2:
                raise KeyboardInterrupt         # Ctrl-C during the third epoch, as fit sees it

    d = dashboard(small_digits, epochs=10, cls=Interrupting)
    history = d.run()
    assert history.epoch == [1, 2] and history.interrupted and d.state == "interrupted"
    assert "after epoch 2 of 10" in d.status.value


def test_dashboard_reports_a_diverged_training(small_digits):
    class Exploding(optim.SGD):             # a step that ruins the weights: NaN logits next
        def step(self):
            for p in self.params:
                p.data[...] = np.nan

    X, y, Xt, yt = small_digits
    model = small_model()
    d = TrainingDashboard(model, X, y, Exploding(model.parameters(), lr=0.1), epochs=5, rng=0)
    d.start()
    with pytest.raises(TrainingDiverged):
        d.wait(timeout=30)
    assert d.state == "failed" and "TrainingDiverged" in d.status.value
    assert d.progress.bar_style == "danger"
