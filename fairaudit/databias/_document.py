"""``data_report``: the JSON document of one data audit (``fairaudit data``).

``kind`` is ``"data"``, so a reader (a later diff, ledger or batch manifest) can tell it from
a model audit. The document holds the options the numbers depend on, the ``data_bias`` rows
and the proxy analysis of each sensitive feature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from fairaudit._version import __version__
from fairaudit.databias._proxy import MAX_MODEL_ROWS, PROXY_AUC_THRESHOLD, proxy_features
from fairaudit.databias._report import rows_from_counts
from fairaudit.databias._tables import DataCounts, count_data

__all__ = ["DATA_REPORT_KIND", "data_report"]

DATA_REPORT_KIND = "data"


def data_report(
    frame: pd.DataFrame,
    *,
    target: str,
    sensitive: Sequence[str],
    source: Mapping[str, Any],
    favorable_label: Any = None,
    reference: Mapping[str, str] | None = None,
    strata: str | None = None,
    population: Mapping[str, Mapping[str, float]] | None = None,
    features: Sequence[str] | None = None,
    bins: Mapping[str, Sequence[float]] | None = None,
    label_bins: Sequence[float] | None = None,
    proxy_threshold: float = PROXY_AUC_THRESHOLD,
    max_model_rows: int = MAX_MODEL_ROWS,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    counts: DataCounts | None = None,
) -> dict[str, Any]:
    """Return the data audit of ``frame`` as a JSON-ready dict (``source``: where it came from).

    ``counts``: the label, representation and missing-value counts of the whole data, as an
    engine counted them where the data lives (``fairaudit.engines.count_data_duckdb``);
    ``frame`` then needs only the columns the proxy analysis reads (the sensitive ones and
    ``features``), and ``source`` the whole data's ``rows`` and ``columns``. Default:
    ``count_data(frame, ...)``, the numpy engine.
    """
    if counts is None:
        counts = count_data(
            frame,
            target=target,
            sensitive=sensitive,
            strata=strata,
            bins=bins,
            label_bins=label_bins,
        )
    rows = rows_from_counts(
        counts,
        favorable_label=favorable_label,
        reference=reference,
        population=population,
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
    )
    proxies = proxy_features(
        frame,
        sensitive=sensitive,
        features=features,
        exclude=[target],
        bins=bins,
        threshold=proxy_threshold,
        max_rows=max_model_rows,
        seed=seed,
    )
    return {
        "kind": DATA_REPORT_KIND,
        "fairaudit_version": __version__,
        "data": {
            **source,
            "rows": source.get("rows", len(frame)),
            "columns": source.get("columns", len(frame.columns)),
        },
        "options": {
            "target": target,
            "sensitive": list(sensitive),
            "favorable_label": None if favorable_label is None else str(favorable_label),
            "reference": dict(reference or {}),
            "strata": strata,
            "bins": {k: list(v) for k, v in (bins or {}).items()},
            "label_bins": None if label_bins is None else list(label_bins),
            "population": {k: dict(v) for k, v in (population or {}).items()},
            "confidence": confidence,
            "n_resamples": n_resamples,
            "seed": seed,
            "proxy_threshold": proxy_threshold,
            "max_model_rows": max_model_rows,
            "features": None if features is None else list(features),
        },
        "data_bias": rows,
        "proxies": proxies,
    }
