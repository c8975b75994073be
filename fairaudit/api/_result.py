"""The audit result in a notebook: :class:`Result`, an :class:`~fairaudit.result.AuditResult`
that displays itself, gives its numbers as tidy DataFrames and saves, signs, exports,
checks and compares itself through the same code the command line uses.

Everything it shows is read from the result's JSON (``to_dict()``), the one source every
output reads; nothing is recomputed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairaudit.api._display import render_card, render_markdown
from fairaudit.api._tables import (
    by_group_frame,
    disparities_frame,
    favorable_headline_frame,
    favorable_worse_off_frame,
    headline_frame,
    mitigations_frame,
    worse_off_frame,
)
from fairaudit.result import AuditResult

if TYPE_CHECKING:  # only for annotations: pandas and cryptography load when used
    import pandas as pd
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from fairaudit.publish import Published

__all__ = ["PolicyCheck", "Result"]

#: The AuditResult sections a Result shows as they are; disparities, headline and
#: mitigations are DataFrame views instead.
_SECTIONS = frozenset(f.name for f in fields(AuditResult)) - {
    "disparities",
    "headline",
    "mitigations",
}


@dataclass(frozen=True)
class PolicyCheck:
    """A policy checked against a result: the verdict, the failed and warned rules, and one
    line per failed or not-evaluable outcome (``rule: grouping groups: reason``)."""

    verdict: str
    failed_rules: tuple[str, ...]
    warned_rules: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Return whether no rule failed (warnings do not fail a check)."""
        return self.verdict != "fail"

    def __str__(self) -> str:
        head = f"policy verdict: {self.verdict}"
        if self.failed_rules:
            head += f"; failed rules: {', '.join(self.failed_rules)}"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


def _policy_sources(policy: str | os.PathLike[str] | Sequence[str]) -> tuple[str, ...]:
    if isinstance(policy, str | os.PathLike):
        return (os.fspath(policy),)
    return tuple(os.fspath(p) for p in policy)


def check_policy(
    data: dict[str, Any],
    policy: str | os.PathLike[str] | Sequence[str],
    *,
    not_evaluable: str | None = None,
) -> PolicyCheck:
    """Return ``policy`` (layers: paths or ``preset:NAME``) evaluated on a result's JSON."""
    from fairaudit.policy import evaluate_policy, load_policy

    evaluation = evaluate_policy(
        load_policy(_policy_sources(policy)),
        data,
        not_evaluable=not_evaluable,  # type: ignore[arg-type]
    )
    problems = [
        f"{r.rule.id}: {o.name}: {o.reason}"
        for r in evaluation.rules
        for o in r.outcomes
        if o.status in ("fail", "not evaluable") and r.status != "pass"
    ]
    return PolicyCheck(
        verdict=evaluation.verdict,
        failed_rules=tuple(r.rule.id for r in evaluation.rules if r.status == "fail"),
        warned_rules=tuple(
            r.rule.id for r in evaluation.rules if r.status in ("warn", "not evaluable")
        ),
        problems=tuple(problems),
    )


class Result:
    """An audit result with a notebook display, tidy tables and actions.

    It wraps the :class:`~fairaudit.result.AuditResult` (``result.audit_result``), whose
    JSON (``to_dict``, ``to_json``) every view and action reads. Its other sections are
    attributes too (``result.verdict``, ``result.audit``, ``result.lineage`` ...), except
    that ``disparities``, ``headline`` and ``mitigations`` are the tidy DataFrames (the raw
    lists are in ``to_dict()``).
    """

    def __init__(self, audit_result: AuditResult) -> None:
        self.audit_result = audit_result
        self._saved: Path | None = None  # the report.json written by save(), for card()
        # The folder the audit's relative input paths (lineage.config) were given from.
        self._cwd = Path.cwd()

    @classmethod
    def from_result(cls, result: AuditResult) -> Result:
        """Return ``result`` wrapped (its sections shared, not copied)."""
        return cls(result)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Result:
        """Return the result in a ``report.json`` or a report's HTML (its embedded JSON)."""
        from fairaudit.outputs import load_results

        return cls(AuditResult.from_dict(load_results(path)))

    def __getattr__(self, name: str) -> Any:
        # Only the AuditResult's sections: a view's own error must not fall through to them.
        if name not in _SECTIONS:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self.audit_result, name)

    def to_dict(self) -> dict[str, Any]:
        """Return the result's JSON-ready dict (``AuditResult.to_dict``)."""
        return self.audit_result.to_dict()

    def to_json(self) -> str:
        """Return the result's JSON text, as ``report.json`` holds it."""
        return self.audit_result.to_json()

    # ------------------------------------------------------------------ display

    def __repr__(self) -> str:
        return render_markdown(self.to_dict(), plain=True)

    def _repr_markdown_(self) -> str:
        return render_markdown(self.to_dict())

    def _repr_html_(self) -> str:
        return render_card(self.to_dict())

    # ------------------------------------------------------------------ tables

    @property
    def by_group(self) -> pd.DataFrame:
        """One row per group and grouping: count, each metric and its interval bounds."""
        return by_group_frame(self.to_dict())

    @property
    def disparities(self) -> pd.DataFrame:
        """One row per group and metric against the reference group (difference, ratio)."""
        return disparities_frame(self.to_dict())

    @property
    def headline(self) -> pd.DataFrame:
        """The headline metrics per grouping, with their intervals."""
        return headline_frame(self.to_dict())

    @property
    def worse_off(self) -> pd.DataFrame:
        """Per grouping and rate, the group furthest below the best group."""
        return worse_off_frame(self.to_dict())

    @property
    def favorable_headline(self) -> pd.DataFrame:
        """A regression audit's derived outcome (``favorable_above``/``favorable_below``):
        fairlearn's headline metrics on it per grouping, with intervals (no rows without)."""
        return favorable_headline_frame(self.to_dict())

    @property
    def favorable_worse_off(self) -> pd.DataFrame:
        """The derived outcome's four-fifths rows: per grouping and rate, the group furthest
        below the best (no rows without a threshold)."""
        return favorable_worse_off_frame(self.to_dict())

    @property
    def mitigations(self) -> pd.DataFrame:
        """One row per mitigation variant (``baseline`` first), with the policy's verdict."""
        return mitigations_frame(self.to_dict())

    # ------------------------------------------------------------------ actions

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        sign_key: Ed25519PrivateKey | str | os.PathLike[str] | None = None,
        ledger: str | os.PathLike[str] | None = None,
        use_ledger: bool = True,
    ) -> Published:
        """Write the HTML report and its JSON twin (and, with ``sign_key``, its signature)
        through :func:`fairaudit.publish.publish_report`, as ``fairaudit run -o`` does;
        ``sign_key`` is an Ed25519 private key or the path of its PEM file."""
        from fairaudit.publish import publish_report

        self._check_outputs(path, sign_key, ledger if use_ledger else None, use_ledger)
        key = sign_key
        if isinstance(key, str | os.PathLike):
            from fairaudit.provenance import load_private_key

            key = load_private_key(key)
        published = publish_report(
            self.audit_result, path, sign_key=key, ledger=ledger, use_ledger=use_ledger
        )
        self._saved = Path(published.json)
        return published

    def _check_outputs(
        self,
        path: str | os.PathLike[str],
        sign_key: Any,
        ledger: str | os.PathLike[str] | None,
        use_ledger: bool,
    ) -> None:
        """Refuse, before writing, what ``fairaudit run`` refuses: a report path ending in
        .json, an output over an input (the audit's data, model, training set, policy files
        or the signing key) or over the ledger, and a ledger that is not one."""
        from fairaudit.errors import OutputError
        from fairaudit.outputs import MSG_OUTPUT_IS_JSON, report_paths
        from fairaudit.paths import FileRole, check_file_roles
        from fairaudit.publish import check_ledger_appendable, ledger_path_for

        if Path(path).suffix.lower() == ".json":
            raise OutputError(MSG_OUTPUT_IS_JSON.format(path=path))
        html, json_path = report_paths(self.audit_result, path)
        outputs = [
            FileRole("output", html, "report"),
            FileRole("output", json_path, "report"),
            FileRole("signature file", Path(f"{html}.intoto.jsonl"), "report"),
        ]
        ledger_path = ledger_path_for(path, ledger) if use_ledger else None
        if ledger_path is not None:
            outputs.append(FileRole("ledger", ledger_path, "ledger"))
        config = (self.audit_result.lineage or {}).get("config") or {}
        given = [
            (f"{key} file", config[key])
            for key in ("data", "model", "train")
            if isinstance(config.get(key), str)
            and not config[key].startswith(("in-memory ", "spark:"))
        ]
        given += [
            ("policy file", p)
            for p in config.get("policy") or []
            if isinstance(p, str) and not p.startswith("preset:")
        ]
        inputs = [FileRole(what, self._cwd / p) for what, p in given]
        if isinstance(sign_key, str | os.PathLike):
            inputs.append(FileRole("signing key", Path(sign_key)))
        check_file_roles(outputs, inputs)
        if ledger_path is not None:
            check_ledger_appendable(ledger_path)

    def card(
        self,
        format: str = "markdown",
        *,
        path: str | os.PathLike[str] | None = None,
        dataset_name: str | None = None,
        dataset_type: str | None = None,
    ) -> str:
        """Return the model card section (``markdown``, ``huggingface`` or ``mct``) as
        ``fairaudit card`` writes it; with ``path``, update that card file. After
        :meth:`save` the card cites the saved report."""
        from fairaudit.outputs import export_card

        options = {"dataset_name": dataset_name, "dataset_type": dataset_type}
        if self._saved is not None:
            return export_card(self._saved, format=format, card=path, **options)  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory(prefix="fairaudit-card-") as folder:
            report = Path(folder) / "report.json"
            report.write_text(self.to_json(), encoding="utf-8")
            return export_card(report, format=format, card=path, **options)  # type: ignore[arg-type]

    def check(
        self,
        policy: str | os.PathLike[str] | Sequence[str],
        *,
        not_evaluable: str | None = None,
    ) -> PolicyCheck:
        """Return ``policy`` (a file, ``preset:NAME``, or layers) checked on this result:
        the verdict, the failed rules and what failed, without changing the result."""
        return check_policy(self.to_dict(), policy, not_evaluable=not_evaluable)
