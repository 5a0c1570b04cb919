"""What is graded: the exercises, their notebooks and their points.

Points come from the solution notebooks' cell metadata (what ``bpcourse assign`` reads);
without solutions, the defaults below, which are the points of the shipped course.
"""

from dataclasses import dataclass
from pathlib import Path

from ..checks.registry import EXERCISES

DEFAULT_POINTS = {
    "dense_forward": 2, "relu_forward": 1, "sigmoid_forward": 2, "tanh_forward": 1,
    "softmax": 2, "cross_entropy": 2, "numerical_gradient": 2, "softmax_cross_entropy": 2,
    "dense_backward": 2, "relu_backward": 1, "sigmoid_backward": 1, "tanh_backward": 1,
    "batchnorm_forward": 2, "batchnorm_backward": 3, "dropout_forward": 2,
    "dropout_backward": 1, "sgd_step": 1, "sgd_momentum_step": 2, "adam_step": 3,
    "two_layer_loss_and_grads": 2, "batchnorm_backward_graph": 3, "mlp_forward": 3,
    "mlp_backward": 4, "train_step": 3, "train_epoch": 2,
    "he_init": 2, "update_ratios": 2, "tape_backward": 4, "autograd_grads": 3,
    "sgd_weight_decay_step": 1, "rmsprop_step": 2, "adamw_step": 3, "cosine_warmup_lr": 2,
}


@dataclass
class GradedExercise:
    name: str
    notebook: str
    points: float
    hidden: bool = False        # grade it with the hidden checks too


HIDDEN_CHOICES = ("as-set", "all", "none")


def graded_exercises(solutions_dir=None, hidden="as-set"):
    """The graded exercises in course order, from ``solutions_dir``'s metadata or the defaults.

    ``hidden``: "as-set" (the solutions' metadata ``"hidden": true``; none without solutions),
    "all" or "none": which exercises the grader adds its hidden checks to."""
    if hidden not in HIDDEN_CHOICES:
        raise ValueError(f"hidden must be one of {', '.join(HIDDEN_CHOICES)}, got {hidden!r}")
    if solutions_dir is None:
        found = [GradedExercise(n, ex.notebook, DEFAULT_POINTS.get(n, 1)) for n, ex in EXERCISES.items()]
    else:
        from ..assign import exercise_cells, read_notebook

        found = []
        for path in sorted(Path(solutions_dir).glob("*.ipynb")):
            for cell in exercise_cells(read_notebook(path), path.name):
                if cell.assigned and cell.name in EXERCISES:
                    found.append(GradedExercise(cell.name, path.stem, cell.points, cell.hidden))
    for g in found:
        g.hidden = {"as-set": g.hidden, "all": True, "none": False}[hidden]
    return found
