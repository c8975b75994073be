"""The parts every chart is built from: scales, marks, whiskers, axes and legends, as HTML.

A chart is a ``<figure>`` holding a real ``<table>``: group names are header cells (text that
wraps, read by screen readers and search), each number is printed in its own cell, and the
marks beside it are positioned ``<span>`` elements styled by ``templates/_chart_style.html``.
The page's CSP (no script, inline styles allowed) holds, nothing is an image, and a chart is a
few kilobytes. Every text from data passes through :func:`fairaudit.display.display_text` and
is then escaped by :class:`markupsafe.Markup`.

Stable class names (the browser tests measure them): ``chart`` (the figure), ``chart-legend``
(its legend, one ``li`` per mark), ``chart-scroll`` (the box that scrolls on a phone),
``chart-plot`` (the table), ``chart-label`` (a group's name), ``chart-track`` (the strip a
mark sits on), ``chart-mark`` (a mark), ``chart-ci`` (an interval's whisker), ``chart-num``
(a printed value), ``chart-axis`` (tick labels), ``chart-heat`` (a heat map's table) and
``chart-cell`` (a heat map cell).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeGuard

from markupsafe import Markup

from fairaudit.display import display_text

__all__ = [
    "MARK_CLASSES",
    "MINOR_WIDTHS",
    "PALETTE",
    "Chart",
    "LegendItem",
    "Scale",
    "axis",
    "band_style",
    "figure",
    "figure_text",
    "finite",
    "interval",
    "legend",
    "mark_item",
    "minor_width",
    "nice_scale",
    "number",
    "rate_scale",
    "scroll_box",
    "text",
    "track",
]

#: Okabe-Ito colour-blind-safe palette (kept for callers; the marks' colours, its blue and a
#: darker vermilion for 3:1 contrast on the band, are in _chart_style.html).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

#: Each mark's shape and colour go together (never colour alone): the CSS classes of a mark.
MARK_CLASSES = {
    "value": "m-dot",  # a blue circle: a group's value
    "reference": "m-ref",  # a black square: the reference group (or baseline)
    "outside": "m-out",  # a vermilion diamond: a ratio outside the band
    "beyond": "m-beyond",  # a vermilion triangle at the edge: beyond the axis
}


@dataclass(frozen=True)
class Chart:
    """One chart: its title, a text alternative and the HTML of its body.

    ``alt`` says in words what the chart shows (the numbers are also in the chart's table);
    :attr:`html` is the whole ``<figure>``.
    """

    title: str
    alt: str
    body: Markup

    @property
    def html(self) -> Markup:
        """Return the chart as one ``<figure>`` for the report (text from data escaped)."""
        return figure(self.title, self.body)


def text(value: object) -> str:
    """Return text from data as shown in a chart: controls made visible (escape it afterwards)."""
    return display_text(value)


def finite(value: float | None) -> TypeGuard[float]:
    """Return whether value is a finite number."""
    return value is not None and math.isfinite(value)


def interval(ci: Sequence[float | None] | None) -> tuple[float, float] | None:
    """Return an interval whose ends are both finite, else None."""
    if ci is None or len(ci) != 2:
        return None
    low, high = ci
    if low is None or high is None or not (finite(low) and finite(high)):
        return None
    return float(low), float(high)


def _short(value: float) -> str:
    """Return a CSS percentage or number without needless digits: ``12.5``, ``40``."""
    return f"{round(value, 1):g}"


@dataclass(frozen=True)
class Scale:
    """A linear scale from ``[low, high]`` to 0–100 % of a track's width."""

    low: float
    high: float

    def percent(self, value: float) -> float:
        """Return value's position in percent, clamped to the track."""
        span = self.high - self.low
        share = (value - self.low) / span if span > 0 else 0.5
        return min(max(share * 100.0, 0.0), 100.0)

    def beyond(self, value: float) -> bool:
        """Return whether value lies past the scale's high end (drawn at the edge)."""
        return value > self.high

    def ticks(self, extra: Iterable[float] = (), *, room: float = 6.5) -> list[tuple[float, bool]]:
        """Return the axis' ticks as (value, minor): round values and the ``extra`` ones.

        ``room`` is the track's narrowest width in rem. The extra ticks (a band's edges, then
        parity) come first; a tick is kept when its label clears the kept ones at that width,
        or, as a minor tick the style sheet hides on narrower axes, at :func:`minor_width`.
        """
        span = self.high - self.low
        step = next((c for c in _STEPS if span / c <= 5), _STEPS[-1])
        first = math.ceil(self.low / step - 1e-9)
        values = [round(k * step, 10) for k in range(first, int(self.high / step + 1e-9) + 1)]
        ends = [values[0], values[-1]] if values else []
        wanted = [e for e in extra if self.low <= e <= self.high] + ends + values
        wide = minor_width(room)
        kept: list[tuple[float, bool]] = []
        for value in dict.fromkeys(wanted):
            if all(self._clear(value, k, room) for k, minor in kept if not minor):
                kept.append((value, False))
            elif all(self._clear(value, k, wide) for k, _ in kept):
                kept.append((value, True))
        return sorted(kept)

    def _clear(self, a: float, b: float, width: float) -> bool:
        """Return whether the labels of ticks a and b do not touch on a track ``width`` rem wide."""
        gap = abs(self.percent(a) - self.percent(b)) / 100 * width
        return gap >= (len(f"{a:g}") + len(f"{b:g}")) * _DIGIT_REM / 2 + _TICK_GAP_REM


#: Round tick steps, and the size of a tick label's digit and of the gap between labels (rem).
_STEPS = (0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 50.0)
_DIGIT_REM, _TICK_GAP_REM = 0.45, 0.5
#: Axis widths (rem) below which the style sheet hides minor ticks: class ``minor`` (12),
#: ``minor-wide`` (24); container queries in _chart_style.html use the same numbers.
MINOR_WIDTHS = {12.0: "minor", 24.0: "minor-wide"}


def minor_width(room: float) -> float:
    """Return the axis width at which the minor ticks of an axis at least ``room`` wide show."""
    return next((w for w in MINOR_WIDTHS if w >= room * 1.5), max(MINOR_WIDTHS))


def rate_scale() -> Scale:
    """Return the scale of rates: 0 to 1."""
    return Scale(0.0, 1.0)


def nice_scale(
    values: Iterable[float], *, floor: float | None = None, cap: float | None = None
) -> Scale:
    """Return a scale holding every value, its ends rounded out to tenths.

    ``floor`` fixes the low end (0 for ratios); ``cap`` bounds the high end, past which marks
    are drawn at the edge and flagged (their value is printed).
    """
    points = [v for v in values if math.isfinite(v)] or [0.0, 1.0]
    low = floor if floor is not None else math.floor(min(points) * 10 - 1e-9) / 10
    high = math.ceil(max(points) * 10 + 1e-9) / 10
    if cap is not None:
        high = min(high, cap)
    if high <= low:
        high = low + 0.1
    return Scale(low, high)


def figure_text(value: float) -> str:
    """Return a number as a chart prints it: 3 decimals, or 3 significant digits past 1,000."""
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.3g}"


def number(value: float | None, ci: tuple[float, float] | None = None, *, note: str = "") -> Markup:
    """Return a printed value with its interval beneath (or 'undefined'), for a ``chart-num``."""
    if not finite(value):
        return Markup('<span class="undefined">undefined</span>')
    shown = Markup("{}").format(figure_text(value))
    if ci is not None:
        shown += Markup("<small>[{}, {}]</small>").format(figure_text(ci[0]), figure_text(ci[1]))
    if note:
        shown += Markup('<span class="visually-hidden"> ({})</span>').format(note)
    return shown


def track(
    scale: Scale,
    value: float | None,
    ci: tuple[float, float] | None = None,
    *,
    mark: str = "value",
    reference: float | None = None,
) -> Markup:
    """Return a track with a mark at value, its whisker, and a line at the reference value.

    A value past the scale's end is drawn as the "beyond" mark at the edge.
    """
    parts = []
    if finite(reference):
        parts.append(
            Markup('<span class="chart-refline" style="left:{}%"></span>').format(
                _short(scale.percent(reference))
            )
        )
    if finite(value):
        v = float(value)
        if ci is not None:
            left, right = scale.percent(ci[0]), scale.percent(ci[1])
            parts.append(
                Markup('<span class="chart-ci" style="left:{}%;width:{}%"></span>').format(
                    _short(left), _short(max(right - left, 0.0))
                )
            )
        kind = "beyond" if scale.beyond(v) else mark
        parts.append(
            Markup('<span class="chart-mark {}" style="left:{}%"></span>').format(
                MARK_CLASSES[kind], _short(scale.percent(v))
            )
        )
    return Markup('<div class="chart-track">{}</div>').format(Markup("").join(parts))


def axis(scale: Scale, extra: Iterable[float] = (), *, room: float = 6.5) -> Markup:
    """Return the tick labels of a scale, positioned over the tracks below them."""
    ticks = Markup("").join(
        Markup('<span{} style="left:{}%">{:g}</span>').format(
            Markup(' class="{}"').format(MINOR_WIDTHS[minor_width(room)]) if minor else "",
            _short(scale.percent(t)),
            t,
        )
        for t, minor in scale.ticks(extra, room=room)
    )
    return Markup('<div class="chart-axis" aria-hidden="true">{}</div>').format(ticks)


def band_style(scale: Scale, band: tuple[float, float], parity: float = 1.0) -> Markup:
    """Return the CSS variables that draw the band and the parity line on every track."""
    return Markup("--b0:{}%;--b1:{}%;--p:{}%").format(
        _short(scale.percent(band[0])),
        _short(scale.percent(band[1])),
        _short(scale.percent(parity)),
    )


@dataclass(frozen=True)
class LegendItem:
    """One legend entry: the class of its swatch (a mark's classes) and what it means."""

    swatch: str
    meaning: str


def legend(items: Iterable[LegendItem]) -> Markup:
    """Return the legend: each swatch drawn as the chart draws it, with its meaning in words."""
    entries = Markup("").join(
        Markup('<li><span class="{}" aria-hidden="true"></span>{}</li>').format(i.swatch, i.meaning)
        for i in items
    )
    return Markup('<ul class="chart-legend">{}</ul>\n').format(entries)


def mark_item(kind: str, meaning: str) -> LegendItem:
    """Return the legend entry of a mark kind (see :data:`MARK_CLASSES`)."""
    return LegendItem(f"chart-mark {MARK_CLASSES[kind]}", meaning)


def scroll_box(label: str, table: Markup) -> Markup:
    """Return the table in a focusable box that scrolls sideways when the page is narrow."""
    return Markup(
        '<div class="chart-scroll" role="region" aria-label="{}" tabindex="0">\n{}</div>\n'
    ).format(label, table)


def figure(title: str, body: Markup) -> Markup:
    """Return the ``<figure>``: its caption (the title), then its body."""
    return Markup('<figure class="chart">\n<figcaption>{}</figcaption>\n{}</figure>').format(
        title, body
    )
