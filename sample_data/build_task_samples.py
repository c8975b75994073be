"""Build the regression and multiclass samples beside the German credit one (issue 17).

Run from the repository root (deterministic: fixed splits and solvers; the .skops files
are zip archives whose timestamps change, the models in them do not)::

    python sample_data/build_task_samples.py

* ``regression/``: scikit-learn's bundled diabetes data (``sklearn.datasets.load_diabetes``,
  BSD-3-Clause), a 60/40 split (seed 20261128), a ``LinearRegression`` on every
  column but the sensitive ones (``sex``, ``age``) saved with skops, and the evaluation split
  with its target.
* ``multiclass/``: the German credit sample's own split (``../german_train.csv``,
  ``../german_eval.csv``) with ``housing`` (free/own/rent) as the target and a
  ``LogisticRegression`` on one-hot and scaled inputs (every column but ``housing``, ``sex``
  and ``age``) saved with skops.

Regression and multiclass audits refuse a model that takes a sensitive feature as input,
so neither model sees ``sex`` or ``age`` (the binary German model does).

Each folder's ``audit.toml`` audits its model: ``fairaudit run --config
sample_data/regression/audit.toml -o regression-report.html``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).resolve().parent
SEED = 20261128
GERMAN_CATEGORICAL = ["job", "saving_accounts", "checking_account", "purpose"]
GERMAN_NUMERIC = ["credit_amount", "duration", "risk"]
SENSITIVE = ["sex", "age"]


def build_regression(folder: Path) -> str:
    """Write the diabetes evaluation and training splits and the skops LinearRegression
    fitted on the training split; return a summary."""
    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["sex"] = frame["sex"].astype(int)  # 1.0/2.0 in the source: audit groups "1" and "2"
    train, evaluation = train_test_split(frame, test_size=0.4, random_state=SEED)
    inputs = [c for c in frame.columns if c not in ("target", *SENSITIVE)]
    model = LinearRegression().fit(train[inputs], train["target"])
    folder.mkdir(exist_ok=True)
    evaluation.sort_index().to_csv(folder / "diabetes_eval.csv", index=False)
    train.sort_index().to_csv(folder / "diabetes_train.csv", index=False)  # for --train
    sio.dump(model, folder / "diabetes_model.skops")
    r2 = model.score(evaluation[inputs], evaluation["target"])
    return f"regression: train {len(train)} rows, eval {len(evaluation)} rows, eval r2 {r2:.3f}"


def build_multiclass(folder: Path) -> str:
    """Write the skops housing classifier fitted on the German training split."""
    train = pd.read_csv(HERE / "german_train.csv")
    evaluation = pd.read_csv(HERE / "german_eval.csv")
    prepare = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), GERMAN_CATEGORICAL),
            ("numeric", StandardScaler(), GERMAN_NUMERIC),
        ]
    )
    model = Pipeline(
        [
            ("prepare", prepare),
            ("classify", LogisticRegression(max_iter=1000, class_weight="balanced")),
        ]
    )
    inputs = GERMAN_CATEGORICAL + GERMAN_NUMERIC
    model.fit(train[inputs], train["housing"])
    folder.mkdir(exist_ok=True)
    sio.dump(model, folder / "housing_model.skops")
    accuracy = (model.predict(evaluation[inputs]) == evaluation["housing"]).mean()
    return (
        f"multiclass: train {len(train)} rows, eval {len(evaluation)} rows, accuracy {accuracy:.3f}"
    )


def main() -> None:
    print(build_regression(HERE / "regression"))
    print(build_multiclass(HERE / "multiclass"))


if __name__ == "__main__":
    main()
