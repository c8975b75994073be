"""The report's charts as inline HTML: rates by group, ratios to the reference, the trade-off.

Each chart is a table of dot plots that share their rows: one row per group (or method), one
panel per metric, the value printed beside each mark with its interval beneath; the legend
names every mark by shape and colour. Charts are deterministic (no ids, no timestamps), so
reports stay byte-identical across runs. The heat map of a two-feature intersection is in
``_chart_heatmap``; the building blocks in ``_chart_html``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from fairaudit.outputs._chart_heatmap import heatmap_chart
from fairaudit.outputs._chart_html import (
    PALETTE,
    Chart,
    LegendItem,
    Scale,
    axis,
    band_style,
    finite,
    interval,
    legend,
    mark_item,
    nice_scale,
    number,
    rate_scale,
    scroll_box,
    text,
    track,
)

__all__ = [
    "Chart",
    "PALETTE",
    "Panel",
    "beyond_item",
    "disparity_chart",
    "dot_table",
    "finite_floats",
    "heatmap_chart",
    "metrics_chart",
    "tradeoff_chart",
    "whisker_item",
]

#: The label column's share of a chart's width: from its longest label, within these bounds.
_LABEL_WIDTH = (12, 30)
#: Minimum widths in rem (kept in step with _chart_style.html): labels, tracks, numbers.
_LABEL_REM, _TRACK_REM, _BAND_TRACK_REM, _NUMBER_REM = 9, 8, 15, 7
_TRACK_PADDING_REM = 1.4

Interval = tuple[float, float] | None


@dataclass
class Panel:
    """One metric's column of marks: its name, scale, values, intervals and mark kinds."""

    name: str
    scale: Scale
    values: list[float | None]
    intervals: list[Interval]
    marks: list[str]
    reference: float | None = None
    extra_ticks: tuple[float, ...] = ()
    notes: list[str] = field(default_factory=list)


def finite_floats(values: Sequence[float | None]) -> list[float | None]:
    """Return the values as floats, with None and non-finite values as None."""
    return [float(v) if finite(v) else None for v in values]


def _intervals(given: Sequence[Sequence[float | None] | None] | None, n: int) -> list[Interval]:
    """Return n intervals, None where missing or not finite."""
    if given is None:
        return [None] * n
    return [interval(ci) for ci in given] + [None] * (n - len(given))


def _label_cell(label: str, is_reference: bool) -> Markup:
    tag = Markup(' <span class="chart-ref">reference</span>') if is_reference else Markup("")
    # A name like checking_account may break after its underscores rather than mid-word.
    shown = Markup("_<wbr>").join(escape(part) for part in label.split("_"))
    return Markup('<th scope="row" class="chart-label">{}{}</th>').format(shown, tag)


def dot_table(
    corner: str, labels: Sequence[str], panels: Sequence[Panel], reference_row: int | None,
    band: Markup | None = None,
) -> Markup:  # fmt: skip
    """Return the table of a dot chart: a row per label, two columns per panel (marks, value).

    The layout is fixed: the label column's width follows its longest label, the numbers'
    is set by the style sheet, and the tracks share the rest equally; below its minimum width
    (a phone) the table scrolls in its box.
    """
    longest = max((len(label) for label in labels), default=0)
    width = min(max(round(longest * 0.65) + 2, _LABEL_WIDTH[0]), _LABEL_WIDTH[1])
    track_rem = _TRACK_REM
    if band:
        # The band's edges must not touch: about 5 rem per unit of ratio on the axis.
        track_rem = max(_BAND_TRACK_REM, round(5 * max(p.scale.high for p in panels) + 2))
    style = Markup("min-width:{}rem").format(_LABEL_REM + len(panels) * (track_rem + _NUMBER_REM))
    if band:
        style += Markup(";") + band
    head = Markup("").join(
        Markup(
            '<th scope="col" class="chart-axis-h">{}{}</th>'
            '<th scope="col" class="chart-num"><span class="visually-hidden">{}</span></th>'
        ).format(p.name, axis(p.scale, p.extra_ticks, room=track_rem - _TRACK_PADDING_REM), p.name)
        for p in panels
    )
    rows = []
    for r, label in enumerate(labels):
        cells = Markup("").join(
            Markup(
                '<td class="chart-tc" aria-hidden="true">{}</td><td class="chart-num">{}</td>'
            ).format(
                track(p.scale, p.values[r], p.intervals[r], mark=p.marks[r], reference=p.reference),
                number(p.values[r], p.intervals[r], note=p.notes[r] if p.notes else ""),
            )
            for p in panels
        )
        rows.append(Markup("<tr>{}{}</tr>\n").format(_label_cell(label, r == reference_row), cells))
    return Markup(
        '<table class="chart-plot{}" style="{}">\n<thead><tr><th scope="col" class="chart-corner" '
        'style="width:{}%">{}</th>{}</tr></thead>\n<tbody>\n{}</tbody>\n</table>\n'
    ).format(" chart-banded" if band else "", style, width, corner, head, Markup("").join(rows))


def _index(labels: Sequence[str], name: str | None) -> int | None:
    return labels.index(name) if name is not None and name in labels else None


def whisker_item(intervals: bool, words: str = "confidence interval") -> list[LegendItem]:
    return [LegendItem("chart-swatch-ci", words)] if intervals else []


def beyond_item(panels: Sequence[Panel]) -> list[LegendItem]:
    beyond = any(v is not None and p.scale.beyond(v) for p in panels for v in p.values)
    return [mark_item("beyond", "beyond the axis (the value is printed)")] if beyond else []


def _metric_name(metric: str) -> str:
    return text(metric).replace("_", " ")


def metrics_chart(
    title: str,
    groups: Sequence[str],
    metrics: Sequence[str],
    values: Sequence[Sequence[float | None]],
    intervals: Sequence[Sequence[tuple[float, float] | None]] | None = None,
    *,
    reference: str | None = None,
    words: tuple[str, str, str] = ("Group", "a group's rate", "confidence interval"),
) -> Chart:
    """Return small multiples of rates by group: one panel per metric, one row per group.

    ``values[m][g]`` is metric ``m`` for group ``g``; ``intervals`` adds whiskers. The
    ``reference`` group's marks are squares and its value is a line across each panel.
    Undefined values draw no mark and are printed as 'undefined'. ``words`` name the rows,
    the mark and the whisker (for rows that are not groups, e.g. a proxy's features).
    """
    row_word, mark_word, whisker_word = words
    labels = [text(g) for g in groups]
    ref = _index(list(groups), reference)
    panels = []
    for m, metric in enumerate(metrics):
        shown = finite_floats(values[m])
        panels.append(
            Panel(
                _metric_name(metric),
                rate_scale(),
                shown,
                _intervals(intervals[m] if intervals is not None else None, len(groups)),
                ["reference" if g == ref else "value" for g in range(len(groups))],
                reference=shown[ref] if ref is not None else None,
            )
        )
    has_ci = any(ci is not None for p in panels for ci in p.intervals)
    items = [mark_item("value", mark_word)]
    if ref is not None:
        items += [
            mark_item("reference", f"the reference group, {labels[ref]}"),
            LegendItem("chart-swatch-ref", "the reference group's rate"),
        ]
    body = legend([*items, *whisker_item(has_ci, whisker_word), *beyond_item(panels)])
    body += scroll_box(text(title), dot_table(row_word, labels, panels, ref))
    parts = []
    for g, group in enumerate(labels):
        entry = ", ".join(
            f"{p.name} {p.values[g]:.3f}" if p.values[g] is not None else f"{p.name} undefined"
            for p in panels
        )
        parts.append(f"{group}: {entry}")
    alt = f"{text(title)}. Dot chart by group; " + "; ".join(parts) + "."
    return Chart(text(title), alt, body)


def _ratio_mark(ratio: float | None, band: tuple[float, float], is_reference: bool) -> str:
    if is_reference:
        return "reference"
    if ratio is not None and not band[0] <= ratio <= band[1]:
        return "outside"
    return "value"


def disparity_chart(
    title: str,
    groups: Sequence[str],
    ratios: Sequence[float | None],
    reference: str,
    intervals: Sequence[tuple[float, float] | None] | None = None,
    band: tuple[float, float] = (0.8, 1.25),
) -> Chart:
    """Return a dot plot of each group's ratio to the reference, over the labelled band.

    Circles are inside the band, diamonds outside; the reference group (ratio 1) is a square.
    """
    labels, ref_label = [text(g) for g in groups], text(reference)
    shown = finite_floats(ratios)
    cis = _intervals(intervals, len(groups))
    ref = _index(list(groups), reference)
    reach = [band[1] * 1.2, *(v for v in shown if v is not None)]
    reach += [ci[1] for ci in cis if ci is not None]
    scale = nice_scale(reach, floor=0.0, cap=max(4.0, band[1] * 2))
    marks = [_ratio_mark(v, band, g == ref) for g, v in enumerate(shown)]
    notes = ["outside the band" if m == "outside" else "" for m in marks]
    ticks = (band[0], 1.0, band[1])
    panel = Panel("ratio to the reference", scale, shown, cis, marks, None, ticks, notes)
    low, high = _band_text(band)
    items = [
        LegendItem("chart-swatch-band", f"the {low}–{high} band"),
        LegendItem("chart-swatch-parity", f"1 = same as the reference group, {ref_label}"),
        mark_item("value", "inside the band"),
        mark_item("outside", "outside the band"),
    ]
    if ref is not None:
        items.append(mark_item("reference", "the reference group"))
    items += whisker_item(any(ci is not None for ci in cis)) + beyond_item([panel])
    table = dot_table("Group", labels, [panel], ref, band_style(scale, band))
    body = legend(items) + scroll_box(text(title), table)
    parts = [
        f"{g}: {r:.3f}" + (" (outside the band)" if not band[0] <= r <= band[1] else "")
        if r is not None
        else f"{g}: undefined"
        for g, r in zip(labels, shown)
    ]
    alt = (
        f"{text(title)}. Ratio of each group to the reference group {ref_label}; the shaded band "
        f"is {low} to {high}. " + "; ".join(parts) + "."
    )
    return Chart(text(title), alt, body)


def _band_text(band: tuple[float, float]) -> tuple[str, str]:
    return f"{band[0]:g}", f"{band[1]:g}"


def tradeoff_chart(
    title: str,
    labels: Sequence[str],
    disparity: Sequence[float | None],
    disparity_ci: Sequence[tuple[float, float] | None],
    accuracy: Sequence[float | None],
    accuracy_ci: Sequence[tuple[float, float] | None],
    x_label: str,
    *,
    baseline: str | None = "baseline",
) -> Chart:
    """Return each method's disparity and accuracy side by side, one row per method.

    Two panels that share their rows read more easily than a scatter whose labels collide:
    the ``baseline`` method (the model as it is) is a square, and its values are lines
    across both panels, so a method's cost and gain show against it.
    """
    names = [text(label).replace("_", " ") for label in labels]
    base = _index(list(labels), baseline)
    rows = range(len(labels))
    marks = ["reference" if i == base else "value" for i in rows]
    panels = []
    for name, values, cis, floor in (
        (f"{text(x_label)} (lower is fairer)", disparity, disparity_ci, 0.0),
        ("accuracy (higher is better)", accuracy, accuracy_ci, None),
    ):
        shown = finite_floats(values)
        intervals = _intervals(cis, len(labels))
        reach = [v for v in shown if v is not None]
        reach += [end for ci in intervals if ci is not None for end in ci]
        scale = nice_scale(reach, floor=floor)
        reference = shown[base] if base is not None else None
        panels.append(Panel(name, scale, shown, intervals, marks, reference))
    items = [mark_item("value", "a mitigation method")]
    if base is not None:
        items += [
            mark_item("reference", f"{names[base]}: the model as it is"),
            LegendItem("chart-swatch-ref", f"the {names[base]}'s value"),
        ]
    has_ci = any(ci is not None for p in panels for ci in p.intervals)
    items += whisker_item(has_ci) + beyond_item(panels)
    body = legend(items) + scroll_box(text(title), dot_table("Method", names, panels, base))
    parts = [
        f"{name}: {text(x_label)} {d:.3f}, accuracy {a:.3f}"
        if d is not None and a is not None
        else f"{name}: not available"
        for name, d, a in zip(names, panels[0].values, panels[1].values)
    ]
    alt = f"{text(title)}. Dot chart, one row per method; " + "; ".join(parts) + "."
    return Chart(text(title), alt, body)
