"""Shared pytest fixtures. Each block says which test modules use it."""

from __future__ import annotations

import csv
import json
import os
import pickle
import re
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fairaudit.provenance import LEDGER_FILE_NAME as LEDGER
from tests.agreement import assert_outputs_agree

# ---------------------------------------------------------------------------------------
# CLI, data and model fixtures (tests/test_cli.py, tests/test_data.py, tests/test_models.py)
#
# `write_csv` writes a small CSV into tmp_path; `audit_cli` runs `fairaudit run` through
# click's CliRunner into a fresh output folder and returns an `AuditRun` with helpers to
# assert a one-line error (and that nothing was written) or read the JSON and HTML.
# `tiny_models` is a folder with a LogisticRegression fitted on `TINY_MODEL_ROWS`, saved
# as .skops, .pkl and .joblib.
# ---------------------------------------------------------------------------------------

#: Rows (y, pred, sex) with confusion counts by hand: male (8 rows) has tp=3 fn=1 fp=1
#: tn=3, female (4 rows) has tp=1 fn=1 fp=1 tn=1. So both select 0.5; TPR male 0.75,
#: female 0.5; FPR male 0.25, female 0.5. The largest group, male, is the reference.
SCORED_ROWS: tuple[tuple[int, int, str], ...] = (
    (1, 1, "male"), (1, 1, "male"), (1, 0, "male"), (0, 0, "male"),
    (0, 0, "male"), (0, 1, "male"), (1, 1, "male"), (0, 0, "male"),
    (1, 1, "female"), (0, 0, "female"), (0, 1, "female"), (1, 0, "female"),
)  # fmt: skip

#: Model inputs x1, x2, label y and sensitive sex for `tiny_models` (x1 separates y).
TINY_MODEL_ROWS: tuple[tuple[float, int, int, str], ...] = tuple(
    (float(i % 2) + (i % 5) / 10, i % 3, i % 2, ("male", "female")[i % 3 == 0]) for i in range(24)
)

_ERROR_LINE = re.compile(r"^Error: [^\n]+\n$")


@dataclass
class AuditRun:
    """One `fairaudit run` invocation: the click Result and where its outputs would go."""

    result: Result
    output: Path
    out_dir: Path
    html_path: Path
    json_path: Path
    config_path: Path | None

    @property
    def stderr(self) -> str:
        return self.result.stderr

    def assert_error(self, message: str, exit_code: int = 1, *, prefix: bool = False) -> None:
        """Assert the run failed with exactly ``Error: message`` and wrote nothing.

        With ``prefix``, the line need only start with it (for text a library appends).
        """
        result = self.result
        assert "Traceback" not in result.output
        # An unexpected exception also exits 1 under CliRunner: it must be click's exit.
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.exit_code == exit_code, result.output
        assert result.stdout == ""
        if exit_code == 1:
            assert _ERROR_LINE.match(result.stderr), result.stderr
        line = result.stderr.splitlines()[-1]
        if prefix:
            assert line.startswith(f"Error: {message}"), line
        else:
            assert line == f"Error: {message}"
        self.assert_nothing_written()

    def assert_nothing_written(self) -> None:
        assert not self.html_path.exists()
        assert not self.json_path.exists()
        assert sorted(p.name for p in self.out_dir.iterdir()) == []  # not even a ledger

    def assert_ok(self) -> None:
        result = self.result
        assert result.exception is None, f"{result.exception!r}: {result.output}"
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
        assert self.html_path.is_file() and self.json_path.is_file()
        # Nothing but the two reports and the run's ledger: no temporary files left behind.
        assert sorted(p.name for p in self.out_dir.iterdir()) == sorted(
            {self.html_path.name, self.json_path.name, LEDGER}
        )

    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.json_path.read_text(encoding="utf-8"))
        return loaded

    def html(self) -> str:
        return self.html_path.read_text(encoding="utf-8")

    def check(self, check_id: str) -> list[dict[str, Any]]:
        """Return the report's data checks with this id."""
        return [c for c in self.json()["data_checks"] if c["id"] == check_id]

    def groups(self, feature: str) -> dict[str, dict[str, Any]]:
        """Return the by_group rows of one single-feature grouping, keyed by group value."""
        rows = [r for r in self.json()["metrics"]["by_group"] if r["feature"] == feature]
        return {r["group"][feature]: r for r in rows}


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Return ``write(name, header, rows)`` that writes a UTF-8 CSV into tmp_path."""

    def write(name: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
        return _write_csv(tmp_path / name, header, rows)

    return write


@pytest.fixture
def scored_csv(write_csv: Callable[..., Path]) -> Path:
    """Return a CSV of `SCORED_ROWS` with columns y, pred, sex."""
    return write_csv("scored.csv", ["y", "pred", "sex"], SCORED_ROWS)


@pytest.fixture
def audit_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AuditRun]:
    """Return ``run(*args, sensitive=..., config=..., output=...)`` running ``fairaudit run``.

    ``sensitive`` columns and any ``config`` TOML text go into a generated config file
    (``--sensitive`` on the command line is broken: see test_cli.test_sensitive_flag);
    every other option is a flag in ``args``. The report goes to ``output`` (default
    ``<fresh folder>/report.html``). Runs skip the mitigation comparison unless the test
    is about it (names ``--mitigations``/``--no-mitigation`` or ``mitigations`` in config).
    """
    from fairaudit.cli import cli

    monkeypatch.delenv("FAIRAUDIT_SIGNING_KEY", raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    runner = CliRunner()
    counter = iter(range(1_000_000))

    def run(
        *args: str | Path,
        sensitive: Sequence[str] | None = ("sex",),
        config: str = "",
        output: Path | str | None = None,
    ) -> AuditRun:
        n = next(counter)
        out_dir = tmp_path / f"out{n}"
        out_dir.mkdir()
        argv = ["run", *map(str, args)]
        # Tests not about mitigation skip the comparison (seconds a run); those about it
        # name --mitigations, --no-mitigation, or mitigations in their config.
        about_mitigation = "mitigations" in config or any(
            str(a) in ("--mitigations", "--no-mitigation") for a in args
        )
        if not about_mitigation:
            argv.append("--no-mitigation")
        config_path = None
        if sensitive or config:
            config_path = tmp_path / f"audit{n}.toml"
            lines = [f"sensitive = {json.dumps(list(sensitive))}"] if sensitive else []
            config_path.write_text("\n".join([*lines, config]) + "\n", encoding="utf-8")
            argv += ["--config", str(config_path)]
        target = Path(output) if output is not None else out_dir / "report.html"
        argv += ["-o", str(output) if output is not None else str(target)]
        result = runner.invoke(cli, argv)
        run = AuditRun(result, target, out_dir, target, target.with_suffix(".json"), config_path)
        if result.exit_code in (0, 3) and run.json_path.is_file() and run.html_path.is_file():
            quiet = any(str(a) in ("-q", "--quiet") for a in args)
            assert_outputs_agree(run.json(), run.html(), None if quiet else result.output)
        return run

    return run


#: SOURCE_DATE_EPOCH of the shared sample audit.
SAMPLE_EPOCH = "1764000000"


@dataclass(frozen=True)
class SampleAudit:
    """The sample audit (German credit, with its mitigation comparison), run once a session."""

    html_path: Path
    json_path: Path

    def html(self) -> str:
        return self.html_path.read_text(encoding="utf-8")

    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.json_path.read_text(encoding="utf-8"))
        return loaded


@pytest.fixture(scope="session")
def sample_audit(tmp_path_factory: pytest.TempPathFactory) -> SampleAudit:
    """Run ``fairaudit run --config sample_data/audit.toml`` once for every test that reads it.

    The full run (mitigations included) takes seconds; tests that only read the report share
    it instead of running it again. Its ledger is written beside it, as a user's would be.
    """

    folder = tmp_path_factory.mktemp("sample")
    html = folder / "report.html"
    config = Path(__file__).resolve().parent.parent / "sample_data" / "audit.toml"
    return _run_config(config, html, SAMPLE_EPOCH)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a folder with data.csv (x1, x2, y, sex) and model.skops/.pkl/.joblib in it."""
    import joblib
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("tiny_models")
    frame = pd.DataFrame(TINY_MODEL_ROWS, columns=["x1", "x2", "y", "sex"])
    frame.to_csv(folder / "data.csv", index=False)
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
    sio.dump(model, folder / "model.skops")
    joblib.dump(model, folder / "model.joblib")
    with (folder / "model.pkl").open("wb") as fh:
        pickle.dump(model, fh)
    return folder


#: Importable name of the module `custom_model` writes (a non-scikit-learn classifier).
CUSTOM_MODEL_MODULE = "fairaudit_test_custom_model"
CUSTOM_MODEL_TYPE = f"{CUSTOM_MODEL_MODULE}.ThresholdClassifier"


@pytest.fixture
def custom_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Return a .skops file holding a ThresholdClassifier from a module on sys.path.

    skops records the type by import path, so the module lives in a real file that stays
    importable (sys.path is restored after the test).
    """
    import skops.io as sio

    package_dir = tmp_path / "custom_code"
    package_dir.mkdir()
    (package_dir / f"{CUSTOM_MODEL_MODULE}.py").write_text(
        textwrap.dedent(
            """
            import numpy as np


            class ThresholdClassifier:
                def __init__(self, threshold=0.5):
                    self.threshold = threshold

                def fit(self, X, y):
                    self.classes_ = np.array([0, 1])
                    return self

                def predict(self, X):
                    first = np.asarray(X, dtype=float)[:, 0]
                    return (first > self.threshold).astype(int)
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(package_dir))
    sys.modules.pop(CUSTOM_MODEL_MODULE, None)
    module = __import__(CUSTOM_MODEL_MODULE)
    path = tmp_path / "custom.skops"
    sio.dump(module.ThresholdClassifier().fit(None, None), path)
    yield path
    sys.modules.pop(CUSTOM_MODEL_MODULE, None)


# --------------------------- end of CLI, data and model fixtures ---------------------------


# ---------------------------------------------------------------------------------------
# A three-feature audit (tests/test_report.py, tests/test_browser.py: issue 16's budgets)
#
# `three_feature_audit` is a synthetic audit of 600 evaluation rows by sex (2 values), race
# (3, one small) and age (binned into 3 bands): 18 intersection cells, a few below
# min_group_size, with a skops LogisticRegression trained on 800 other rows, so all six
# mitigations run. Built once a session, like `sample_audit`.
# ---------------------------------------------------------------------------------------

#: SOURCE_DATE_EPOCH of the three-feature audit.
THREE_FEATURE_EPOCH = "1764000000"


def _three_feature_rows(n: int, seed: int) -> Any:
    """Return ``n`` synthetic rows: x1, x2, sex, race, age and a label that leans on them."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], size=n, p=[0.45, 0.55])
    race = rng.choice(["group a", "group b", "group c"], size=n, p=[0.6, 0.3, 0.1])
    age = rng.integers(18, 70, size=n)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    logit = 0.9 * x1 - 0.6 * x2 + 0.5 * (sex == "male") - 0.7 * (race == "group c")
    logit += 0.02 * (age - 40)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "sex": sex, "race": race, "age": age, "y": y})


@pytest.fixture(scope="session")
def three_feature_audit(tmp_path_factory: pytest.TempPathFactory) -> SampleAudit:
    """Run a three-feature audit with all six mitigations once (HTML and JSON paths)."""
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    folder = tmp_path_factory.mktemp("three_feature")
    train, evaluation = _three_feature_rows(800, 1), _three_feature_rows(600, 2)
    train.to_csv(folder / "train.csv", index=False)
    evaluation.to_csv(folder / "eval.csv", index=False)
    inputs = ["x1", "x2", "sex", "race", "age"]
    model = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        ("categorical", OneHotEncoder(handle_unknown="ignore"), ["sex", "race"]),
                        ("numeric", StandardScaler(), ["x1", "x2", "age"]),
                    ]
                ),
            ),
            ("classify", LogisticRegression(max_iter=1000)),
        ]
    )
    model.fit(train[inputs], train["y"])
    sio.dump(model, folder / "model.skops")
    config = folder / "audit.toml"
    config.write_text(
        'name = "three-feature-synthetic"\nmodel_version = "1"\ndata = "eval.csv"\n'
        'train = "train.csv"\nmodel = "model.skops"\ntarget = "y"\n'
        # Issue 16's budget (<= 600 KB) is the model audit's: the training set's data
        # section (issue 18) is off here. With it, this page is 620,891 B (+23 KB).
        'sensitive = ["sex", "race", "age"]\nseed = 0\ntraining_data = false\n'
        "[bins]\nage = [25, 45]\n",
        encoding="utf-8",
    )
    html = folder / "report.html"
    return _run_config(config, html, THREE_FEATURE_EPOCH)


def _run_config(config: Path, html: Path, epoch: str) -> SampleAudit:
    """Run ``fairaudit run --config`` at a fixed SOURCE_DATE_EPOCH; check and return its report."""
    from fairaudit.cli import cli

    previous = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = epoch
    try:
        result = CliRunner().invoke(cli, ["run", "--config", str(config), "-o", str(html), "-q"])
    finally:
        if previous is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = previous
    assert result.exit_code == 0, result.output
    audit = SampleAudit(html, html.with_suffix(".json"))
    assert_outputs_agree(audit.json(), audit.html(), None)
    return audit
