"""Interactive widgets for the notebooks (ipywidgets + matplotlib, no extra JupyterLab extension).

- ``StepperWidget`` (logic: ``BackpropStepper``; graph: ``stepper_graph``): a 2 → 3 → 2
  network stepped node by node, forward, backward, update (notebook 5); a step where the
  learner's function differs from the reference gets an amber frame;
- ``ActivationExplorer`` (logic: ``deep_net_stats``): activations layer by layer in a deep
  network, with and without batch norm, and the gradient size per layer (notebooks 6, 7);
- ``OptimizerExplorer`` (logic: ``descend``): SGD, momentum and Adam on 2-D surfaces (notebook 9);
- ``TrainingDashboard``: ``fit`` with a progress bar, live loss/accuracy curves and a Stop
  button, paced while nobody waits so that a person can watch and click (notebook 10).

Each widget runs headless too (its figure is a PNG in an ``Image`` widget — rendered at twice
its displayed size, sharp on HiDPI screens — its text HTML), and
takes ``functions=`` — a mapping or a namespace such as ``your_functions()`` — to run the
learner's own exercise functions instead of the reference.
"""

from .activations import ActivationExplorer, deep_net_stats
from .dashboard import StopTraining, TrainingDashboard
from .optimizers import OptimizerExplorer, SURFACES, descend
from .stepper import BackpropStepper
from .stepper_widget import StepperWidget

__all__ = ["ActivationExplorer", "deep_net_stats", "BackpropStepper", "StepperWidget", "OptimizerExplorer", "SURFACES", "descend",
           "TrainingDashboard", "StopTraining"]
