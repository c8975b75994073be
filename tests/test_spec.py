"""AuditSpec and load_config (fairaudit.spec): precedence, paths, the files an audit reads.

The command-line tests (test_cli.py) reach these through ``fairaudit run``; here the
library is called directly, with the exact messages a user would see.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fairaudit.errors import ConfigError
from fairaudit.spec import AuditSpec, load_config


def _spec(**options: object) -> AuditSpec:
    base: dict[str, object] = {
        "data": "d.csv",
        "target": "y",
        "sensitive": ("sex",),
        "prediction_col": "pred",
    }
    return AuditSpec(**{**base, **options})  # type: ignore[arg-type]


def test_flags_override_the_config_and_paths_are_relative_to_it(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "audit.toml"
    config.parent.mkdir()
    config.write_text(
        'data = "eval.csv"\ntarget = "y"\nsensitive = ["sex"]\nprediction_col = "p"\n'
        'seed = 3\npolicy = ["team.toml", "preset:four-fifths"]\n',
        encoding="utf-8",
    )
    spec = load_config(config, {"seed": 7, "name": None, "sensitive": ()})
    assert spec.seed == 7  # the flag wins
    assert spec.sensitive == ("sex",)  # an empty flag keeps the config's value
    assert spec.data == config.parent / "eval.csv"
    assert spec.policy == ((config.parent / "team.toml").as_posix(), "preset:four-fifths")


def test_input_files_name_every_file_read(tmp_path: Path) -> None:
    spec = _spec(
        data=tmp_path / "d.csv",
        prediction_col=None,
        model=tmp_path / "m.skops",
        train=tmp_path / "t.csv",
        policy=("p.toml", "preset:four-fifths"),
    )
    assert [(r.what, r.path) for r in spec.input_files()] == [
        ("data file", tmp_path / "d.csv"),
        ("model file", tmp_path / "m.skops"),
        ("training file", tmp_path / "t.csv"),
        ("policy file", Path("p.toml")),  # a preset is no file of the user's
    ]
    assert _spec(data="spark:db.table").input_files() == []  # a Spark table is no file


def test_effective_config_leaves_out_what_changes_no_number() -> None:
    config = _spec(jobs=4, max_groups=10).effective_config()
    assert "jobs" not in config and "max_groups" not in config
    assert config["data"] == "d.csv" and config["sensitive"] == ["sex"]
    assert _spec(jobs=1).effective_config() == _spec(jobs=2).effective_config()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"target": ""}, "no target column: pass --target COL (the label column)"),
        (
            {"sensitive": ("y",)},
            "column 'y' is given two roles (--target and --sensitive); each column has one role",
        ),
        ({"sensitive": ()}, "no sensitive feature: pass --sensitive COL (repeatable)"),
        (
            {"model": "m.skops"},
            "pass either --model or --prediction-col, not both",
        ),
        (
            {"mitigation_folds": 1},
            "mitigation_folds must be at least 2 (fit on k-1 folds, score one)",
        ),
        (
            {"mitigation_detail": "all"},
            "mitigation_detail must be one of summary, full, not 'all'",
        ),
        (
            {"confidence": 1.0},
            "confidence must be strictly between 0 and 1 (e.g. 0.95), not 1.0",
        ),
        (
            {"bins": {"age": (1.0,)}},
            "bins are given for 'age', which is not a sensitive feature",
        ),
        (
            {"reference": {"age": "x"}},
            "--reference names 'age', which is not a sensitive feature (sex)",
        ),
    ],
)
def test_validate_names_the_option_at_fault(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _spec(**options)
    assert str(raised.value) == message


def test_with_overrides_ignores_none() -> None:
    spec = _spec(seed=5)
    assert spec.with_overrides(seed=None, name="x").seed == 5
    assert spec.with_overrides(seed=9).seed == 9


def test_mitigation_detail_comes_from_the_config_or_the_flag(tmp_path: Path) -> None:
    config = tmp_path / "audit.toml"
    config.write_text(
        'data = "eval.csv"\ntarget = "y"\nsensitive = ["sex"]\nprediction_col = "p"\n'
        'mitigation_detail = "full"\n',
        encoding="utf-8",
    )
    assert _spec().mitigation_detail == "summary"  # the default
    assert load_config(config).mitigation_detail == "full"
    assert load_config(config, {"mitigation_detail": "summary"}).mitigation_detail == "summary"
    # It changes the JSON, so the result records it (and the audit id depends on it).
    assert load_config(config).effective_config()["mitigation_detail"] == "full"
    bad = tmp_path / "bad.toml"
    bad.write_text('data = "e.csv"\ntarget = "y"\nmitigation_detail = 2\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(bad)
    assert str(raised.value) == f"config file '{bad}': mitigation_detail must be a string"
