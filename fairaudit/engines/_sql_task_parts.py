"""A regression audit's cells counted where the rows are (Spark's Python workers).

``regression_part`` runs in a worker on one bucket of rows (``applyInPandas``): the numpy
engine's ``count_regression`` on them, written as one JSON text (exact sums as integer
ratios, sorted predictions as the bytes of their doubles); ``regression_from_parts``
reads the buckets back on the driver and merges them exactly (``combine_regression_cells``),
so the cells equal those of the rows counted at once.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from fairaudit.counts import GroupCounts
from fairaudit.measure import SUM_NAMES, RegressionCells, combine_regression_cells

__all__ = ["column_numbers", "regression_from_parts", "regression_part"]


def column_numbers(column: Any, numbers: np.ndarray | None) -> np.ndarray:
    """Return a column as float64: SQL's doubles, or the numbers of the distinct values
    whose indices SQL gave."""
    if numbers is None:
        return np.asarray(column, dtype=np.float64)
    return numbers[np.asarray(column, dtype=np.int64)]


def regression_part(
    frame: Any,
    *,
    n_features: int,
    numbers: tuple[np.ndarray | None, np.ndarray | None],
    count: Callable[..., RegressionCells],
) -> Any:
    """Return one bucket's RegressionCells as a one-row DataFrame (bk, part): ``frame``
    holds the bucket's codes ``c0``..., target ``t``, prediction ``p`` and ``bk``;
    ``count(codes, y_true, y_pred)`` counts them."""
    import pandas as pd

    codes = [frame[f"c{i}"].to_numpy(np.int64) for i in range(n_features)]
    y_true, y_pred = (column_numbers(frame[a], n) for a, n in zip("tp", numbers, strict=True))
    cells = count(codes, y_true, y_pred)
    part = {
        "cells": cells.group_counts.cells.tolist(),
        "sizes": cells.sizes.tolist(),
        "sums": {
            name: [[str(f.numerator), str(f.denominator)] for f in cells.sums[name]]
            for name in SUM_NAMES
        },
        "predictions": base64.b64encode(cells.predictions.astype("<f8").tobytes()).decode(),
        "starts": cells.starts.tolist(),
    }
    return pd.DataFrame({"bk": [int(frame["bk"].iloc[0])], "part": [json.dumps(part)]})


def regression_from_parts(
    rows: list[tuple], features: tuple[str, ...], levels: tuple[tuple[str, ...], ...]
) -> RegressionCells:
    """Return the RegressionCells of ``regression_part``'s (bk, part) rows, merged."""
    parts = []
    for _, text in sorted(rows, key=lambda row: int(row[0])):
        part = json.loads(text)
        cells = np.array(part["cells"], dtype=np.int64).reshape(len(part["sizes"]), len(features))
        counts = np.zeros((len(cells), 4), dtype=np.int64)
        counts[:, 0] = part["sizes"]
        parts.append(
            RegressionCells(
                GroupCounts(features, levels, cells, counts),
                {
                    name: tuple(Fraction(int(a), int(b)) for a, b in part["sums"][name])
                    for name in SUM_NAMES
                },
                np.frombuffer(base64.b64decode(part["predictions"]), dtype="<f8").astype(
                    np.float64
                ),
                np.array(part["starts"], dtype=np.int64),
            )
        )
    return parts[0] if len(parts) == 1 else combine_regression_cells(parts)
