"""The widgets, driven through the ipywidgets Python API (no browser): clicking buttons and
moving sliders changes the state and the plotted data as the math says."""

import re
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from bpcourse import layers, losses, nn, optim
from bpcourse.data import load_digits
from bpcourse.training import TrainingDiverged, fit
from bpcourse.widgets import (ActivationExplorer, BackpropStepper, OptimizerExplorer,
                              StepperWidget, TrainingDashboard, deep_net_stats, descend)
from bpcourse.widgets._common import DPI, fmt
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


def slider_values(slider):
    """Every value a learner can reach with the slider in a browser (drag or arrow keys)."""
    if hasattr(slider, "options"):
        return np.array([v for _, v in slider.options])
    grid = np.arange(slider.min, slider.max + slider.step / 2, slider.step)
    if hasattr(slider, "base"):                 # a FloatLogSlider moves in steps of exponent
        return slider.base ** grid
    return np.round(grid, 10)                   # a FloatSlider in steps of its step


def reference_update(params, grads, lr):
    return {k: optim.sgd_step(params[k], grads["d" + k], lr) for k in ("W1", "b1", "W2", "b2")}


def test_stepper_reset_uses_the_sliders_lr_everywhere():
    # as found in a browser: lr 0.5 through one iteration, slider to 4, Reset, to the update
    w = StepperWidget(lr=0.5)
    st = w.stepper
    initial = {k: v.copy() for k, v in st.params.items()}
    st.goto("update")
    w.next_button.click()                       # iteration 2
    assert st.iteration == 1
    w.lr_slider.value = 4.0
    w.reset_button.click()
    assert (st.iteration, st.index) == (0, 0) and w.lr_slider.value == 4.0
    for _ in range(12):
        w.next_button.click()
    step = st.step
    assert step.phase == "update"
    assert "lr = 4)" in step.title and "lr = 0.5" not in w.details.value
    assert "&nbsp;−&nbsp;4&nbsp;×&nbsp;" in w.details.value      # the table's factor
    expected = reference_update(initial, reference_pass(st, initial), 4.0)
    for k, v in expected.items():
        np.testing.assert_allclose(step.results[k + "_new"], v, rtol=1e-12)
        for x in np.ravel(v):                    # ... and the numbers shown are those
            assert fmt(x).replace("−", "-") in shown_numbers(w.details.value), (k, x)
    assert st.lr == 4.0 and step.lr == 4.0
    w.next_button.click()                       # iteration 2 follows from the lr-4 update
    np.testing.assert_allclose(st.params["W2"], expected["W2"], rtol=1e-12)
    assert st.lr == 4.0


def test_stepper_slider_shows_the_lr_of_the_iteration_on_screen():
    w = StepperWidget(lr=0.5)
    st = w.stepper
    st.goto("update")
    w.next_button.click()                       # iteration 2 (its lr follows: 0.5)
    w.lr_slider.value = 2.0                     # from iteration 2 on
    st.goto("update")
    w.refresh()
    assert "lr = 2)" in w.details.value
    st.goto("forward", "X")
    w.prev_button.click()                       # back to iteration 1's update, done with 0.5
    assert st.iteration == 0 and w.lr_slider.value == 0.5
    assert "lr = 0.5)" in w.details.value and "&nbsp;−&nbsp;0.5&nbsp;×" in w.details.value
    w.next_button.click()
    assert st.iteration == 1 and w.lr_slider.value == 2.0


def test_stepper_lr_slider_reaches_every_two_digit_value_of_notebook_5():
    w = StepperWidget()
    values = slider_values(w.lr_slider)
    for lr in (0.01, 0.05, 0.5, 1.0, 4.0, 10.0, 0.37):
        assert np.any(values == lr), lr
    assert StepperWidget(lr=0.123).lr_slider.value == 0.123     # any start value is kept


def bad_dense_backward(dZ, cache):          # the bias gradient averaged, not summed
    X, W, b = cache
    return dZ @ W.T, X.T @ dZ, dZ.mean(axis=0)


def test_stepper_buggy_function_step_has_an_amber_frame_and_the_reference_beside():
    w = StepperWidget(functions={"dense_backward": bad_dense_backward})
    st = w.stepper
    st.goto("backward", "W2")
    w.refresh()
    assert "class='bp-step'>" in w.details.value and st.step.matches_reference()
    st.goto("backward", "b2")
    w.refresh()
    step = st.step
    assert "class='bp-step bp-wrong'" in w.details.value
    assert step.status() == "wrong"
    assert "db₂</b>, yours" in w.details.value and "reference, same inputs" in w.details.value
    for x in np.ravel(step.reference["db2"]):   # the reference's numbers, beside the learner's
        assert fmt(x) in w.details.value
    assert w.details.value.count("class='bp-diff'") == 4          # both entries, twice
    assert "✗ differs from bpcourse's reference" in w.details.value
    # the graph: b₂'s box has the amber frame, W₂'s (right) has not
    assert re.search(r"data-name='b2'[^>]*stroke='#e08a00'", w.graph.value)
    assert not re.search(r"data-name='W2'[^>]*stroke='#e08a00'", w.graph.value)


def test_stepper_update_of_wrong_gradients_says_so_honestly():
    w = StepperWidget(functions={"dense_backward": bad_dense_backward})
    st = w.stepper
    st.goto("update")
    w.refresh()
    step = st.step
    html = w.details.value
    assert step.matches_reference()             # sgd_step did its job on the gradients given ...
    assert "equals bpcourse's reference" not in html   # ... but the gradients were wrong
    assert step.status() == "inherited"
    assert "class='bp-step bp-inherited'" in html and "a correct update of wrong gradients" in html
    assert "steps 8, 12" in html                # db₂ and db₁ came from the buggy function
    truth = reference_update(st.params, reference_pass(st), st.lr)
    for x in np.ravel(truth["b2"]):             # the reference network's new b₂ is shown
        assert fmt(x) in html
    assert "θ (new), reference network" in html
    w.next_button.click()
    assert "come from updates that differ from the reference" in w.details.value

    def sgd_step(w_, dw, lr):                   # a wrong update rule: a plus sign
        return w_ + lr * dw

    w = StepperWidget(functions={"sgd_step": sgd_step})
    w.stepper.goto("update")
    w.refresh()
    assert w.stepper.step.status() == "wrong" and "<code>sgd_step</code> has a bug" in w.details.value


def svg_rectangles(svg):
    """(name, x0, y0, x1, y1) of the graph's boxes and the bounding boxes of its ellipses."""
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    rects = [(r.get("data-name"), float(r.get("x")), float(r.get("y")),
              float(r.get("x")) + float(r.get("width")), float(r.get("y")) + float(r.get("height")))
             for r in root.iter(ns + "rect")]
    for e in root.iter(ns + "ellipse"):
        cx, cy, rx, ry = (float(e.get(k)) for k in ("cx", "cy", "rx", "ry"))
        rects.append((e.get("data-name"), cx - rx, cy - ry, cx + rx, cy + ry))
    view = [float(v) for v in root.get("viewBox").split()]
    texts = [(float(t.get("x")), float(t.get("y")), "".join(t.itertext()), t.get("font-size"))
             for t in root.iter(ns + "text")]
    return rects, view, texts


def assert_no_overlap(svg, where, gap=4.0):
    rects, (_, _, width, height), texts = svg_rectangles(svg)
    assert len(rects) == 14, where
    for i, a in enumerate(rects):
        assert 0 <= a[1] and 0 <= a[2] and a[3] <= width and a[4] <= height, (where, a)
        for b in rects[i + 1:]:
            apart = (a[3] + gap <= b[1] or b[3] + gap <= a[1] or a[4] + gap <= b[2]
                     or b[4] + gap <= a[2])
            assert apart, f"{where}: {a[0]} overlaps {b[0]}: {a} {b}"
    for x, y, text, size in texts:              # every text starts inside a box or an ellipse
        assert any(r[1] <= x <= r[3] and r[2] <= y <= r[4] for r in rects), (where, text)
        if size == "11" and not text.startswith(("·", "ReLU", "softmax", "CE")):
            # monospace 11 px: at most 0.62 em a character (DejaVu Sans Mono: 0.602)
            box = next(r for r in rects if r[1] <= x <= r[3] and r[2] <= y <= r[4])
            assert x + 0.62 * 11 * len(text) <= box[3], (where, text, box)


@pytest.mark.parametrize("case", ["reference", "buggy", "lr 5", "wider example"])
def test_stepper_graph_boxes_never_overlap_at_any_step(case):
    example = None
    if case == "wider example":                  # 4 examples, 5 hidden units, 3 classes
        g = np.random.default_rng(0)
        example = {"X": g.normal(size=(4, 2)), "y": [0, 1, 2, 1], "W1": g.normal(size=(2, 5)),
                   "b1": np.zeros(5), "W2": g.normal(size=(5, 3)) * 3, "b2": np.zeros(3)}
    w = StepperWidget(functions={"dense_backward": bad_dense_backward} if case == "buggy" else None,
                      example=example, lr=5.0 if case == "lr 5" else 0.5)
    for i in range(13 * 3):                      # three iterations, every step
        assert_no_overlap(w.graph.value, f"{case}, iteration {w.stepper.iteration + 1}, "
                                         f"step {w.stepper.index + 1}")
        w.next_button.click()

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


def test_optimizer_lr_sliders_reach_the_values_notebook_9_asks_for():
    e = OptimizerExplorer()
    for m in ("SGD", "momentum", "Adam"):
        values = slider_values(e.lr[m])
        for lr in (0.021, 0.037, 0.039, 0.019, 0.01, 0.1, 0.0015, 0.0005, 0.05, 0.5, 1e-4, 10.0):
            assert np.any(values == lr), (m, lr)
    values = slider_values(e.lr["SGD"])
    assert len(values) == 451 and np.all(np.diff(values) > 0)
    e.lr["momentum"].value = 0.037              # momentum's limit 2(1 + μ)/L = 0.038
    assert "momentum (lr=0.037)    ends at" in e.summary.value
    e.lr["momentum"].value = 0.039
    assert "momentum (lr=0.039)    diverged at step" in e.summary.value


def test_diverged_paths_are_drawn_inside_the_plot_only_with_a_marked_exit():
    e = OptimizerExplorer()
    e.lr["SGD"].value = 0.021                   # |y| grows by 10 % a step: leaves, does not diverge
    e.lr["momentum"].value = 0.039              # diverges
    ax = e.axes[0]
    (x0, x1), (y0, y1) = SURFACES["valley"].xlim, SURFACES["valley"].ylim
    lines = [l for l in ax.lines if l.get_label().startswith(("SGD", "momentum", "Adam"))]
    assert len(lines) == 3
    for line in lines:                          # no point of a drawn line outside the plot
        xy = line.get_xydata()
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        assert np.all((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)), \
            line.get_label()
    texts = [t.get_text() for t in ax.texts]
    assert "leaves the plot at step 8" in texts and "diverged at step 49" in texts
    assert any("momentum (lr=0.039, diverged at step 49)" == t.get_text()
               for t in e._fig.legends[0].get_texts())
    summary = e.summary.value
    assert "SGD (lr=0.021)         ends at (-0.216, +6890.306)" in summary   # the truth, still
    assert "outside the plot from step 8 on" in summary
    assert "momentum (lr=0.039)    diverged at step 49 (|w| &gt; 1e6)" in summary
    np.testing.assert_array_equal(e.paths["SGD"], manual_paths(
        "valley", 100, {"SGD": 0.021, "momentum": 0.039, "Adam": 0.1}, 0.9, 0.9, 0.999)["SGD"])


def test_clip_path_keeps_the_inside_and_ends_steps_on_the_border():
    from bpcourse.plots import clip_path

    path = np.array([[0.0, 0.0], [0.5, 0.5], [0.5, 3.0], [0.2, 5.0], [0.0, 0.5], [3.0, -3.0],
                     [-3.0, 3.0]])
    xy, exit_ = clip_path(path, (-1, 1), (-1, 1))
    rows = [tuple(np.round(r, 6)) if np.all(np.isfinite(r)) else "gap" for r in xy]
    # in, in, out through y = 1, out, back in through y = 1 (at x = 0.2/9), in, out through
    # x = 1, then a step from outside to outside across the box: not drawn
    assert rows == [(0.0, 0.0), (0.5, 0.5), (0.5, 1.0), "gap", (np.round(0.2 / 9, 6), 1.0),
                    (0.0, 0.5), (1.0, np.round(-2 / 3, 6))]
    assert exit_[0] == 5 and np.allclose(exit_[1], [1.0, -2 / 3])
    assert clip_path(path[:2], (-1, 1), (-1, 1))[1] is None


def test_plot_trajectories_clips_a_diverged_path():
    import matplotlib
    matplotlib.use("Agg")
    from bpcourse.plots import plot_trajectories

    path = descend("SGD", SURFACES["valley"].grad, (-1.8, 0.5), 100, 0.03)
    fig = plot_trajectories(SURFACES["valley"].f, {"SGD (lr=0.03)": path}, xlim=(-2, 2), ylim=(-1, 1))
    ax = fig.axes[0]
    xy = ax.lines[0].get_xydata()
    assert np.nanmax(np.abs(xy[:, 1])) <= 1.0 and np.nanmax(np.abs(xy[:, 0])) <= 2.0
    assert [t.get_text() for t in ax.texts] == [f"diverged at step {len(path) - 1}"]
    import matplotlib.pyplot as plt
    plt.close(fig)


def bbox_of(artist, fig):
    return artist.get_window_extent(fig.canvas.get_renderer())


def test_widget_legends_do_not_cover_the_plots():
    e = OptimizerExplorer()
    e.surface.value = "saddle"                  # paths everywhere: a corner legend covered one
    fig = e._fig
    fig.canvas.draw()
    (legend,) = fig.legends
    box = bbox_of(legend, fig)
    assert not any(box.overlaps(ax.get_window_extent()) for ax in e.axes)
    assert e.axes[0].get_legend() is None and e.axes[1].get_legend() is None
    assert 0 <= box.y0 and box.x0 >= 0 and box.x1 <= fig.bbox.x1
    for kw in ({"activation": "relu", "depth": 7, "batchnorm": True, "show": "pre-activations"},
               {"activation": "tanh", "depth": 20, "batchnorm": True}):
        a = ActivationExplorer(**kw)
        a._fig.canvas.draw()
        legend = a._grad_ax.get_legend()
        box = bbox_of(legend, a._fig)
        assert not box.overlaps(a._grad_ax.get_window_extent())
        assert a._fig.bbox.contains(box.x0, box.y0) and a._fig.bbox.contains(box.x1, box.y1)


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_widget_figures_are_rendered_at_twice_their_displayed_size(small_digits):
    widgets_ = [OptimizerExplorer(), ActivationExplorer(depth=3), dashboard(small_digits, epochs=1)]
    for w in widgets_:
        fig = w._fig
        width, height = png_size(w.image.value)
        assert width == round(2 * DPI * fig.get_figwidth())            # 1800 px for 10 inches ...
        assert height == round(2 * DPI * fig.get_figheight())
        assert w.image.width == str(round(DPI * fig.get_figwidth()))   # ... shown at 900 px
        assert w.image.layout.max_width == "100%"


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
    d.redraw_interval = 0.0                     # draw every epoch, however fast
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


def test_dashboard_redraws_at_most_every_redraw_interval_and_always_the_last_epoch(small_digits):
    d = dashboard(small_digits, epochs=5)
    d.redraw_interval = 60.0
    drawn = []
    d.image.observe(lambda change: drawn.append(len(d.history.epoch)), names="value")
    history = d.run()
    assert drawn == [1, 5] and d.progress.value == 5      # the progress bar: every epoch
    d = dashboard(small_digits, epochs=200)               # stopped: its last epoch is drawn
    d.redraw_interval = 60.0
    d.pace = 0.0
    d.start()
    while d.history is None or len(d.history.epoch) < 3:
        time.sleep(0.005)
    d.stop()
    history = d.wait()
    assert d._drawn_epochs == len(history.epoch) and d.redraws <= 3


def _stop_after_two_epochs(d):
    """Click Stop once a started dashboard has done two epochs; returns what wait() returns."""
    deadline = time.monotonic() + 20
    while (d.history is None or len(d.history.epoch) < 2) and time.monotonic() < deadline:
        time.sleep(0.01)
    d.stop_button.click()
    return d.wait()


def test_dashboard_stop_button_stops_background_training_and_keeps_the_history(small_digits):
    d = dashboard(small_digits, epochs=200)
    assert d.start() is d and d.running and not d.stop_button.disabled
    history = _stop_after_two_epochs(d)
    n = len(history.epoch)
    assert 2 <= n < 200 and history.interrupted and d.state == "stopped"
    assert d.progress.value == n and f"after epoch {n} of 200" in d.status.value
    assert "the Stop button" in d.status.value
    ref = reference_history(small_digits, n)            # the epochs it did are fit's epochs
    assert history.loss == ref.loss and history.val_accuracy == ref.val_accuracy


def test_dashboard_says_how_it_ended_even_when_the_last_redraw_fails(small_digits, monkeypatch):
    d = dashboard(small_digits, epochs=200)
    d.start()
    history = _stop_after_two_epochs(d)
    n = len(history.epoch)

    def broken_draw(history):
        raise RuntimeError("a font cache used by two threads at once")

    monkeypatch.setattr(d, "_draw", broken_draw)
    d._drawn_epochs = 0                    # as if the last epoch were not drawn yet
    d._end("stopped")
    assert d.state == "stopped" and f"after epoch {n} of 200" in d.status.value
    assert "could not be redrawn: RuntimeError" in d.status.value
    monkeypatch.setattr(d, "_end", lambda state, error=None: broken_draw(None))
    d._begin()
    monkeypatch.setattr(d, "_fit", lambda: history)
    d._background()                        # even then the dashboard does not stay "running"
    assert not d.running and d.state == "stopped"


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


def test_dashboard_paces_a_background_run_until_someone_waits(small_digits):
    d = dashboard(small_digits, epochs=4)
    d.pace = 20.0                               # paced, the run would take 60 s and more
    t0 = time.monotonic()
    d.start()
    deadline = t0 + 30
    while (d.history is None or not d.history.epoch) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(2.5)            # unpaced, 3 more epochs take < 1 s even on a busy machine
    assert len(d.history.epoch) == 1 and d.running
    assert "paced for watching" in d.status.value
    history = d.wait(timeout=50)                # the rest at full speed
    assert len(history.epoch) == 4 and not history.interrupted and d.state == "done"
    assert time.monotonic() - t0 < 50           # not 3 × 20 s
    ref = reference_history(small_digits, 4)    # pacing changes no number
    assert history.loss == ref.loss and history.val_accuracy == ref.val_accuracy


def test_dashboard_stop_during_a_pause_stops_at_once(small_digits):
    d = dashboard(small_digits, epochs=5)
    d.pace = 30.0                               # a long pause after every epoch
    d.start()
    deadline = time.monotonic() + 20
    while (d.history is None or not d.history.epoch) and time.monotonic() < deadline:
        time.sleep(0.01)
    t0 = time.monotonic()
    d.stop_button.click()
    history = d.wait(timeout=10)
    assert time.monotonic() - t0 < 5
    assert history.epoch == [1] and history.interrupted and d.state == "stopped"


def test_dashboard_pace_is_checked_and_run_is_never_paced(small_digits):
    with pytest.raises(ValueError, match="pace must be a number of seconds >= 0, got -1"):
        dashboard(small_digits, epochs=1).__class__(small_model(), *small_digits[:2], None, pace=-1)
    d = dashboard(small_digits, epochs=3)
    d.pace = 30.0
    t0 = time.monotonic()
    assert len(d.run().epoch) == 3 and time.monotonic() - t0 < 15


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
