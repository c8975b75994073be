"""A regression audit's prediction distributions: each group's empirical CDF, as inline SVG.

One step line per group (the reference group black and thicker, the others in the Okabe-Ito
colours, each with its own dash pattern so colour is never the only cue), the largest
Kolmogorov–Smirnov distance from the reference marked by a vertical segment where the two
curves are furthest apart, its exact value printed beside it. Group names are never in the
SVG: they are in the HTML legend and the table under the chart (escaped by
:class:`markupsafe.Markup`, controls made visible by :func:`fairaudit.display.display_text`),
so the SVG holds only numbers. No script, no external resource: the page's CSP holds.

The chart reads a compact summary, not the predictions: each group's ``prediction_quantiles``
(``q[k]``, the lower quantile at ``k / P`` for ``k = 0..P``: ``q[0]`` the smallest prediction,
``q[P]`` the largest). The curve drawn is ``G(x) = #{k >= 1: q[k] <= x} / P``, the group's
ECDF rounded down to a multiple of ``1 / P`` (``0 <= F - G < 1 / P``), so the gap drawn is
within ``1 / P`` of the exact KS distance, whose value (from the result's disparities) is
the one printed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from fairaudit.outputs._chart_html import Chart, figure_text, finite, scroll_box, text

__all__ = [
    "ECDF_MAX_GROUPS",
    "QUANTILES_KEY",
    "EcdfGroup",
    "ecdf_chart",
    "ecdf_gap",
    "ecdf_groups",
    "ecdf_levels",
]

#: Groups drawn besides the reference (the largest KS distances first): more lines than this
#: cannot be told apart; the others are counted under the chart.
ECDF_MAX_GROUPS = 7
#: The SVG's size in CSS pixels (it scrolls in its box on a narrower page) and its margins.
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 560, 290, 62, 16, 24, 40
#: Okabe-Ito colours for the groups (black is the reference's), each with a dash pattern.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C6D1F")
DASHES = ("", "6 3", "2 2", "8 3 2 3", "4 4", "1 3", "10 4")
REFERENCE_COLOUR = "#000000"
#: The key of a group row (``metrics.by_group[i]``) that holds its prediction quantiles.
QUANTILES_KEY = "prediction_quantiles"
GAP_COLOUR = "#B00020"
#: A narrower span of predictions is drawn as one value (a span of a few subnormal doubles
#: has no tick step: a fifth of it rounds to zero).
_NARROWEST = 1e-300


@dataclass(frozen=True)
class EcdfGroup:
    """One group's summary: its label, rows, quantiles and KS distance from the reference
    (None for the reference itself, or when the result has none); ``few``: fewer rows than
    the audit's ``min_group_size`` (drawn, never marked as the largest gap)."""

    label: str
    count: int
    quantiles: tuple[float, ...]
    ks: float | None = None
    reference: bool = False
    few: bool = False

    @property
    def name(self) -> str:
        """Return the label as the legend and table show it (controls made visible)."""
        return text(self.label) + (" (few rows)" if self.few else "")


def ecdf_levels(quantiles: Sequence[float], x: float) -> float:
    """Return ``G(x)``: the share of quantiles ``q[1..P]`` at or below ``x``."""
    steps = len(quantiles) - 1
    return sum(1 for q in quantiles[1:] if q <= x) / steps if steps > 0 else 0.0


def ecdf_gap(first: Sequence[float], second: Sequence[float]) -> tuple[float, float, float]:
    """Return ``(x, G1(x), G2(x))`` where the two drawn curves are furthest apart (the first
    such ``x`` among the quantiles, the only places the curves step)."""
    best = (float(first[0]), 0.0, 0.0)
    for x in sorted({*first, *second}):
        a, b = ecdf_levels(first, x), ecdf_levels(second, x)
        if abs(a - b) > abs(best[1] - best[2]):
            best = (float(x), a, b)
    return best


def _ticks(low: float, high: float, room: int = 5) -> list[float]:
    """Return round tick values (1, 2 or 5 times a power of ten) inside ``[low, high]``."""
    span = high - low
    raw = span / room
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    return [round(k * step, 12) for k in range(first, math.floor(high / step + 1e-9) + 1)]


def _tick_text(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.3g}"


class _Plot:
    """The mapping from (prediction, share) to SVG coordinates."""

    def __init__(self, low: float, high: float) -> None:
        if not high - low > _NARROWEST:  # one value, or a span too small to tick
            low, high = low - 0.5, high + 0.5
        pad = (high - low) * 0.02
        self.low, self.high = low - pad, high + pad

    def x(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return LEFT + share * (WIDTH - LEFT - RIGHT)

    def y(self, share: float) -> float:
        return TOP + (1.0 - share) * (HEIGHT - TOP - BOTTOM)


def _step_path(plot: _Plot, quantiles: Sequence[float]) -> str:
    """Return the SVG path of ``G`` from the plot's left edge to its right edge."""
    steps = len(quantiles) - 1
    points = [(plot.low, 0.0), (quantiles[0], 0.0)]
    for k, q in enumerate(quantiles[1:], 1):
        points += [(q, points[-1][1]), (q, k / steps)]
    points.append((plot.high, 1.0))
    path = " ".join(f"{plot.x(px):.1f},{plot.y(py):.1f}" for px, py in points)
    return "M" + path.replace(" ", " L")


def _axes(plot: _Plot) -> list[Markup]:
    """Return the grid, the axes' tick labels and their titles."""
    parts = []
    for share in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = plot.y(share)
        parts.append(
            Markup(
                '<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#dddddd"/>'
                '<text x="{}" y="{:.1f}" text-anchor="end" font-size="12">{:g}</text>'
            ).format(LEFT, y, WIDTH - RIGHT, y, LEFT - 5, y + 4, share)
        )
    for tick in _ticks(plot.low, plot.high):
        x = plot.x(tick)
        parts.append(
            Markup(
                '<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" stroke="#595959"/>'
                '<text x="{:.1f}" y="{}" text-anchor="middle" font-size="12">{}</text>'
            ).format(
                x,
                HEIGHT - BOTTOM,
                x,
                HEIGHT - BOTTOM + 4,
                x,
                HEIGHT - BOTTOM + 17,
                _tick_text(tick),
            )  # fmt: skip
        )
    middle = (TOP + HEIGHT - BOTTOM) // 2
    parts.append(
        Markup(
            '<text x="{}" y="{}" text-anchor="middle" font-size="12">prediction</text>'
            '<text x="14" y="{}" text-anchor="middle" font-size="12" '
            'transform="rotate(-90 14 {})">share at or below</text>'
        ).format((LEFT + WIDTH - RIGHT) // 2, HEIGHT - 4, middle, middle)
    )
    return parts


def _gap_mark(plot: _Plot, reference: EcdfGroup, widest: EcdfGroup) -> Markup:
    """Return the vertical segment where the widest group's curve is furthest from the
    reference's, with the group's exact KS distance beside it."""
    x, a, b = ecdf_gap(widest.quantiles, reference.quantiles)
    px = plot.x(x)
    anchor = "start" if px < (LEFT + WIDTH - RIGHT) / 2 else "end"
    dx = 6 if anchor == "start" else -6
    label_y = max(min(plot.y(a), plot.y(b)) - 6, 14)  # above the segment's upper end
    label = f"KS {figure_text(widest.ks or 0.0)}"
    box = len(label) * 8.2 + 6  # a white box under the label, over the lines
    box_x = px + dx - 3 if anchor == "start" else px + dx - box + 3
    return Markup(
        '<g class="ecdf-gap"><line x1="{x:.1f}" y1="{y1:.1f}" x2="{x:.1f}" y2="{y2:.1f}" '
        'stroke="{c}" stroke-width="3"/><rect x="{bx:.1f}" y="{by:.1f}" width="{bw:.1f}" '
        'height="17" fill="#ffffff" fill-opacity="0.9"/><text x="{tx:.1f}" y="{ty:.1f}" '
        'text-anchor="{anchor}" font-size="13" font-weight="700" fill="{c}">{label}</text></g>'
    ).format(
        x=px, y1=plot.y(a), y2=plot.y(b), c=GAP_COLOUR, bx=box_x, by=label_y - 13, bw=box,
        tx=px + dx, ty=label_y, anchor=anchor, label=label,
    )  # fmt: skip


def _svg(drawn: Sequence[EcdfGroup], widest: EcdfGroup | None, alt: str) -> Markup:
    values = [q for g in drawn for q in g.quantiles]
    plot = _Plot(min(values), max(values))
    parts = [
        Markup(
            '<svg class="ecdf" role="img" aria-label="{}" viewBox="0 0 {w} {h}" width="{w}" '
            'height="{h}" xmlns="http://www.w3.org/2000/svg">'
        ).format(alt, w=WIDTH, h=HEIGHT),
        *_axes(plot),
    ]
    others = [g for g in drawn if not g.reference]
    for i, group in enumerate(others):
        parts.append(_line(plot, group, COLOURS[i % len(COLOURS)], DASHES[i % len(DASHES)], 2))
    for group in drawn:
        if group.reference:  # last, so it is drawn over the others
            parts.append(_line(plot, group, REFERENCE_COLOUR, "", 3.5))
    reference = next((g for g in drawn if g.reference), None)
    if widest is not None and reference is not None:
        parts.append(_gap_mark(plot, reference, widest))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _line(plot: _Plot, group: EcdfGroup, colour: str, dash: str, width: float) -> Markup:
    dashes = Markup(' stroke-dasharray="{}"').format(dash) if dash else Markup("")
    return Markup(
        '<path d="{}" fill="none" stroke="{}" stroke-width="{:g}"{} stroke-linejoin="round"/>'
    ).format(_step_path(plot, group.quantiles), colour, width, dashes)


def _legend(drawn: Sequence[EcdfGroup], widest: EcdfGroup | None) -> Markup:
    """Return the legend: each line's colour and dash drawn as a swatch, the group named."""
    items = []
    others = [g for g in drawn if not g.reference]
    styles = {id(g): (COLOURS[i % len(COLOURS)], DASHES[i % len(DASHES)], 2.0)
              for i, g in enumerate(others)}  # fmt: skip
    for group in drawn:
        colour, dash, width = styles.get(id(group), (REFERENCE_COLOUR, "", 3.5))
        swatch = Markup(
            '<svg width="28" height="10" aria-hidden="true"><line x1="0" y1="5" x2="28" y2="5" '
            'stroke="{}" stroke-width="{:g}"{}/></svg>'
        ).format(colour, width, Markup(' stroke-dasharray="{}"').format(dash) if dash else "")
        name = group.name + (" (reference)" if group.reference else "")
        items.append(Markup("<li>{}{}</li>").format(swatch, name))
    if widest is not None:
        items.append(
            Markup(
                '<li><svg width="10" height="14" aria-hidden="true"><line x1="5" y1="0" x2="5" '
                'y2="14" stroke="{}" stroke-width="3"/></svg>the largest KS distance from the '
                "reference: {}, {}</li>"
            ).format(GAP_COLOUR, widest.name, figure_text(widest.ks or 0.0))
        )
    return Markup('<ul class="chart-legend">{}</ul>\n').format(Markup("").join(items))


def _table(groups: Sequence[EcdfGroup]) -> Markup:
    """Return the numbers behind the chart: each group's KS distance from the reference (first,
    so that a phone shows it beside the name), rows, smallest, median and largest prediction."""
    rows = []
    for g in groups:
        q = g.quantiles
        if g.reference:
            ks = Markup("reference")
        else:
            ks = Markup("{}").format(figure_text(g.ks)) if finite(g.ks) else Markup("undefined")
        cells = (figure_text(q[0]), figure_text(q[round((len(q) - 1) / 2)]), figure_text(q[-1]))
        rows.append(
            Markup(
                '<tr><th scope="row">{}</th><td>{}</td><td>{:,}</td><td>{}</td><td>{}</td>'
                "<td>{}</td></tr>"
            ).format(g.name, ks, g.count, *cells)
        )
    return Markup(
        '<table class="ecdf-table"><thead><tr><th scope="col" class="text">Group</th>'
        '<th scope="col">KS distance from the reference</th><th scope="col">rows</th>'
        '<th scope="col">smallest</th><th scope="col">median</th><th scope="col">largest</th>'
        "</tr></thead><tbody>{}</tbody></table>"
    ).format(Markup("").join(rows))


def _drawn(groups: Sequence[EcdfGroup]) -> tuple[list[EcdfGroup], EcdfGroup | None]:
    """Return the groups drawn (the reference, then the largest KS distances first) and the
    group with the largest KS distance from the reference (None without one)."""
    others = sorted(
        (g for g in groups if not g.reference),
        key=lambda g: -(g.ks if finite(g.ks) else -1.0),
    )
    drawn = [g for g in groups if g.reference] + others[:ECDF_MAX_GROUPS]
    widest = next((g for g in others if finite(g.ks) and not g.few), None)
    return drawn, widest


def ecdf_chart(title: str, groups: Sequence[EcdfGroup]) -> Chart | None:
    """Return the chart of the groups' prediction distributions, or None when fewer than
    two groups have a summary to draw (or no reference group has one)."""
    usable = [g for g in groups if len(g.quantiles) >= 2 and all(map(finite, g.quantiles))]
    if len(usable) < 2 or not any(g.reference for g in usable):
        return None
    drawn, widest = _drawn(usable)
    steps = len(drawn[0].quantiles) - 1
    alt = f"Empirical CDF of the predictions of {len(drawn)} groups"
    if widest is not None:
        alt += (
            f"; the largest KS distance from the reference is {figure_text(widest.ks or 0.0)}, "
            f"for {widest.name}"
        )
    note = (
        f"Each line is a group's share of predictions at or below a value (drawn from {steps + 1} "
        f"quantiles, so within {1 / steps:.3g} of the exact curve); the printed KS distance is "
        "exact."
    )
    if any(g.few for g in usable):
        note += (
            " A group marked 'few rows' is below the audit's minimum group size: drawn, but "
            "never marked as the largest distance."
        )
    omitted = len(usable) - len(drawn)
    if omitted:
        note += f" {omitted} more groups with smaller KS distances are in the table only."
    body = (
        _legend(drawn, widest)
        + scroll_box(f"{title} (chart)", _svg(drawn, widest, alt))
        + Markup('<p class="note">{}</p>\n').format(note)
        + scroll_box(f"{title} (numbers)", _table(usable))
    )
    return Chart(title, alt, body)


def ecdf_groups(
    rows: Sequence[Mapping[str, Any]],
    disparities: Sequence[Mapping[str, Any]],
    label: Callable[[Mapping[str, Any]], str],
) -> list[EcdfGroup]:
    """Return the groups of one grouping as the chart reads them, from the result's JSON:
    the rows (``metrics.by_group``) that have ``prediction_quantiles``, each with its
    ``ks_statistic`` disparity against the reference; ``label`` names a group."""
    ks = {
        tuple(d["group"].items()): d.get("value")
        for d in disparities
        if d["metric"] == "ks_statistic"
    }
    return [
        EcdfGroup(
            label=label(r["group"]),
            count=int(r["count"]),
            quantiles=tuple(float(q) for q in r[QUANTILES_KEY]),
            ks=ks.get(tuple(r["group"].items())),
            reference=bool(r.get("reference")),
            few=bool(r.get("insufficient_data")),
        )
        for r in rows
        if r.get(QUANTILES_KEY) and None not in r[QUANTILES_KEY]
    ]
