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
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.spec import AuditSpec

__all__ = ["LOSSES", "REGRESSION_PROTOCOL", "regression_mitigations", "upper_bound"]

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


def _groups(sensitive: list[Any]) -> np.ndarray:
    """Return each row's intersection group (of ``EvaluationData.sensitive``) as text."""
    parts = [np.asarray(f.levels, dtype=object)[f.codes].astype(str) for f in sensitive]
    out = parts[0].astype(object)
    for part in parts[1:]:
        out = out + " × " + part
    return np.asarray(out, dtype=object)


def _training(
    spec: AuditSpec, columns: list[str]
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, Any]:
    """Return the training rows, target as float64, groups and the fitted model."""
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
    return train.frame, y, _groups(train.sensitive), estimator


def _variant(
    name: str, estimator: Any, x: pd.DataFrame, y: np.ndarray, groups: np.ndarray, seed: int
) -> tuple[Any, float]:
    """Return the ExponentiatedGradient fitted under BoundedGroupLoss with loss ``name`` and
    its upper bound; a clone's random states left unset get ``seed``, and a Pipeline's
    final step receives the sample weights."""
    from fairlearn.reductions import BoundedGroupLoss, ExponentiatedGradient
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    from fairaudit.mitigation._methods import seed_unset_random_states

    loss = _loss(name, float(y.min()), float(y.max()))
    bound = upper_bound(loss, y, np.asarray(estimator.predict(x), dtype=np.float64), groups)
    refit = clone(estimator)
    seed_unset_random_states(refit, seed)
    weight = (
        f"{refit.steps[-1][0]}__sample_weight" if isinstance(refit, Pipeline) else "sample_weight"
    )
    fitted = ExponentiatedGradient(
        refit, constraints=BoundedGroupLoss(loss, upper_bound=bound), sample_weight_name=weight
    )
    fitted.fit(x, y, sensitive_features=groups)
    return fitted, bound


def regression_mitigations(
    spec: AuditSpec,
    eval_frame: pd.DataFrame,
    columns: list[str],
    baseline: dict[str, Any],
    measure: Callable[[np.ndarray], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Return the ``mitigations`` entries: ``baseline`` (the audited model's numbers) then
    one entry per loss, each ``failed`` with its reason when the refit fails."""
    train, y, groups, estimator = _training(spec, columns)
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
        try:
            with warnings.catch_warnings():  # fairlearn 0.15's use of deprecated pandas
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                fitted, bound = _variant(name, estimator, train[columns], y, groups, spec.seed)
                pred = fitted.predict(x_eval, random_state=spec.seed).astype(np.float64)
        except Exception as exc:  # noqa: BLE001 - any refit failure is the variant's status
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            entries.append(entry | {"status": "failed", "reason": reason[:300]})
            continue
        entries.append(entry | {"status": "ok", "reason": None, "upper_bound": bound,
                                **measure(pred)})  # fmt: skip
    return entries
