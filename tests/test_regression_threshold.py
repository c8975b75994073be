"""The regression audit's favourable threshold (``--favorable-above T``/``--favorable-below T``)
and the options it needs (issue 17): how the flags and config keys are read, and each
misuse a one-line error; then ``--score-col CLASS=COL`` (multiclass class scores), whose
parsing lives beside it in the spec.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from fairaudit.errors import ConfigError
from fairaudit.spec import (
    MSG_CLASS_SCORES_TASK,
    MSG_ONE_SCORE_MULTICLASS,
    MSG_SCORE_CLASS_TWICE,
    MSG_SCORE_COLUMN_TWICE,
    MSG_SCORE_PAIR,
    MSG_THRESHOLD_BOTH,
    MSG_THRESHOLD_FINITE,
    MSG_THRESHOLD_TASK,
    FavorableThreshold,
    load_config,
)
from tests.conftest import AuditRun
from tests.test_spec import _spec  # data d.csv, target y, sensitive sex, prediction_col pred


def _config(tmp_path: Path, text: str) -> Path:
    """Return a config file of a binary-looking audit (d.csv, y, sex, p) plus ``text``."""
    config = tmp_path / "audit.toml"
    base = 'data = "d.csv"\ntarget = "y"\nsensitive = ["sex"]\nprediction_col = "p"\n'
    config.write_text(base + text, encoding="utf-8")
    return config


def _error(**options: Any) -> str:
    with pytest.raises(ConfigError) as error:
        _spec(**options)
    return str(error.value)


# --- options: --favorable-above / --favorable-below -------------------------------------


def test_threshold_is_read_and_recorded_only_when_given() -> None:
    spec = _spec(favorable_above=150)
    assert spec.favorable_threshold == FavorableThreshold(150.0, "above")
    assert isinstance(spec.favorable_above, float)
    assert spec.effective_config()["favorable_above"] == 150.0
    assert "favorable_below" not in spec.effective_config()
    below = _spec(favorable_below=-0.5, task="regression")
    assert below.favorable_threshold == FavorableThreshold(-0.5, "below")
    assert below.favorable_threshold.flag == "--favorable-below"  # type: ignore[union-attr]
    plain = _spec().effective_config()
    assert not {"favorable_above", "favorable_below", "class_scores"} & set(plain)
    # A threshold changes the audit's options, so its id; zero is a threshold too.
    assert _spec(favorable_above=0).effective_config()["favorable_above"] == 0.0


def test_threshold_misuse_is_one_line() -> None:
    assert _error(favorable_above=1, favorable_below=2) == MSG_THRESHOLD_BOTH
    for value in (math.nan, math.inf, -math.inf):
        assert _error(favorable_above=value) == MSG_THRESHOLD_FINITE.format(
            flag="--favorable-above", value=value
        )
    assert _error(favorable_below=math.nan) == "--favorable-below must be a finite number, not nan"
    for task in ("binary", "multiclass"):
        assert _error(favorable_above=1, task=task) == MSG_THRESHOLD_TASK.format(
            flag="--favorable-above", task=task
        )
    # --positive-label makes the audit binary before any data is read.
    assert _error(favorable_below=1, positive_label="yes") == MSG_THRESHOLD_TASK.format(
        flag="--favorable-below", task="binary"
    )
    assert _error(favorable_above=1, favorable_label="good") == (
        "--favorable-label names a favourable class (classification) and --favorable-above "
        "a favourable prediction (regression): drop one"
    )
    assert _error(favorable_above="150") == "favorable_above must be a number, not '150'"
    assert _error(favorable_above=True) == "favorable_above must be a number, not True"


def test_threshold_from_the_config_file(tmp_path: Path) -> None:
    config = _config(tmp_path, "favorable_below = 0.25\n")
    assert load_config(config).favorable_threshold == FavorableThreshold(0.25, "below")
    config = _config(tmp_path, "favorable_above = 100\n")
    assert load_config(config).favorable_above == 100.0
    # The flag wins over the config, as every flag does; both kinds given is refused.
    assert load_config(config, {"favorable_above": 7.5}).favorable_above == 7.5
    with pytest.raises(ConfigError, match=MSG_THRESHOLD_BOTH):
        load_config(config, {"favorable_below": 7.5})
    config = _config(tmp_path, 'favorable_above = "high"\n')
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert str(error.value) == (
        f"config file '{config}': favorable_above must be a number, e.g. favorable_above = 150"
    )
    with pytest.raises(ConfigError, match="favorable-above must be a finite number, not nan"):
        load_config(_config(tmp_path, "favorable_above = nan\n"))


def test_threshold_flags_on_the_command_line(
    audit_cli: Any, scored_csv: Path, write_csv: Any
) -> None:
    run: AuditRun = audit_cli(scored_csv, "--target", "y", "--prediction-col", "pred",
                              "--favorable-above", "0.5")  # fmt: skip
    # The binary label is decided from the data: the flag to drop is named after reading.
    run.assert_error(MSG_THRESHOLD_TASK.format(flag="--favorable-above", task="binary"))
    run = audit_cli(scored_csv, "--target", "y", "--prediction-col", "pred",
                    "--favorable-below", "nan")  # fmt: skip
    run.assert_error(MSG_THRESHOLD_FINITE.format(flag="--favorable-below", value="nan"))
    run = audit_cli(scored_csv, "--target", "y", "--prediction-col", "pred",
                    "--favorable-below", "1", "--favorable-above", "2")  # fmt: skip
    run.assert_error(MSG_THRESHOLD_BOTH)
    rows = [(("low", "mid", "high")[i % 3], ("low", "mid", "high")[i % 2], ("a", "b")[i % 2])
            for i in range(60)]  # fmt: skip
    classes = write_csv("classes.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(classes, "--target", "y", "--prediction-col", "pred",
                    "--favorable-above", "1")  # fmt: skip
    run.assert_error(MSG_THRESHOLD_TASK.format(flag="--favorable-above", task="multiclass"))


# --- options: --score-col CLASS=COL ------------------------------------------------------


def test_one_plain_score_column_keeps_its_meaning() -> None:
    assert _spec(score_col="p").score_col == "p"
    # One value is a column name even with '=' in it, unless the task is multiclass.
    spec = _spec(score_col="p(y=1)")
    assert (spec.score_col, spec.class_scores) == ("p(y=1)", ())
    assert "class_scores" not in spec.effective_config()
    spec = _spec(score_col="approved=p_approved", task="multiclass")
    assert (spec.score_col, spec.class_scores) == (None, (("approved", "p_approved"),))


def test_class_scores_from_every_form() -> None:
    expected = (("approved", "p(y=approved)"), ("denied", "p_denied"))
    # Split at the first '=': the column name may hold one, the class label may not.
    for given in (
        ["approved=p(y=approved)", "denied=p_denied"],
        {"approved": "p(y=approved)", "denied": "p_denied"},
        (("approved", "p(y=approved)"), ("denied", "p_denied")),
    ):
        spec = _spec(score_col=given)
        assert (spec.score_col, spec.class_scores) == (None, expected)
        assert _spec(class_scores=given).class_scores == expected
    config = _spec(score_col=list(expected), task="multiclass").effective_config()
    assert config["class_scores"] == {"approved": "p(y=approved)", "denied": "p_denied"}
    assert config["score_col"] is None


def test_class_score_misuse_is_one_line() -> None:
    assert _error(score_col=["a=pa", "b"]) == MSG_SCORE_PAIR.format(item="b")
    assert _error(score_col=["=pa", "b=pb"]) == MSG_SCORE_PAIR.format(item="=pa")
    assert _error(score_col=["a=", "b=pb"]) == MSG_SCORE_PAIR.format(item="a=")
    assert _error(score_col=["a=pa", "a=pb"]) == MSG_SCORE_CLASS_TWICE.format(name="a")
    assert _error(score_col=["a=p", "b=p"]) == MSG_SCORE_COLUMN_TWICE.format(name="p")
    assert _error(score_col=["a=pa", "b=y"]) == (
        "column 'y' is given two roles (--target and --score-col); each column has one role"
    )
    assert _error(score_col=["a=pa", "b=pb"], task="binary") == MSG_CLASS_SCORES_TASK.format(
        task="binary"
    )
    assert _error(score_col=["a=pa", "b=pb"], task="regression") == (
        MSG_CLASS_SCORES_TASK.format(task="regression")
    )
    assert _error(score_col="p", task="multiclass") == MSG_ONE_SCORE_MULTICLASS.format(column="p")
    assert _error(score_col=["a=pa"], model="m.skops", prediction_col=None) == (
        "--score-col goes with --prediction-col; with --model the scores come from the model"
    )
    assert _error(score_col="x", class_scores=["a=pa"]) == (
        "class scores are given twice (score_col and class_scores): give one"
    )


def test_class_scores_from_the_config_file(tmp_path: Path) -> None:
    table = 'score_col = { approved = "p_approved", "with=sign" = "p2" }\n'
    assert load_config(_config(tmp_path, table)).class_scores == (
        ("approved", "p_approved"),
        ("with=sign", "p2"),
    )
    listed = _config(tmp_path, 'score_col = ["approved=p_approved", "denied=p_d"]\n')
    assert load_config(listed).class_scores == (("approved", "p_approved"), ("denied", "p_d"))
    config = _config(tmp_path, 'task = "multiclass"\nscore_col = "approved=p_a"\n')
    assert load_config(config).class_scores == (("approved", "p_a"),)
    # Several flags override the config's scores.
    assert load_config(config, {"score_col": ("a=pa", "b=pb")}).class_scores == (
        ("a", "pa"),
        ("b", "pb"),
    )
    config = _config(tmp_path, "score_col = { approved = 1 }\n")
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert str(error.value) == (
        f"config file '{config}': score_col must be a column name, a table of class = column "
        '(e.g. score_col = { approved = "p_approved" }) or a list of "CLASS=COL"'
    )


def test_class_scores_on_the_command_line(audit_cli: Any, scored_csv: Path) -> None:
    run: AuditRun = audit_cli(scored_csv, "--target", "y", "--prediction-col", "pred",
                              "--score-col", "1=p1", "--score-col", "0=p0")  # fmt: skip
    run.assert_error(MSG_CLASS_SCORES_TASK.format(task="binary"))
    run = audit_cli(scored_csv, "--target", "y", "--prediction-col", "pred",
                    "--score-col", "a=p", "--score-col", "b=p")  # fmt: skip
    run.assert_error(MSG_SCORE_COLUMN_TWICE.format(name="p"))


def test_a_score_flag_replaces_the_config_files_scores(tmp_path: Path) -> None:
    config = _config(tmp_path, 'class_scores = { a = "pa", b = "pb" }\n')
    assert load_config(config).class_scores == (("a", "pa"), ("b", "pb"))
    spec = load_config(config, {"score_col": "s"})  # one plain flag: a binary score column
    assert (spec.score_col, spec.class_scores) == ("s", ())
