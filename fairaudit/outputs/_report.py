"""Rendering an AuditResult as one self-contained HTML file (Jinja2, autoescaped).

The templates receive a :class:`ReportContext` (``_report_view``) built only from the
AuditResult's JSON form, so the HTML shows exactly the numbers of the JSON twin, which it
embeds once.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from fairaudit.display import display_text
from fairaudit.errors import OutputError
from fairaudit.outputs._card_text import num
from fairaudit.outputs._report_groups import TOP_GROUPS
from fairaudit.outputs._report_multiclass import multiclass_context
from fairaudit.outputs._report_regression import regression_context
from fairaudit.outputs._report_training import training_view
from fairaudit.outputs._report_view import (
    CHART_METRICS,
    DISPARITY_METRICS,
    GroupingView,
    ReportContext,
    Verdict,
    WorstOff,
    group_label,
    view_context,
)
from fairaudit.paths import MSG_OUTPUT_IS_JSON
from fairaudit.result import AuditResult, json_text

__all__ = [
    "MSG_OUTPUT_IS_JSON",
    "CHART_METRICS",
    "DISPARITY_METRICS",
    "TOP_GROUPS",
    "GroupingView",
    "ReportContext",
    "Verdict",
    "WorstOff",
    "build_context",
    "compile_templates",
    "embedded_json",
    "group_label",
    "render_html",
    "report_paths",
    "template_dir",
    "template_environment",
]


def template_dir() -> Path:
    """Return the templates folder: inside the installed package, else the source tree's."""
    packaged = Path(__file__).resolve().parent.parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.parent / "templates"


def _shown(value: Any) -> Any:
    """Return a value as a template prints it: text from data with its controls made visible.

    The Environment's ``finalize``: every ``{{ ... }}`` passes here before autoescape, so no
    template can forget it. Markup (macro output, the embedded JSON) passes unchanged.
    """
    if isinstance(value, str) and not isinstance(value, Markup):
        return display_text(value)
    return value


@cache
def template_environment() -> jinja2.Environment:
    """Return the Jinja2 environment of every page (report, diff, batch index): autoescaped."""
    env = jinja2.Environment(
        finalize=_shown,
        loader=jinja2.FileSystemLoader(str(template_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = num
    env.filters["interval"] = format_interval
    env.filters["group"] = group_label
    env.filters["signed"] = format_change
    env.filters["pvalue"] = format_p_value
    env.filters["css"] = strip_css_comments
    return env


def compile_templates() -> None:
    """Compile every page template now; Jinja2 keeps them (0.2-0.3 s a run need not wait for).

    The command line runs it while the audit waits for its lent worker
    (``runtime.while_waiting``); rendering compiles any template still missing.
    """
    env = template_environment()
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)


_CSS_COMMENT = re.compile(r"[ \t]*/\*.*?\*/[ \t]*\n?", re.DOTALL)


def strip_css_comments(text: str) -> str:
    """Return a page's ``<style>`` without its CSS comments (only the templates' own text
    passes here, never data)."""
    return _CSS_COMMENT.sub("", text)


def format_change(value: float | None, digits: int = 3) -> str:
    """Return a change with its sign (``+0.012``, ``−0.034``), or 'undefined' for null."""
    if value is None or not math.isfinite(value):
        return "undefined"
    return f"{value:+.{digits}f}".replace("-", "\u2212")


def format_p_value(value: float) -> str:
    """Return a p-value to 3 decimals, ``< 0.001`` below that (never a misleading 0.000)."""
    return "< 0.001" if value < 0.0005 else f"= {value:.3f}"


def format_interval(ci: Sequence[float | None] | None, digits: int = 3) -> str:
    """Return ``[low, high]`` for display, or an empty string without an interval."""
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def embedded_json(data: dict[str, Any]) -> Markup:
    """Return JSON safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` become ``\\u003c`` etc., so no data value can close the
    element or open a comment; json.loads of the element's text gives ``data`` back.
    """
    text = json_text(data)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return Markup(text)


def build_context(result: AuditResult) -> ReportContext:
    """Return the template context of a result (charts included; its JSON embedded once)."""
    data = result.to_dict()
    if data["audit"].get("task") == "regression":
        return regression_context(data, embedded_json(data))
    if data["audit"].get("task") == "multiclass":
        return multiclass_context(data, embedded_json(data))
    context = view_context(data, embedded_json(data))
    context.training = training_view(data)
    return context


def render_html(result: AuditResult) -> str:
    """Return the report as one self-contained HTML document."""
    context = build_context(result)
    template = template_environment().get_template("report.html")
    return template.render(report=context)


def _safe_name_part(text: str) -> str:
    """Return text usable in a file name: letters, digits, dot, dash and underscore."""
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in text).strip("._")
    return cleaned[:80] or "audit"


def report_paths(result: AuditResult, output: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Return the HTML and JSON paths for ``output`` (a file, or a folder to name it in).

    A string ending in a path separator always means a folder, which must exist.
    """
    raw = os.fspath(output)
    output = Path(raw)
    if raw.endswith(("/", os.sep)) and not output.is_dir():
        raise OutputError(f"output folder '{output}' does not exist; create it first")
    if output.is_dir():
        audit = result.audit
        parts = [_safe_name_part(audit["name"] or "audit")]
        if audit.get("model_version"):
            parts.append(_safe_name_part(audit["model_version"]))
        parts.append(audit["id"][:12])
        html_path = output / ("-".join(parts) + ".html")
    else:
        html_path = output
    if html_path.suffix.lower() == ".json":
        raise OutputError(MSG_OUTPUT_IS_JSON.format(path=html_path))
    return html_path, html_path.with_suffix(".json")
