"""The Spark engine on several partitions: the same answer as numpy, and no step of the
score sums gathers its rows into one partition (the physical plans say so): each score
bucket is summed by the workers."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from fairaudit.engines import count_with_engine
from fairaudit.spec import AuditSpec
from tests.test_engines_sql_scores import write_scores

pytest.importorskip("pyspark")


class _RecordingSession:
    """A SparkSession that keeps every DataFrame its ``sql`` returns."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.frames: list[tuple[str, Any]] = []
        self.plans: dict[str, str] = {}

    def sql(self, query: str) -> Any:
        if query.startswith("CACHE TABLE "):
            # The plan of what is cached, taken while the tables it reads exist.
            select = query.split(" AS ", 1)[1]
            plan = self._session.sql(select)._jdf.queryExecution().executedPlan().toString()
            self.plans[query] = plan
        frame = self._session.sql(query)
        self.frames.append((query, frame))
        return frame

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


@pytest.fixture(scope="module")
def spark():  # type: ignore[no-untyped-def]
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("fairaudit-tests-partitions")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    # Several partitions everywhere, and no adaptive coalescing back into one.
    previous = {
        key: session.conf.get(key, None)
        for key in ("spark.sql.shuffle.partitions", "spark.sql.adaptive.enabled")
    }
    session.conf.set("spark.sql.shuffle.partitions", "4")
    session.conf.set("spark.sql.adaptive.enabled", "false")
    yield session
    for key, value in previous.items():
        if value is None:
            session.conf.unset(key)
        else:
            session.conf.set(key, value)
    session.stop()


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> AuditSpec:
    rng = np.random.default_rng(2)
    score = np.round(rng.random(20_000), 3)  # ties within and across groups
    # Row groups of 2,000 rows: the scan itself has several partitions.
    return write_scores(tmp_path_factory.mktemp("spark"), score, row_group_size=2_000)


def test_spark_on_partitions_matches_numpy_and_never_uses_one_partition(
    spark: Any, scored: AuditSpec
) -> None:
    recording = _RecordingSession(spark)
    got = count_with_engine(scored, "spark", session=recording)
    expected = count_with_engine(scored, "numpy")
    np.testing.assert_array_equal(got.group_counts.counts, expected.group_counts.counts)
    assert got.score_summary is not None and expected.score_summary is not None
    assert got.score_summary.by_grouping == expected.score_summary.by_grouping
    assert got.score_summary.overall == expected.score_summary.overall
    # The score sums: one query of the rows' keys, scores and score buckets, summed per
    # bucket by the workers (applyInPandas): a hash exchange by bucket, never one partition.
    bucket_queries = [(q, f) for q, f in recording.frames if " AS bk " in q]
    assert len(bucket_queries) == 1
    (bucket_query, bucket_frame), *_ = bucket_queries
    with warnings.catch_warnings():  # pyspark's about pandas 3
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
        grouped = bucket_frame.groupBy("bk").applyInPandas(lambda f: f, "bk int, part string")
    bucket_plan = grouped._jdf.queryExecution().executedPlan().toString()
    assert "FlatMapGroupsInPandas" in bucket_plan, bucket_plan
    assert "Exchange hashpartitioning(bk" in bucket_plan, bucket_plan
    for query, plan in [(bucket_query, bucket_plan), *recording.plans.items()]:
        assert "SinglePartition" not in plan, (query, plan)  # no step gathers the rows


def test_spark_session_uses_the_active_one_and_a_master_is_no_audit_option() -> None:
    # An active session is used as it is (spark-submit, notebooks, the fixture above).
    from pyspark.sql import SparkSession

    from fairaudit.engines._spark import spark_session

    active = SparkSession.getActiveSession()
    if active is not None:
        assert spark_session("local[3]") is active
    spec = AuditSpec(
        data="x.parquet", target="t", sensitive=("s",), prediction_col="p", spark_master="local[2]"
    )
    assert spec.spark_master == "local[2]"
    # Where the job runs changes no number: not in the report's config (audit ids stay).
    assert not {"spark_master", "verbose"} & set(spec.effective_config())
