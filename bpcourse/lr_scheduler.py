"""Learning-rate schedules: PyTorch's schedulers (``torch.optim.lr_scheduler``), and the cosine
schedule with a linear warm-up as one function.

    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = lr_scheduler.CosineAnnealingLR(optimizer, T_max=30)
    for epoch in range(30):
        ...one epoch of optimizer.step()...
        scheduler.step()                   # after the optimizer's steps, as in PyTorch

The convention is PyTorch's. A scheduler counts its own ``step()`` calls in ``last_epoch``
(0 once it is made) and sets the optimizer's ``lr`` to the schedule's value at that count, so
``lr`` at count t is the rate of the (t+1)-th epoch (or batch: the formulas count whatever
you step; here, and in PyTorch's examples, it is once per epoch). ``base_lr`` is the
optimizer's lr when its first scheduler was made (PyTorch's ``initial_lr``), and with t the
count:

- ``StepLR(optimizer, step_size, gamma=0.1)``:  lr = base_lr · gamma^⌊t / step_size⌋
- ``LinearLR(optimizer, start_factor=1/3, end_factor=1.0, total_iters=5)``:
  lr = base_lr · (start_factor + (end_factor − start_factor) · min(t, total_iters) / total_iters)
- ``CosineAnnealingLR(optimizer, T_max, eta_min=0.0)``:
  lr = eta_min + (base_lr − eta_min) · (1 + cos(π t / T_max)) / 2   (past T_max it climbs back
  along the cosine, as PyTorch's does: stop stepping at T_max)
- ``SequentialLR(optimizer, schedulers, milestones)``: ``schedulers[i]`` from count
  ``milestones[i − 1]`` on, its own count starting again at 0 there.

These are PyTorch's closed forms. PyTorch computes the same values recursively, from the
optimizer's current lr; the two agree to rounding (about 1e-16 relative per step, tested
against ``torch.optim.lr_scheduler`` where torch is installed). So one scheduler drives an
optimizer at a time (or several, one after the other, in a ``SequentialLR``): PyTorch's
recursive forms also compose when two are stepped together; these do not.

``cosine_warmup_lr(step, base_lr, warmup_steps, total_steps, min_lr=0.0)`` is the warm-up
and the cosine in one formula: ``SequentialLR([LinearLR(start_factor=1/(warmup_steps + 1),
total_iters=warmup_steps), CosineAnnealingLR(T_max=total_steps − warmup_steps,
eta_min=min_lr)], milestones=[warmup_steps])`` at count ``step``, and ``min_lr`` after
``total_steps``.
"""

from bisect import bisect_right
import math

from . import _validate as check


def cosine_warmup_lr(step, base_lr, warmup_steps, total_steps, min_lr=0.0):
    """The learning rate of step ``step`` (0-based): a linear warm-up, then a cosine decay.

    - warm-up, step < W (W = ``warmup_steps``): base_lr · (step + 1) / (W + 1), rising in
      equal steps from base_lr / (W + 1) to base_lr, which step W reaches;
    - cosine, W ≤ step ≤ T (T = ``total_steps``): with t = step − W over T − W steps,
      min_lr + (base_lr − min_lr) · (1 + cos(π t / (T − W))) / 2, from base_lr down to min_lr
      at step T (training for T steps uses steps 0 … T − 1, as PyTorch's T_max);
    - after T: min_lr.

    Returns a float.
    """
    step = check.step_count(step, "step", 0)
    base_lr = check.positive(base_lr, "base_lr")
    warmup_steps = check.step_count(warmup_steps, "warmup_steps", 0)
    total_steps = check.step_count(total_steps, "total_steps", 1)
    min_lr = check.non_negative(min_lr, "min_lr")
    if total_steps <= warmup_steps:
        raise ValueError(f"total_steps must be larger than warmup_steps (the cosine needs at least "
                         f"one step), got total_steps={total_steps}, warmup_steps={warmup_steps}")
    if min_lr > base_lr:
        raise ValueError(f"min_lr must be at most base_lr (the schedule decays), got "
                         f"min_lr={min_lr}, base_lr={base_lr}")
    if step < warmup_steps:
        return base_lr * (step + 1) / (warmup_steps + 1)
    if step >= total_steps:
        return min_lr
    t, T = step - warmup_steps, total_steps - warmup_steps
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * t / T)) / 2


# ---------------------------------------------------------------- PyTorch's schedulers

class LRScheduler:
    """Base class: sets ``optimizer.lr`` to ``lr_at(last_epoch)`` on every ``step()``.

    A subclass defines ``lr_at(t)``, the closed form of its schedule at count t.
    """

    def __init__(self, optimizer):
        if not hasattr(optimizer, "lr"):
            raise TypeError(f"a scheduler needs an optimizer with an lr (optim.SGD, optim.Adam, "
                            f"...), got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if getattr(optimizer, "initial_lr", None) is None:
            optimizer.initial_lr = optimizer.lr       # PyTorch's group.setdefault("initial_lr")
        self.base_lrs = [optimizer.initial_lr]        # a list, as PyTorch's: one per group
        self.last_epoch = 0
        self._set(self.lr_at(0))

    def lr_at(self, t):
        raise NotImplementedError

    def step(self):
        """Count one more epoch (or batch) and set the optimizer's lr for the next one."""
        self.last_epoch += 1
        self._set(self.lr_at(self.last_epoch))

    def get_last_lr(self):
        """The lr this scheduler set last, in a list (PyTorch's: one per parameter group;
        bpcourse's optimizers have one)."""
        return [self._last_lr]

    def _set(self, lr):
        self.optimizer.lr = float(lr)
        self._last_lr = float(lr)

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr:g})"


class StepLR(LRScheduler):
    """Step decay: lr = base_lr · gamma^⌊t / step_size⌋ (multiplied by gamma every step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = check.step_count(step_size, "step_size", 1)
        self.gamma = check.positive(gamma, "gamma")
        super().__init__(optimizer)

    def lr_at(self, t):
        return self.base_lrs[0] * self.gamma ** (t // self.step_size)


class LinearLR(LRScheduler):
    """lr = base_lr · factor, the factor going linearly from start_factor (t = 0) to end_factor
    (t ≥ total_iters); PyTorch's defaults: start_factor=1/3, end_factor=1.0, total_iters=5."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        start_factor = check.positive(start_factor, "start_factor")
        end_factor = check.non_negative(end_factor, "end_factor")
        if start_factor > 1.0:   # PyTorch's checks
            raise ValueError(f"start_factor must be in (0, 1], got {start_factor}")
        if end_factor > 1.0:
            raise ValueError(f"end_factor must be in [0, 1], got {end_factor}")
        self.start_factor, self.end_factor = start_factor, end_factor
        self.total_iters = check.step_count(total_iters, "total_iters", 1)
        super().__init__(optimizer)

    def lr_at(self, t):
        return self.base_lrs[0] * (self.start_factor + (self.end_factor - self.start_factor)
                                   * min(self.total_iters, t) / self.total_iters)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr − eta_min) · (1 + cos(π t / T_max)) / 2: from base_lr (t = 0)
    to eta_min (t = T_max) along half a cosine (and back up after T_max, as PyTorch's)."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max = check.step_count(T_max, "T_max", 1)
        self.eta_min = check.non_negative(eta_min, "eta_min")
        super().__init__(optimizer)

    def lr_at(self, t):
        base = self.base_lrs[0]
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class SequentialLR(LRScheduler):
    """Schedulers one after the other: ``schedulers[i]`` runs from count ``milestones[i − 1]``
    on, its own count restarting at 0 there (e.g. a LinearLR warm-up, then a cosine)."""

    def __init__(self, optimizer, schedulers, milestones):
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR needs at least one scheduler")
        for i, s in enumerate(schedulers):
            if not isinstance(s, LRScheduler) or isinstance(s, SequentialLR):
                raise TypeError(f"schedulers[{i}] must be a scheduler (StepLR, LinearLR, "
                                f"CosineAnnealingLR), got {type(s).__name__}")
            if s.optimizer is not optimizer:
                raise ValueError(f"schedulers[{i}] ({type(s).__name__}) drives another optimizer: "
                                 f"all schedulers must belong to the SequentialLR's optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR needs one milestone fewer than schedulers: got "
                             f"{len(schedulers)} schedulers and {len(milestones)} milestones")
        milestones = [check.step_count(m, f"milestones[{i}]", 1) for i, m in enumerate(milestones)]
        if any(b <= a for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"milestones must increase, got {milestones}")
        self.optimizer, self._schedulers, self._milestones = optimizer, schedulers, milestones
        self.base_lrs = [optimizer.initial_lr]
        self.last_epoch = 0
        for s in schedulers:              # PyTorch: undo the step each made when it was built
            s.last_epoch = -1
        first = schedulers[bisect_right(milestones, 0)]
        first.last_epoch = 0
        first._set(first.lr_at(0))
        self._last_lr = first._last_lr

    def lr_at(self, t):
        """The lr at count t, as ``step()`` would set it after t steps."""
        i = bisect_right(self._milestones, t)
        start = self._milestones[i - 1] if i > 0 else 0
        return self._schedulers[i].lr_at(t - start)

    def step(self):
        self.last_epoch += 1
        i = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            scheduler.last_epoch = 0
            scheduler._set(scheduler.lr_at(0))
        else:
            scheduler.step()
        self._last_lr = scheduler._last_lr
