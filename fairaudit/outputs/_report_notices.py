"""The report's one list of warnings and of what could not be evaluated.

Each problem is listed once, with an anchor (``Notice.anchor``) that the rest of the page
links to: a small group's tag in a table, a data check's row, a mitigation that did not run.
The list is built from the result's findings (the risk register: data-check warnings, small
groups, rules that could not be evaluated, unsafe model loading), the rates that rest on
fewer than ``min_denominator`` rows, the mitigations that failed, and the training set's
inputs that stand in for a sensitive attribute (``training_data``). Failed policy rules are
the verdict itself and mitigations that meet the policy belong to the mitigation section, so
neither is repeated here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fairaudit.display import group_text

__all__ = ["NOT_EVALUATED", "Notice", "build_notices", "check_anchors"]

#: Notice kinds that are about numbers that could not be computed or judged (shown muted:
#: red is for failures only).
NOT_EVALUATED = frozenset({"insufficient_data", "small_denominators", "not_evaluable"})

#: Past this many groups a notice counts them instead of naming them; the JSON lists them.
_NAMED = 10

#: Findings the list leaves out: the verdict shows failed rules, the mitigation section
#: the mitigations that meet the policy.
_ELSEWHERE = frozenset({"policy", "mitigation"})


@dataclass(frozen=True)
class Notice:
    """One entry of the list: its anchor, kind, severity, message and next step."""

    anchor: str
    kind: str
    severity: str
    message: str
    next_step: str | None = None
    check: str | None = None

    @property
    def label(self) -> str:
        """Return the kind as a short tag, e.g. ``insufficient data``."""
        return {
            "small_denominators": "rate on few rows",
            "mitigation_failed": "mitigation did not run",
            "not_evaluable": "not evaluable",
        }.get(self.kind, self.kind.replace("_", " "))

    @property
    def tone(self) -> str:
        """Return how the entry is styled: ``bad`` (an error), ``warn`` or ``muted``."""
        if self.kind in NOT_EVALUATED:
            return "muted"
        return {"error": "bad", "warning": "warn"}.get(self.severity, "muted")


def _small_denominators(data: Mapping[str, Any]) -> Notice | None:
    """Return the notice of rates resting on fewer than min_denominator rows, if any."""
    rows = [r for r in data["metrics"]["by_group"] if r.get("insufficient_metrics")]
    if not rows:
        return None
    minimum = data["audit"].get("min_denominator")
    cells = "; ".join(
        f"{group_text(r['group'])}: "
        + ", ".join(m.replace("_", " ") for m in r["insufficient_metrics"])
        for r in rows
    )
    named = (
        f": {cells}" if len(rows) <= _NAMED else " (each row's insufficient_metrics in the JSON)"
    )
    return Notice(
        "n-small-denominators",
        "small_denominators",
        "info",
        f"{len(rows)} group(s) have rates resting on fewer than {minimum} rows "
        f"(min_denominator){named}. These rates are shown but not compared: their "
        "disparities are marked insufficient data and the headline metrics leave them out.",
    )


def _failed_mitigations(data: Mapping[str, Any]) -> list[Notice]:
    return [
        Notice(
            f"n-mitigation-{e['method']}",
            "mitigation_failed",
            "warning",
            f"mitigation {e['method']} did not run ({e['status']}): {e.get('reason') or ''}",
        )
        for e in data.get("mitigations") or []
        if e.get("status") != "ok"
    ]


def _training_proxies(data: Mapping[str, Any]) -> list[Notice]:
    """Return a warning per sensitive feature that an input of the training set stands in for
    (its single-feature AUC at or above the threshold: ``training_data.proxies``)."""
    notices = []
    for i, analysis in enumerate((data.get("training_data") or {}).get("proxies") or [], 1):
        flagged = [f for f in analysis.get("features") or [] if f.get("flagged")]
        if not flagged:
            continue
        names = ", ".join(f"{f['feature']} (AUC {f['auc']:.2f})" for f in flagged[:_NAMED])
        more = f" and {len(flagged) - _NAMED} more" if len(flagged) > _NAMED else ""
        verb, them = ("predicts", "it") if len(flagged) == 1 else ("predict", "them")
        name = analysis["sensitive"]
        notices.append(
            Notice(
                f"n-training-proxy-{i}",
                "proxy",
                "warning",
                f"In the training data, {names}{more} {verb} {name} at or above AUC "
                f"{analysis['threshold']}: a model can learn {name} from {them} even with "
                f"{name} left out of its inputs.",
                "See the training-data section; drop or justify each such input.",
            )
        )
    return notices


def build_notices(data: Mapping[str, Any]) -> list[Notice]:
    """Return the list, worst first: errors, warnings, then what could not be evaluated."""
    notices: list[Notice] = []
    used: dict[str, int] = {}
    for finding in data.get("findings") or []:
        kind = str(finding.get("kind") or "note")
        if kind in _ELSEWHERE or finding.get("severity") not in ("error", "warning"):
            continue
        used[kind] = used.get(kind, 0) + 1
        anchor = f"n-{kind}" + (f"-{used[kind]}" if used[kind] > 1 else "")
        evidence = finding.get("evidence") or {}
        notices.append(
            Notice(
                anchor.replace("_", "-"),
                kind,
                str(finding["severity"]),
                str(finding.get("message") or ""),
                finding.get("next_step"),
                evidence.get("check") if isinstance(evidence, Mapping) else None,
            )
        )
    small = _small_denominators(data)
    notices += _failed_mitigations(data) + _training_proxies(data) + ([small] if small else [])
    order = {"bad": 0, "warn": 1, "muted": 2}
    return sorted(notices, key=lambda n: order[n.tone])  # stable: findings' order kept


def check_anchors(checks: Sequence[Mapping[str, Any]], notices: Sequence[Notice]) -> dict[str, str]:
    """Return, for each data check with a warning or error, the anchor of its notice.

    A data-check finding names its check; a check with a finding of its own (small groups)
    shares that finding's kind. Anything else links to the top of the list.
    """
    anchors: dict[str, str] = {}
    for check in checks:
        if check.get("status") not in ("warning", "error"):
            continue
        cid = str(check.get("id"))
        match = next((n for n in notices if n.check == cid), None) or next(
            (n for n in notices if n.kind == cid), None
        )
        anchors[cid] = match.anchor if match else "attention"
    return anchors
