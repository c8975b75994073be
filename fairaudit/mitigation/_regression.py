"""BoundedGroupLoss mitigation for a regression audit (issue 17).

With ``--train`` and a model, fairlearn's ``ExponentiatedGradient`` refits a clone of the
model (``sklearn.base.clone``) on the training rows under ``BoundedGroupLoss`` with
``AbsoluteLoss`` and with ``SquareLoss`` (their ``min_val``/``max_val`` the training
target's range), the groups being the intersection of every sensitive feature (one
feature: its groups). The bound ``upper_bound`` (zeta) is, in the loss's units, the
midpoint between the audited model's overall training loss and its worst group's
training loss: each variant is asked to halve the worst group's excess loss. The
variant's predictions (``predict(X, random_state=seed)``: exponentiated gradient's
predictions are randomized, so seeded) on the evaluation set are measured by the same
``measure`` function as the audited model. Post-processing does not apply to regression.

Each variant's entry also says how the bound fared on the training set (``training``): the
group with the largest loss before, that loss before and after (the expected loss of the
fitted randomized mixture, the quantity the constraint bounds), the largest group loss after
and whether it is within the bound (fairlearn's tolerance ``eps`` aside), so a worst group
that improves on training but is too small to be measured on the evaluation set is visible;
and ``seconds``, the wall time of the fit and the predictions, as the binary comparison
reports it (None in a reproducible run).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.mitigation._comparison import reported_seconds
from fairaudit.spec import AuditSpec

__all__ = [
    "LOSSES",
    "REGRESSION_PROTOCOL",
    "regression_mitigations",
    "training_check",
    "upper_bound",
]

#: The loss of each variant, by constraint name.
LOSSES = ("absolute", "square")
REGRESSION_PROTOCOL = (
    "ExponentiatedGradient refit a clone of the model on the training set, evaluated on "
    "the evaluation set; upper_bound: midpoint of the audited model's overall and worst "
    "group training loss"
)


def _loss(name: str, low: float, high: float) -> Any:
    from fairlearn.reductions import AbsoluteLoss, SquareLoss

    return AbsoluteLoss(low, high) if name == "absolute" else SquareLoss(low, high)


def upper_bound(loss: Any, y: np.ndarray, pred: np.ndarray, groups: np.ndarray) -> float:
    """Return the midpoint between the overall and the worst group's mean ``loss``."""
    values = np.asarray(loss.eval(y, pred), dtype=np.float64)
    worst = max(float(values[groups == g].mean()) for g in np.unique(groups))
    return (float(values.mean()) + worst) / 2


def training_check(
    fitted: Any, loss: Any, x: pd.DataFrame, y: np.ndarray, base: np.ndarray, groups: np.ndarray,
    bound: float,
) -> dict[str, Any]:  # fmt: skip
    """Return how the bound fared on the training rows: the audited model's worst group and
    its mean loss before and after, the largest group loss after and whether it is within
    ``bound`` (to rounding). After is the expected loss of ``fitted``'s mixture of
    predictors (``weights_``)."""
    weights = np.asarray(fitted.weights_, dtype=np.float64)
    after = np.zeros(len(y))
    for weight, predictor in zip(weights, fitted.predictors_):
        if weight > 0:
            after += weight * np.asarray(loss.eval(y, predictor.predict(x)), dtype=np.float64)
    before = np.asarray(loss.eval(y, base), dtype=np.float64)
    names = np.unique(groups)
    worst = max(names, key=lambda g: float(before[groups == g].mean()))
    largest = max(float(after[groups == g].mean()) for g in names)
    return {
        "worst_group": str(worst),
        "worst_group_loss_before": float(before[groups == worst].mean()),
        "worst_group_loss_after": float(after[groups == worst].mean()),
        "max_group_loss_after": largest,
        "within_bound": bool(largest <= bound + 1e-9 * max(abs(bound), 1.0)),
    }


def _groups(sensitive: list[Any]) -> np.ndarray:
    """Return each row's intersection group (of ``EvaluationData.sensitive``): one feature's
    level as text; for several, the levels' codes joined by ``|`` (names may hold any
    separator, codes cannot collide)."""
    if len(sensitive) == 1:
        return np.asarray(sensitive[0].levels, dtype=object)[sensitive[0].codes].astype(str)
    codes = [np.asarray(f.codes).astype(str).astype(object) for f in sensitive]
    out = codes[0]
    for part in codes[1:]:
        out = out + "|" + part
    return np.asarray(out, dtype=object)


def _group_of(sensitive: list[Any], groups: np.ndarray, key: str) -> dict[str, str]:
    """Return the group ``key`` of :func:`_groups` as {feature: level}."""
    row = int(np.flatnonzero(groups == key)[0])
    return {f.name: str(f.levels[f.codes[row]]) for f in sensitive}


def _training(
    spec: AuditSpec, columns: list[str]
) -> tuple[pd.DataFrame, np.ndarray, list[Any], Any]:
    """Return the training rows, target as float64, sensitive features and the model."""
    from fairaudit.data import load_evaluation_data
    from fairaudit.errors import ConfigError, DataError
    from fairaudit.models import model_predictions

    train_spec = replace(spec, data=spec.train, prediction_col=None, score_col=None)
    train = load_evaluation_data(train_spec, binary=False)
    missing = [c for c in columns if c not in train.frame.columns]
    if missing:
        raise ConfigError(
            f"training set '{spec.source_label('train')}' lacks the model's input columns: "
            f"{', '.join(map(repr, missing))}"
        )
    y = pd.to_numeric(pd.Series(train.y_true), errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(y).all():
        raise DataError("the training set's target has values that are not finite numbers")
    _, _, estimator = model_predictions(spec, train)
    return train.frame, y, list(train.sensitive), estimator


def _variant(
    name: str, estimator: Any, x: pd.DataFrame, y: np.ndarray, groups: np.ndarray, seed: int
) -> tuple[Any, float, dict[str, Any]]:
    """Return the ExponentiatedGradient fitted under BoundedGroupLoss with loss ``name``, its
    upper bound and its training check; a clone's random states left unset get ``seed``,
    and a Pipeline's final step receives the sample weights."""
    from fairlearn.reductions import BoundedGroupLoss, ExponentiatedGradient
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    from fairaudit.mitigation._methods import seed_unset_random_states

    if y.min() == y.max():
        raise ValueError(f"the training target is constant ({y[0]:g}): no group loss to bound")
    loss = _loss(name, float(y.min()), float(y.max()))
    base = np.asarray(estimator.predict(x), dtype=np.float64)
    bound = upper_bound(loss, y, base, groups)
    refit = clone(estimator)
    seed_unset_random_states(refit, seed)
    weight = (
        f"{refit.steps[-1][0]}__sample_weight" if isinstance(refit, Pipeline) else "sample_weight"
    )
    fitted = ExponentiatedGradient(
        refit, constraints=BoundedGroupLoss(loss, upper_bound=bound), sample_weight_name=weight
    )
    fitted.fit(x, y, sensitive_features=groups)
    return fitted, bound, training_check(fitted, loss, x, y, base, groups, bound)


def regression_mitigations(
    spec: AuditSpec,
    eval_frame: pd.DataFrame,
    columns: list[str],
    baseline: dict[str, Any],
    measure: Callable[[np.ndarray], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Return the ``mitigations`` entries: ``baseline`` (the audited model's numbers) then
    one entry per loss, each ``failed`` with its reason when the refit fails."""
    train, y, sensitive_rows, estimator = _training(spec, columns)
    groups = _groups(sensitive_rows)
    sensitive = tuple(spec.sensitive)
    x_eval = eval_frame[columns]
    base = {"method": "baseline", "constraint": None, "protocol": "audited model"}
    entries = [base | {"status": "ok", "reason": None, **baseline}]
    for name in LOSSES:
        entry: dict[str, Any] = {
            "method": "exponentiated_gradient",
            "constraint": f"bounded_group_loss_{name}",
            "protocol": REGRESSION_PROTOCOL,
            "sensitive_features": list(sensitive),
            "seconds": None,
        }
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():  # fairlearn 0.15's use of deprecated pandas
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                fitted, bound, check = _variant(name, estimator, train[columns], y, groups,
                                                spec.seed)  # fmt: skip
                pred = fitted.predict(x_eval, random_state=spec.seed).astype(np.float64)
        except Exception as exc:  # noqa: BLE001 - any refit failure is the variant's status
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            seconds = reported_seconds(time.perf_counter() - started)
            entries.append(entry | {"status": "failed", "reason": reason[:300], "seconds": seconds})
            continue
        seconds = reported_seconds(time.perf_counter() - started)
        check["worst_group"] = _group_of(sensitive_rows, groups, check["worst_group"])
        numbers = {"upper_bound": bound, "training": check, **measure(pred)}
        entries.append(entry | {"status": "ok", "reason": None, "seconds": seconds, **numbers})
    return entries
