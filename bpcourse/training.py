"""The training loop: epochs of shuffled mini-batches, validation, and a history that plots itself.

    history = fit(model, X_train, y_train, optimizer, epochs=20, batch_size=64,
                  validation_data=(X_test, y_test), rng=0)
    history.plot()

The model outputs logits (N, C); the loss is softmax cross-entropy (mean over the batch).
"""

from dataclasses import dataclass, field

import numpy as np

from . import _fast
from .data import minibatches
from .losses import _check_logits, softmax_cross_entropy
from .nn import backward_without_input_grad


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; ``.history`` holds the epochs completed before."""

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


@dataclass
class History:
    """Per-epoch loss and accuracy, for training and (when given) validation data.

    Training values are averages over the epoch's mini-batches, measured in training mode
    while the weights change (as Keras reports them); validation values are measured in
    eval mode at the end of the epoch.
    """

    epoch: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    interrupted: bool = False

    def plot(self, axes=None, label=None):
        """Draw loss and accuracy per epoch on two axes (made if not given); returns the figure.

        The loss axis is logarithmic (a loss that is 0 or NaN is left out; linear when no loss
        is positive).  Pass the axes of an earlier plot and a ``label`` to overlay several
        histories.
        """
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        from .plots import log_yaxis

        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        fig = axes[0].figure
        prefix = f"{label}: " if label else ""
        for ax, key in ((axes[0], "loss"), (axes[1], "accuracy")):
            line, = ax.plot(self.epoch, getattr(self, key), "o-", ms=3, label=prefix + "train")
            if getattr(self, "val_" + key):
                ax.plot(self.epoch, getattr(self, "val_" + key), "s--", ms=3,
                        color=line.get_color(), label=prefix + "validation")
            ax.set_xlabel("epoch")
            ax.set_title(key)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        shown = [line.get_ydata() for line in axes[0].lines]   # this history's and earlier ones
        if log_yaxis(axes[0], shown, min_decades=1.0, minor_labels=True):
            axes[0].set_title("loss (log scale)")
        return fig

    def __repr__(self):
        if not self.epoch:
            return "History(no epochs)"
        last = f"loss={self.loss[-1]:.4f}, accuracy={self.accuracy[-1]:.4f}"
        if self.val_loss:
            last += f", val_loss={self.val_loss[-1]:.4f}, val_accuracy={self.val_accuracy[-1]:.4f}"
        return f"History({len(self.epoch)} epochs; last: {last})"


def fit(model, X, y, optimizer, epochs=10, batch_size=64, validation_data=None, rng=None,
        progress=True, callbacks=()):
    """Train ``model`` on (X, y) and return its ``History``.

    X (N, D), y integer labels (N,); each epoch visits every example once, in an order
    shuffled by ``rng`` (a seed or a numpy Generator).  ``callbacks`` are called as
    ``callback(history)`` after every epoch.  A kernel interrupt (Ctrl-C) stops training
    and returns the history so far, with ``history.interrupted = True``.
    Raises ``TrainingDiverged`` when the loss becomes NaN or infinite.
    """
    n_classes = _check_data(model, X, y, "X", "y")
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        _check_data(model, *validation_data, "X_val", "y_val", n_classes)
    for name, n in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")
    rng = np.random.default_rng(rng)
    history = History()
    bar = _progress_bar(epochs, progress)
    try:
        for epoch in range(1, epochs + 1):
            loss, acc = _train_one_epoch(model, X, y, optimizer, batch_size, rng, epoch, history)
            history.epoch.append(epoch)
            history.loss.append(loss)
            history.accuracy.append(acc)
            shown = {"loss": f"{loss:.4f}", "acc": f"{acc:.3f}"}
            if validation_data is not None:
                val_loss, val_acc = evaluate(model, *validation_data, batch_size=max(batch_size, 256))
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_acc)
                shown["val_acc"] = f"{val_acc:.3f}"
            bar.set_postfix(shown)
            bar.update(1)
            for callback in callbacks:
                callback(history)
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"Training interrupted during epoch {len(history.epoch) + 1}; "
              f"the history of the {len(history.epoch)} completed epochs is kept.")
    finally:
        bar.close()
        model.train()
    return history


def _train_one_epoch(model, X, y, optimizer, batch_size, rng, epoch, history):
    """One pass over the shuffled data; returns the epoch's mean loss and accuracy."""
    model.train()
    total_loss = total_correct = 0.0
    n_batches = -(-len(X) // batch_size)
    batches = minibatches(X, y, batch_size, shuffle=True, seed=rng)
    # Overflow shows up as NaN/inf below, reported once with advice, not as numpy warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        for i, (Xb, yb) in enumerate(batches, start=1):
            optimizer.zero_grad()
            Z = model.forward(Xb)
            if not np.all(np.isfinite(Z)):
                _diverged("the network's outputs became NaN or infinite", epoch, i, n_batches,
                          optimizer, history)
            _check_logits(Z, "the model's output")
            # the fused loss of bpcourse._fast: the labels were checked once, by fit
            loss, dZ = _fast.softmax_cross_entropy(Z, yb)
            if not np.isfinite(loss):
                _diverged(f"the loss became {loss}", epoch, i, n_batches, optimizer, history)
            backward_without_input_grad(model, dZ)  # as PyTorch: no gradient for the data
            optimizer.step()
            total_loss += loss * len(yb)
            total_correct += np.count_nonzero(Z.argmax(axis=1) == yb)
    return total_loss / len(X), total_correct / len(X)


def _diverged(what, epoch, batch, n_batches, optimizer, history):
    lr = getattr(optimizer, "lr", None)
    advice = f"try a smaller learning rate (lr={lr:g} now; e.g. {lr / 10:g})" if lr else \
        "try a smaller learning rate"
    raise TrainingDiverged(
        f"{what} in epoch {epoch} (batch {batch} of {n_batches}): training has diverged; "
        f"{advice}, or check the inputs are standardized",
        history,
    )


def evaluate(model, X, y, batch_size=1024):
    """Mean loss and accuracy of ``model`` on (X, y), in eval mode: returns ``(loss, accuracy)``."""
    Z = predict_logits(model, X, batch_size)
    loss, _ = softmax_cross_entropy(Z, np.asarray(y))
    return loss, accuracy(y, Z.argmax(axis=1))


def predict_logits(model, X, batch_size=1024):
    """The model's outputs (N, C) in eval mode, computed in batches; the model's mode is restored."""
    was_training = model.training
    model.eval()
    try:
        return np.concatenate([model.forward(X[i:i + batch_size])
                               for i in range(0, len(X), batch_size)])
    finally:
        model.train(was_training)


def predict(model, X, batch_size=1024):
    """Predicted class labels (N,): the argmax of the logits, in eval mode."""
    return predict_logits(model, X, batch_size).argmax(axis=1)


def accuracy(y_true, y_pred):
    """The fraction of labels where ``y_pred`` equals ``y_true`` (both (N,))."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must have the same shape")
    if y_true.size == 0:
        raise ValueError("accuracy of an empty set of labels is undefined")
    return float(np.mean(y_true == y_pred))


def _check_data(model, X, y, x_name, y_name, n_classes=None):
    """Validate a dataset for ``model``; returns the number of classes the model outputs."""
    if not isinstance(X, np.ndarray) or X.dtype.kind not in "fiu" or X.ndim != 2:
        shown = X.shape if isinstance(X, np.ndarray) else type(X).__name__
        raise ValueError(f"{x_name} must be a numeric array of shape (N, features), got {shown}")
    if len(X) == 0:
        raise ValueError(f"{x_name} is empty")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{x_name} contains NaN or infinite values")
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise ValueError(f"{y_name} must hold one label per row of {x_name}: shape ({len(X)},), "
                         f"got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{y_name} must hold integer class labels, got dtype {y.dtype}")
    if n_classes is None:
        try:
            n_classes = predict_logits(model, X[:1]).shape[1]
        except ValueError as e:
            raise ValueError(f"{x_name} of shape {X.shape} does not fit the model: {e}") from None
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels in {y_name} must be in [0, {n_classes - 1}] for a model with "
                         f"{n_classes} outputs, got labels from {y.min()} to {y.max()}")
    return n_classes


def _progress_bar(epochs, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=epochs, desc="training", unit="epoch", disable=not enabled)
