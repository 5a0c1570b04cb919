"""The training loop: it learns, it reports, it validates its inputs and stops on divergence."""

import time
from pathlib import Path

import numpy as np
import pytest

from bpcourse import nn, optim
from bpcourse.data import make_blobs
from bpcourse.training import (History, TrainingDiverged, accuracy, evaluate, fit, predict,
                               predict_logits)


def small_model(seed=0, d_in=2, classes=3):
    return nn.Sequential(nn.Dense(d_in, 16, rng=seed), nn.ReLU(), nn.Dense(16, classes, rng=seed + 1))


def readme_example():
    """The example of README.md, as code: returns its Python source."""
    text = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    return text.split("## The model API in a dozen lines")[1].split("```python\n")[1].split("```")[0]


def test_readme_digits_example_reaches_97_percent(monkeypatch):
    source = readme_example()
    assert len(source.strip().splitlines()) <= 14
    monkeypatch.setattr("matplotlib.pyplot.show", lambda *a, **k: None)
    namespace = {}
    start = time.perf_counter()
    exec(compile(source, "README.md", "exec"), namespace)
    seconds = time.perf_counter() - start
    model, history = namespace["model"], namespace["history"]
    X_test, y_test = namespace["X_test"], namespace["y_test"]
    loss, acc = evaluate(model, X_test, y_test)
    print(f"README digits MLP: test accuracy {acc:.4f} after {len(history.epoch)} epochs "
          f"in {seconds:.2f} s")
    assert acc >= 0.97
    assert not history.val_loss        # no choice is made on the test set: it is used once, here
    assert history.loss[-1] < history.loss[0] / 5


def test_history_records_every_epoch_and_plots():
    X, y = make_blobs(n_samples=120, centers=3, seed=0)
    model = small_model()
    h = fit(model, X, y, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), epochs=4,
            batch_size=32, validation_data=(X, y), rng=0, progress=False)
    assert h.epoch == [1, 2, 3, 4]
    assert len(h.loss) == len(h.accuracy) == len(h.val_loss) == len(h.val_accuracy) == 4
    assert all(0 <= a <= 1 for a in h.accuracy + h.val_accuracy)
    fig = h.plot()
    assert [ax.get_title() for ax in fig.axes] == ["loss (log scale)", "accuracy"]
    assert len(fig.axes[0].lines) == 2  # train and validation
    assert "4 epochs" in repr(h)


def test_history_plot_has_a_log_loss_axis_robust_to_zero_and_nan():
    import matplotlib.pyplot as plt

    h = History(epoch=[1, 2, 3], loss=[2.3, 0.2, 0.02], accuracy=[0.1, 0.8, 0.99])
    ax = h.plot().axes[0]
    assert ax.get_yscale() == "log"
    lo, hi = ax.get_ylim()
    assert lo <= 0.02 and hi >= 2.3 and hi / lo < 1e3      # around the data
    # a loss of 0 (a memorized batch) or NaN is left out, not drawn at 1e-300
    h = History(epoch=[1, 2, 3, 4], loss=[2.3, 0.0, float("nan"), 0.05], accuracy=[0.1] * 4,
                val_loss=[2.0, 1.0, 0.5, 0.0], val_accuracy=[0.1] * 4)
    fig = h.plot()
    ax = fig.axes[0]
    fig.canvas.draw()                                       # no error while drawing either
    lo, hi = ax.get_ylim()
    assert ax.get_yscale() == "log" and np.isfinite([lo, hi]).all() and 0 < lo <= 0.05 < 2.3 <= hi
    assert hi / lo < 1e4
    # overlaying a second history keeps both in view
    h2 = History(epoch=[1, 2], loss=[50.0, 10.0], accuracy=[0.1, 0.2])
    h2.plot(axes=fig.axes, label="big")
    assert ax.get_ylim()[1] >= 50.0 and ax.get_ylim()[0] <= 0.05
    # nothing positive to show: the axis stays linear
    ax = History(epoch=[1], loss=[0.0], accuracy=[1.0]).plot().axes[0]
    assert ax.get_yscale() == "linear"
    plt.close("all")


def test_epoch_loss_is_the_mean_over_examples_and_training_is_seeded():
    X, y = make_blobs(n_samples=90, centers=3, seed=1)
    runs = []
    for _ in range(2):
        model = small_model(seed=3)
        runs.append(fit(model, X, y, optim.Adam(model.parameters(), lr=0.01), epochs=3,
                        batch_size=25, rng=7, progress=False))
    assert runs[0].loss == runs[1].loss
    model = small_model(seed=3)
    other = fit(model, X, y, optim.Adam(model.parameters(), lr=0.01), epochs=3, batch_size=25,
                rng=8, progress=False)
    assert other.loss != runs[0].loss  # a different shuffling seed changes the batches


def test_callbacks_run_after_each_epoch_with_the_history():
    X, y = make_blobs(n_samples=60, centers=3, seed=0)
    model = small_model()
    seen = []
    fit(model, X, y, optim.SGD(model.parameters(), lr=0.1), epochs=3, batch_size=20, rng=0,
        progress=False, callbacks=[lambda h: seen.append(len(h.epoch))])
    assert seen == [1, 2, 3]


def test_keyboard_interrupt_keeps_the_history(capsys):
    X, y = make_blobs(n_samples=60, centers=3, seed=0)
    model = small_model()

    def interrupt_after_two(h):
        if len(h.epoch) == 2:
            raise KeyboardInterrupt

    h = fit(model, X, y, optim.SGD(model.parameters(), lr=0.1), epochs=10, batch_size=20, rng=0,
            progress=False, callbacks=[interrupt_after_two])
    assert h.interrupted and h.epoch == [1, 2]
    assert "interrupted" in capsys.readouterr().out


def test_divergence_stops_with_a_clear_message():
    X, y = make_blobs(n_samples=60, centers=3, seed=0)
    X = X * 1e3
    model = small_model()
    with pytest.raises(TrainingDiverged, match=r"epoch \d+ \(batch \d+ of \d+\).*smaller learning rate \(lr=1e\+06") as e:
        fit(model, X, y, optim.SGD(model.parameters(), lr=1e6), epochs=20, batch_size=20,
            rng=0, progress=False)
    assert isinstance(e.value.history, History)


@pytest.mark.parametrize("X, y, message", [
    (np.zeros((5, 3)), np.zeros(5, int), r"3 features"),                    # wrong width
    (np.zeros((5, 2)), np.zeros(4, int), r"one label per row.*\(5,\)"),     # wrong length
    (np.zeros((5, 2)), np.full(5, 3), r"labels in y must be in \[0, 2\].*3 outputs"),
    (np.zeros((5, 2)), np.zeros(5), r"integer class labels"),
    (np.full((5, 2), np.nan), np.zeros(5, int), r"NaN or infinite"),
    (np.zeros(5), np.zeros(5, int), r"shape \(N, features\)"),
])
def test_bad_training_data_is_reported(X, y, message):
    model = small_model()
    with pytest.raises((ValueError, TypeError), match=message):
        fit(model, X, y, optim.SGD(model.parameters(), lr=0.1), epochs=1, progress=False)


def test_bad_hyper_parameters_and_validation_data():
    X, y = make_blobs(n_samples=30, centers=3, seed=0)
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        fit(model, X, y, opt, epochs=0, progress=False)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        fit(model, X, y, opt, epochs=1, batch_size=2.5, progress=False)
    with pytest.raises(TypeError, match="validation_data must be a pair"):
        fit(model, X, y, opt, epochs=1, validation_data=X, progress=False)
    with pytest.raises(ValueError, match="y_val"):
        fit(model, X, y, opt, epochs=1, validation_data=(X, y[:-1]), progress=False)


def test_predict_evaluate_and_accuracy():
    X, y = make_blobs(n_samples=90, centers=3, std=0.3, seed=2)
    model = small_model(seed=5)
    fit(model, X, y, optim.Adam(model.parameters(), lr=0.05), epochs=30, batch_size=30, rng=0,
        progress=False)
    model.train()
    logits = predict_logits(model, X, batch_size=7)  # in batches, in eval mode
    assert logits.shape == (90, 3) and model.training  # mode restored
    np.testing.assert_array_equal(predict(model, X), logits.argmax(axis=1))
    loss, acc = evaluate(model, X, y)
    assert acc == accuracy(y, predict(model, X)) and acc > 0.95
    assert accuracy(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])) == 0.75
    with pytest.raises(ValueError, match="same shape"):
        accuracy(np.array([0, 1]), np.array([0, 1, 2]))


def test_progress_bar_is_shown_when_asked(capsys):
    X, y = make_blobs(n_samples=30, centers=3, seed=0)
    model = small_model()
    fit(model, X, y, optim.SGD(model.parameters(), lr=0.1), epochs=2, batch_size=10, rng=0,
        progress=True)
    err = capsys.readouterr().err
    assert "training" in err and "2/2" in err
