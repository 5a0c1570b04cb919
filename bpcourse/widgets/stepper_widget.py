"""The backprop stepper in a notebook: the graph (``stepper_graph``), the current step as HTML,
the buttons and the learning-rate slider.

A step whose function differs from the reference on the same inputs gets an amber frame and
the reference's numbers beside the learner's; a step whose function is right but whose inputs
carry an earlier error gets a dashed amber frame, the reference network's numbers beside, and
says so (the update step then says it is a correct update of wrong gradients).
"""

import ipywidgets as widgets
import numpy as np

from ._common import esc, fmt, lr_slider, matrix_html, shape_text, sources_html
from .stepper import FUNCTION_NAMES, PARAMS, PRETTY, BackpropStepper, pretty
from .stepper_graph import AMBER, COLORS, render_graph

_CSS = """<style>
.bp-step {padding:6px 8px;border:3px solid transparent;border-radius:6px}
.bp-step.bp-wrong {border-color:%(amber)s;background:#fff8ec}
.bp-step.bp-inherited {border-color:%(amber)s;border-style:dashed;background:#fffbf3}
.bp-step table.bp-matrix {border-collapse:collapse;font-family:'DejaVu Sans Mono',monospace;
  font-size:12px;margin:2px 0}
.bp-step table.bp-matrix td {padding:1px 6px;text-align:right;border-left:1px solid #ccc;
  border-right:1px solid #ccc}
.bp-step .bp-diff {background:#ffe0a8;font-weight:bold}
.bp-step .bp-col {display:inline-block;vertical-align:top;margin-right:22px}
.bp-step .bp-label {font-size:12px;color:#555}
.bp-step .bp-num {font-family:'DejaVu Sans Mono',monospace;font-size:12px}
</style>""" % {"amber": AMBER}


def _differs(a, b):
    return ~np.isclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-6, atol=1e-9)


def _comparison(s):
    """What the learner's numbers are shown beside: (label, values by name), or None."""
    status = s.status()
    if status == "wrong":
        return "reference, same inputs", s.reference
    if status == "inherited":
        return "reference network", s.truth
    return None


def render_step(stepper):
    """The current step as HTML: formula, what arrives, the local derivative, the result, and
    whether it agrees with the reference."""
    s = stepper.step
    status = s.status()
    color = COLORS[s.phase]
    n = len(stepper.steps)
    origin = (" · <span style='color:%s'>these parameters come from updates that differ from "
              "the reference network's</span>" % AMBER) if stepper.params_off() else ""
    head = (f"<div class='bp-position' style='font-size:12px;color:#555'>iteration "
            f"{stepper.iteration + 1} · step {stepper.index + 1} of {n} · "
            f"<b style='color:{color}'>{s.phase}</b>{origin}</div>"
            f"<div class='bp-title' style='font-size:16px;margin:4px 0 6px 0'><b>{esc(s.title)}</b>"
            f"</div>")
    cols = []
    if s.phase == "backward":
        for label, a in s.arriving:
            cols.append(_col(f"gradient arriving: {label}", a))
        for label, a in s.local:
            cols.append(_col(f"local derivative: {label}", a))
    elif s.phase == "forward":
        for label, a in s.arriving:
            cols.append(_col(f"input {label}", a))
    compare = _comparison(s)
    if s.phase == "update":
        cols.append(_update_table(stepper, s, compare))
    elif not (s.phase == "forward" and s.node == "X"):
        for name, a in s.results.items():
            if compare is None or name not in compare[1]:
                cols.append(_col(f"<b>{esc(pretty(name))}</b> {shape_text(a)}", a, bold=True))
                continue
            ref = compare[1][name]
            marked = _differs(a, ref)
            cols.append(_col(f"<b>{esc(pretty(name))}</b>, yours", a, bold=True, marked=marked))
            cols.append(_col(f"{esc(pretty(name))}, {compare[0]}", ref, bold=True, marked=marked))
    frame = {"wrong": " bp-wrong", "inherited": " bp-inherited"}.get(status, "")
    return (f"{_CSS}<div class='bp-step{frame}'>{head}<div>{''.join(cols)}</div>"
            f"<div style='font-size:13px;margin-top:6px'>{esc(s.note)}</div>"
            f"<div class='bp-check' style='font-size:12px;margin-top:4px'>"
            f"{_verdict(stepper, s, status)}</div></div>")


def _verdict(stepper, s, status):
    """One line: does the step agree with the reference, and if not, where is the bug?"""
    if status is None:
        return ""
    fn = f"<code>{esc(s.function)}</code>"
    if status == "ok":
        return (f"<span style='color:#1b6e1b'>✓ equals bpcourse's reference (largest "
                f"difference {s.max_difference():.1e})</span>")
    if status == "wrong":
        if s.phase == "update":
            text = (f"✗ {fn} differs from the reference update θ − lr · dθ of the same gradients "
                    f"by up to {s.max_difference():.2e}: {fn} has a bug")
        else:
            cache = " (or the cache its forward function returned)" if s.phase == "backward" else ""
            text = (f"✗ differs from bpcourse's reference on the same inputs by up to "
                    f"{s.max_difference():.2e}: the function behind this step, {fn}{cache}, "
                    f"has a bug")
        return f"<span style='color:#b35900'><b>{text}</b> — the reference's numbers are beside yours</span>"
    wrong = stepper.wrong_steps()
    where = ("step " if len(wrong) == 1 else "steps ") + ", ".join(map(str, wrong)) if wrong \
        else "an earlier step"
    off = s.max_difference("truth")
    if s.phase == "update":
        text = (f"≠ a correct update of wrong gradients: {fn} computed θ − lr · dθ as the "
                f"reference does, but the gradients come from {where}, which differ from the "
                f"reference; the new parameters differ from the reference network's by up to "
                f"{off:.2e}")
    else:
        text = (f"≠ {fn} is right on these inputs, but they carry the error of {where}: this "
                f"value differs from the reference network's by up to {off:.2e}")
    return f"<span style='color:#b35900'>{text} (the reference network's numbers are beside)</span>"


def _update_table(stepper, s, compare):
    """One row per parameter: θ − lr · dθ = θ (new), and the reference's θ (new) beside when
    they differ."""
    lr = s.lr
    # the reference network's gradients, to mark the wrong ones among those used
    true_grads = {k[1:]: v for step in stepper.steps if step.phase == "backward"
                  for k, v in step.truth.items()}
    rows = []
    for k, (label, g) in zip(PARAMS, s.arriving):
        new = s.results[k + "_new"]
        extra = ""
        marked = g_marked = None
        if compare is not None:
            ref = compare[1][k + "_new"]
            marked = _differs(new, ref)
            g_marked = _differs(g, true_grads[k]) if k in true_grads else None
            extra = f"<td>&nbsp;&nbsp;</td><td>{matrix_html(ref, marked=marked)}</td>"
        rows.append(
            f"<tr><td style='padding-right:8px'><b>{PRETTY[k]}</b></td>"
            f"<td>{matrix_html(stepper.params[k])}</td><td>&nbsp;−&nbsp;{lr:g}&nbsp;×&nbsp;</td>"
            f"<td>{matrix_html(g, marked=g_marked)}</td><td>&nbsp;=&nbsp;</td>"
            f"<td>{matrix_html(new, marked=marked)}</td>{extra}</tr>")
    header = ("<tr class='bp-label'><td></td><td>θ</td><td></td><td>dθ</td><td></td>"
              "<td>θ (new)</td>"
              + (f"<td></td><td>θ (new), {compare[0]}</td>" if compare else "") + "</tr>")
    after = f"<span class='bp-num'>{fmt(s.results['L_new'])}</span>"
    if compare is not None and "L_new" in s.truth:
        after += (f" (the reference network: <span class='bp-num'>{fmt(s.truth['L_new'])}"
                  f"</span>)")
    loss = (f"<div class='bp-label' style='margin-top:4px'>loss on this batch: before "
            f"<span class='bp-num'>{fmt(stepper.steps[4].results['L'])}</span>, after {after}</div>")
    return f"<table class='bp-update'>{header}{''.join(rows)}</table>{loss}"


def _col(label, a, bold=False, marked=None):
    lab = label if bold else esc(label) + f" <span style='color:#999'>{shape_text(a)}</span>"
    return (f"<div class='bp-col'><div class='bp-label'>{lab}</div>"
            f"{matrix_html(a, marked=marked)}</div>")


class StepperWidget(widgets.VBox):
    """The backprop stepper in a notebook: the graph, the current step, buttons and lr.

    ``StepperWidget(functions=None, example=None, lr=0.5)``; the logic is ``.stepper`` (a
    ``BackpropStepper``).  Buttons: ``reset_button``, ``prev_button``, ``next_button``;
    ``lr_slider`` (two significant digits, 0.01 … 10) sets the learning rate of the current
    iteration's update and of the iterations after it, and always shows the lr of the
    iteration on screen; Reset starts again from the first iteration with the slider's lr.
    ``graph`` (HTML, SVG) and ``details`` (HTML) show the state.
    """

    def __init__(self, functions=None, example=None, lr=0.5):
        w = widgets
        self.stepper = BackpropStepper(functions, example, lr)
        self.reset_button = w.Button(description="Reset", icon="undo", tooltip="back to the start",
                                     layout=w.Layout(width="90px"))
        self.prev_button = w.Button(description="Back", icon="step-backward",
                                    layout=w.Layout(width="90px"))
        self.next_button = w.Button(description="Next", icon="step-forward", button_style="primary",
                                    layout=w.Layout(width="110px"))
        self.lr_slider = lr_slider(lr, "lr", lo=0.01, hi=10.0, layout=w.Layout(width="300px"))
        self.graph = w.HTML(layout=w.Layout(width="100%"))
        self.details = w.HTML(layout=w.Layout(width="100%"))
        self.sources = w.HTML(sources_html(FUNCTION_NAMES, self.stepper.yours))
        self._quiet = False
        self.reset_button.on_click(lambda _: self._move(lambda: self.stepper.reset(self.lr_slider.value)))
        self.prev_button.on_click(lambda _: self._move(self.stepper.prev))
        self.next_button.on_click(lambda _: self._move(self.stepper.next))
        self.lr_slider.observe(self._on_lr, names="value")
        controls = w.HBox([self.reset_button, self.prev_button, self.next_button, self.lr_slider])
        super().__init__([controls, self.graph, self.details, self.sources])
        self.add_class("bp-stepper")
        self.refresh()

    def _move(self, action):
        action()
        self.refresh()

    def _on_lr(self, change):
        if not self._quiet:
            self.stepper.set_lr(change["new"])
            self.refresh()

    def refresh(self):
        """Redraw the graph and the step panel from the stepper's state; the slider shows the
        learning rate of the iteration on screen."""
        st = self.stepper
        self.graph.value = render_graph(st)
        self.details.value = render_step(st)
        self.prev_button.disabled = st.iteration == 0 and st.index == 0
        if self.lr_slider.value != st.lr:
            self._quiet = True
            try:
                self.lr_slider.value = st.lr
            finally:
                self._quiet = False

    def __repr__(self):
        return "StepperWidget: a 2 → 3 → 2 network stepped node by node (run the cell to use it)"
