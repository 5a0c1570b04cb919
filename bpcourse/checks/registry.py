"""Every exercise of the course, in the order of the notebooks, and the reference for each."""

from .. import gradcheck, layers, losses, network, optim
from .exercises import activations, batchnorm, dense, dropout, gradcheck as gradcheck_ex
from .exercises import losses as losses_ex, network as network_ex, optim as optim_ex

_ALL = (dense.EXERCISES + activations.EXERCISES + losses_ex.EXERCISES + gradcheck_ex.EXERCISES
        + batchnorm.EXERCISES + dropout.EXERCISES + optim_ex.EXERCISES + network_ex.EXERCISES)

#: name -> Exercise, ordered by notebook then by position in the notebook
EXERCISES = {ex.name: ex for ex in sorted(_ALL, key=lambda ex: ex.notebook)}


def reference_functions():
    """name -> the reference implementation, for every exercise."""
    modules = (layers, losses, optim, gradcheck, network)
    return {name: next(getattr(m, name) for m in modules if hasattr(m, name)) for name in EXERCISES}
