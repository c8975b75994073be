"""Charts: inline HTML with full labels, a legend for every mark, the band labelled, text from
data escaped, a heat map of a two-feature intersection, and a few kilobytes each."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from markupsafe import Markup

from fairaudit.outputs import (
    Chart,
    disparity_chart,
    heatmap_chart,
    metrics_chart,
    template_dir,
    tradeoff_chart,
)
from fairaudit.outputs._chart_heatmap import HEAT_COLOURS, cell_colours, contrast

#: Group names a data set may hold: markup, an attribute breaker, a long name, a bidi override,
#: TeX, CJK and emoji (the browser draws them; nothing is an image any more).
NASTY = [
    "<script>alert(1)</script>",
    '"onload=x',
    "a" * 200,
    "abc\u202edef",
    "$x^2$",
    "女性 👩",
]
METRICS = ["selection_rate", "true_positive_rate", "false_positive_rate"]


def _metrics(groups: list[str] = NASTY, reference: str | None = "$x^2$") -> Chart:
    values = [[0.5 + 0.05 * g for g in range(len(groups))] for _ in METRICS]
    values[0][1] = None
    cis = [[(v - 0.1, v + 0.1) if v is not None else None for v in row] for row in values]
    return metrics_chart("Rates <b>by</b> group", groups, METRICS, values, cis, reference=reference)


def _disparity() -> Chart:
    ratios = [0.7, 1.0, 1.3, 7.0, None, 0.95]
    cis = [(0.5, 0.9), None, (1.1, 1.5), (3.0, 12.0), None, (0.9, 1.0)]
    return disparity_chart("Ratio", NASTY, ratios, "$x^2$", cis, (0.8, 1.25))


def _tradeoff() -> Chart:
    labels = ["baseline", "threshold_demographic_parity", "<i>x</i>"]
    return tradeoff_chart(
        "Trade-off", labels, [0.2, 0.05, 0.1], [(0.1, 0.3), (0.0, 0.1), None],
        [0.73, 0.70, 0.71], [(0.7, 0.76), None, None], "demographic parity difference",
    )  # fmt: skip


def _heatmap() -> Chart:
    return heatmap_chart(
        "Selection rate by sex and age",
        "sex",
        "<age>",
        ["female", "male", "<script>"],
        ["< 25", "[25, 40)", ">= 40"],
        [[0.571, 0.708, 0.806], [0.625, 0.836, None], [0.2, 0.9, 0.5]],
        counts=[[35, 65, 31], [24, 159, 0], [40, 40, 3]],
        insufficient=[[False, False, False], [True, False, False], [False, False, True]],
        intervals=[[(0.4, 0.7), None, None], [None] * 3, [None] * 3],
        min_group_size=30,
        reference=("male", "[25, 40)"),
    )


ALL = {"metrics": _metrics, "disparity": _disparity, "tradeoff": _tradeoff, "heatmap": _heatmap}


@pytest.mark.parametrize("name", ALL)
def test_text_from_data_is_escaped(name: str) -> None:
    html = str(ALL[name]().html)
    assert "<script>" not in html and "<i>x</i>" not in html and "<b>by" not in html
    assert "\u202e" not in html  # display.py's rule: the bidi override shown as <U+202E>
    assert re.search(r'="[^"]*"onload', html) is None
    for tag in re.findall(r"<(/?[a-z]+)", html):
        assert tag.lstrip("/") in {
            "figure", "figcaption", "ul", "li", "span", "div", "table", "thead", "tbody", "tr",
            "th", "td", "small", "b", "em",
        }, tag  # fmt: skip
    if name in ("metrics", "disparity"):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&#34;onload=x" in html
        assert "abc&lt;U+202E&gt;def" in html
        assert "$x^2$" in html and "女性 👩" in html


@pytest.mark.parametrize("name", ["metrics", "disparity"])
def test_full_labels_are_row_headers(name: str) -> None:
    html = str(ALL[name]().html)
    labels = re.findall(r'<th scope="row" class="chart-label">(.*?)</th>', html)
    assert len(labels) == len(NASTY)
    assert "a" * 200 in labels[2]  # never cut
    assert '<span class="chart-ref">reference</span>' in labels[4]  # the reference is marked


def _legend(html: str) -> str:
    found = re.search(r'<ul class="chart-legend">(.*?)</ul>', html)
    assert found, "no legend"
    return found.group(1)


@pytest.mark.parametrize("name", ["metrics", "disparity", "tradeoff"])
def test_every_mark_drawn_has_a_legend_entry(name: str) -> None:
    html = str(ALL[name]().html)
    legend = _legend(html)
    plot = html.split("</ul>", 1)[1]
    drawn = set(re.findall(r'class="chart-mark (m-[a-z]+)"', plot))
    assert drawn, "no mark drawn"
    for mark in drawn:
        assert f'class="chart-mark {mark}"' in legend, mark
    if 'class="chart-ci"' in plot:
        assert 'class="chart-swatch-ci"' in legend and "confidence interval" in legend
    if 'class="chart-refline"' in plot:
        assert 'class="chart-swatch-ref"' in legend


def test_disparity_chart_draws_and_labels_the_band() -> None:
    html = str(_disparity().html)
    legend = _legend(html)
    assert "the 0.8–1.25 band" in legend
    assert "1 = same as the reference group, $x^2$" in legend
    assert "outside the band" in legend and "beyond the axis" in legend
    assert 'class="chart-plot chart-banded"' in html
    # The band's edges are ticks of the axis (its track is wider, as the axis reaches 4),
    # the band is drawn on every track.
    ticks = re.findall(r'<span style="left:[\d.]+%">([\d.]+)</span>', html)
    assert {"0.8", "1.25"} <= set(ticks)
    assert "min-width:38rem" in html  # labels 9 + track max(15, 5 × 4 + 2) + number 7
    usual = str(disparity_chart("Ratio", ["a", "b"], [0.7, 1.1], "c").html)
    ticks = re.findall(r'<span style="left:[\d.]+%">([\d.]+)</span>', usual)
    assert ticks == ["0", "0.5", "0.8", "1", "1.25", "1.5"]
    assert re.search(r"--b0:20%;--b1:31\.2%;--p:25%", html)  # the axis reaches 4 (ratio 7)
    # Shape, not only colour: diamonds outside, circles inside, the 7.0 at the axis' end.
    marks = re.findall(r'class="chart-mark (m-[a-z]+)" style="left:([\d.]+)%"', html)
    assert marks == [("m-out", "17.5"), ("m-dot", "25"), ("m-out", "32.5"),
                     ("m-beyond", "100"), ("m-dot", "23.8")]  # fmt: skip
    assert "7.000<small>[3.000, 12.000]</small>" in html
    assert '<span class="visually-hidden"> (outside the band)</span>' in html


def test_values_and_intervals_are_printed() -> None:
    html = str(_metrics().html)
    assert '<td class="chart-num">0.500<small>[0.400, 0.600]</small></td>' in html
    assert '<td class="chart-num"><span class="undefined">undefined</span></td>' in html
    # The reference group's value is a line across each panel; its marks are squares.
    assert html.count('<span class="chart-refline" style="left:70%"></span>') == 6 * 3
    assert html.count('class="chart-mark m-ref"') == 3 + 1  # its row, and the legend


def test_heatmap_cells() -> None:
    html = str(_heatmap().html)
    cells = re.findall(r"<td (.*?)</td>", html)
    assert len(cells) == 9
    assert "<b>0.571</b><small>[0.400, 0.700]</small><small>n = 35</small>" in cells[0]
    assert cells[0].startswith('class="chart-cell" style="background:#')
    # Too few rows: hatched, no colour, and said in words.
    assert cells[3].startswith('class="chart-cell chart-few">')
    assert "n = 24</small><small><em>n &lt; 30: insufficient data</em>" in cells[3]
    assert cells[8].startswith('class="chart-cell chart-few">')
    # No rows, and the reference cell outlined and named.
    assert cells[5] == 'class="chart-cell chart-empty">no rows'
    assert cells[4].startswith('class="chart-cell chart-refcell" style=')
    assert '<span class="chart-ref">reference</span>' in cells[4]
    rows = re.findall(r'<th scope="row" class="chart-label">(.*?)</th>', html)
    assert rows == ["female", "male", "&lt;script&gt;"]
    assert "sex ↓ &lt;age&gt; →" in html
    legend = _legend(html)
    assert "selection rate: light 0.200 to dark 0.900" in legend
    assert "hatched, no colour: n &lt; 30: insufficient data" in legend
    assert "outlined: the reference group" in legend


def test_heatmap_text_meets_aa_contrast_on_every_colour() -> None:
    for step in range(101):
        background, ink = cell_colours(step / 100)
        assert contrast(background, ink) >= 4.5, (step, background, ink)
    assert cell_colours(0.0)[0] == HEAT_COLOURS[0] and cell_colours(1.0)[0] == HEAT_COLOURS[-1]
    # The style sheet's legend swatch draws the same scale.
    style = (template_dir() / "_chart_style.html").read_text()
    assert f"linear-gradient(90deg, {', '.join(HEAT_COLOURS)})" in style


def test_mark_colours_meet_3_to_1() -> None:
    """WCAG 1.4.11: marks against the page and against the band they may sit on."""
    style = (template_dir() / "_chart_style.html").read_text()
    colours = dict(re.findall(r"--(dot|out|ink|band|edge): (#[0-9a-f]{6})", style))
    for mark in ("dot", "out", "ink"):
        assert contrast(colours[mark], "#ffffff") >= 3, mark
        assert contrast(colours[mark], colours["band"]) >= 3, mark
    assert contrast(colours["edge"], colours["band"]) >= 3


@pytest.mark.parametrize("name", ALL)
def test_chart_is_one_accessible_figure(name: str) -> None:
    chart = ALL[name]()
    html = chart.html
    assert isinstance(html, Markup)
    assert html.startswith('<figure class="chart">\n<figcaption>')
    assert html.endswith("</figure>")
    assert html.count("<table") == 1 and '<th scope="col"' in html
    assert re.search(
        r'<div class="chart-scroll" role="region" aria-label="[^"]+" tabindex="0">', html
    )
    # The text alternative is plain text (escaped where it is printed), controls made visible.
    assert len(chart.alt) > 40 and "\u202e" not in chart.alt
    assert html == ALL[name]().html  # deterministic


def test_sizes_of_a_sample_sized_chart() -> None:
    """Six groups, three metrics with intervals (the sample's intersection): a few KB."""
    groups = [
        f"sex: {s} · age: {a}" for s in ("female", "male") for a in ("< 25", "[25, 40)", ">= 40")
    ]
    chart = _metrics(groups, groups[4])
    assert len(str(chart.html).encode()) < 8_000
    assert len(str(_heatmap().html).encode()) < 4_000


def test_sample_report_charts_fit_the_budget(sample_audit) -> None:  # type: ignore[no-untyped-def]
    html = sample_audit.html()
    figures = re.findall(r'<figure class="chart">.*?</figure>', html, re.S)
    assert len(figures) >= 7
    sizes = [len(f.encode()) for f in figures]
    assert max(sizes) <= 10_000, sizes
    assert sum(sizes) <= 40_000, sizes
    assert "data:image/svg+xml" not in html


def test_drawing_charts_does_not_import_matplotlib() -> None:
    code = (
        "import sys\n"
        "from fairaudit.outputs import (\n"
        "    metrics_chart, disparity_chart, tradeoff_chart, heatmap_chart)\n"
        "metrics_chart('t', ['a', 'b'], ['m'], [[0.5, 0.25]])\n"
        "disparity_chart('t', ['a', 'b'], [1.0, 0.5], 'a')\n"
        "tradeoff_chart('t', ['a'], [0.1], [None], [0.8], [None], 'gap')\n"
        "heatmap_chart('t', 'a', 'b', ['x'], ['y'], [[0.5]])\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr


def test_style_sheet_prints_charts_whole_and_in_colour() -> None:
    style = Path(template_dir() / "_chart_style.html").read_text()
    chart_rule = re.search(r"\.chart \{([^}]*)\}", style)
    assert chart_rule is not None
    assert "print-color-adjust: exact" in chart_rule.group(1)
    assert "break-inside: avoid" in chart_rule.group(1)


def test_values_past_the_axis_and_large_numbers() -> None:
    """A rate above 1 (a bad input) or a huge ratio: drawn at the edge, printed short."""
    rates = str(metrics_chart("t", ["a"], ["m"], [[1.7]], [[(-0.2, 2.0)]]).html)
    assert 'class="chart-mark m-beyond" style="left:100%"' in rates
    assert "beyond the axis" in _legend(rates)
    ratio = str(disparity_chart("t", ["a"], [1e9], "r", [(0.0, 1e12)]).html)
    assert "1e+09<small>[0.000, 1e+12]</small>" in ratio


def test_empty_and_undefined_inputs_draw_without_error() -> None:
    charts = [
        metrics_chart("t", [], ["m"], [[]]),
        disparity_chart("t", ["a"], [None], "r", [None]),
        tradeoff_chart(
            "t", ["a"], [float("nan")], [None], [float("inf")], [(0, float("nan"))], "x"
        ),
        heatmap_chart("t", "a", "b", ["x"], ["y"], [[None]], counts=[[0]]),
    ]
    for chart in charts:
        assert chart.html.startswith('<figure class="chart">')
    assert "undefined" in charts[1].html and "no rows" in charts[3].html
    assert "chart-mark m-" not in str(charts[2].html).split("</ul>", 1)[1]


def test_metrics_chart_names_rows_marks_and_whiskers_as_told() -> None:
    """A proxy chart's rows are features and its whiskers the fold range, not groups and CIs."""
    chart = metrics_chart(
        "t",
        ["housing"],
        ["auc"],
        [[0.6]],
        [[(0.55, 0.65)]],
        words=("Feature", "a feature's AUC", "lowest to highest over the folds"),
    )
    html = str(chart.html)
    assert ">Feature<" in html and "a feature&#39;s AUC" in html
    assert "lowest to highest over the folds" in html
    assert "a group&#39;s rate" not in html and "confidence interval" not in html


def test_a_label_breaks_after_its_underscores_not_inside_a_word() -> None:
    html = str(metrics_chart("t", ["checking_account", "<b>_x"], ["m"], [[0.5, 0.4]]).html)
    assert "checking_<wbr>account" in html
    assert "&lt;b&gt;_<wbr>x" in html  # each part escaped; only the <wbr> is markup
