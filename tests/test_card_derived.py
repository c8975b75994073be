"""Model cards of a regression audit with a favourable threshold (issue 17).

With ``--favorable-above T`` / ``--favorable-below T`` a regression result carries the binary
view of a derived outcome (``summary.favorable_outcome``). The Markdown card shows it after
the regression headline, labelled as a derived outcome and not the model's errors: its six
binary disparities with their intervals, the groups left out of a rate, and who is worse off;
Hugging Face and Model Card Toolkit cards add the six metrics with the label in their name or
slice. Every number is checked against the JSON here, not recomputed through the card's code.

The data: groups ``a`` and a hostile name (predicted 12 lower than its targets, so worse off
on the derived outcome) of 300 rows, and ``c`` of 12 rows (too few positives for its true
positive rate: left out).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit.outputs import fairness_section, mct_card, mct_schema_path, model_index_lines
from fairaudit.vocabulary import HEADLINE_METRICS

HOSTILE = "<b>x</b> | *y*"
HOSTILE_MD = "&lt;b&gt;x&lt;/b&gt; \\| \\*y\\*"
T_ABOVE, T_BELOW = 100.5, 90.0


def _frame(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = np.array(["a"] * 300 + [HOSTILE] * 300 + ["c"] * 12, dtype=object)
    y = rng.normal(100, 20, len(group))
    pred = y + rng.normal(0, 6, len(group)) - np.where(group == HOSTILE, 12.0, 0.0)
    return pd.DataFrame({"y": y, "pred": pred, "group": group})


def _audit(**options: Any) -> dict[str, Any]:
    result = fairaudit.audit(
        _frame(), target="y", sensitive="group", prediction_col="pred", resamples=200, **options
    )
    data: dict[str, Any] = result.to_dict()
    return data


@pytest.fixture(scope="module")
def above() -> dict[str, Any]:
    return _audit(favorable_above=T_ABOVE)


def _cell(entry: dict[str, Any]) -> str:
    low, high = entry["ci"]
    return f"{entry['value']:.4f} [{low:.3f}, {high:.3f}]"


def test_markdown_card_shows_the_derived_outcome_after_the_regression_headline(
    above: dict[str, Any],
) -> None:
    view = above["summary"]["favorable_outcome"]
    section = fairness_section(above, None)
    heading = "#### Derived outcome: prediction &gt; 100.5\n"
    order = [
        section.index("largest KS distance between two groups' predictions"),
        section.index(heading),
        section.index("| grouping | demographic parity difference | demographic parity ratio"),
        section.index("#### Who is worse off\n"),
        section.index("### Mitigations considered"),
    ]
    assert order == sorted(order)
    derived = section[order[1] : order[4]]
    assert "binary metrics of a derived outcome, not of the model's errors" in derived
    assert "prediction strictly above the threshold" in derived
    assert "(prediction &gt; 100.5)" in derived and "(target &gt; 100.5)" in derived
    # The table: one row per grouping, the six metrics in the JSON's order, value and interval.
    assert [h["metric"] for h in view["headline"]] == list(HEADLINE_METRICS)
    (row,) = [line for line in derived.splitlines() if line.startswith("| group |")]
    assert row == "| group | " + " | ".join(_cell(h) for h in view["headline"]) + " |"
    # Left out: c's true positive rate (fewer than 10 targets above T), with its denominator.
    excluded = {(json.dumps(e["group"]), e["metric"], e["denominator"])
                for h in view["headline"] for e in h["excluded"]}  # fmt: skip
    assert excluded and all(g == '{"group": "c"}' for g, _, _ in excluded)
    (left_out,) = [line for line in derived.splitlines() if line.startswith("- group: ")]
    for _, metric, denominator in excluded:
        assert f"{metric.replace('_', ' ')}: {denominator} rows" in left_out
    assert "fewer than 10 rows" in derived
    # Who is worse off: the JSON's entries below the band, the hostile name escaped.
    worse = [e for e in view["worse_off"] if e["below_band"]]
    assert worse and all(e["group"] == {"group": HOSTILE} for e in worse)
    block = derived.split("#### Who is worse off\n", 1)[1]
    bullets = [line for line in block.splitlines() if line.startswith("- ")]
    assert len(bullets) == len(worse)
    for bullet, e in zip(bullets, worse, strict=True):
        metric = e["metric"].replace("_", "\\_")
        assert bullet.startswith(f"- group={HOSTILE_MD}: {metric} ")
        numbers = re.findall(r"\d+\.\d+", bullet)
        assert numbers == [f"{e['value']:.3f}", f"{e['best_value']:.3f}", f"{e['ratio']:.3f}"]
    assert "<b>" not in section
    assert section.count("Who is worse off") == 1


def test_below_threshold_and_no_threshold() -> None:
    below = fairness_section(_audit(favorable_below=T_BELOW, intervals=False), None)
    assert "#### Derived outcome: prediction &lt; 90\n" in below
    assert "prediction strictly below the threshold" in below
    assert "(target &lt; 90)" in below
    plain = _audit(intervals=False)
    assert "favorable_outcome" not in plain["summary"]
    section = fairness_section(plain, None)
    assert "Derived outcome" not in section and "Who is worse off" not in section
    assert all("derived outcome" not in line for line in model_index_lines(plain))
    metrics = mct_card(plain)["quantitative_analysis"]["performance_metrics"]
    assert all("derived outcome" not in m["slice"] for m in metrics)


def test_huggingface_model_index_names_the_derived_outcome(above: dict[str, Any]) -> None:
    lines = model_index_lines(above)
    start = lines.index("    metrics:") + 1
    # Each metric is three lines: type, value, name (read here without a YAML library).
    metrics = [
        {
            "type": json.loads(lines[k].split(": ", 1)[1]),
            "value": float(lines[k + 1].split(": ", 1)[1]),
            "name": json.loads(lines[k + 2].split(": ", 1)[1]),
        }
        for k in range(start, len(lines) - 1, 3)
    ]
    derived = [m for m in metrics if "derived outcome" in m["name"]]
    assert derived == [
        {
            "type": h["metric"],
            "value": h["value"],
            "name": f"{h['metric']} (group, derived outcome: prediction > 100.5)",
        }
        for h in above["summary"]["favorable_outcome"]["headline"]
    ]
    assert len(metrics) == len(above["headline"]) + len(derived)


def test_mct_card_has_the_derived_metrics_and_validates(above: dict[str, Any]) -> None:
    import jsonschema

    document = mct_card(above)
    schema = json.loads(mct_schema_path().read_text())
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    assert list(validator.iter_errors(document)) == []
    metrics = document["quantitative_analysis"]["performance_metrics"]
    derived = [m for m in metrics if m["slice"] == "group, derived outcome: prediction > 100.5"]
    expected = [
        {
            "type": h["metric"],
            "value": h["value"],
            "slice": "group, derived outcome: prediction > 100.5",
            "confidence_interval": {"lower_bound": h["ci"][0], "upper_bound": h["ci"][1]},
        }
        for h in above["summary"]["favorable_outcome"]["headline"]
    ]
    assert derived == expected
    keys = [(m["type"], m["slice"]) for m in metrics]
    assert len(keys) == len(set(keys))
