"""Bias before the model: label and representation metrics of a data set, and proxy features.

A library only (it never prints): ``data_bias`` returns the ``data_bias`` rows
``{feature, group, reference, metric, value, ci, ...}`` of a frame (``count_data``, the numpy
counting pass, then ``rows_from_counts``, which reads counts only); ``proxy_features`` ranks
the non-sensitive features by how well each one alone predicts a sensitive attribute;
``data_report`` is the JSON document of ``fairaudit data``. Formulas: ``docs/databias.md``.

Modules, bottom to top: ``_tables`` (counts), ``_divergence`` (distances), ``_label``,
``_conditional``, ``_representation`` (rows of one grouping), ``_report`` (the family, Holm),
``_proxy``, ``_document``.
"""

from __future__ import annotations

from fairaudit.databias._conditional import conditional_demographic_disparity
from fairaudit.databias._divergence import (
    DIVERGENCES,
    js_divergence,
    kl_divergence,
    ks_distance,
    lp_norm,
    tvd,
)
from fairaudit.databias._document import DATA_REPORT_KIND, data_report
from fairaudit.databias._label import REST, homogeneity_p_value
from fairaudit.databias._proxy import (
    MAX_MODEL_ROWS,
    PROXY_AUC_THRESHOLD,
    cramers_v,
    proxy_features,
)
from fairaudit.databias._report import (
    MSG_NO_FAVORABLE,
    MSG_POPULATION_NOT_SENSITIVE,
    MSG_UNKNOWN_REFERENCE,
    data_bias,
    holm_family,
    reference_index,
    rows_from_counts,
)
from fairaudit.databias._representation import MSG_BAD_SHARES, MSG_NOT_IN_POPULATION
from fairaudit.databias._tables import (
    MSG_LABEL_BINS_NOT_NUMERIC,
    MSG_ONE_CLASS,
    MSG_TOO_MANY_GROUPS,
    MSG_UNKNOWN_COLUMN,
    DataCounts,
    GroupedCounts,
    Grouping,
    count_data,
    factorize_levels,
    group_codes,
    intersection,
    label_codes,
    label_tables,
    missing_count_tables,
    missing_tables,
    size_tables,
    strata_code_tables,
    strata_tables,
)

__all__ = [
    "DATA_REPORT_KIND",
    "DIVERGENCES",
    "DataCounts",
    "GroupedCounts",
    "Grouping",
    "MAX_MODEL_ROWS",
    "MSG_BAD_SHARES",
    "MSG_NOT_IN_POPULATION",
    "MSG_LABEL_BINS_NOT_NUMERIC",
    "MSG_NO_FAVORABLE",
    "MSG_ONE_CLASS",
    "MSG_POPULATION_NOT_SENSITIVE",
    "MSG_TOO_MANY_GROUPS",
    "MSG_UNKNOWN_COLUMN",
    "MSG_UNKNOWN_REFERENCE",
    "PROXY_AUC_THRESHOLD",
    "REST",
    "conditional_demographic_disparity",
    "count_data",
    "cramers_v",
    "data_bias",
    "data_report",
    "factorize_levels",
    "group_codes",
    "holm_family",
    "homogeneity_p_value",
    "intersection",
    "js_divergence",
    "kl_divergence",
    "ks_distance",
    "label_codes",
    "label_tables",
    "lp_norm",
    "missing_count_tables",
    "missing_tables",
    "proxy_features",
    "reference_index",
    "rows_from_counts",
    "size_tables",
    "strata_code_tables",
    "strata_tables",
    "tvd",
]
