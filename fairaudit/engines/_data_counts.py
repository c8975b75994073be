"""The data audit's counts with DuckDB: the ``DataCounts`` of a CSV or Parquet file.

The same counts as ``fairaudit.databias.count_data`` on the file read by pandas, from the
model audit's SQL pass (``_sql.SqlCounter``): its view, scans and sensitive-column encoding
(levels, bins, the ``(missing)`` group) are reused as they are. The label's and the strata
column's distinct values, typed as pandas would type the column, are encoded by the numpy
engine's own functions (``label_codes``, ``factorize_levels``) and joined back in SQL; one
GROUP BY then returns one row per (group codes, label, stratum) cell with its row count and
the missing values of each column, and the ``databias`` table functions add those cells up
with weights. ``count_data_with_engine`` picks the engine as the model audit does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.data import check_data_path, file_sha256, read_table
from fairaudit.databias import (
    MSG_UNKNOWN_COLUMN,
    DataCounts,
    count_data,
    data_report,
    factorize_levels,
    intersection,
    label_codes,
    label_tables,
    missing_count_tables,
    size_tables,
    strata_code_tables,
)
from fairaudit.engines._api import UNKNOWN_ENGINE, choose_engine
from fairaudit.engines._duckdb import (
    duckdb_runner,
    duckdb_source,
    with_serial_retry,
)
from fairaudit.engines._sql import SqlCounter
from fairaudit.engines._sql_source import DUCKDB, SqlRunner, SqlSource, bin_code_sql
from fairaudit.errors import ConfigError, DataError

__all__ = [
    "DATA_ENGINES",
    "choose_data_engine",
    "count_data_duckdb",
    "count_data_with_engine",
    "data_report_file",
]

#: Engines of the data audit (``auto``: numpy while the file fits in memory, else duckdb).
DATA_ENGINES: tuple[str, ...] = ("numpy", "duckdb", "auto")
MSG_DATA_ENGINE = "the data audit counts with numpy or duckdb (or auto), not {engine!r}"


@dataclass(frozen=True)
class _CountSpec:
    """What ``SqlCounter`` reads of an AuditSpec, for the data audit: every row kept (a
    missing sensitive value is the group ``(missing)``); ``prediction_col`` is the strata
    column (the target when there is none), so the pass's second column is the strata."""

    data: Path
    target: str
    sensitive: tuple[str, ...]
    prediction_col: str
    bins: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    missing_sensitive: str = "group"
    score_col: None = None
    model: None = None
    positive_label: None = None


class _DataCounter(SqlCounter):
    """The model audit's SQL pass, asked for the data audit's cells."""

    def __init__(self, spec: Any, source: SqlSource, runner: SqlRunner, missing: list[str]):
        super().__init__(spec, source, DUCKDB, runner)
        self.missing = missing

    def _create_view(self) -> None:
        spec = self.spec
        assert spec.prediction_col is not None  # the strata column, or the target
        parts = [f"{self._col(spec.target)} AS t", f"{self._col(spec.prediction_col)} AS p"]
        parts += [f"{self._col(c)} AS f{i}" for i, c in enumerate(self.features)]
        parts += [f"({self._col(c)} IS NULL) AS m{j}" for j, c in enumerate(self.missing)]
        if self.source.row_number is not None:
            parts.append(f"{self.source.row_number} AS rn")
        parts.append("TRUE AS kept")
        self.runner.execute(
            f"CREATE OR REPLACE TEMP VIEW fa_src AS SELECT {', '.join(parts)} "
            f"FROM {self.source.relation}"
        )

    def _register(self, name: str, raw: list[Any], codes: Any) -> None:
        self.runner.register(name, (raw, np.asarray(codes).astype(np.int64).tolist()))

    def cells(
        self, strata: bool, label_bins: Sequence[float] | None
    ) -> tuple[list[tuple], Any, tuple[list[str], int], tuple[list[str], int]]:
        """Return the aggregated cells, the sensitive levels, and the label's and the
        strata's (levels, code of a missing value)."""
        self._create_view()
        scan = self._scan_table()
        valued = [i for i, c in enumerate(self.features) if c not in self.spec.bins]
        distinct = self._distinct(["t", *(["p"] if strata else []), *(f"f{i}" for i in valued)])
        levels, maps, missing_code = self._sensitive_levels(distinct, scan)
        frame = pd.DataFrame({self.spec.target: distinct["t"].values})
        y, label_levels = label_codes(frame, self.spec.target, bins=label_bins)
        self._register("fa_map_t", distinct["t"].raw, y)
        joins = ["LEFT JOIN fa_map_t mt ON fa_src.t = mt.v"]
        code_sql = ["COALESCE(mt.code, -1) AS y"]
        strata_levels: list[str] = []
        if strata:
            s, strata_levels = factorize_levels(distinct["p"].values)
            self._register("fa_map_p", distinct["p"].raw, s)
            joins.append("LEFT JOIN fa_map_p mp ON fa_src.p = mp.v")
            code_sql.append(f"COALESCE(mp.code, {len(strata_levels) - 1}) AS s")
        for i, column in enumerate(self.features):
            if column in self.spec.bins:
                code_sql.append(
                    f"{bin_code_sql(i, self.spec.bins[column], missing_code[i])} AS c{i}"
                )
            else:
                self._register(f"fa_map_f{i}", maps[i].raw, maps[i].codes)
                joins.append(f"LEFT JOIN fa_map_f{i} m{i} ON fa_src.f{i} = m{i}.v")
                code_sql.append(f"COALESCE(m{i}.code, {missing_code[i]}) AS c{i}")
        keys = ", ".join(f"k{j}" for j in range(len(code_sql)))
        selected = ", ".join(
            f"{sql.rsplit(' AS ', 1)[0]} AS k{j}" for j, sql in enumerate(code_sql)
        )
        flags = "".join(f", m{j}" for j in range(len(self.missing)))
        sums = "".join(f", count(*) FILTER (WHERE m{j})" for j in range(len(self.missing)))
        rows = self.runner.rows(
            f"SELECT {keys}, count(*){sums} FROM (SELECT {selected}{flags} "
            f"FROM fa_src {' '.join(joins)}) q GROUP BY {keys}"
        )
        return rows, levels, (label_levels, -1), (strata_levels, len(strata_levels) - 1)


def _frame_columns(source: SqlSource, path: Path) -> list[str]:
    """Return the columns ``read_table`` gives of the file: a Parquet file's pandas index
    columns (``__index_level_0__``, a named index) become the frame's index, not columns."""
    if source.format != "parquet":
        return list(source.columns)
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).pandas_metadata or {}
    index = {c for c in metadata.get("index_columns", []) if isinstance(c, str)}
    return [c for c in source.columns if c not in index]


def _check_columns(columns: Sequence[str], wanted: Sequence[str | None]) -> None:
    """Raise the numpy engine's error for the first named column the file lacks."""
    for column in wanted:
        if column is not None and column not in columns:
            raise DataError(MSG_UNKNOWN_COLUMN.format(column=column))


def count_data_duckdb(
    path: str | Path,
    *,
    target: str,
    sensitive: Sequence[str],
    strata: str | None = None,
    missing_columns: Sequence[str] | None = None,
    bins: Mapping[str, Sequence[float]] | None = None,
    label_bins: Sequence[float] | None = None,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    threads: int | None = None,
) -> DataCounts:
    """Return the ``DataCounts`` of a CSV or Parquet file, counted by DuckDB out of core.

    Equal to ``count_data(read_table(path)[0], ...)`` with the same options: the same
    groups in the same order, label classes, strata and missing counts.
    """

    path = Path(path)
    fmt = check_data_path(path)
    source = duckdb_source(path, fmt)
    sensitive = tuple(sensitive)
    columns = _frame_columns(source, path)
    _check_columns(columns, [*sensitive, target, strata, *(missing_columns or [])])
    default = missing_columns is None
    missing = [c for c in columns if c not in sensitive] if default else list(missing_columns or [])
    spec = _CountSpec(
        data=path,
        target=target,
        sensitive=sensitive,
        prediction_col=strata or target,
        bins={k: tuple(float(e) for e in v) for k, v in (bins or {}).items()},
    )
    rows, levels, (label_levels, _), (strata_levels, _) = with_serial_retry(
        path,
        fmt,
        lambda source, con: _DataCounter(spec, source, duckdb_runner(con), missing).cells(
            strata is not None, label_bins
        ),
        memory_limit=memory_limit,
        temp_directory=temp_directory,
        threads=threads,
    )
    table = np.asarray(rows, dtype=np.int64).reshape(len(rows), -1)
    n_keys = 1 + (strata is not None) + len(sensitive)
    y, codes, n = table[:, 0], table[:, n_keys - len(sensitive) : n_keys], table[:, n_keys]
    counts = table[:, n_keys + 1 :]
    singles = [(f, codes[:, i], [{f: v} for v in levels[i]]) for i, f in enumerate(sensitive)]
    groupings = singles if len(singles) < 2 else [*singles, intersection(singles)]
    if default:
        kept = [j for j in range(len(missing)) if counts[:, j].sum() > 0]
        missing, counts = [missing[j] for j in kept], counts[:, kept]
    return DataCounts(
        sizes=size_tables(groupings, n),
        labels=label_tables(groupings, y, label_levels, n),
        strata=[]
        if strata is None
        else strata_code_tables(groupings, y, label_levels, table[:, 1], strata_levels, n),
        missing=missing_count_tables(groupings, counts, missing) if missing else [],
    )


def choose_data_engine(path: str | Path, engine: str = "auto") -> str:
    """Return the engine that counts a data audit of ``path``: ``numpy`` or ``duckdb``.

    ``auto`` is resolved as the model audit's ``choose_engine`` resolves it: numpy while
    the file fits in memory, else duckdb. Spark is not a data-audit engine.
    """
    if engine not in DATA_ENGINES:
        if engine == "spark":
            raise ConfigError(MSG_DATA_ENGINE.format(engine=engine))
        raise ConfigError(UNKNOWN_ENGINE.format(engine=engine))
    probe = _CountSpec(data=Path(path), target="", sensitive=(), prediction_col="")
    return choose_engine(probe, engine)  # type: ignore[arg-type]


def count_data_with_engine(
    path: str | Path, engine: str = "auto", **options: Any
) -> tuple[DataCounts, str]:
    """Return the ``DataCounts`` of a file and the engine that counted them.

    ``engine``: ``numpy`` (pandas reads the file, ``count_data``), ``duckdb``
    (``count_data_duckdb``), or ``auto`` (``choose_data_engine``). ``options``:
    ``count_data``'s keyword arguments.
    """
    chosen = choose_data_engine(path, engine)
    if chosen == "duckdb":
        return count_data_duckdb(path, **options), chosen
    frame, _, _ = read_table(Path(path))
    return count_data(frame, **options), chosen


def data_report_file(
    path: str | Path,
    *,
    target: str,
    sensitive: Sequence[str],
    engine: str = "auto",
    features: Sequence[str] | None = None,
    strata: str | None = None,
    bins: Mapping[str, Sequence[float]] | None = None,
    label_bins: Sequence[float] | None = None,
    **options: Any,
) -> tuple[dict[str, Any], str]:
    """Return the data audit document of a CSV or Parquet file and the engine that counted it.

    numpy reads the whole file with pandas (``data_report``); duckdb counts the labels,
    groups and missing values out of core (``count_data_duckdb``) and pandas reads only
    the columns the proxy analysis needs (the sensitive ones and ``features``, default every
    column but the target), typed as in the whole file, so the two documents are identical.
    ``options``: ``data_report``'s other keyword arguments.
    """
    path = Path(path)
    fmt = check_data_path(path)
    chosen = choose_data_engine(path, engine)
    source: dict[str, Any] = {"path": str(path), "format": fmt, "sha256": file_sha256(path)}
    shared: dict[str, Any] = dict(target=target, sensitive=sensitive, strata=strata, bins=bins)
    shared.update(label_bins=label_bins, features=features, **options)
    if chosen == "numpy":
        frame, _, _ = read_table(path)
        return data_report(frame, source=source, **shared), chosen
    counts = count_data_duckdb(
        path, target=target, sensitive=sensitive, strata=strata, bins=bins, label_bins=label_bins
    )
    columns = _frame_columns(duckdb_source(path, fmt), path)
    # features=None stays None in the document (as numpy records it): the frame read here
    # holds every other column but the target, which is what None means.
    wanted = features if features is not None else [c for c in columns if c != target]
    frame, _, _ = read_table(path, columns=[*sensitive, *wanted])
    source.update(rows=int(counts.sizes[0].counts.sum()), columns=len(columns))
    return data_report(frame, source=source, counts=counts, **shared), chosen
