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
}


@dataclass
class GradedExercise:
    name: str
    notebook: str
    points: float


def graded_exercises(solutions_dir=None):
    """The graded exercises in course order, from ``solutions_dir``'s metadata or the defaults."""
    if solutions_dir is None:
        return [GradedExercise(n, ex.notebook, DEFAULT_POINTS.get(n, 1)) for n, ex in EXERCISES.items()]
    from ..assign import exercise_cells, read_notebook

    found = []
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        for cell in exercise_cells(read_notebook(path), path.name):
            if cell.assigned and cell.name in EXERCISES:
                found.append(GradedExercise(cell.name, path.stem, cell.points))
    return found
