"""The backprop stepper's computational graph as SVG: a box per variable (its values, its
gradient, its new value), an ellipse per operation, arrows between them.

``graph_layout(stepper)`` places the boxes so that nothing overlaps: the parameter row's
height is that of its tallest box once the update is shown, and each row is swept left to
right, pushing a box right when its neighbour is wider than the default spacing allows.
The layout is computed from the iteration's last step (where every box holds the most), so
the boxes do not move while a learner steps through an iteration.
"""

from dataclasses import dataclass

import numpy as np

from ._common import esc, fmt, shape_text
from .stepper import PARAMS, PRETTY

COLORS = {"forward": "#1f77b4", "backward": "#d62728", "update": "#2ca02c"}
AMBER = "#e08a00"          # a value that differs from the reference network's
CHAR_W, LINE_H, HEADER_H = 6.9, 13, 22   # monospace 11 px advance (≈ 0.6 em), line, header
GAP_X, GAP_Y, MARGIN = 24, 26, 8
OP_RX, OP_RY = 30, 19

# the rows of the graph: (name, preferred x centre); ops are named by what they compute
_LOWER = [("X", 62), ("dense1", 185), ("Z1", 300), ("relu", 410), ("A1", 525), ("dense2", 640),
          ("Z2", 735), ("loss", 840), ("L", 930)]
_UPPER = [("W1", 110, "dense1"), ("b1", 265, "dense1"), ("W2", 590, "dense2"), ("b2", 705, "dense2")]
_UPPER_NAMES = {n for n, _, _ in _UPPER}
BOX_NAMES = [n for n, _ in _LOWER if n in PRETTY] + sorted(_UPPER_NAMES) + ["y"]
_OP_LABELS = {"dense1": "·W+b", "relu": "ReLU", "dense2": "·W+b", "loss": "softmax\nCE"}
_EDGES = [("X", "dense1"), ("W1", "dense1"), ("b1", "dense1"), ("dense1", "Z1"), ("Z1", "relu"),
          ("relu", "A1"), ("A1", "dense2"), ("W2", "dense2"), ("b2", "dense2"), ("dense2", "Z2"),
          ("Z2", "loss"), ("y", "loss"), ("loss", "L")]
# the edges a step travels: forward into its node, backward out of it
_STEP_EDGES = {
    ("forward", "Z1"): {("X", "dense1"), ("W1", "dense1"), ("b1", "dense1"), ("dense1", "Z1")},
    ("forward", "A1"): {("Z1", "relu"), ("relu", "A1")},
    ("forward", "Z2"): {("A1", "dense2"), ("W2", "dense2"), ("b2", "dense2"), ("dense2", "Z2")},
    ("forward", "L"): {("Z2", "loss"), ("y", "loss"), ("loss", "L")},
    ("backward", "Z2"): {("Z2", "loss"), ("loss", "L")},
    ("backward", "W2"): {("W2", "dense2"), ("dense2", "Z2")},
    ("backward", "b2"): {("b2", "dense2"), ("dense2", "Z2")},
    ("backward", "A1"): {("A1", "dense2"), ("dense2", "Z2")},
    ("backward", "Z1"): {("Z1", "relu"), ("relu", "A1")},
    ("backward", "W1"): {("W1", "dense1"), ("dense1", "Z1")},
    ("backward", "b1"): {("b1", "dense1"), ("dense1", "Z1")},
}


@dataclass
class Box:
    """A variable's box: top-left corner, size, header and lines of (text, colour)."""

    x: float
    y: float
    w: float
    h: float
    header: str
    shape: str
    lines: list


def _lines(a):
    """An array as lines of 2-decimal numbers for the graph's boxes."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return [fmt(a, 4)]
    rows = a.reshape(1, -1) if a.ndim == 1 else a
    return [" ".join(f"{round(v, 2) + 0.0:+.2f}".replace("-", "−") for v in row) for row in rows]


def _content(stepper, name, known, flags, step):
    """(header, shape, lines) of box ``name`` given ``known = (values, grads, new)``."""
    values, grads, new = known
    lines = []
    if name == "L":
        if "L" in values:
            lines.append((f"L = {fmt(values['L'], 4)}", "#1f4e79"))
        if new:
            lines.append((f"after: {fmt(step.results['L_new'], 4)}", "#1b6e1b"))
    elif name == "y":
        lines.append((" ".join(str(int(v)) for v in stepper.y), "#333"))
    else:
        if name in values:
            lines += [(t, "#1f4e79") for t in _lines(values[name])]
        if name in grads:
            lines += [(("d " if i == 0 else "  ") + t, "#b22222")
                      for i, t in enumerate(_lines(grads[name]))]
        if name in new:
            lines += [(("→ " if i == 0 else "  ") + t, "#1b6e1b")
                      for i, t in enumerate(_lines(new[name]))]
    header = PRETTY[name] + {"wrong": " ✗", "inherited": " ≠"}.get(flags.get(name), "")
    shown = stepper.y if name == "y" else values.get(name)
    shape = "" if shown is None or name == "L" else shape_text(shown)
    return header, shape, lines


def _size(header, shape, lines):
    # the header is 13 px bold (≈ 8.5 px a character) and the shape 10 px
    width = max(64, 14 + max([CHAR_W * len(t) for t, _ in lines]
                             + [8.5 * len(header) + 6.5 * (len(shape) + 1)]))
    return width, HEADER_H + LINE_H * len(lines) + (4 if lines else 0)


def _sweep(items, gap):
    """Left edges for (preferred centre, width) items in order, each at least ``gap`` right
    of the previous one and never left of the margin."""
    lefts, right = [], MARGIN - gap
    for centre, width in items:
        left = max(centre - width / 2, right + gap)
        lefts.append(left)
        right = left + width
    return lefts


def graph_layout(stepper):
    """The graph at the current step: ``(boxes, ops, width, height)`` with ``boxes`` name ->
    ``Box`` (what the step shows, placed in its slot) and ``ops`` name -> (cx, cy, rx, ry)."""
    step = stepper.step
    flags = stepper.flags()
    last = stepper.steps[-1]
    full_known = stepper.known(len(stepper.steps) - 1)
    # each box's slot: its size at the last step, with room for a ✗ in the header
    slots = {n: _size(*_content(stepper, n, full_known, {n: "wrong"}, last)) for n in BOX_NAMES}
    # the parameter row on top, as high as its tallest box
    top_h = max(slots[n][1] for n, _, _ in _UPPER)
    lower_top = MARGIN + top_h + GAP_Y
    op_cy = lower_top + HEADER_H
    widths = [slots[n][0] if n in slots else 2 * OP_RX for n, _ in _LOWER]
    lefts = _sweep([(c, w) for (_, c), w in zip(_LOWER, widths)], GAP_X)
    centres = {n: left + w / 2 for (n, _), left, w in zip(_LOWER, lefts, widths)}
    shift = {op: centres[op] - dict(_LOWER)[op] for op in ("dense1", "dense2")}
    upper = [(c + shift[op], slots[n][0]) for n, c, op in _UPPER]
    centres.update({n: left + w / 2 for (n, _, _), left, (_, w) in
                    zip(_UPPER, _sweep(upper, GAP_X), upper)})
    tops = {n: MARGIN if n in _UPPER_NAMES else lower_top for n in centres}
    # the labels y under the loss, below whatever is above them
    y_w, y_h = slots["y"]
    cx = centres["loss"]
    above = [op_cy + OP_RY] + [lower_top + slots[n][1] for n, _ in _LOWER if n in slots
                               and abs(centres[n] - cx) < (slots[n][0] + y_w) / 2 + GAP_X]
    centres["y"], tops["y"] = cx, max(above) + GAP_Y
    known = stepper.known()
    boxes = {}
    for name in slots:
        header, shape, lines = _content(stepper, name, known, flags, step)
        w, h = _size(header, shape, lines)
        boxes[name] = Box(centres[name] - w / 2, tops[name], w, h, header, shape, lines)
    ops = {n: (centres[n], op_cy, OP_RX, OP_RY) for n in _OP_LABELS}
    width = max([centres[n] + slots[n][0] / 2 for n in slots] + [centres[n] + OP_RX for n in ops])
    height = max(tops[n] + slots[n][1] for n in slots)
    return boxes, ops, width + MARGIN, height + MARGIN


def render_graph(stepper):
    """The computational graph as SVG, with the values and gradients known at this step;
    boxes whose numbers differ from the reference network's have an amber frame (dashed
    when the error comes from an earlier step)."""
    step = stepper.step
    color = COLORS[step.phase]
    flags = stepper.flags()
    values = stepper.known()[0]
    boxes, ops, width, height = graph_layout(stepper)
    parts = []
    for name, b in boxes.items():
        current = (step.node == name) or (step.phase == "update" and name in PARAMS)
        stroke, sw = (color, 3) if current else ("#888", 1)
        dash = ""
        if name in flags:
            stroke, sw = AMBER, 3 if current else 2
            dash = " stroke-dasharray='6 3'" if flags[name] == "inherited" else ""
        fill = "#fff7d6" if current else ("#f4f8fc" if name in values or name == "y" else "#fafafa")
        parts.append(f"<rect class='bp-box' data-name='{name}' x='{b.x:.1f}' y='{b.y:.1f}' "
                     f"width='{b.w:.1f}' height='{b.h}' rx='6' fill='{fill}' stroke='{stroke}' "
                     f"stroke-width='{sw}'{dash}/>")
        parts.append(f"<text x='{b.x + 7:.1f}' y='{b.y + 15:.1f}' font-weight='bold' font-size='13'>"
                     f"{esc(b.header)}<tspan font-weight='normal' font-size='10' fill='#777'> "
                     f"{esc(b.shape)}</tspan></text>")
        for i, (t, c) in enumerate(b.lines):
            parts.append(f"<text x='{b.x + 7:.1f}' y='{b.y + 31 + i * LINE_H:.1f}' font-family="
                         f"'DejaVu Sans Mono, monospace' font-size='11' fill='{c}' "
                         f"xml:space='preserve'>{esc(t)}</text>")
    active = _STEP_EDGES.get((step.phase, step.node), set())
    edges = []
    for a, b in _EDGES:
        (x1, y1), (x2, y2) = _anchor(a, b, boxes, ops)
        on = (a, b) in active
        c, w = (color, 2.6) if on else ("#999", 1.2)
        if step.phase == "backward" and on:  # gradients flow against the arrows
            x1, y1, x2, y2 = x2, y2, x1, y1
        marker = "bp-arrow-on" if on else "bp-arrow"
        edges.append(f"<line x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}' stroke='{c}' "
                     f"stroke-width='{w}' marker-end='url(#{marker}-{step.phase})'/>")
    shapes = []
    for name, (x, y, rx, ry) in ops.items():
        on = any(name in e for e in active)
        shapes.append(f"<ellipse class='bp-op' data-name='{name}' cx='{x:.1f}' cy='{y:.1f}' "
                      f"rx='{rx}' ry='{ry}' fill='{'#fff7d6' if on else '#eee'}' "
                      f"stroke='{color if on else '#888'}' stroke-width='{2.5 if on else 1}'/>")
        label = _OP_LABELS[name]
        for i, t in enumerate(label.split("\n")):
            dy = (i - (label.count("\n")) / 2) * 12 + 4
            shapes.append(f"<text x='{x:.1f}' y='{y + dy:.1f}' text-anchor='middle' "
                          f"font-size='11'>{esc(t)}</text>")
    defs = "".join(
        f"<marker id='{m}-{step.phase}' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='9' "
        f"markerHeight='9' markerUnits='userSpaceOnUse' orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='{c}'/>"
        f"</marker>" for m, c in (("bp-arrow", "#999"), ("bp-arrow-on", color)))
    return (f"<svg class='bp-graph' viewBox='0 0 {width:.0f} {height:.0f}' width='100%' "
            f"style='max-width:{width:.0f}px;font-family:DejaVu Sans, sans-serif' "
            f"xmlns='http://www.w3.org/2000/svg'><defs>{defs}</defs>"
            + "".join(edges) + "".join(shapes) + "".join(parts) + "</svg>")


def _anchor(a, b, boxes, ops):
    """End points of the edge a → b between box borders and op ellipses."""
    def centre(name):
        if name in ops:
            return ops[name][:2]
        box = boxes[name]
        return box.x + box.w / 2, min(box.y + 22, box.y + box.h / 2)

    def point(name, towards):
        tx, ty = towards
        if name in ops:
            x, y, rx, ry = ops[name]
            dx, dy = tx - x, ty - y
            k = 1 / max(np.hypot(dx / rx, dy / ry), 1e-9)
            return x + dx * k, y + dy * k
        box = boxes[name]
        if ty < box.y:                       # target above: leave from the top
            return box.x + box.w / 2, box.y
        if ty > box.y + box.h:               # target below: leave from the bottom
            return box.x + box.w / 2, box.y + box.h
        return (box.x + box.w if tx > box.x + box.w else box.x), min(box.y + 22, box.y + box.h / 2)

    return point(a, centre(b)), point(b, centre(a))
