"""The batch manifest: many AuditSpecs from one TOML file, checked before anything runs.

A manifest is a TOML file::

    # shared defaults: any audit option, plus the batch keys below
    policy = ["preset:four-fifths"]
    output_dir = "reports"          # relative to the manifest (default "reports")
    sign_key = "keys/auditor.key"   # optional: sign every report
    ledger = "audits.sqlite"        # optional: record every audit in this ledger

    [[audit]]
    config = "credit/audit.toml"    # an audit config file, relative to the manifest ...
    model_version = "1.1.0"         # ... with keys of its own on top

    [[audit]]
    name = "churn"                  # or every option inline
    data = "churn/eval.csv"
    target = "churned"
    sensitive = ["region"]
    prediction_col = "pred"

    [[audit]]
    kind = "data"                   # a data audit (fairaudit data) of a training set
    data = "credit/train.csv"
    target = "risk"
    sensitive = ["sex"]

Precedence, lowest first: the shared defaults, the ``config`` file, the audit's own keys.
A ``kind = "data"`` entry takes the options of ``fairaudit data`` (``DATA_KEYS``) and of the
shared defaults only confidence, seed and engine (``batch._data``).
Problems the manifest alone shows (unknown keys, wrong types, inconsistent options) stop
the batch before anything runs; problems found while auditing (a missing data file, a
bad column) make that audit an error and the others go on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from fairaudit.batch._data import (
    DATA_KEYS,
    DATA_KIND,
    MODEL_KIND,
    DataAuditSpec,
    data_spec_from_table,
)
from fairaudit.errors import ConfigError
from fairaudit.paths import FileRole, check_file_roles, read_toml_file, require_regular_file
from fairaudit.spec import AuditSpec, merge_layer, normalise_options

__all__ = [
    "BATCH_KEYS",
    "INDEX_FILES",
    "BatchAudit",
    "Manifest",
    "check_manifest_files",
    "load_manifest",
]

#: The batch's own outputs in its output folder.
INDEX_FILES = ("index.html", "index.json")
#: Keys of the manifest's top level beyond the audit options.
BATCH_KEYS = ("output_dir", "sign_key", "ledger", "audit")
#: The key of an ``[[audit]]`` table that names an audit config file.
CONFIG_KEY = "config"
#: The key of an ``[[audit]]`` table that says which kind of audit it is (default model).
KIND_KEY = "kind"
DEFAULT_OUTPUT_DIR = "reports"

MSG_UNKNOWN_TOP_KEY = "manifest '{path}': unknown key {key!r}; known keys: {known}"
MSG_NO_AUDITS = "manifest '{path}' has no audits: add [[audit]] tables"
MSG_AUDITS_NOT_TABLES = "manifest '{path}': 'audit' must be a list of [[audit]] tables"
MSG_UNKNOWN_AUDIT_KEY = (
    "manifest '{path}': audit {index} ({name}): unknown key {key!r}; known keys: {known}"
)
MSG_BAD_PATH = "manifest '{path}': {key} must be a file path"
MSG_AUDIT_INVALID = "manifest '{path}': audit {index} ({name}): {detail}"
MSG_CONFIG = "manifest '{path}': audit {index} ({name}): {detail}"
MSG_BAD_KIND = (
    'manifest \'{path}\': audit {index} ({name}): kind must be "model" or "data", not {kind!r}'
)


@dataclass(frozen=True)
class BatchAudit:
    """One audit of a manifest: its 1-based position, display name and options."""

    index: int
    name: str
    spec: AuditSpec | DataAuditSpec


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest: the audits to run and where their outputs go."""

    path: Path
    sha256: str
    audits: tuple[BatchAudit, ...]
    output_dir: Path
    sign_key: Path | None = None
    ledger: Path | None = None


def _display_name(spec: AuditSpec | DataAuditSpec) -> str:
    """Return the name the audit will report (as run_audit or data_audit chooses it)."""
    if isinstance(spec, DataAuditSpec):
        return spec.display_name
    return spec.name or (spec.model.stem if spec.model else spec.data.stem)


def _option_keys() -> list[str]:
    return sorted(f.name for f in fields(AuditSpec))


def _path_value(value: Any, key: str, manifest: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(MSG_BAD_PATH.format(path=manifest, key=key))
    path = Path(value)
    return path if path.is_absolute() else manifest.parent / path


def _audit_label(table: Mapping[str, Any], index: int) -> str:
    name = table.get("name")
    if isinstance(name, str) and name:
        return repr(name)
    config = table.get(CONFIG_KEY)
    if isinstance(config, str) and config:
        return repr(Path(config).stem)
    return "unnamed"


def _audit_options(
    table: Mapping[str, Any],
    index: int,
    manifest: Path,
    defaults: Mapping[str, Any],
) -> AuditSpec | DataAuditSpec:
    label = _audit_label(table, index)
    kind = table.get(KIND_KEY, MODEL_KIND)
    if kind not in (MODEL_KIND, DATA_KIND):
        raise ConfigError(MSG_BAD_KIND.format(path=manifest, index=index, name=label, kind=kind))
    known = list(DATA_KEYS) if kind == DATA_KIND else [CONFIG_KEY, *_option_keys(), KIND_KEY]
    for key in table:
        if key not in known:
            raise ConfigError(
                MSG_UNKNOWN_AUDIT_KEY.format(
                    path=manifest, index=index, name=label, key=key, known=", ".join(known)
                )
            )
    source = f"manifest '{manifest}': audit {index} ({label})"
    if kind == DATA_KIND:
        return data_spec_from_table(table, source, manifest.parent, defaults)
    options = dict(defaults)
    own = {k: v for k, v in table.items() if k not in (CONFIG_KEY, KIND_KEY)}
    if CONFIG_KEY in table:
        config = _path_value(table[CONFIG_KEY], f"audit {index} ({label}): config", manifest)
        try:
            raw, _ = read_toml_file(config, "config file")
            merge_layer(options, normalise_options(raw, f"config file '{config}'", config.parent))
        except ConfigError as exc:
            raise ConfigError(
                MSG_CONFIG.format(path=manifest, index=index, name=label, detail=exc)
            ) from None
    merge_layer(options, normalise_options(own, source, manifest.parent))
    missing = [k for k in ("data", "target") if k not in options]
    if missing:
        raise ConfigError(
            MSG_AUDIT_INVALID.format(
                path=manifest,
                index=index,
                name=label,
                detail="missing " + " and ".join(missing),
            )
        )
    options.setdefault("sensitive", ())
    try:
        return AuditSpec(**options)
    except ConfigError as exc:
        raise ConfigError(
            MSG_AUDIT_INVALID.format(path=manifest, index=index, name=label, detail=exc)
        ) from None


def load_manifest(
    path: str | os.PathLike[str],
    *,
    output_dir: str | os.PathLike[str] | None = None,
    sign_key: str | os.PathLike[str] | None = None,
    ledger: str | os.PathLike[str] | None = None,
) -> Manifest:
    """Return the parsed, validated manifest; raise ConfigError naming the audit and key.

    ``output_dir``, ``sign_key`` and ``ledger`` (e.g. command-line flags) override the
    manifest's keys; paths given here are relative to the working directory, paths in the
    manifest to the manifest.
    """
    manifest = Path(path)
    raw, content = read_toml_file(manifest, "manifest")
    known = set(_option_keys())
    for key in raw:
        if key not in known and key not in BATCH_KEYS:
            raise ConfigError(
                MSG_UNKNOWN_TOP_KEY.format(
                    path=manifest, key=key, known=", ".join([*BATCH_KEYS, *sorted(known)])
                )
            )
    audits = raw.get("audit")
    if audits is None:
        raise ConfigError(MSG_NO_AUDITS.format(path=manifest))
    if not isinstance(audits, list) or not all(isinstance(a, dict) for a in audits):
        raise ConfigError(MSG_AUDITS_NOT_TABLES.format(path=manifest))
    if not audits:
        raise ConfigError(MSG_NO_AUDITS.format(path=manifest))
    shared = {k: v for k, v in raw.items() if k in known}
    defaults = normalise_options(shared, f"manifest '{manifest}'", manifest.parent)
    parsed = []
    for index, table in enumerate(audits, start=1):
        spec = _audit_options(table, index, manifest, defaults)
        parsed.append(BatchAudit(index, _display_name(spec), spec))

    def chosen(flag: Any, key: str, default: str | None) -> Path | None:
        if flag is not None:
            return Path(flag)
        if key in raw:
            return _path_value(raw[key], key, manifest)
        return manifest.parent / default if default is not None else None

    out = chosen(output_dir, "output_dir", DEFAULT_OUTPUT_DIR)
    assert out is not None
    return Manifest(
        path=manifest,
        sha256=hashlib.sha256(content).hexdigest(),
        audits=tuple(parsed),
        output_dir=out,
        sign_key=chosen(sign_key, "sign_key", None),
        ledger=chosen(ledger, "ledger", None),
    )


def check_manifest_files(manifest: Manifest) -> None:
    """Raise before any audit runs if a batch output would overwrite an input or fail.

    The index files and the ledger may not be the manifest, the signing key or any file an
    audit reads; the ledger must be appendable. (A missing input of one audit is that
    audit's error, reported in the index, not the batch's.)
    """
    from fairaudit.publish import check_ledger_appendable

    inputs = [FileRole("manifest", manifest.path)]
    if manifest.sign_key is not None:
        inputs.append(
            FileRole("signing key", require_regular_file(manifest.sign_key, "signing key"))
        )
    for audit in manifest.audits:
        inputs += audit.spec.input_files()
    outputs = []
    if manifest.output_dir.is_dir():  # a folder about to be created holds no input
        outputs += [FileRole("index", manifest.output_dir / n, "-o") for n in INDEX_FILES]
    # A ledger beside the reports (where `fairaudit history` finds them) in an output folder
    # about to be created is new: nothing to check yet.
    ledger = manifest.ledger
    if ledger is not None and not manifest.output_dir.exists():
        ledger = None if ledger.parent.resolve() == manifest.output_dir.resolve() else ledger
    if ledger is not None:
        outputs.append(FileRole("ledger", ledger, "--ledger"))
    check_file_roles(outputs, inputs)
    if ledger is not None:
        check_ledger_appendable(ledger)
