"""Which outcome is favourable: the direction of harm that every judgement of an audit follows.

A binary classifier predicts the positive label or the other one. For a hiring or lending
model the positive prediction ("hire", "approve") is usually what the person wants; for a
recidivism, fraud or default model the positive prediction ("will reoffend", "fraud") is the
harm. ``favorable_label`` (AIF360's name) says which label value is good for the person.
Metric values and fairlearn's names never change with it; what changes is the reading:
who is worse off, and the four-fifths ratio, which the EEOC rule computes on the rate of the
favourable outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fairaudit.errors import DataError

__all__ = [
    "ADVERSE",
    "FAVORABLE",
    "MSG_FAVORABLE_NOT_A_LABEL",
    "Direction",
    "resolve_direction",
    "same_label",
]

FAVORABLE = "favorable"
ADVERSE = "adverse"

MSG_FAVORABLE_NOT_A_LABEL = (
    "favorable label {label!r} is not a value of the label column {column!r} (values: "
    "{values}); pass the label value that is good for the person, e.g. --favorable-label "
    "{example}"
)

_TRUE, _FALSE = ("true", "1"), ("false", "0")


def _canonical(text: str) -> str:
    """Return a label's text with booleans as 1/0 and integral numbers without '.0'."""
    folded = text.strip().lower()
    if folded in _TRUE:
        return "1"
    if folded in _FALSE:
        return "0"
    try:
        number = float(folded)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def same_label(a: str, b: str) -> bool:
    """Return whether two label texts name one value: 'yes' = 'yes', '1' = '1.0' = 'True'."""
    return a == b or _canonical(a) == _canonical(b)


@dataclass(frozen=True)
class Direction:
    """Whether a positive prediction is the favourable outcome for the person.

    ``label`` is the favourable label as given (None: the positive label, the default).
    """

    positive_favorable: bool = True
    label: str | None = None

    @property
    def positive_prediction(self) -> str:
        """Return ``"favorable"`` or ``"adverse"``: what a positive prediction means."""
        return FAVORABLE if self.positive_favorable else ADVERSE

    @property
    def worse_off_metrics(self) -> tuple[str, str]:
        """Return the metrics whose worst group is worse off, in report order.

        The selection rate (how often the favourable outcome is given: its lowest group, or
        with an adverse positive its highest) and the rate among people whose label is the
        favourable one (the true positive rate's lowest group, or with an adverse positive
        the false positive rate's highest: flagged although their label is favourable).
        """
        if self.positive_favorable:
            return ("selection_rate", "true_positive_rate")
        return ("selection_rate", "false_positive_rate")

    def favorable_rate(self, value: float) -> float:
        """Return the rate of the favourable outcome of a worse-off metric's ``value``."""
        return value if self.positive_favorable else 1.0 - value

    def to_json(self) -> dict[str, str | None]:
        """Return ``{favorable_label, positive_prediction}`` for the result's audit section."""
        return {"favorable_label": self.label, "positive_prediction": self.positive_prediction}


def resolve_direction(
    favorable_label: str | None,
    positive_label: str | None,
    label_values: Sequence[str],
    *,
    column: str,
) -> Direction:
    """Return the Direction of ``favorable_label`` among the label column's values.

    Without ``positive_label`` the labels are 0/1 or booleans and 1 (True) is positive.
    Raises DataError naming the column and its values when ``favorable_label`` is neither
    the positive label nor another value of the column.
    """
    if favorable_label is None:
        return Direction()
    positive = positive_label if positive_label is not None else "1"
    if same_label(favorable_label, positive):
        return Direction(True, favorable_label)
    others = [v for v in label_values if not same_label(v, positive)]
    if not others:
        # One class only: the other class is absent, and any other value names it (0/1
        # labels: only 0 or false can).
        if positive_label is not None or same_label(favorable_label, "0"):
            return Direction(False, favorable_label)
        others = ["0"]
    if any(same_label(favorable_label, v) for v in others):
        return Direction(False, favorable_label)
    shown = ", ".join(repr(v) for v in label_values) or "none"
    example = others[0] if others else positive
    raise DataError(
        MSG_FAVORABLE_NOT_A_LABEL.format(
            label=favorable_label, column=column, values=shown, example=example
        )
    )
