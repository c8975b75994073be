"""A batch ends when its audits end: no worker process outlives its audit's work.

A batch of two sample audits with the full mitigation comparison once took five minutes
with ``-j 2``: each worker process waited for an executor's idle workers to time out (300 s)
before it could exit. The bound below is generous on purpose (the audits take seconds);
how fast a batch is belongs to benchmarks/, not to tests.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fairaudit.batch import load_manifest, run_batch
from fairaudit.mitigation import METHODS

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "audit.toml"
#: The only time bound the tests allow themselves: a hang, not a slow run, fails it.
GENEROUS_SECONDS = 60.0


def test_a_two_audit_batch_with_mitigations_returns_promptly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.delenv("FAIRAUDIT_SIGNING_KEY", raising=False)
    audits = "".join(
        f'[[audit]]\nconfig = {json.dumps(str(SAMPLE))}\nmodel_version = "{version}"\n'
        for version in ("1.0.0", "1.1.0")
    )
    (tmp_path / "m.toml").write_text("resamples = 100\n" + audits)
    manifest = load_manifest(tmp_path / "m.toml")

    started = time.monotonic()
    result = run_batch(manifest, jobs=2)
    elapsed = time.monotonic() - started

    assert [o.status for o in result.outcomes] == ["passed", "passed"], result.outcomes
    assert elapsed < GENEROUS_SECONDS
    for outcome in result.outcomes:
        assert outcome.report_json is not None
        report = json.loads((manifest.output_dir / outcome.report_json).read_text())
        entries = {entry["method"]: entry for entry in report["mitigations"]}
        assert list(entries) == ["baseline", *METHODS]
        assert entries["baseline"]["seconds"] is None
        for method in METHODS:
            # Every method ran, and says how long it took (not a reproducible run).
            assert entries[method]["status"] == "ok", entries[method]["reason"]
            assert entries[method]["seconds"] > 0
