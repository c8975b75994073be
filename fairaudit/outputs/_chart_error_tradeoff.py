"""A regression mitigation's trade-off chart: each variant's worst-group error ratio beside its
overall error, one row per variant (the audited model first), as the binary trade-off chart
(:func:`fairaudit.outputs._charts.tradeoff_chart`) draws accuracy beside a disparity.

The overall error is drawn relative to the audited model's (``variant ÷ audited``, 1 = no
cost): errors come in the target's units, anything from 1e-6 to 1e9, and the axes' round tick
steps are made for numbers near 1; the chart's text alternative and the table beside the
chart give each absolute value. Both panels read "lower is better"; the audited model is a
square whose values are lines across both panels. Ratios past ``CAP`` are drawn at the edge
and printed.
"""

from __future__ import annotations

from collections.abc import Sequence

from fairaudit.outputs._chart_html import (
    Chart,
    LegendItem,
    legend,
    mark_item,
    nice_scale,
    scroll_box,
    text,
)
from fairaudit.outputs._charts import Panel, beyond_item, dot_table, finite_floats, whisker_item

__all__ = ["CAP", "error_tradeoff_chart"]

#: The panels' right end at most (a variant 4 times as bad is off the chart, printed).
CAP = 4.0


def _relative(values: list[float | None], base: float | None) -> list[float | None]:
    """Return each value over ``base`` (None when either is missing or base is not positive)."""
    if base is None or base <= 0:
        return [None] * len(values)
    return [None if v is None else v / base for v in values]


def error_tradeoff_chart(
    title: str,
    labels: Sequence[str],
    ratios: Sequence[float | None],
    errors: Sequence[float | None],
    measure: str,
) -> Chart:
    """Return the worst group's ``measure`` ratio and the overall ``measure`` relative to the
    first row's (the audited model), one row per label; ``measure`` is e.g. ``MAE``."""
    names = [text(label) for label in labels]
    shown, absolute = finite_floats(ratios), finite_floats(errors)
    relative = _relative(absolute, absolute[0] if absolute else None)
    marks = ["reference" if i == 0 else "value" for i in range(len(names))]
    panels = []
    for name, values in (
        (f"worst group's {measure} ÷ overall {measure} (lower is fairer)", shown),
        (f"overall {measure} ÷ the audited model's (lower is better)", relative),
    ):
        reach = [1.0, *(v for v in values if v is not None)]
        scale = nice_scale(reach, cap=CAP)
        reference = values[0] if values else None
        panels.append(Panel(name, scale, values, [None] * len(names), marks, reference, (1.0,)))
    items = [
        mark_item("value", "a BoundedGroupLoss variant"),
        mark_item("reference", f"{names[0]}: the model as it is"),
        LegendItem("chart-swatch-ref", f"the {names[0]}'s value"),
    ]
    items += whisker_item(False) + beyond_item(panels)
    body = legend(items) + scroll_box(text(title), dot_table("Variant", names, panels, 0))
    parts = [
        f"{name}: worst group's {measure} ratio {r:.3f}, overall {measure} {e:.4g}"
        if r is not None and e is not None
        else f"{name}: not available"
        for name, r, e in zip(names, shown, absolute)
    ]
    alt = f"{text(title)}. Dot chart, one row per variant; " + "; ".join(parts) + "."
    return Chart(text(title), alt, body)
