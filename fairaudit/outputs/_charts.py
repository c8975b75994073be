"""Matplotlib figures as inline SVG data URIs, each with a title and a text alternative.

Charts are deterministic (fixed SVG ids, no timestamps) so reports are byte-identical
across runs. Group names come from the data: mathtext parsing is switched off so that
``$...$`` is literal, text is drawn as paths, and the SVG is embedded as an ``<img>``
(a data: URI), where no script can run. Characters DejaVu Sans lacks (CJK, emoji) are drawn
from matplotlib's Last Resort font, a box naming the script, without a warning; the text
alternative and the tables beside each chart spell every name out.
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from markupsafe import Markup

if TYPE_CHECKING:
    from collections.abc import Iterator

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Chart", "PALETTE", "disparity_chart", "metrics_chart", "tradeoff_chart"]

#: Okabe-Ito colour-blind-safe palette.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

#: Draws a glyph no other font has as a box naming its script (recent matplotlib bundles it).
_LAST_RESORT_FONT = "Last Resort High-Efficiency"


@cache
def _rc() -> Any:  # matplotlib types the keys as a Literal of every setting
    """Return the charts' matplotlib settings.

    matplotlib is imported here, on the first chart, not when ``fairaudit.outputs`` is
    imported: the diff, the cards and the CLI never draw and should not pay for it.
    Charts are ``Figure`` objects saved through the SVG backend: pyplot (its global figure
    manager and backend selection, 0.2 s to import) is never loaded.
    """
    from matplotlib import font_manager

    # Checked in the font list, not with findfont: that logs a warning when it is missing.
    bundled = {font.name for font in font_manager.fontManager.ttflist}
    return {
        "svg.hashsalt": "fairaudit",
        "svg.fonttype": "path",
        # DejaVu Sans, then the Last Resort font if this matplotlib bundles it.
        "font.family": [
            "DejaVu Sans",
            *([_LAST_RESORT_FONT] if _LAST_RESORT_FONT in bundled else []),
        ],
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "text.usetex": False,
        # Group names come from the data: never parse "$...$" in them as mathtext.
        "text.parse_math": False,
    }


_MAX_LABEL = 40


@dataclass(frozen=True)
class Chart:
    """One chart: its title, a text alternative and the SVG as a data: URI."""

    title: str
    alt: str
    data_uri: str

    @property
    def html(self) -> Markup:
        """Return the chart as one ``<figure>`` for the report (text from data escaped)."""
        return Markup(
            '<figure>\n<img src="{}" alt="{}">\n<figcaption>{}</figcaption>\n</figure>'
        ).format(self.data_uri, self.alt, self.title)


def _label(text: str, limit: int = _MAX_LABEL) -> str:
    """Return text of bounded length (mathtext is off in _rc(), so any text is literal)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextmanager
def _axes(width: float, height: float) -> Iterator[tuple[Figure, Axes]]:
    """Yield a new figure and its one axes, under the charts' settings (``_rc``)."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_rc()):
        fig = Figure(figsize=(width, height))
        yield fig, fig.subplots()


def _to_data_uri(fig: Figure) -> str:
    """Return the figure as an SVG data: URI (``savefig`` picks the SVG backend's canvas)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # Without the Last Resort font (older matplotlib) a missing glyph is an empty box:
        # the text alternative names the group, so the warning tells the reader nothing.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        fig.savefig(
            buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight"
        )
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _floats(values: Sequence[float | None]) -> list[float]:
    """Return the values with None as NaN."""
    return [math.nan if v is None else float(v) for v in values]


def metrics_chart(
    title: str,
    groups: Sequence[str],
    metrics: Sequence[str],
    values: Sequence[Sequence[float | None]],
    intervals: Sequence[Sequence[tuple[float, float] | None]] | None = None,
) -> Chart:
    """Return a horizontal grouped bar chart: one bar per metric for each group.

    ``values[m][g]`` is metric ``m`` for group ``g``; ``intervals`` adds whiskers.
    Undefined values draw no bar and are named in the text alternative.
    """
    height = max(2.2, 0.32 * len(groups) * len(metrics) + 1.0)
    with _axes(7.0, min(height, 40)) as (fig, ax):
        bar = 0.8 / max(len(metrics), 1)
        for m, metric in enumerate(metrics):
            ys = [g + m * bar for g in range(len(groups))]
            xs = [v if math.isfinite(v) else 0.0 for v in _floats(values[m])]
            err = None
            if intervals is not None:
                lows, highs = [], []
                for v, ci in zip(_floats(values[m]), intervals[m]):
                    if math.isfinite(v) and ci is not None and _finite(ci[0]) and _finite(ci[1]):
                        lows.append(max(v - ci[0], 0.0))
                        highs.append(max(ci[1] - v, 0.0))
                    else:
                        lows.append(0.0)
                        highs.append(0.0)
                err = [lows, highs]
            ax.barh(
                ys,
                xs,
                height=bar * 0.9,
                color=PALETTE[m % len(PALETTE)],
                label=metric,
                xerr=err,
                error_kw={"ecolor": "#333333", "capsize": 2, "elinewidth": 0.8},
            )
        ax.set_yticks([g + bar * (len(metrics) - 1) / 2 for g in range(len(groups))])
        ax.set_yticklabels([_label(g) for g in groups])
        ax.invert_yaxis()
        ax.set_xlim(0, 1.05)
        ax.set_xlabel("rate")
        ax.set_title(_label(title, 90))
        ax.legend(loc="lower right", fontsize=7, frameon=False)
        uri = _to_data_uri(fig)
    parts = []
    for g, group in enumerate(groups):
        shown = ", ".join(
            f"{metric} {v:.3f}" if math.isfinite(v) else f"{metric} undefined"
            for metric, v in zip(metrics, (_floats(values[m])[g] for m in range(len(metrics))))
        )
        parts.append(f"{group}: {shown}")
    alt = f"{title}. Bar chart; " + "; ".join(parts) + ". The table below has the same numbers."
    return Chart(title, alt, uri)


def disparity_chart(
    title: str,
    groups: Sequence[str],
    ratios: Sequence[float | None],
    reference: str,
    intervals: Sequence[tuple[float, float] | None] | None = None,
    band: tuple[float, float] = (0.8, 1.25),
) -> Chart:
    """Return a dot plot of each group's ratio to the reference, with the 0.8–1.25 band."""
    with _axes(7.0, max(1.8, 0.35 * len(groups) + 1.0)) as (fig, ax):
        ax.axvspan(band[0], band[1], color="#DDDDDD", label=f"{band[0]}–{band[1]} band")
        ax.axvline(1.0, color="#555555", linewidth=0.8)
        points = _floats(ratios)
        finite = [r for r in points if math.isfinite(r)]
        high = max([band[1] * 1.1, *[r * 1.1 for r in finite]])
        for i, r in enumerate(points):
            if not math.isfinite(r):
                continue
            outside = r < band[0] or r > band[1]
            err = None
            ci = intervals[i] if intervals is not None else None
            if ci is not None and _finite(ci[0]) and _finite(ci[1]):
                low_ci, high_ci = float(ci[0]), float(ci[1])
                err = [[max(r - low_ci, 0.0)], [max(high_ci - r, 0.0)]]
                high = max(high, high_ci * 1.05)
            ax.errorbar(
                [r],
                [i],
                xerr=err,
                fmt="D" if outside else "o",
                color=PALETTE[5] if outside else PALETTE[0],
                capsize=3,
                markersize=6,
            )
        ax.set_yticks(range(len(groups)))
        ax.set_yticklabels([_label(g) for g in groups])
        ax.set_ylim(len(groups) - 0.5, -0.5)
        ax.set_xlim(0, min(high, 10.0))
        ax.set_xlabel(_label(f"ratio to reference ({reference})", 90))
        ax.set_title(_label(title, 90))
        ax.legend(loc="lower right", fontsize=7, frameon=False)
        uri = _to_data_uri(fig)
    parts = [
        f"{g}: {r:.3f}" + (" (outside the band)" if r < band[0] or r > band[1] else "")
        if math.isfinite(r)
        else f"{g}: undefined"
        for g, r in zip(groups, _floats(ratios))
    ]
    alt = (
        f"{title}. Ratio of each group to the reference group {reference}; the shaded band "
        f"is {band[0]} to {band[1]}. " + "; ".join(parts) + "."
    )
    return Chart(title, alt, uri)


def tradeoff_chart(
    title: str,
    labels: Sequence[str],
    disparity: Sequence[float | None],
    disparity_ci: Sequence[tuple[float, float] | None],
    accuracy: Sequence[float | None],
    accuracy_ci: Sequence[tuple[float, float] | None],
    x_label: str,
) -> Chart:
    """Return a scatter of accuracy against disparity, one point per method, with whiskers."""
    with _axes(7.0, 4.2) as (fig, ax):
        markers = ("o", "s", "D", "^", "v", "P", "X", "*")
        for i, label in enumerate(labels):
            x, y = _floats([disparity[i]])[0], _floats([accuracy[i]])[0]
            if not (math.isfinite(x) and math.isfinite(y)):
                continue
            xerr = yerr = None
            xci, yci = disparity_ci[i], accuracy_ci[i]
            if xci is not None and _finite(xci[0]) and _finite(xci[1]):
                xerr = [[max(x - float(xci[0]), 0.0)], [max(float(xci[1]) - x, 0.0)]]
            if yci is not None and _finite(yci[0]) and _finite(yci[1]):
                yerr = [[max(y - float(yci[0]), 0.0)], [max(float(yci[1]) - y, 0.0)]]
            ax.errorbar(
                [x],
                [y],
                xerr=xerr,
                yerr=yerr,
                fmt=markers[i % len(markers)],
                color=PALETTE[i % len(PALETTE)],
                capsize=3,
                markersize=7,
                label=_label(label, 60),
                elinewidth=0.8,
            )
        ax.set_xlabel(_label(x_label, 90) + " (lower is fairer)")
        ax.set_ylabel("accuracy (higher is better)")
        ax.set_title(_label(title, 90))
        ax.legend(loc="best", fontsize=7, frameon=False)
        uri = _to_data_uri(fig)
    parts = [
        f"{label}: {x_label} {d:.3f}, accuracy {a:.3f}"
        if math.isfinite(d) and math.isfinite(a)
        else f"{label}: not available"
        for label, d, a in zip(labels, _floats(disparity), _floats(accuracy))
    ]
    alt = f"{title}. Scatter plot, one point per method; " + "; ".join(parts) + "."
    return Chart(title, alt, uri)
