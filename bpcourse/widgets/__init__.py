"""Interactive widgets for the notebooks (ipywidgets + matplotlib, no extra JupyterLab extension).

- ``StepperWidget`` (logic: ``BackpropStepper``): a 2 → 3 → 2 network stepped node by node,
  forward, backward, update (notebook 5);
- ``ActivationExplorer`` (logic: ``deep_net_stats``): activations layer by layer in a deep
  network, with and without batch norm, and the gradient size per layer (notebooks 6, 7);
- ``OptimizerExplorer`` (logic: ``descend``): SGD, momentum and Adam on 2-D surfaces (notebook 9);
- ``TrainingDashboard``: ``fit`` with a progress bar, live loss/accuracy curves and a Stop
  button (notebook 10).

Each widget runs headless too (its figure is a PNG in an ``Image`` widget, its text HTML), and
takes ``functions=`` — a mapping or a namespace such as ``your_functions()`` — to run the
learner's own exercise functions instead of the reference.
"""

from .activations import ActivationExplorer, deep_net_stats
from .dashboard import StopTraining, TrainingDashboard
from .optimizers import OptimizerExplorer, SURFACES, descend
from .stepper import BackpropStepper, StepperWidget

__all__ = ["ActivationExplorer", "deep_net_stats", "BackpropStepper", "StepperWidget", "OptimizerExplorer", "SURFACES", "descend",
           "TrainingDashboard", "StopTraining"]
