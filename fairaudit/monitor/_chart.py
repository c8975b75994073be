"""Small multiples of a monitor page: one inline SVG per grouping and rate.

Each chart draws every group's rate per window with its ordinary 95% band (Wilson), each
group's baseline rate as a dashed line, and a red ring where an alarm fired on that group.
Every label is escaped; the SVG needs no script and no external resource.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

from fairaudit.display import display_text

__all__ = ["charts"]

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 190, 44, 150, 12, 26
PALETTE = ("#1f77b4", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#666")


def _lines(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return one line per group: the reference (from the first entry) then each group."""
    first = entries[0]
    lines = [
        {
            "label": first["reference_label"] + " (reference)",
            "rates": [w["reference_rate"] for w in first["windows"]],
            "bands": [w["reference_rate_ci_95"] for w in first["windows"]],
            "baseline": _rate(first["baseline"], "reference_"),
            "alarms": set(),
        }
    ]
    for entry in entries:
        lines.append(
            {
                "label": entry["group_label"],
                "rates": [w["rate"] for w in entry["windows"]],
                "bands": [w["rate_ci_95"] for w in entry["windows"]],
                "baseline": _rate(entry["baseline"], ""),
                "alarms": {a["window_seq"] - 1 for a in entry["alarms"]},
            }
        )
    return lines


def _rate(baseline: Mapping[str, Any], prefix: str) -> float | None:
    trials = baseline[prefix + "trials"]
    return baseline[prefix + "successes"] / trials if trials else None


def _svg(title: str, lines: list[dict[str, Any]], windows: int) -> Markup:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max(
        [1e-9]
        + [b[1] or 0 for line in lines for b in line["bands"] if b]
        + [line["baseline"] or 0 for line in lines]
    )
    top = min(1.0, top * 1.1)

    def x(t: int) -> float:
        return LEFT + (plot_w * (t + 0.5) / max(windows, 1))

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [
        f'<svg class="monitor-chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}"><title>{escape(display_text(title))}</title>',
        f'<line x1="{LEFT}" y1="{y(0):.1f}" x2="{LEFT + plot_w}" y2="{y(0):.1f}" stroke="#999"/>',
        f'<text x="{LEFT - 4}" y="{y(0):.1f}" text-anchor="end" font-size="10">0</text>',
        f'<text x="{LEFT - 4}" y="{y(top) + 8:.1f}" text-anchor="end" font-size="10">'
        f"{top:.2f}</text>",
        f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="10">window 1</text>',
        f'<text x="{LEFT + plot_w}" y="{HEIGHT - 6}" text-anchor="end" font-size="10">'
        f"window {windows}</text>",
    ]
    for i, line in enumerate(lines):
        color = PALETTE[i % len(PALETTE)]
        parts += _line_parts(line, color, x, y)
        label_y = TOP + 12 + 14 * i
        parts.append(
            f'<text x="{LEFT + plot_w + 8}" y="{label_y}" font-size="11" fill="{color}">'
            f"{escape(display_text(line['label'])[:24])}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _line_parts(line: Mapping[str, Any], color: str, x: Any, y: Any) -> list[str]:
    """Return the SVG elements of one group: band, rate line, baseline and alarm rings."""
    parts = []
    known = [
        (t, r, b) for t, (r, b) in enumerate(zip(line["rates"], line["bands"])) if r is not None
    ]
    if known:
        upper = " ".join(f"{x(t):.1f},{y(b[1]):.1f}" for t, _, b in known)
        lower = " ".join(f"{x(t):.1f},{y(b[0]):.1f}" for t, _, b in reversed(known))
        parts.append(f'<polygon points="{upper} {lower}" fill="{color}" fill-opacity="0.12"/>')
        points = " ".join(f"{x(t):.1f},{y(r):.1f}" for t, r, _ in known)
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.5"/>'
        )
    if line["baseline"] is not None:
        level = y(line["baseline"])
        parts.append(
            f'<line x1="{LEFT}" y1="{level:.1f}" x2="{WIDTH - RIGHT}" y2="{level:.1f}" '
            f'stroke="{color}" stroke-dasharray="4 3"/>'
        )
    for t, r, _ in known:
        if t in line["alarms"]:
            parts.append(
                f'<circle cx="{x(t):.1f}" cy="{y(r):.1f}" r="5" fill="none" stroke="#c00" '
                'stroke-width="2"><title>alarm</title></circle>'
            )
    return parts


def charts(series: Sequence[Mapping[str, Any]], windows: int) -> list[dict[str, Any]]:
    """Return ``[{"title", "svg"}]``: one chart per (grouping, rate), in the series' order."""
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for entry in series:
        grouped.setdefault((entry["grouping"], entry["metric"]), []).append(entry)
    out = []
    for (grouping, metric), entries in grouped.items():
        title = f"{grouping}: {metric.replace('_', ' ')} per window"
        out.append({"title": title, "svg": _svg(title, _lines(entries), windows)})
    return out
