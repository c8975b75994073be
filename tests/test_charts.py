"""Charts: group names in any script draw without a warning, and the text alternative names them."""

from __future__ import annotations

import base64
import subprocess
import sys

from fairaudit.outputs import disparity_chart, metrics_chart, tradeoff_chart

#: DejaVu Sans has none of these glyphs (CJK ideographs, emoji).
GROUPS = ["女性 👩", "男性 👨", "другие"]


def _svg(uri: str) -> str:
    return base64.b64decode(uri.split(",", 1)[1]).decode()


def test_groups_in_scripts_the_font_lacks_draw_without_warning() -> None:
    # pytest turns any warning into an error: matplotlib's "Glyph ... missing" included.
    metrics = metrics_chart("Rates by group", GROUPS, ["selection_rate"], [[0.5, 0.25, None]])
    disparity = disparity_chart("Selection rate ratio", GROUPS, [1.0, 0.5, None], GROUPS[0])
    tradeoff = tradeoff_chart(
        "Trade-off", GROUPS, [0.1, 0.2, 0.3], [None] * 3, [0.8, 0.7, 0.6], [None] * 3, "gap 👀"
    )
    for chart in (metrics, disparity, tradeoff):
        assert _svg(chart.data_uri).startswith("<?xml")
    assert metrics.alt.startswith(
        "Rates by group. Bar chart; 女性 👩: selection_rate 0.500; "
        "男性 👨: selection_rate 0.250; другие: selection_rate undefined."
    )
    assert "女性 👩: 1.000; 男性 👨: 0.500 (outside the band); другие: undefined" in disparity.alt


def test_importing_the_outputs_does_not_import_matplotlib() -> None:
    """The diff, the cards and the CLI import fairaudit.outputs; only a chart needs matplotlib."""
    code = (
        "import sys, fairaudit.outputs\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
        "fairaudit.outputs.disparity_chart('t', ['a'], [1.0], 'a')\n"
        "import matplotlib\n"
        "print(matplotlib.get_backend())\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().lower() == "agg"
