"""The JSON twin's size budget (issue 16): full detail, no repetition, one serialization.

Sizes, not timings: the sample's report.json stays within 300 KB, the HTML embeds the same
JSON, and a three-feature audit with six mitigations keeps each variant's summary only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.result import json_text
from tests.conftest import SampleAudit

#: The issue's budget for the sample's report.json, in bytes.
SAMPLE_JSON_BUDGET = 300_000
#: The three-feature audit's report.json (600 rows, 26 groups, six mitigations) measured
#: 396,366 bytes with summary variants, 1,557,589 with full ones and 2,685,820 indented with
#: full ones, as schema 1.0.0 wrote it.
THREE_FEATURE_JSON_BUDGET = 450_000
_EMBEDDED = re.compile(r'<script type="application/json" id="fairaudit-data">(.*?)</script>', re.S)


def _embedded(report_html: str) -> Any:
    """Return the JSON the HTML report embeds."""
    found = _EMBEDDED.search(report_html)
    assert found is not None, "the report embeds no fairaudit-data element"
    return json.loads(found.group(1))  # its \u003c and the like are JSON escapes


def test_sample_json_twin_is_within_budget_and_is_the_embedded_json(
    sample_audit: SampleAudit,
) -> None:
    text = sample_audit.json_path.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= SAMPLE_JSON_BUDGET
    data = json.loads(text)
    assert text == json_text(data) + "\n"  # compact, one line; `jq .` pretty-prints it
    assert _embedded(sample_audit.html()) == data
    assert data["mitigation_summary"]["detail"] == "summary"
    variants = data["mitigations"]
    assert len(variants) == 7
    for entry in variants:
        assert "disparities" not in entry
        assert all(set(row) == {"feature", "group", "count", "confusion", "metrics"}
                   for row in entry["by_group"])  # fmt: skip
        assert all("ci" in h for h in entry["headline"])
        assert entry["metrics"]["overall_ci"]


def write_three_feature_audit(folder: Path, *, n_eval: int = 600, seed: int = 7) -> Path:
    """Write eval.csv, train.csv and model.skops: three sensitive features (2 x 3 x 3 groups),
    a logistic regression on two inputs that depend on sex and race, and twice as many
    training rows as evaluation rows."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    n = 3 * n_eval
    sex = rng.choice(np.array(["female", "male"]), n)
    race = rng.choice(np.array(["a", "b", "c"]), n, p=[0.5, 0.3, 0.2])
    age = rng.choice(np.array(["young", "middle", "old"]), n, p=[0.3, 0.4, 0.3])
    x1 = rng.normal(size=n) + 0.6 * (sex == "male")
    x2 = rng.normal(size=n) + 0.4 * (race == "a")
    y = (rng.random(n) < 1 / (1 + np.exp(-(x1 + 0.5 * x2 - 0.2)))).astype(int)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "y": y, "sex": sex, "race": race, "age": age})
    train, evaluation = frame.iloc[n_eval:], frame.iloc[:n_eval]
    train.to_csv(folder / "train.csv", index=False)
    evaluation.to_csv(folder / "eval.csv", index=False)
    model = LogisticRegression().fit(train[["x1", "x2"]], train["y"])
    sio.dump(model, folder / "model.skops")
    return folder


def test_three_feature_audit_with_six_mitigations_is_within_budget(tmp_path: Path) -> None:
    from fairaudit.pipe import run_audit
    from fairaudit.spec import AuditSpec

    folder = write_three_feature_audit(tmp_path)
    spec = AuditSpec(
        data=folder / "eval.csv", model=folder / "model.skops", target="y",
        sensitive=("sex", "race", "age"), train=folder / "train.csv", jobs=1,
    )  # fmt: skip
    result = run_audit(spec)
    entries = result.mitigations or []
    assert [e["status"] for e in entries] == ["ok"] * 7, [e.get("reason") for e in entries]
    assert len(result.metrics["by_group"]) == 2 + 3 + 3 + 18
    size = len(result.to_json().encode("utf-8"))
    assert size <= THREE_FEATURE_JSON_BUDGET, size
