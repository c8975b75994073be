"""A real notebook (nbclient + ipykernel): train a model, audit it in memory, display the
result and save a signed report; the display is the card with the verdict and the headline
table, and runs no script."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent

CELLS = [
    """\
import pandas as pd
from sklearn.linear_model import LogisticRegression
import fairaudit
from fairaudit.provenance import generate_key_pair

train = pd.read_csv("sample_data/german_train.csv")
df = pd.read_csv("sample_data/german_eval.csv")
inputs = ["credit_amount", "duration", "age"]
model = LogisticRegression(max_iter=1000).fit(train[inputs], train["risk"])""",
    """\
result = fairaudit.audit(df, model=model, target="risk", sensitive=["sex", "age"],
                         bins={"age": [25, 40]}, favorable_label="1",
                         policy="preset:four-fifths", mitigations=())
result""",
    """\
keys = generate_key_pair("keys")
published = result.save("report.html", sign_key=keys.private_key)
print(published.html.name, result.verdict)""",
]


def test_a_notebook_audits_displays_and_saves_a_signed_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fairaudit.provenance import key_id, load_public_key, verify_report_file

    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    kept = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), kept) if p))
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # the kernel imports this checkout (PYTHONPATH)

    display = notebook.cells[1].outputs
    assert len(display) == 1 and display[0]["output_type"] == "execute_result"
    html = display[0]["data"]["text/html"]
    assert any(f"Policy: {verdict}" in html for verdict in ("pass", "warn", "fail"))
    assert "Headline metrics" in html and "demographic parity ratio" in html
    assert "<table" in html and "[0." in html  # the headline table, with intervals
    assert "<script" not in html.lower()
    assert "text/markdown" in display[0]["data"]

    printed = "".join(o.get("text", "") for o in notebook.cells[2].outputs)
    assert printed.startswith("report.html")
    assert (tmp_path / "report.json").is_file()
    public = load_public_key(tmp_path / "keys" / "fairaudit.pub")
    assert verify_report_file(tmp_path / "report.html", {key_id(public): public}) is not None
