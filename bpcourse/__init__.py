"""bpcourse: backpropagation, step by step.

The reference implementation behind the course notebooks:

- ``bpcourse.layers``, ``bpcourse.losses``, ``bpcourse.optim``, ``bpcourse.gradcheck``:
  the exercise API (pure numpy functions; forward returns ``(out, cache)``);
- ``bpcourse.nn`` and ``bpcourse.optim``: a tiny PyTorch-like model API built on them;
- ``bpcourse.training``: ``fit``, ``evaluate``, ``predict``, ``History``;
- ``bpcourse.data``: the bundled digits, 2-D toy sets, MNIST downloads, batching helpers.
"""

__version__ = "0.1.0"
