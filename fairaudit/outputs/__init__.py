"""What an audit result becomes: the HTML report, charts, JUnit, diffs, model cards, and
the display rule for text from data."""

from __future__ import annotations

from fairaudit.outputs._card_huggingface import (
    MSG_FLOW_INDEX,
    YAML_BEGIN,
    YAML_END,
    model_index_lines,
    update_huggingface_card,
)
from fairaudit.outputs._card_markdown import (
    BEGIN_MARKER,
    END_MARKER,
    MSG_NO_END,
    fairness_section,
    update_markdown_card,
)
from fairaudit.outputs._card_mct import MCT_SCHEMA_VERSION, mct_card, mct_schema_path
from fairaudit.outputs._card_source import (
    CARD_METRICS,
    CardError,
    ReportReference,
    load_report,
    report_reference,
)
from fairaudit.outputs._cards import CARD_FORMATS, CardFormat, export_card
from fairaudit.outputs._charts import (
    PALETTE,
    Chart,
    disparity_chart,
    heatmap_chart,
    metrics_chart,
    tradeoff_chart,
)
from fairaudit.outputs._data_report import data_report_paths, identified, render_data_html
from fairaudit.outputs._data_report_diff import diff_data_reports, format_data_diff
from fairaudit.outputs._diff_compute import (
    MSG_BAD_FIELD,
    MSG_BAD_JSON,
    MSG_NOT_FOUND,
    MSG_SCHEMA_MAJOR,
    DiffError,
    diff_results,
    load_results,
)
from fairaudit.outputs._diff_model import (
    STATUSES,
    AuditDiff,
    AuditRef,
    GroupChange,
    MetricChange,
    intervals_disjoint,
)
from fairaudit.outputs._diff_render import (
    HEADINGS,
    DiffContext,
    build_diff_context,
    format_text,
    render_diff_html,
    write_diff_html,
)
from fairaudit.outputs._junit import junit_xml, write_junit
from fairaudit.outputs._report import (
    CHART_METRICS,
    DISPARITY_METRICS,
    MSG_OUTPUT_IS_JSON,
    GroupingView,
    ReportContext,
    Verdict,
    WorstOff,
    build_context,
    embedded_json,
    group_label,
    render_html,
    report_paths,
    template_dir,
    template_environment,
)
from fairaudit.outputs._report_groups import TOP_GROUPS, GroupSplit, split_groups

__all__ = [
    "data_report_paths",
    "diff_data_reports",
    "format_data_diff",
    "identified",
    "render_data_html",
    "AuditDiff",
    "AuditRef",
    "BEGIN_MARKER",
    "CARD_FORMATS",
    "CARD_METRICS",
    "CHART_METRICS",
    "CardError",
    "CardFormat",
    "Chart",
    "DISPARITY_METRICS",
    "DiffContext",
    "DiffError",
    "END_MARKER",
    "GroupChange",
    "GroupSplit",
    "GroupingView",
    "HEADINGS",
    "MCT_SCHEMA_VERSION",
    "MSG_BAD_FIELD",
    "MSG_BAD_JSON",
    "MSG_FLOW_INDEX",
    "MSG_NOT_FOUND",
    "MSG_NO_END",
    "MSG_OUTPUT_IS_JSON",
    "MSG_SCHEMA_MAJOR",
    "MetricChange",
    "PALETTE",
    "ReportContext",
    "ReportReference",
    "STATUSES",
    "TOP_GROUPS",
    "Verdict",
    "WorstOff",
    "YAML_BEGIN",
    "YAML_END",
    "build_context",
    "build_diff_context",
    "diff_results",
    "disparity_chart",
    "embedded_json",
    "export_card",
    "fairness_section",
    "format_text",
    "group_label",
    "heatmap_chart",
    "intervals_disjoint",
    "junit_xml",
    "load_report",
    "load_results",
    "mct_card",
    "mct_schema_path",
    "metrics_chart",
    "model_index_lines",
    "render_diff_html",
    "render_html",
    "report_paths",
    "report_reference",
    "split_groups",
    "template_dir",
    "template_environment",
    "tradeoff_chart",
    "update_huggingface_card",
    "update_markdown_card",
    "write_diff_html",
    "write_junit",
]
