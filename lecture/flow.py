"""流程图: the procedure of a document drawn from its time limits, as a graph model, as DOT (for
`st.graphviz_chart`, built with the `graphviz` package) and as an SVG for slides. All pure.

Steps are the actions of the fixed time limits in article order; an edge into a step carries the
period and who must act ("30日 · 信访人"). An extension ("延长……不得超过30日") is written on the
edge of the step it extends. Where the text branches, so does the graph: a limit under a
condition ("不属于本机关职权范围的，……5个工作日内提出异议") of the same article and actor as the
step before is an alternative to it; a step whose article says 不予受理 gets that outcome beside
it; "不服" marks the edge of an appeal, and an article that closes the chain ("不服……不再受理")
ends it with 不再受理.

The SVG is laid out here (layers top to bottom, nothing needs the Graphviz programs): the picture
in the app is drawn by the browser from the DOT, the export is this drawing of the same graph.
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ingest.deadlines import Deadline

START = "start"
_ACTION_NOISE = re.compile(r"分别按照下列方式|分别按照下列规定|按照下列方式|按照下列规定|按下列方式|按下列规定|分别")
_LABEL_MAX = 14
_CONDITION = re.compile(r"的[，,]")


@dataclass(frozen=True)
class Step:
    """A node: an action (or the start, or an outcome), with the clauses it comes from."""
    key: str
    label: str
    actor: str = ""
    clauses: tuple[str, ...] = ()     # article labels, for links
    outcome: bool = False             # an end of the procedure (不予受理, 不再受理)


@dataclass(frozen=True)
class Transition:
    """An edge: from one step to the next, with the period and actor ("30日 · 信访人")."""
    source: str
    target: str
    label: str


@dataclass(frozen=True)
class Flow:
    title: str
    steps: tuple[Step, ...]
    transitions: tuple[Transition, ...]

    @property
    def empty(self) -> bool:
        """No step besides the start: the document has no fixed time limits."""
        return len(self.steps) <= 1


def step_label(action: str) -> str:
    """A short node label from an action: "分别按照下列方式处理" → "处理"."""
    label = _ACTION_NOISE.sub("", action).strip() or action
    return label if len(label) <= _LABEL_MAX else label[:_LABEL_MAX - 1] + "…"


def build_flow(title: str, deadlines: Sequence[Deadline], article_texts: Mapping[str, str] | None = None) -> Flow:
    """The procedure of one document from its time limits (in article order).

    `article_texts` (article label → text) lets the flow see outcomes the limits do not name
    ("不予受理", "不再受理").
    """
    texts = article_texts or {}
    steps: list[Step] = [Step(START, "开始")]
    edges: list[Transition] = []
    parent_of: dict[str, str] = {}
    main_of: dict[str, str] = {START: START}     # the first of a step's alternatives: the way on
    previous: Deadline | None = None

    def close_article() -> None:
        """Outcomes an article names beside its limits hang off its last step."""
        if previous is None:
            return
        text, last = texts.get(previous.label, ""), _last_action(steps)
        for outcome, edge in (("不予受理", "不符合条件"), ("不再受理", "不服")):
            if outcome in text:
                out_key = f"o{len(steps)}"
                steps.append(Step(out_key, outcome, clauses=(previous.label,), outcome=True))
                edges.append(Transition(last, out_key, edge))

    for d in deadlines:
        if d.amount is None:
            continue
        if d.extension:
            if edges:
                last = edges[-1]
                edges[-1] = Transition(last.source, last.target, f"{last.label}\n可延长≤{d.period}")
            continue
        if previous is not None and previous.label != d.label:
            close_article()
        key = f"s{len(steps)}"
        before = _last_action(steps)
        sibling = (previous is not None and previous.label == d.label and previous.actor == d.actor
                   and bool(_CONDITION.search(d.sentence[:d.sentence.find(d.phrase)])))
        source = parent_of[before] if sibling else main_of[before]
        steps.append(Step(key, step_label(d.action), d.actor, (d.label,)))
        parent_of[key] = source
        main_of[key] = main_of[before] if sibling else key
        appeal = "不服 · " if "不服" in d.sentence else ""
        edges.append(Transition(source, key, f"{appeal}{d.period} · {d.actor or '—'}"))
        previous = d
    close_article()
    return Flow(title, tuple(steps), tuple(edges))


def _last_action(steps: Sequence[Step]) -> str:
    """The latest step that is not an outcome: where the procedure goes on from."""
    return next(s.key for s in reversed(steps) if not s.outcome)


def to_dot(flow: Flow, link: Callable[[str], str] | None = None) -> str:
    """The flow as DOT source; with `link` (article label → URL) each step links to its clause.

    Raises:
        ImportError: if the `graphviz` package is not installed.
    """
    import graphviz

    graph = graphviz.Digraph(name="flow", graph_attr={"rankdir": "TB", "label": flow.title, "labelloc": "t",
                                                       "fontname": "sans-serif", "nodesep": "0.9", "ranksep": "0.6"},
                             node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "#e8f0fe",
                                        "fontname": "sans-serif"},
                             edge_attr={"fontname": "sans-serif", "fontsize": "10"})
    for s in flow.steps:
        attrs = {"tooltip": " ".join(s.clauses) or s.label}
        if s.key == START:
            attrs.update(shape="circle", fillcolor="#ffffff")
        elif s.outcome:
            attrs.update(fillcolor="#f1f3f4", style="rounded,filled,dashed")
        if link and s.clauses:
            attrs.update(URL=link(s.clauses[0]), target="_self")
        clause = f"\n{'、'.join(s.clauses)}" if s.clauses else ""
        graph.node(s.key, f"{s.label}{clause}", **attrs)
    for t in flow.transitions:
        # one fact a line: a renderer measures Chinese text narrower than it is, long labels collide
        graph.edge(t.source, t.target, label=t.label.replace(" · ", "\n"))
    return graph.source


# ---- SVG for slides: a layered drawing of the same graph ---------------------------------------

_CHAR_W, _LINE_H, _PAD, _GAP_X, _GAP_Y = 15, 18, 12, 40, 70


def _text_width(text: str) -> int:
    return sum(_CHAR_W if ord(c) > 0x2E80 else _CHAR_W // 2 for c in text)


def to_svg(flow: Flow) -> str:
    """The flow as a standalone SVG picture: steps in layers top to bottom, edges with labels."""
    depth: dict[str, int] = {START: 0}
    for t in flow.transitions:           # edges come in procedure order: sources are placed first
        depth[t.target] = max(depth.get(t.target, 0), depth.get(t.source, 0) + 1)
    layers: dict[int, list[Step]] = {}
    for s in flow.steps:
        layers.setdefault(depth.get(s.key, 0), []).append(s)
    lines = {s.key: [s.label] + (["、".join(s.clauses)] if s.clauses else []) for s in flow.steps}
    size = {k: (max(map(_text_width, v)) + 2 * _PAD, len(v) * _LINE_H + 2 * _PAD) for k, v in lines.items()}
    widths = [sum(size[s.key][0] for s in row) + _GAP_X * (len(row) - 1) for row in layers.values()]
    total_w = max(widths + [200]) + 2 * _GAP_X + 240
    pos: dict[str, tuple[float, float]] = {}
    y = 50.0
    for level in sorted(layers):
        row = layers[level]
        x = (total_w - sum(size[s.key][0] for s in row) - _GAP_X * (len(row) - 1)) / 2
        for s in row:
            pos[s.key] = (x, y)
            x += size[s.key][0] + _GAP_X
        y += max(size[s.key][1] for s in row) + _GAP_Y
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" height="{y:.0f}" '
           f'viewBox="0 0 {total_w:.0f} {y:.0f}" font-family="sans-serif" font-size="14">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
           'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#5f6368"/></marker></defs>',
           f'<text x="{total_w / 2:.0f}" y="28" text-anchor="middle" font-size="18">{html.escape(flow.title)}</text>']
    for t in flow.transitions:
        (sx, sy), (tx, ty) = pos[t.source], pos[t.target]
        x1, y1 = sx + size[t.source][0] / 2, sy + size[t.source][1]
        x2, y2 = tx + size[t.target][0] / 2, ty
        out.append(f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="#5f6368" '
                   f'marker-end="url(#arrow)"/>')
        # labels nearer the target than the source, so the edges of a branch keep theirs apart
        lx, ly = x1 + (x2 - x1) * 0.62 + 6, y1 + (y2 - y1) * 0.62 - 4
        for i, part in enumerate(t.label.split("\n")):
            out.append(f'<text x="{lx:.0f}" y="{ly + i * 14:.0f}" font-size="11" '
                       f'fill="#3c4043">{html.escape(part)}</text>')
    for s in flow.steps:
        (x, y0), (w, h) = pos[s.key], size[s.key]
        fill = "#ffffff" if s.key == START else "#f1f3f4" if s.outcome else "#e8f0fe"
        dash = ' stroke-dasharray="4 3"' if s.outcome else ""
        out.append(f'<rect x="{x:.0f}" y="{y0:.0f}" width="{w}" height="{h}" rx="10" fill="{fill}" '
                   f'stroke="#1a73e8"{dash}/>')
        for i, part in enumerate(lines[s.key]):
            weight = "" if i else ' font-weight="bold"'
            out.append(f'<text x="{x + w / 2:.0f}" y="{y0 + _PAD + (i + 1) * _LINE_H - 4:.0f}" '
                       f'text-anchor="middle"{weight}>{html.escape(part)}</text>')
    out.append("</svg>")
    return "\n".join(out)
