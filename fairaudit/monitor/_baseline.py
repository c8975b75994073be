"""The monitor's baseline: a signed pre-release audit, verified, and the options it was run with.

The baseline is the page ``fairaudit run`` wrote and signed (or its JSON twin, whose page
beside it is verified and must embed the same results). Its signatures are checked
against trusted public keys before anything in it is used; a report they do not verify is
refused. From it the monitor takes (1) the audit options (target, sensitive features,
prediction column or model, favourable label, bins, reference groups, minimum sizes), so
every window is counted exactly as the baseline was, and (2) each group's confusion
counts, against which drift is judged.

Without an audit (``data_baseline``) the baseline is the first N windows of the data,
unsigned: the columns come from the command line, each grouping's reference group is its
largest group in the first window, and drift is judged against the first N windows' counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairaudit.errors import ConfigError, VerificationError

__all__ = [
    "Baseline",
    "baseline_counts",
    "data_baseline",
    "data_references",
    "load_baseline",
    "window_spec",
]

MSG_JSON_MISMATCH = (
    "baseline '{path}' is not the JSON twin of its signed page '{page}' (their results "
    "differ); pass the page itself"
)
MSG_NOT_BINARY = (
    "baseline '{path}' is not a binary classification audit (kind {kind!r}, task {task!r}); "
    "the monitor watches binary audits"
)
MSG_NO_CONFIG = "baseline '{path}' does not record its audit options (lineage.config)"
MSG_MODEL_CHANGED = (
    "the baseline's model file '{model}' is missing or has changed since the baseline audit "
    "(SHA-256 {actual} instead of {signed}); monitor the model the baseline audited"
)

#: The audit options a window takes over from the baseline (lineage.config keys).
_SPEC_KEYS = (
    "target",
    "prediction_col",
    "score_col",
    "positive_label",
    "favorable_label",
    "id_cols",
    "features",
    "missing_sensitive",
    "min_group_size",
    "min_denominator",
    "allow_unsafe_pickle",
    "trust_types",
    "seed",
)


@dataclass(frozen=True)
class Baseline:
    """A verified baseline: its results, where it is, its page's SHA-256, who signed it."""

    path: Path
    results: dict[str, Any]
    page_sha256: str
    signers: tuple[str, ...]

    @property
    def audit_id(self) -> str:
        return str(self.results.get("audit", {}).get("id"))

    @property
    def signed(self) -> bool:
        """False for a baseline taken from the data (``data_baseline``)."""
        return bool(self.signers)

    def references(self) -> dict[str, dict[str, Any]]:
        """Return each grouping's reference group (a dict of feature values), as audited."""
        reference = self.results.get("audit", {}).get("reference") or {}
        return {str(k): dict(v) for k, v in reference.items() if isinstance(v, Mapping)}


def load_baseline(path: Path, trusted_keys: Mapping[str, Any]) -> Baseline:
    """Return the baseline at ``path`` once its signatures verify; VerificationError if not."""
    from fairaudit.paths import read_regular_bytes
    from fairaudit.provenance import extract_results, file_sha256, split_trailer, verify_report_file

    page = path.with_suffix(".html") if path.suffix.lower() == ".json" else path
    if not page.is_file():
        raise VerificationError(
            f"baseline page not found: '{page}' (the signed report)", reason="unreadable"
        )
    summary = verify_report_file(page, trusted_keys)
    results = extract_results(split_trailer(read_regular_bytes(page))[0])
    if page != path:
        try:
            twin = json.loads(read_regular_bytes(path).decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise VerificationError(
                f"cannot read the baseline '{path}': {e}", reason="unreadable"
            ) from None
        if twin != results:
            raise VerificationError(
                MSG_JSON_MISMATCH.format(path=path, page=page), reason="statement-mismatch"
            )
    kind = results.get("kind") or "model"
    task = results.get("audit", {}).get("task", "binary")
    if kind != "model" or task not in (None, "binary"):
        raise ConfigError(MSG_NOT_BINARY.format(path=path, kind=kind, task=task))
    if not isinstance(results.get("lineage", {}).get("config"), Mapping):
        raise ConfigError(MSG_NO_CONFIG.format(path=path))
    return Baseline(page, results, file_sha256(page), summary.key_ids)


def window_spec(baseline: Baseline, data: Path, engine: str) -> Any:
    """Return the AuditSpec that counts ``data`` as the baseline counted its data."""
    from fairaudit.spec import AuditSpec

    config = baseline.results["lineage"]["config"]
    options: dict[str, Any] = {k: config[k] for k in _SPEC_KEYS if config.get(k) is not None}
    for key in ("id_cols", "trust_types"):
        options[key] = tuple(options.get(key, ()))
    if "features" in options:
        options["features"] = tuple(options["features"])
    model = config.get("model")
    if model is not None:
        _check_model(baseline, Path(model))
    return AuditSpec(
        data=data,
        sensitive=tuple(config.get("sensitive") or ()),
        model=None if model is None else Path(model),
        bins={k: tuple(v) for k, v in (config.get("bins") or {}).items()},
        name=baseline.results.get("audit", {}).get("name"),
        intervals=False,
        mitigations=(),
        training_data=False,
        engine=engine,  # type: ignore[arg-type]
        task="binary",
        **options,
    )


def _check_model(baseline: Baseline, model: Path) -> None:
    """Raise ConfigError unless ``model`` is the very file the baseline audited."""
    from fairaudit.provenance import file_sha256

    lineage = baseline.results.get("lineage", {}).get("model", {}) or {}
    signed = str(lineage.get("sha256"))
    actual = file_sha256(model) if model.is_file() else "missing"
    if actual != signed:
        raise ConfigError(
            MSG_MODEL_CHANGED.format(model=model, actual=actual[:12], signed=signed[:12])
        )


def baseline_counts(baseline: Baseline) -> list[dict[str, Any]]:
    """Return the baseline's per-group counts, as a window's (see ``_window.group_counts``)."""
    from fairaudit.monitor._window import group_counts

    return group_counts(baseline.results)


def data_baseline(columns: Mapping[str, Any]) -> Baseline:
    """Return an unsigned baseline from the data: the audit options ``columns`` (target,
    prediction_col, sensitive, optional positive_label), no counts and no reference groups
    (``data_references`` picks them from the first window)."""
    config = {k: v for k, v in columns.items() if v is not None}
    config["sensitive"] = list(config.get("sensitive") or ())
    results = {
        "audit": {"id": "", "name": None, "groupings": list(config["sensitive"]), "reference": {}},
        "lineage": {"config": config},
    }
    return Baseline(Path(""), results, "", ())


def data_references(windows: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Return each grouping's largest group in the first window (ties: the first label)."""
    from fairaudit.monitor._window import group_label

    best: dict[str, tuple[int, str, dict[str, Any]]] = {}
    for row in windows[0].counts if windows else []:
        rows = -sum(row[k] for k in ("tp", "fp", "fn", "tn"))
        candidate = (rows, group_label(row["group"]), dict(row["group"]))
        if row["grouping"] not in best or candidate[:2] < best[row["grouping"]][:2]:
            best[row["grouping"]] = candidate
    return {grouping: found[2] for grouping, found in best.items()}
