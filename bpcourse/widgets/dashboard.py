"""The live training dashboard: ``fit`` with a progress bar, loss and accuracy curves redrawn
after every epoch in the same place, and a Stop button.

    dashboard = TrainingDashboard(model, X_train, y_train, optimizer, epochs=20,
                                  validation_data=(X_test, y_test), rng=0)
    dashboard.start()          # trains in a background thread; shows the dashboard
    ...
    history = dashboard.wait() # blocks until training ends; returns fit's History

Why a thread: a Jupyter kernel handles a button click only between cells, so a Stop button
can only work while no cell is running — ``start()`` returns at once and the training runs
beside the kernel.  ``dashboard.run()`` trains in the foreground instead (the cell runs until
the end; stop it with the kernel's interrupt, ■).  Either way, stopping keeps the history of
the epochs completed so far (``history.interrupted`` is then True), and a kernel interrupt
while ``wait()`` blocks stops the training too.

Pacing: a small network trains an epoch in a fraction of a second — over before a person can
click.  So while it trains in the background and no cell waits for it, each epoch takes at
least ``pace`` seconds (default 0.5: 20 epochs in 10 s, time to watch and to Stop).  ``wait()``
ends the pacing: from then on the epochs run at full speed, so *Run All* and CI, which run the
``wait()`` cell at once, are not slowed down.  The numbers do not depend on the pacing.

The dashboard is a ``fit`` callback (``callbacks=[dashboard]``): after each epoch it updates
the progress bar and the status line, redraws the figure (one PNG in one ``Image`` widget,
never a new output; at most every ``redraw_interval`` seconds, and always after the last
epoch) and, when Stop was pressed, raises ``StopTraining`` to end ``fit``.
"""

import threading
import time

import ipywidgets as widgets

from ._common import figure_image, figure_png, new_figure


class StopTraining(Exception):
    """Raised by the dashboard's callback after an epoch when the Stop button was pressed."""


class TrainingDashboard(widgets.VBox):
    """Train with ``bpcourse.training.fit`` and watch it: progress, curves, Stop.

    The arguments are ``fit``'s (``progress`` is off: the dashboard is the progress bar), and
    ``pace``: the least seconds per epoch of a ``start()``-ed training while no ``wait()`` runs
    (0: no pacing).
    Widgets: ``progress`` (IntProgress, epochs), ``stop_button``, ``status`` (HTML),
    ``image`` (the loss/accuracy figure).  State: ``history`` (fit's History, growing
    epoch by epoch), ``state`` ("ready", "running", "stopping", "done", "stopped",
    "interrupted", "failed"), ``redraws`` (how often the figure was drawn), ``error``.
    ``redraw_interval`` (default 0.25 s): the least time between two redraws of the figure
    (a paced epoch is longer: every epoch is drawn); unpaced, also at least twice what a
    redraw takes (drawing every epoch would cost more than the training); 0: every epoch.
    """

    def __init__(self, model, X, y, optimizer, epochs=10, batch_size=64, validation_data=None,
                 rng=None, title="training", pace=0.5):
        w = widgets
        if isinstance(pace, bool) or not isinstance(pace, (int, float)) or not pace >= 0:
            raise ValueError(f"pace must be a number of seconds >= 0, got {pace!r}")
        self.pace = float(pace)
        self.model, self.X, self.y, self.optimizer = model, X, y, optimizer
        self.epochs, self.batch_size = int(epochs), batch_size
        self.validation_data, self.rng, self.title = validation_data, rng, title
        self.progress = w.IntProgress(value=0, min=0, max=self.epochs, description=f"0/{self.epochs}",
                                      bar_style="info", style={"description_width": "60px"},
                                      layout=w.Layout(width="420px"))
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger",
                                    tooltip="stop after the current epoch, keeping the history",
                                    disabled=True, layout=w.Layout(width="90px"))
        self.status = w.HTML(self._status_html("ready: call start() (or run())"))
        self.stop_button.on_click(lambda _: self.stop("the Stop button"))
        self.history = None
        self.state = "ready"
        self.error = None
        self.stop_reason = None
        self.redraws = 0
        self.redraw_interval = 0.25
        self._drawn_at, self._drawn_epochs, self._draw_seconds = None, 0, 0.0
        self._stop = threading.Event()
        self._wake = threading.Event()     # ends a pause between epochs: Stop, or wait()
        self._paced = False
        self._thread = None
        self._t0 = self._epoch_t0 = None
        self._fig = new_figure((10, 3.3))
        self.image = figure_image(self._fig)
        self._axes = self._fig.subplots(1, 2)
        self._fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.88, wspace=0.22)
        self._draw(None)
        super().__init__([w.HBox([self.progress, self.stop_button]), self.status, self.image])
        self.add_class("bp-dashboard")

    # ------------------------------------------------------------------ training

    def run(self):
        """Train in the foreground (this cell runs until the end); returns the History.

        The Stop button cannot be clicked while a cell runs: use the kernel's interrupt (■),
        which ``fit`` turns into a return with the history so far.
        """
        self._begin()
        try:
            history = self._fit()
        except StopTraining:
            history = self._stopped()
        except Exception as e:
            self._end("failed", e)
            raise
        self.history = history
        if self.state == "stopping":
            self._end("stopped")
        else:
            self._end("interrupted" if history.interrupted else "done")
        return history

    def start(self):
        """Train in a background thread and return at once (the Stop button works); returns
        the dashboard, so that ``dashboard.start()`` at the end of a cell shows it."""
        if self.running or (self._thread is not None and self._thread.is_alive()):
            raise RuntimeError("this dashboard is already training; stop() or wait() first")
        self._begin(paced=self.pace > 0)
        self._thread = threading.Thread(target=self._background, name="bpcourse-dashboard",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, reason="stop()"):
        """Ask the training to stop after the current epoch (the history is kept)."""
        if self.state == "running":
            self.stop_reason = reason
            self._stop.set()
            self._wake.set()
            self.state = "stopping"
            self.stop_button.disabled = True
            self.status.value = self._status_html(f"stopping after this epoch ({reason}) …")

    def wait(self, timeout=None):
        """Block until the background training ends; returns the History.

        A kernel interrupt (■) while this waits stops the training after the current epoch
        and returns the history so far.  Raises what ``fit`` raised (e.g. TrainingDiverged).
        The epochs left run at full speed (no pacing: nobody can click while a cell waits).
        """
        self._paced = False
        self._wake.set()
        if self._thread is not None:
            deadline = None if timeout is None else time.monotonic() + timeout
            try:
                while self._thread.is_alive():
                    self._thread.join(0.05)
                    if deadline is not None and time.monotonic() > deadline:
                        raise TimeoutError(f"training still running after {timeout} s")
            except KeyboardInterrupt:
                self.stop("a kernel interrupt")
                self._thread.join()
        if self.error is not None:
            raise self.error
        return self.history

    @property
    def running(self):
        return self.state in ("running", "stopping")

    def _fit(self):
        from ..training import fit

        return fit(self.model, self.X, self.y, self.optimizer, epochs=self.epochs,
                   batch_size=self.batch_size, validation_data=self.validation_data, rng=self.rng,
                   progress=False, callbacks=[self])

    def _background(self):
        try:
            self.history = self._fit()
            state, error = ("stopped" if self.history.interrupted else "done"), None
        except StopTraining:
            self._stopped()
            state, error = "stopped", None
        except BaseException as e:   # reported by the status line and re-raised by wait()
            state, error = "failed", e
        try:
            self._end(state, error)
        except BaseException as e:   # never leave the dashboard "running" or "stopping"
            self.state, self.error = state, error or e

    def _stopped(self):
        if self.history is not None:
            self.history.interrupted = True
        return self.history

    def _begin(self, paced=False):
        self._stop.clear()
        self._wake.clear()
        self._paced = paced
        self._drawn_at, self._drawn_epochs = None, 0
        self.state, self.error, self.stop_reason, self.history = "running", None, None, None
        self._t0 = self._epoch_t0 = time.perf_counter()
        self.progress.value, self.progress.bar_style = 0, "info"
        self.progress.description = f"0/{self.epochs}"
        self.stop_button.disabled = False
        self.status.value = self._status_html(f"{self.title}: epoch 1 of {self.epochs} …"
                                              + (self._PACED if paced else ""))

    def _end(self, state, error=None):
        self.state, self.error = state, error
        self.stop_button.disabled = True
        n = len(self.history.epoch) if self.history is not None else 0
        redraw_failed = None
        if n and self._drawn_epochs != n:      # the last epochs were not drawn yet
            try:
                self._draw(self.history)
            except Exception as e:  # the status line must say how the training ended, always
                redraw_failed = e
        seconds = time.perf_counter() - self._t0
        if state == "done":
            self.progress.bar_style = "success"
            text = f"done: {n} epochs in {seconds:.1f} s"
        elif state == "failed":
            self.progress.bar_style = "danger"
            text = f"failed after {n} epochs: {type(error).__name__}: {error}"
        else:
            self.progress.bar_style = "warning"
            how = self.stop_reason or "a kernel interrupt"
            text = (f"stopped by {how} after epoch {n} of {self.epochs}: the history of the "
                    f"{n} completed epochs is kept")
        if redraw_failed is not None:
            text += f" (the figure could not be redrawn: {type(redraw_failed).__name__})"
        self.status.value = self._status_html(text)

    # ------------------------------------------------------------------ the callback

    def __call__(self, history):
        """``fit``'s callback, after every epoch: show the epoch, redraw, maybe stop."""
        self.history = history
        n = len(history.epoch)
        self.progress.value = n
        self.progress.description = f"{n}/{self.epochs}"
        parts = [f"epoch {n} of {self.epochs}", f"loss {history.loss[-1]:.4f}",
                 f"accuracy {history.accuracy[-1]:.4f}"]
        if history.val_loss:
            parts += [f"val_loss {history.val_loss[-1]:.4f}",
                      f"val_accuracy {history.val_accuracy[-1]:.4f}"]
        if self._t0 is not None:   # (None when the dashboard is only a callback of your own fit)
            parts.append(f"{(time.perf_counter() - self._t0) / max(n, 1):.2f} s per epoch")
        if self.state != "stopping":
            self.status.value = self._status_html(" · ".join(parts)
                                                  + (self._PACED if self._paced else ""))
        now = time.perf_counter()
        # unpaced, drawing takes at most a third of the time (it costs more than an epoch)
        interval = self.redraw_interval
        if not self._paced and interval > 0:
            interval = max(interval, 2 * self._draw_seconds)
        if (n == self.epochs or self._stop.is_set() or self._drawn_at is None
                or now - self._drawn_at >= interval):
            self._draw(history)
            self._drawn_at = time.perf_counter()
            self._draw_seconds = self._drawn_at - now
        if self._paced and n < self.epochs and self._epoch_t0 is not None:
            self._wake.wait(max(0.0, self.pace - (time.perf_counter() - self._epoch_t0)))
        if self._stop.is_set():
            raise StopTraining(f"stopped by {self.stop_reason} after epoch {n}")
        self._epoch_t0 = time.perf_counter()

    # ------------------------------------------------------------------ drawing

    def _draw(self, history):
        from matplotlib.ticker import MaxNLocator

        for ax in self._axes:
            ax.clear()
        if history is not None and history.epoch:
            history.plot(axes=self._axes)
        else:
            for ax, name in zip(self._axes, ("loss", "accuracy")):
                ax.set_title(name)
                ax.set_xlabel("epoch")
                ax.grid(alpha=0.3)
        n = len(history.epoch) if history is not None else 0
        # a short run shows its whole length from the start; a long one grows as it goes
        last = self.epochs if self.epochs <= 50 else max(10, int(n * 1.25) + 1)
        for ax in self._axes:
            ax.set_xlim(0.5, max(last, 2) + 0.5)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        self.image.value = figure_png(self._fig)
        self.redraws += 1
        self._drawn_epochs = n

    _PACED = " · paced for watching (wait() runs the rest at full speed)"

    @staticmethod
    def _status_html(text):
        from html import escape

        return f"<div class='bp-status' style='font-size:12px;color:#333'>{escape(text)}</div>"

    def __repr__(self):
        return (f"TrainingDashboard({self.epochs} epochs): progress, loss and accuracy per epoch, "
                f"Stop button")
