"""The intersection of two sensitive features as a heat map: feature A's groups in rows,
feature B's in columns, each cell a rate printed over a colour.

Colour repeats the printed number, it never replaces it: a cell with too few rows is hatched
and says so in words, an empty cell says "no rows", the reference cell is outlined and named.
Each cell's text is black or white, whichever contrasts more with its colour (at least 4.5:1
on every colour of the scale).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from markupsafe import Markup

from fairaudit.outputs._chart_html import (
    Chart,
    LegendItem,
    figure_text,
    finite,
    interval,
    legend,
    scroll_box,
    text,
)

__all__ = ["HEAT_COLOURS", "cell_colours", "contrast", "heatmap_chart"]

T = TypeVar("T")

#: The sequential scale, light (low) to dark (high): a colour-blind-safe single hue whose
#: lightest step is still visibly tinted, unlike the cells left without colour.
HEAT_COLOURS = ("#deebf7", "#9ecae1", "#4292c6", "#2171b5", "#08306b")


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _luminance(colour: str) -> float:
    """Return the WCAG relative luminance of a ``#rrggbb`` colour."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    """Return the WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    a, b = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def cell_colours(share: float) -> tuple[str, str]:
    """Return the background at ``share`` (0–1) of the scale and the text colour for it."""
    share = min(max(share, 0.0), 1.0) * (len(HEAT_COLOURS) - 1)
    i = min(int(share), len(HEAT_COLOURS) - 2)
    t = share - i
    low, high = _rgb(HEAT_COLOURS[i]), _rgb(HEAT_COLOURS[i + 1])
    mixed = tuple(round(a + (b - a) * t) for a, b in zip(low, high))
    background = "#{:02x}{:02x}{:02x}".format(*mixed)
    ink = max(("#000000", "#ffffff"), key=lambda c: contrast(c, background))
    return background, ink


def _cell(
    value: float | None,
    count: int | None,
    ci: tuple[float, float] | None,
    few: bool,
    is_reference: bool,
    colours: tuple[str, str] | None,
    few_text: str,
) -> Markup:
    """Return one cell: the value, its interval, its count and what marks it."""
    classes = ["chart-cell"]
    lines = []
    if count == 0:
        classes.append("chart-empty")
        lines.append(Markup("no rows"))
    elif not finite(value):
        lines.append(Markup('<span class="undefined">undefined</span>'))
    else:
        lines.append(Markup("<b>{}</b>").format(figure_text(value)))
        if ci is not None:
            lines.append(
                Markup("<small>[{}, {}]</small>").format(figure_text(ci[0]), figure_text(ci[1]))
            )
    if count:
        lines.append(Markup("<small>n = {:,}</small>").format(count))
    if few:
        classes.append("chart-few")
        lines.append(Markup("<small><em>{}</em></small>").format(few_text))
    if is_reference:
        classes.append("chart-refcell")
        lines.append(Markup('<small><span class="chart-ref">reference</span></small>'))
    style = Markup("")
    if colours is not None and not few and count != 0 and finite(value):
        style = Markup(' style="background:{};color:{}"').format(*colours)
    return Markup('<td class="{}"{}>{}</td>').format(
        " ".join(classes), style, Markup("").join(lines)
    )


def _grid(grid: Sequence[Sequence[T]] | None, n_rows: int, n_cols: int) -> list[list[T | None]]:
    """Return an n_rows × n_cols grid, None where the given one is missing or short."""
    return [
        [
            grid[r][c] if grid is not None and r < len(grid) and c < len(grid[r]) else None
            for c in range(n_cols)
        ]
        for r in range(n_rows)
    ]


def _legend(name: str, low: float, high: float, few: str | None, reference: bool) -> Markup:
    items = [
        LegendItem(
            "chart-swatch-heat",
            f"{name}: light {low:.3f} to dark {high:.3f} (the value is printed in each cell)",
        )
    ]
    if few is not None:
        items.append(LegendItem("chart-swatch-few", f"hatched, no colour: {few}"))
    if reference:
        items.append(LegendItem("chart-swatch-refcell", "outlined: the reference group"))
    return legend(items)


def heatmap_chart(
    title: str,
    row_feature: str,
    column_feature: str,
    row_groups: Sequence[str],
    column_groups: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    metric: str = "selection rate",
    counts: Sequence[Sequence[int | None]] | None = None,
    intervals: Sequence[Sequence[Sequence[float | None] | None]] | None = None,
    insufficient: Sequence[Sequence[bool]] | None = None,
    min_group_size: int | None = None,
    reference: tuple[str, str] | None = None,
) -> Chart:
    """Return a heat map of ``metric`` over two features' groups (rows × columns).

    ``values[r][c]`` is the rate of the group (``row_groups[r]``, ``column_groups[c]``);
    ``counts`` its rows (0 prints "no rows"), ``insufficient`` flags the groups too small
    to rely on (hatched, not coloured, "n < min_group_size"), ``reference`` is the
    reference group's (row value, column value). The colour scale spans the coloured values.
    """
    shape = len(row_groups), len(column_groups)
    shown = [[float(v) if finite(v) else None for v in row] for row in _grid(values, *shape)]
    few = [[bool(f) for f in row] for row in _grid(insufficient, *shape)]
    n = _grid(counts, *shape)
    cis = _grid(intervals, *shape)
    coloured = [
        v
        for row, flags in zip(shown, few)
        for v, flag in zip(row, flags)
        if v is not None and not flag
    ]
    low, high = (min(coloured), max(coloured)) if coloured else (0.0, 1.0)
    few_text = f"n < {min_group_size}: insufficient data" if min_group_size else "insufficient data"
    rows_text, cols_text = [text(g) for g in row_groups], [text(g) for g in column_groups]
    ref = (text(reference[0]), text(reference[1])) if reference else None
    body_rows = []
    for r, row_label in enumerate(rows_text):
        cells = Markup("").join(
            _cell(
                value,
                n[r][c],
                interval(cis[r][c]),
                few[r][c],
                ref == (row_label, col_label),
                cell_colours(
                    (value - low) / (high - low) if value is not None and high > low else 0.5
                ),
                few_text,
            )
            for c, (col_label, value) in enumerate(zip(cols_text, shown[r]))
        )
        body_rows.append(
            Markup('<tr><th scope="row" class="chart-label">{}</th>{}</tr>\n').format(
                row_label, cells
            )
        )
    head = Markup("").join(
        Markup('<th scope="col" class="chart-label">{}</th>').format(c) for c in cols_text
    )
    feature_a, feature_b = text(row_feature), text(column_feature)
    table = Markup(
        '<table class="chart-heat">\n<thead><tr><th scope="col" class="chart-corner">{} ↓ {} →</th>'
        "{}</tr></thead>\n<tbody>\n{}</tbody>\n</table>\n"
    ).format(feature_a, feature_b, head, Markup("").join(body_rows))
    name = text(metric).replace("_", " ")
    any_few = any(any(row) for row in few)
    body = _legend(name, low, high, few_text if any_few else None, ref is not None)
    body += scroll_box(text(title), table)
    parts = [
        f"{rows_text[r]}, {cols_text[c]}: "
        + (f"{v:.3f}" if v is not None else "undefined")
        + (" (insufficient data)" if few[r][c] else "")
        for r, row in enumerate(shown)
        for c, v in enumerate(row)
    ]
    alt = (
        f"{text(title)}. Heat map of {name}, {feature_a} in rows and {feature_b} in columns; "
        + "; ".join(parts)
        + "."
    )
    return Chart(text(title), alt, body)
