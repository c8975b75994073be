"""AuditSpec: every option of one audit, from a TOML config plus overrides, validated once."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from fairaudit.errors import ConfigError
from fairaudit.paths import FileRole, read_toml_file
from fairaudit.spec._values import (
    ADDED_LATER,
    MEMORY_DATA,
    MSG_CLASS_SCORES_TASK,
    MSG_ONE_SCORE_MULTICLASS,
    MSG_SCORE_CLASS_TWICE,
    MSG_SCORE_COLUMN_TWICE,
    MSG_SCORE_PAIR,
    MSG_SCORE_REGRESSION,
    MSG_SCORES_TWICE,
    MSG_THRESHOLD_AND_LABEL,
    MSG_THRESHOLD_BOTH,
    MSG_THRESHOLD_FINITE,
    MSG_THRESHOLD_TASK,
    PATH_KEYS,
    FavorableThreshold,
    as_frame,
    as_model,
    as_number,
    class_score_pairs,
    in_memory,
    names,
    normalise_value,
)
from fairaudit.vocabulary import BAD_CONFIDENCE, BAD_RESAMPLES, MAX_GROUPS

__all__ = [
    "MITIGATION_DETAILS",
    "MSG_CLASS_SCORES_TASK",
    "MSG_ONE_SCORE_MULTICLASS",
    "MSG_SCORE_CLASS_TWICE",
    "MSG_SCORE_COLUMN_TWICE",
    "MSG_SCORE_PAIR",
    "MSG_SCORE_REGRESSION",
    "MSG_THRESHOLD_BOTH",
    "MSG_THRESHOLD_FINITE",
    "MSG_THRESHOLD_TASK",
    "AuditSpec",
    "FavorableThreshold",
    "MissingSensitive",
    "MEMORY_DATA",
    "MitigationDetail",
    "class_score_pairs",
    "in_memory",
    "load_config",
    "merge_layer",
    "normalise_options",
]

MissingSensitive = Literal["error", "group", "drop"]
_MISSING_CHOICES = ("error", "group", "drop")
MitigationDetail = Literal["summary", "full"]
#: How much of each mitigation variant the result keeps: ``summary`` (its counts and
#: metrics per group, overall and headline numbers) or ``full`` (also its disparity table
#: and every group's intervals).
MITIGATION_DETAILS: tuple[MitigationDetail, ...] = ("summary", "full")


@dataclass(frozen=True)
class AuditSpec:
    """Options of one audit. Build with ``AuditSpec(...)`` or :func:`load_config`.

    ``data`` is the evaluation set: a CSV or Parquet file, or a DataFrame in memory
    (pandas; polars and pyarrow tables are converted). Either ``model`` (a fitted
    classifier file, or the fitted estimator object) or ``prediction_col`` (precomputed
    predictions) must be given. ``train`` is a file or a DataFrame too; with one,
    ``training_data`` (on by default) adds the data audit of the training set to the result.
    """

    data: Path | Any
    target: str
    sensitive: tuple[str, ...]
    model: Path | Any | None = None
    prediction_col: str | None = None
    score_col: str | None = None
    positive_label: str | None = None
    #: One label value; a multiclass audit may name several favourable classes (a tuple).
    favorable_label: str | tuple[str, ...] | None = None
    id_cols: tuple[str, ...] = ()
    features: tuple[str, ...] | None = None
    bins: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    missing_sensitive: MissingSensitive = "error"
    min_group_size: int = 30
    min_denominator: int = 10
    reference: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None
    model_version: str | None = None
    seed: int = 0
    allow_unsafe_pickle: bool = False
    trust_types: tuple[str, ...] = ()
    intervals: bool = True
    confidence: float = 0.95
    resamples: int = 1000
    train: Path | Any | None = None
    training_data: bool = True
    mitigations: tuple[str, ...] | None = None
    mitigate_on: tuple[str, ...] = ()
    mitigation_folds: int = 5
    mitigation_detail: MitigationDetail = "summary"
    jobs: int | None = None
    engine: Literal["auto", "numpy", "duckdb", "spark"] = "auto"
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    spark_master: str | None = None
    verbose: bool = False
    policy: tuple[str, ...] = ()
    fail_on: Literal["fail", "warn"] = "fail"
    not_evaluable: Literal["warn", "fail"] | None = None
    owner: str | None = None
    intended_use: str | None = None
    dataset_name: str | None = None
    dataset_type: str | None = None
    max_groups: int = MAX_GROUPS
    #: Multiclass scores: ``(class label, score column)`` pairs (``--score-col CLASS=COL``).
    class_scores: tuple[tuple[str, str], ...] = ()
    #: Regression: a prediction above (or below) this is the favourable outcome.
    favorable_above: float | None = None
    favorable_below: float | None = None

    def __post_init__(self) -> None:
        # Accept plain strings and lists from Python callers; store one canonical form.
        coerce = object.__setattr__
        coerce(self, "data", as_frame(self.data, "data"))
        if self.model is not None:
            coerce(self, "model", as_model(self.model))
        if self.train is not None:
            coerce(self, "train", as_frame(self.train, "train"))
        if self.mitigations is not None:
            coerce(self, "mitigations", names(self.mitigations))
        for name in ("mitigate_on", "sensitive", "id_cols", "trust_types", "policy"):
            coerce(self, name, names(getattr(self, name)))
        if self.features is not None:
            coerce(self, "features", tuple(self.features))
        coerce(self, "bins", {k: tuple(float(e) for e in v) for k, v in self.bins.items()})
        coerce(self, "reference", {str(k): str(v) for k, v in self.reference.items()})
        self._read_scores()
        for name in ("favorable_above", "favorable_below"):
            if getattr(self, name) is not None:
                coerce(self, name, as_number(getattr(self, name), name))
        self.validate()

    def _read_scores(self) -> None:
        """Store ``score_col`` as given, or as ``class_scores`` (see :func:`class_score_pairs`)
        when it is a table or several values, or one ``CLASS=COL`` with ``task="multiclass"``."""
        coerce = object.__setattr__
        score = self.score_col
        if score is not None and self.class_scores:
            raise ConfigError(MSG_SCORES_TWICE)
        if score is not None and (
            not isinstance(score, str) or (self.task == "multiclass" and "=" in score)
        ):
            coerce(self, "class_scores", score)
            coerce(self, "score_col", None)
        if self.class_scores:
            coerce(self, "class_scores", class_score_pairs(self.class_scores))

    def validate(self) -> None:
        """Raise ConfigError for an inconsistent combination of options."""
        self._check_roles()
        self._check_sources()
        self._check_choices()
        self._check_ranges()
        self._check_features()

    def _check_roles(self) -> None:
        """Each column has one role; the target is named."""
        if not self.target:
            raise ConfigError("no target column: pass --target COL (the label column)")
        roles: dict[str, str] = {}
        for flag, columns in (
            ("--target", (self.target,)),
            ("--sensitive", self.sensitive),
            ("--prediction-col", (self.prediction_col,) if self.prediction_col else ()),
            ("--score-col", (self.score_col,) if self.score_col else ()),
            ("--score-col", tuple(column for _, column in self.class_scores)),
            ("--id-col", self.id_cols),
        ):
            for column in columns:
                if column in roles and roles[column] != flag:
                    raise ConfigError(
                        f"column {column!r} is given two roles ({roles[column]} and {flag}); "
                        "each column has one role"
                    )
                roles[column] = flag

    def _check_sources(self) -> None:
        """Seed and sizes in range; sensitive features named once; one source of predictions."""
        if not 0 <= self.seed < 2**53:
            raise ConfigError(f"seed must be a whole number from 0 to 2**53 - 1, not {self.seed}")
        if self.min_group_size >= 2**53:
            raise ConfigError("min_group_size is too large")
        if not 0 <= self.min_denominator < 2**53:
            raise ConfigError("min_denominator must be a whole number from 0 to 2**53 - 1")
        if self.resamples > 1_000_000:
            raise ConfigError(
                f"resamples must be at most 1,000,000 (more adds time, not accuracy), "
                f"not {self.resamples}"
            )
        if not self.sensitive:
            raise ConfigError("no sensitive feature: pass --sensitive COL (repeatable)")
        if len(set(self.sensitive)) != len(self.sensitive):
            raise ConfigError("a sensitive feature is named twice: name each column once")
        if self.model is None and self.prediction_col is None:
            raise ConfigError(
                "nothing to audit: pass --model PATH, or --prediction-col COL for "
                "precomputed predictions"
            )
        if self.model is not None and self.prediction_col is not None:
            raise ConfigError("pass either --model or --prediction-col, not both")
        if self.model is not None and (self.score_col is not None or self.class_scores):
            raise ConfigError(
                "--score-col goes with --prediction-col; with --model the scores come "
                "from the model"
            )

    def _check_choices(self) -> None:
        """Options with a fixed set of values, and the mitigation settings."""
        if self.missing_sensitive not in _MISSING_CHOICES:
            raise ConfigError(
                f"missing_sensitive must be one of {', '.join(_MISSING_CHOICES)}, "
                f"not {self.missing_sensitive!r}"
            )
        if self.mitigation_detail not in MITIGATION_DETAILS:
            raise ConfigError(
                f"mitigation_detail must be one of {', '.join(MITIGATION_DETAILS)}, "
                f"not {self.mitigation_detail!r}"
            )
        if self.mitigation_folds < 2:
            raise ConfigError("mitigation_folds must be at least 2 (fit on k-1 folds, score one)")
        if self.jobs is not None and self.jobs < 1:
            raise ConfigError("jobs must be a whole number of at least 1")
        for feature in self.mitigate_on:
            if feature not in self.sensitive:
                raise ConfigError(
                    f"mitigate_on names {feature!r}, which is not a sensitive feature "
                    f"({', '.join(self.sensitive)})"
                )
        if self.mitigations:
            from fairaudit.vocabulary import MITIGATION_METHODS

            unknown = [m for m in self.mitigations if m not in MITIGATION_METHODS]
            if unknown:
                raise ConfigError(
                    f"unknown mitigation {', '.join(map(repr, unknown))}; choose from "
                    f"{', '.join(MITIGATION_METHODS)}"
                )
        if self.engine not in ("auto", "numpy", "duckdb", "spark"):
            raise ConfigError(
                f"unknown engine {self.engine!r}; choose one of numpy, duckdb, spark, auto"
            )
        if self.task not in ("auto", "binary", "multiclass", "regression"):
            raise ConfigError(
                f"unknown task {self.task!r}; use --task auto, binary, multiclass or regression"
            )
        if self.fail_on not in ("fail", "warn"):
            raise ConfigError(f"fail_on must be 'fail' or 'warn', not {self.fail_on!r}")
        if self.not_evaluable not in (None, "warn", "fail"):
            raise ConfigError(f"not_evaluable must be 'warn' or 'fail', not {self.not_evaluable!r}")

    def _check_ranges(self) -> None:
        """Numbers with a lower bound."""
        if not 0 < self.confidence < 1:
            raise ConfigError(BAD_CONFIDENCE.format(value=self.confidence))
        if self.resamples < 100:
            raise ConfigError(BAD_RESAMPLES.format(value=self.resamples))
        if self.min_group_size < 1:
            raise ConfigError("min_group_size must be a whole number of at least 1")
        if self.max_groups < 1:
            raise ConfigError("max_groups must be a whole number of at least 1")
        threshold = self.favorable_threshold  # checks that it is finite and given once
        if threshold is not None and self.favorable_label is not None:
            raise ConfigError(MSG_THRESHOLD_AND_LABEL.format(flag=threshold.flag))
        # The task is known now when it is given, or when --positive-label makes it binary.
        known = self.positive_label is not None and self.task == "auto"
        if self.task != "auto" or known:
            self.check_task("binary" if known else self.task)

    @property
    def favorable_threshold(self) -> FavorableThreshold | None:
        """Return the regression audit's favourable threshold, or None when none is given."""
        pairs: tuple[tuple[float | None, Literal["above", "below"]], ...] = (
            (self.favorable_above, "above"),
            (self.favorable_below, "below"),
        )
        given = [FavorableThreshold(value, side) for value, side in pairs if value is not None]
        if len(given) > 1:
            raise ConfigError(MSG_THRESHOLD_BOTH)
        for threshold in given:
            if not math.isfinite(threshold.value):
                raise ConfigError(
                    MSG_THRESHOLD_FINITE.format(flag=threshold.flag, value=threshold.value)
                )
        return given[0] if given else None

    @property
    def may_retrain(self) -> bool:
        """Return whether the mitigation comparison may retrain the model, at the default jobs.

        Then the command line lends the audit one worker process from the start
        (``runtime.lend_worker``): it imports scikit-learn and fairlearn on the other core
        while this one reads the data and loads the model, and the retraining fits
        (ExponentiatedGradient: seconds each) run in it and in this process at once.
        """
        return (
            self.jobs is None
            and isinstance(self.model, Path)
            and isinstance(self.train, Path)
            and self.mitigations != ()
            and self.engine in ("auto", "numpy")
        )

    def check_task(self, task: str) -> None:
        """Raise ConfigError for an option the audit's task (given or decided) does not take:
        a favourable threshold outside regression, class scores outside multiclass, one
        plain score column in a multiclass audit, a score column in a regression audit."""
        threshold = self.favorable_threshold
        if threshold is not None and task != "regression":
            raise ConfigError(MSG_THRESHOLD_TASK.format(flag=threshold.flag, task=task))
        if self.class_scores and task != "multiclass":
            raise ConfigError(MSG_CLASS_SCORES_TASK.format(task=task))
        if self.score_col is not None and task == "multiclass":
            raise ConfigError(MSG_ONE_SCORE_MULTICLASS.format(column=self.score_col))
        if self.score_col is not None and task == "regression":
            raise ConfigError(MSG_SCORE_REGRESSION.format(column=self.score_col))

    def _check_features(self) -> None:
        """Reference groups and bins name sensitive features; bin edges increase."""
        for feature in self.reference:
            if feature not in self.sensitive:
                raise ConfigError(
                    f"--reference names {feature!r}, which is not a sensitive feature "
                    f"({', '.join(self.sensitive)})"
                )
        for feature, edges in self.bins.items():
            if feature not in self.sensitive:
                raise ConfigError(
                    f"bins are given for {feature!r}, which is not a sensitive feature"
                )
            if (
                not edges
                or not all(math.isfinite(e) for e in edges)
                or any(b <= a for a, b in zip(edges, edges[1:]))
            ):
                raise ConfigError(
                    f"bins for {feature!r} must be increasing finite numbers, e.g. "
                    f"{feature} = [25, 40, 60]"
                )

    def effective_config(self) -> dict[str, Any]:
        """Return the options as plain JSON values, for the report's lineage section."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("jobs", "max_groups", "spark_master", "verbose"):
                continue  # they change no number: keep audit ids equal
            if f.name == "task" and self.task == "auto":
                continue  # audit.task says what auto decided; binary ids stay as they were
            value = getattr(self, f.name)
            if f.name in ADDED_LATER and value in (None, ()):
                continue  # not given: audit ids stay as they were before the option existed
            if f.name == "class_scores":
                value = dict(value)
            if f.name in PATH_KEYS and in_memory(value):
                value = self.source_label(f.name)
            elif isinstance(value, Path):
                value = value.as_posix()
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}
            out[f.name] = value
        return out

    def input_files(self) -> list[FileRole]:
        """Return every file this audit reads: data, model, training set, policy layers."""
        roles = []
        if isinstance(self.data, Path) and not str(self.data).startswith("spark:"):
            roles.append(FileRole("data file", self.data))  # a Spark table is not a file
        if isinstance(self.model, Path):
            roles.append(FileRole("model file", self.model))
        if isinstance(self.train, Path):
            roles.append(FileRole("training file", self.train))
        roles += [
            FileRole("policy file", Path(p)) for p in self.policy if not p.startswith("preset:")
        ]
        return roles

    def source_label(self, key: str) -> str:
        """Return how messages name ``data``, ``model`` or ``train``: its path, or what it is
        when it is in memory (``in-memory DataFrame``, ``in-memory LogisticRegression``)."""
        value = getattr(self, key)
        if not in_memory(value):
            return str(value)
        return MEMORY_DATA if key != "model" else f"in-memory {type(value).__name__}"

    def default_name(self) -> str:
        """Return the audit's name: ``name``, else the model or data file's stem, else the
        in-memory estimator's class name."""
        if self.name:
            return self.name
        for source in (self.model, self.data):
            if isinstance(source, Path):
                return source.stem
        if self.model is not None:
            return type(self.model).__name__
        return "audit"

    def with_overrides(self, **overrides: Any) -> AuditSpec:
        """Return a copy with the given options replaced (``None`` values are ignored), as
        :func:`merge_layer` puts them: a favourable threshold replaces the other direction's."""
        options = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        merge_layer(options, {k: v for k, v in overrides.items() if v is not None})
        return type(self)(**options)


_FIELD_NAMES = {f.name for f in fields(AuditSpec)}
#: Options that name one thing between them: a layer giving one replaces them all.
_REPLACED_TOGETHER = (("score_col", "class_scores"), ("favorable_above", "favorable_below"))


def merge_layer(options: dict[str, Any], layer: Mapping[str, Any]) -> None:
    """Put ``layer``'s options over ``options`` (a lower layer: a config under the command
    line, a batch manifest's shared defaults under an audit's keys). A layer that names the
    scores or the favourable threshold replaces the lower layer's in either form or
    direction: ``--favorable-below`` overrides a config's ``favorable_above``; both in one
    layer stays an error (``AuditSpec``)."""
    for group in _REPLACED_TOGETHER:
        if set(group) & set(layer):
            for key in group:
                options.pop(key, None)
    options.update(layer)


def normalise_options(options: dict[str, Any], source: str, base: Path | None) -> dict[str, Any]:
    """Return options with the types AuditSpec wants; raise ConfigError naming the key."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key not in _FIELD_NAMES:
            raise ConfigError(
                f"{source}: unknown option {key!r}; known options: "
                f"{', '.join(sorted(_FIELD_NAMES))}"
            )
        if value is None:
            continue
        out[key] = normalise_value(key, value, source, base)
    return out


def load_config(path: Path | None, overrides: Mapping[str, Any] | None = None) -> AuditSpec:
    """Return the AuditSpec of a TOML config file with ``overrides`` (e.g. CLI flags) on top.

    ``None`` values and empty tuples in ``overrides`` mean "not given" and keep the
    config's value.
    """
    options: dict[str, Any] = {}
    if path is not None:
        raw, _ = read_toml_file(path, "config file")
        options.update(normalise_options(raw, f"config file '{path}'", Path(path).parent))
    given = {k: v for k, v in (overrides or {}).items() if v is not None and v != () and v != {}}
    merge_layer(options, normalise_options(given, "command line", None))
    missing = [k for k in ("data", "target") if k not in options]
    if missing:
        what = {
            "data": "the evaluation data (DATA argument or data = ...)",
            "target": "the label column (--target COL)",
        }
        raise ConfigError("missing " + " and ".join(what[k] for k in missing))
    options.setdefault("sensitive", ())
    return AuditSpec(**options)
