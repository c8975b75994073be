"""Model loading and scoring (fairaudit.models), through ``fairaudit run`` and directly.

The models are a LogisticRegression fitted on 24 rows where x1 alone separates the
labels (conftest.tiny_models), and a tiny non-scikit-learn ThresholdClassifier
(``x1 > 0.5``) saved with skops from a real module file (conftest.custom_model).
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from fairaudit.errors import ModelError, UnsafeModelError
from fairaudit.models import (
    NEVER_TRUSTED_TYPES,
    UNTRUSTED_TYPES,
    feature_columns,
    is_never_trusted,
    load_model,
    trusted_model_types,
)
from tests.conftest import CUSTOM_MODEL_TYPE, TINY_MODEL_ROWS, AuditRun

RunCli = Callable[..., AuditRun]
TARGET = ("--target", "y")


def _refuse_pickle(path: Path) -> str:
    return (
        f"refusing to load pickle file '{path}': unpickling runs arbitrary code; save the "
        "model with skops.io.dump as .skops, or pass --allow-unsafe-pickle if you trust "
        "this file"
    )


# --- skops ----------------------------------------------------------------------------


def test_skops_model_is_loaded_and_scored(audit_cli: RunCli, tiny_models: Path) -> None:
    model = tiny_models / "model.skops"
    run = audit_cli(tiny_models / "data.csv", *TARGET, "--model", model)
    run.assert_ok()
    data = run.json()
    lineage = data["lineage"]["model"]
    assert lineage["format"] == "skops"
    assert lineage["type"] == "LogisticRegression"
    assert lineage["unsafe_pickle"] is False
    assert lineage["feature_columns"] == ["x1", "x2"]
    assert lineage["file_name"] == "model.skops"
    assert data["lineage"]["predictions"] == {"source": "model", "score": "predict_proba"}
    assert [f for f in data["findings"] if f["kind"] == "security"] == []
    assert run.check("unsafe_model") == []
    # x1 separates the labels, so the model is right on every row.
    overall = data["metrics"]["overall"]
    assert overall["count"] == len(TINY_MODEL_ROWS)
    assert overall["accuracy"] == 1.0
    assert overall["roc_auc"] == 1.0
    assert "roc_auc" in data["metrics"]["names"]
    # The default name is the model file's stem.
    assert data["audit"]["name"] == "model"


def test_model_file_not_found(audit_cli: RunCli, tiny_models: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.skops"
    run = audit_cli(tiny_models / "data.csv", *TARGET, "--model", missing)
    run.assert_error(f"model file '{missing}' not found")


@pytest.mark.parametrize("suffix", [".onnx", ""])
def test_unsupported_model_suffix(
    audit_cli: RunCli, tiny_models: Path, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"\x00model")
    run = audit_cli(tiny_models / "data.csv", *TARGET, "--model", path)
    run.assert_error(
        f"model file '{path}' has an unsupported format '{suffix or '(none)'}'; use .skops "
        "(or .joblib/.pkl with --allow-unsafe-pickle)"
    )


def test_corrupt_skops(audit_cli: RunCli, tiny_models: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.skops"
    path.write_bytes(b"this is not a zip file")
    run = audit_cli(tiny_models / "data.csv", *TARGET, "--model", path)
    run.assert_error(f"cannot read model file '{path}' as skops: File is not a zip file")


def test_truncated_skops(audit_cli: RunCli, tiny_models: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.skops"
    path.write_bytes((tiny_models / "model.skops").read_bytes()[:200])
    run = audit_cli(tiny_models / "data.csv", *TARGET, "--model", path)
    run.assert_nothing_written()
    assert run.result.exit_code == 1
    assert re.fullmatch(
        rf"Error: cannot read model file '{re.escape(str(path))}'[^\n]*\n", run.stderr
    )


def test_model_without_predict(audit_cli: RunCli, tiny_models: Path, tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.preprocessing import StandardScaler

    path = tmp_path / "scaler.skops"
    sio.dump(StandardScaler().fit([[0.0], [1.0]]), path)
    run = audit_cli(tiny_models / "data.csv", *TARGET, "--model", path)
    run.assert_error(f"model file '{path}' holds a StandardScaler, which has no predict()")


def test_model_lacking_columns(audit_cli: RunCli, tiny_models: Path, write_csv) -> None:
    rows = [(x1, y, sex) for x1, _, y, sex in TINY_MODEL_ROWS]
    data = write_csv("no_x2.csv", ["x1", "y", "sex"], rows)
    run = audit_cli(data, *TARGET, "--model", tiny_models / "model.skops")
    run.assert_error(f"the model needs columns that '{data}' lacks: 'x2'")


def test_model_lacking_several_columns(audit_cli: RunCli, tiny_models: Path, write_csv) -> None:
    data = write_csv("bare.csv", ["y", "sex"], [(y, sex) for _, _, y, sex in TINY_MODEL_ROWS])
    run = audit_cli(data, *TARGET, "--model", tiny_models / "model.skops")
    run.assert_error(f"the model needs columns that '{data}' lacks: 'x1', 'x2'")


def test_model_and_score_col_together(audit_cli: RunCli, tiny_models: Path) -> None:
    run = audit_cli(
        tiny_models / "data.csv",
        *TARGET,
        "--model",
        tiny_models / "model.skops",
        "--score-col",
        "x1",
    )
    run.assert_error(
        "--score-col goes with --prediction-col; with --model the scores come from the model"
    )


def test_model_predicting_classes_the_labels_do_not_have(
    audit_cli: RunCli, tiny_models: Path, write_csv
) -> None:
    rows = [(x1, x2, ("no", "yes")[y], sex) for x1, x2, y, sex in TINY_MODEL_ROWS]
    data = write_csv("yn.csv", ["x1", "x2", "y", "sex"], rows)
    run = audit_cli(
        data, *TARGET, "--positive-label", "yes", "--model", tiny_models / "model.skops"
    )
    run.assert_error(
        "the model's predictions include '0', '1', not among the label values ('no', 'yes'); "
        "predictions and labels must use the same classes"
    )


def test_model_fitted_without_feature_names(
    audit_cli: RunCli, tiny_models: Path, tmp_path: Path
) -> None:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame(TINY_MODEL_ROWS, columns=["x1", "x2", "y", "sex"])
    model = LogisticRegression().fit(frame[["x1", "x2"]].to_numpy(), frame["y"].to_numpy())
    path = tmp_path / "arrays.skops"
    sio.dump(model, path)
    run = audit_cli(tiny_models / "data.csv", *TARGET, "--model", path)
    run.assert_ok()
    assert run.json()["lineage"]["model"]["feature_columns"] == ["x1", "x2"]


# --- pickle ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["model.pkl", "model.joblib"])
def test_pickle_refused_without_flag(audit_cli: RunCli, tiny_models: Path, name: str) -> None:
    path = tiny_models / name
    run = audit_cli(tiny_models / "data.csv", *TARGET, "--model", path)
    run.assert_error(_refuse_pickle(path))


def test_pickle_suffix_is_case_insensitive(
    audit_cli: RunCli, tiny_models: Path, tmp_path: Path
) -> None:
    path = tmp_path / "MODEL.PKL"
    shutil.copy(tiny_models / "model.pkl", path)
    run = audit_cli(tiny_models / "data.csv", *TARGET, "--model", path)
    run.assert_error(_refuse_pickle(path))


def _assert_unsafe_recorded(run: AuditRun, file_name: str, fmt: str) -> None:
    data = run.json()
    security = [f for f in data["findings"] if f["kind"] == "security"]
    assert len(security) == 1
    assert security[0]["severity"] == "warning"
    assert security[0]["message"] == "model loaded with unsafe pickle deserialization"
    assert security[0]["next_step"] == (
        "save the model with skops.io.dump and audit the .skops file"
    )
    assert run.check("unsafe_model") == [
        {
            "id": "unsafe_model",
            "status": "warning",
            "message": f"the model was loaded from a pickle file ('{file_name}') with "
            "--allow-unsafe-pickle: loading it could run arbitrary code",
        }
    ]
    assert data["lineage"]["model"]["unsafe_pickle"] is True
    assert data["lineage"]["model"]["format"] == fmt
    assert data["metrics"]["overall"]["accuracy"] == 1.0
    assert "loaded with unsafe pickle" in run.html()


def test_pickle_accepted_with_flag(audit_cli: RunCli, tiny_models: Path) -> None:
    run = audit_cli(
        tiny_models / "data.csv",
        *TARGET,
        "--model",
        tiny_models / "model.pkl",
        "--allow-unsafe-pickle",
    )
    run.assert_ok()
    _assert_unsafe_recorded(run, "model.pkl", "pkl")


def test_joblib_accepted_with_config_option(audit_cli: RunCli, tiny_models: Path) -> None:
    run = audit_cli(
        tiny_models / "data.csv",
        *TARGET,
        "--model",
        tiny_models / "model.joblib",
        config="allow_unsafe_pickle = true",
    )
    run.assert_ok()
    _assert_unsafe_recorded(run, "model.joblib", "joblib")


def test_corrupt_pickle_with_flag(audit_cli: RunCli, tiny_models: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.pkl"
    path.write_bytes(b"\x80\x04not a pickle")
    run = audit_cli(tiny_models / "data.csv", *TARGET, "--model", path, "--allow-unsafe-pickle")
    run.assert_nothing_written()
    assert run.result.exit_code == 1
    assert isinstance(run.result.exception, SystemExit)
    assert re.fullmatch(
        rf"Error: cannot load model file '{re.escape(str(path))}': [^\n]+\n", run.stderr
    )


# --- skops with types beyond scikit-learn ------------------------------------------------


def test_custom_type_is_refused_and_named(
    audit_cli: RunCli, tiny_models: Path, custom_model: Path
) -> None:
    run = audit_cli(tiny_models / "data.csv", *TARGET, "--model", custom_model)
    run.assert_error(
        f"model file '{custom_model}' contains types that are not trusted: "
        f"{CUSTOM_MODEL_TYPE}; if you trust their code, pass --trust-type {CUSTOM_MODEL_TYPE}"
    )


def test_trusting_another_type_does_not_help(
    audit_cli: RunCli, tiny_models: Path, custom_model: Path
) -> None:
    run = audit_cli(
        tiny_models / "data.csv",
        *TARGET,
        "--model",
        custom_model,
        config='trust_types = ["somewhere.Else"]',
    )
    run.assert_error(
        f"model file '{custom_model}' contains types that are not trusted: "
        f"{CUSTOM_MODEL_TYPE}; if you trust their code, pass --trust-type {CUSTOM_MODEL_TYPE}"
    )


def _assert_custom_model_ran(run: AuditRun) -> None:
    run.assert_ok()
    data = run.json()
    assert data["lineage"]["model"]["type"] == "ThresholdClassifier"
    assert data["lineage"]["model"]["unsafe_pickle"] is False
    assert data["lineage"]["predictions"] == {"source": "model", "score": None}
    assert data["metrics"]["overall"]["accuracy"] == 1.0
    assert "roc_auc" not in data["metrics"]["names"]
    assert [f for f in data["findings"] if f["kind"] == "security"] == []


def test_custom_type_accepted_with_trust_type_flag(
    audit_cli: RunCli, tiny_models: Path, custom_model: Path
) -> None:
    run = audit_cli(
        tiny_models / "data.csv",
        *TARGET,
        "--model",
        custom_model,
        "--trust-type",
        CUSTOM_MODEL_TYPE,
    )
    _assert_custom_model_ran(run)


def test_custom_type_accepted_with_trust_types_in_config(
    audit_cli: RunCli, tiny_models: Path, custom_model: Path
) -> None:
    run = audit_cli(
        tiny_models / "data.csv",
        *TARGET,
        "--model",
        custom_model,
        config=f'trust_types = ["{CUSTOM_MODEL_TYPE}"]',
    )
    _assert_custom_model_ran(run)


@pytest.fixture
def id_csv(write_csv) -> Path:
    """Columns id, x1, y, sex: a model without feature names gets every other column."""
    rows = [(1000 + i, x1, y, sex) for i, (x1, _, y, sex) in enumerate(TINY_MODEL_ROWS)]
    return write_csv("ids.csv", ["id", "x1", "y", "sex"], rows)


def test_model_without_feature_names_gets_every_other_column(
    audit_cli: RunCli, custom_model: Path, id_csv: Path
) -> None:
    trust = f'trust_types = ["{CUSTOM_MODEL_TYPE}"]'
    run = audit_cli(id_csv, *TARGET, "--model", custom_model, config=trust)
    run.assert_ok()
    data = run.json()
    assert data["lineage"]["model"]["feature_columns"] == ["id", "x1"]
    # The classifier thresholds its first input, the id (always > 0.5): all predicted 1.
    assert data["metrics"]["overall"]["selection_rate"] == 1.0


def test_id_cols_in_config_are_not_model_inputs(
    audit_cli: RunCli, custom_model: Path, id_csv: Path
) -> None:
    config = f'trust_types = ["{CUSTOM_MODEL_TYPE}"]\nid_cols = ["id"]'
    run = audit_cli(id_csv, *TARGET, "--model", custom_model, config=config)
    run.assert_ok()
    assert run.json()["lineage"]["model"]["feature_columns"] == ["x1"]
    assert run.json()["metrics"]["overall"]["accuracy"] == 1.0


def test_features_in_config_choose_model_inputs(
    audit_cli: RunCli, custom_model: Path, id_csv: Path
) -> None:
    config = f'trust_types = ["{CUSTOM_MODEL_TYPE}"]\nfeatures = ["x1"]'
    run = audit_cli(id_csv, *TARGET, "--model", custom_model, config=config)
    run.assert_ok()
    assert run.json()["lineage"]["model"]["feature_columns"] == ["x1"]


def test_id_col_flag(audit_cli: RunCli, custom_model: Path, id_csv: Path) -> None:
    config = f'trust_types = ["{CUSTOM_MODEL_TYPE}"]'
    run = audit_cli(id_csv, *TARGET, "--model", custom_model, "--id-col", "id", config=config)
    run.assert_ok()
    assert run.json()["lineage"]["model"]["feature_columns"] == ["x1"]


def test_model_that_fails_to_predict(audit_cli: RunCli, custom_model: Path, write_csv) -> None:
    rows = [("Paris", x1, y, sex) for x1, _, y, sex in TINY_MODEL_ROWS]
    data = write_csv("city.csv", ["city", "x1", "y", "sex"], rows)
    trust = f'trust_types = ["{CUSTOM_MODEL_TYPE}"]'
    run = audit_cli(data, *TARGET, "--model", custom_model, config=trust)
    run.assert_error(
        "the model failed to predict on the data: could not convert string to float: 'Paris'"
    )


# --- skops files that would touch the file system (issue 12) ----------------------------


def _crafted_skops(path: Path, module: str, name: str, args: tuple[object, ...]) -> Path:
    """Write a .skops file whose object is ``module.name(*args)``, as an attacker would.

    skops rebuilds a ConstructorFromReduceNode by calling the type with the stored tuple.
    """
    import skops.io as sio

    sio.dump(args, path)  # the real schema of the argument tuple
    with zipfile.ZipFile(path) as archive:
        arguments = json.loads(archive.read("schema.json"))
    header = {key: arguments.pop(key) for key in ("protocol", "_skops_version")}
    schema = {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": arguments,
        **header,
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return path


#: (module, type, arguments after the victim's path): each truncates, zero-fills or
#: rewrites the victim file when constructed.
FILE_ATTACKS = [
    pytest.param("scipy.io", "FortranFile", ("w",), id="FortranFile"),
    pytest.param("numpy", "memmap", ("uint8", "w+", 0, 64), id="memmap"),
    pytest.param("scipy.io", "netcdf_file", ("w",), id="netcdf_file"),
]
VICTIM_BYTES = b"precious audit data\n"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_bytes(VICTIM_BYTES)
    return path


@pytest.mark.parametrize(("module", "name", "args"), FILE_ATTACKS)
@pytest.mark.parametrize("trusted", [False, True], ids=["plain", "named-by-trust-type"])
def test_file_constructing_type_is_never_loaded(
    audit_cli: RunCli,
    tiny_models: Path,
    tmp_path: Path,
    victim: Path,
    module: str,
    name: str,
    args: tuple[object, ...],
    trusted: bool,
) -> None:
    model = _crafted_skops(tmp_path / "m.skops", module, name, (str(victim), *args))
    flags = ["--trust-type", f"{module}.{name}"] if trusted else []
    run = audit_cli(tiny_models / "data.csv", *TARGET, "--model", model, *flags)
    run.assert_error(NEVER_TRUSTED_TYPES.format(path=model, types=f"{module}.{name}"))
    assert victim.read_bytes() == VICTIM_BYTES


def test_file_attack_through_the_cli_writes_nothing(
    tiny_models: Path, tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from fairaudit.cli import cli

    monkeypatch.chdir(tmp_path)
    model = _crafted_skops(tmp_path / "m.skops", "numpy", "memmap", (str(victim), "uint8", "w+"))
    config = tmp_path / "audit.toml"
    config.write_text('sensitive = ["sex"]\n', encoding="utf-8")
    argv = ["run", str(tiny_models / "data.csv"), "--model", str(model), "--target", "y"]
    argv += ["--config", str(config), "--no-mitigation", "--no-ledger", "-o", "out.html"]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: " + NEVER_TRUSTED_TYPES.format(path=model, types="numpy.memmap") + "\n"
    )
    assert victim.read_bytes() == VICTIM_BYTES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.toml", "m.skops", "victim.txt"]


@pytest.mark.parametrize(
    "name",
    [
        "numpy._core.memmap.memmap",  # an alias of numpy.memmap
        "numpy.lib.format.open_memmap",
        "numpy.save",
        "numpy.ndarray.tofile",
        "scipy.io._fortran.FortranFile",
        "scipy.io.savemat",
        "sklearn.utils._testing.TempMemmap",  # a scikit-learn class that writes a file
        "io.FileIO",
        "os.system",
        "pathlib.Path",
        "tempfile.NamedTemporaryFile",
        "shutil.rmtree",
        "subprocess.Popen",
        "socket.socket",
        "builtins.open",
        "builtins.exec",
    ],
)
def test_io_types_are_refused_even_when_trusted_by_name(tmp_path: Path, name: str) -> None:
    module, _, attribute = name.rpartition(".")
    model = _crafted_skops(tmp_path / "m.skops", module, attribute, ())
    with pytest.raises(UnsafeModelError) as caught:
        load_model(model, trust_types=[name])
    assert str(caught.value) == NEVER_TRUSTED_TYPES.format(path=model, types=name)


def test_unknown_type_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    # datetime.date is harmless, but it is on no allowlist: refuse, name it, offer the flag.
    model = _crafted_skops(tmp_path / "m.skops", "datetime", "date", (2024, 1, 2))
    with pytest.raises(UnsafeModelError) as caught:
        load_model(model)
    assert str(caught.value) == UNTRUSTED_TYPES.format(
        path=model, types="datetime.date", flags="--trust-type datetime.date"
    )
    with pytest.raises(ModelError, match="^model file '.*' holds a date, which has no predict"):
        load_model(model, trust_types=["datetime.date"])


def test_allowlist_is_exact_names_and_holds_no_io_type() -> None:
    trusted = trusted_model_types()
    assert "sklearn.tree._tree.Tree" in trusted
    assert "numpy.ndarray" in trusted
    assert "scipy.sparse._csr.csr_matrix" in trusted
    assert "numpy.memmap" not in trusted
    assert "sklearn.utils._testing.TempMemmap" not in trusted
    assert [name for name in trusted if is_never_trusted(name)] == []
    assert not is_never_trusted(CUSTOM_MODEL_TYPE)


def _real_models() -> dict[str, object]:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
        VotingClassifier,
    )
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVC

    def prepared(final: object) -> Pipeline:
        columns = ColumnTransformer(
            [
                ("x1", make_pipeline(SimpleImputer(), StandardScaler()), ["x1"]),
                ("x2", OneHotEncoder(handle_unknown="ignore"), ["x2"]),
            ]
        )
        return Pipeline([("columns", columns), ("model", final)])

    forest = RandomForestClassifier(n_estimators=3, random_state=0)
    boosted = HistGradientBoostingClassifier(max_iter=5)
    return {
        "pipeline-hgb-rf": prepared(
            VotingClassifier([("hgb", boosted), ("rf", forest)], voting="soft")
        ),
        "gradient-boosting": prepared(GradientBoostingClassifier(n_estimators=3)),
        "svc": prepared(SVC(random_state=0)),
        "knn": prepared(KNeighborsClassifier(n_neighbors=3)),
        "mlp": prepared(MLPClassifier(max_iter=50, random_state=0)),
        "calibrated": prepared(CalibratedClassifierCV(LogisticRegression(), cv=2)),
        "grid-search": prepared(
            GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=2, scoring="roc_auc")
        ),
    }


@pytest.mark.parametrize("name", list(_real_models()))
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_real_scikit_learn_models_load_without_flags(
    tiny_models: Path, tmp_path: Path, name: str
) -> None:
    import skops.io as sio

    frame = pd.read_csv(tiny_models / "data.csv")
    model = _real_models()[name].fit(frame[["x1", "x2"]], frame["y"])  # type: ignore[attr-defined]
    path = tmp_path / f"{name}.skops"
    sio.dump(model, path)
    loaded = load_model(path)
    assert type(loaded.estimator).__name__ == "Pipeline"
    assert list(loaded.estimator.predict(frame[["x1", "x2"]])) == list(
        model.predict(frame[["x1", "x2"]])
    )


def test_real_pipeline_audits_without_flags(
    audit_cli: RunCli, tiny_models: Path, tmp_path: Path
) -> None:
    import skops.io as sio

    frame = pd.read_csv(tiny_models / "data.csv")
    model = _real_models()["pipeline-hgb-rf"].fit(frame[["x1", "x2"]], frame["y"])  # type: ignore[attr-defined]
    path = tmp_path / "pipeline.skops"
    sio.dump(model, path)
    run = audit_cli(tiny_models / "data.csv", *TARGET, "--model", path, "--no-mitigation")
    run.assert_ok()
    assert run.json()["lineage"]["model"]["type"] == "Pipeline"
    assert run.json()["metrics"]["overall"]["accuracy"] == 1.0


# --- the functions directly ------------------------------------------------------------


def test_load_model_refuses_pickle_with_unsafe_model_error(tiny_models: Path) -> None:
    with pytest.raises(UnsafeModelError) as caught:
        load_model(tiny_models / "model.pkl")
    assert str(caught.value) == _refuse_pickle(tiny_models / "model.pkl")
    assert isinstance(caught.value, ModelError)


def test_load_model_records_format_and_digest(tiny_models: Path) -> None:
    import hashlib

    loaded = load_model(tiny_models / "model.joblib", allow_unsafe_pickle=True)
    assert (loaded.format, loaded.unsafe_pickle) == ("joblib", True)
    expected = hashlib.sha256((tiny_models / "model.joblib").read_bytes()).hexdigest()
    assert loaded.sha256 == expected


def test_feature_columns_without_names_excludes_roles() -> None:
    class Bare:
        pass

    columns = feature_columns(
        Bare(),
        ["id", "x", "y", "sex"],
        excluded=["y", "sex", "id"],
        explicit=None,
        data_name="d.csv",
    )
    assert columns == ["x"]


def test_feature_columns_explicit_missing() -> None:
    class Bare:
        pass

    with pytest.raises(ModelError, match=r"^the model needs columns that 'd.csv' lacks: 'z'$"):
        feature_columns(Bare(), ["x", "y"], excluded=["y"], explicit=["x", "z"], data_name="d.csv")


def test_a_pipeline_caching_to_a_folder_is_refused(tmp_path: Path) -> None:
    """Pipeline(memory=...) would write joblib caches when the mitigation retrains a copy."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from fairaudit.errors import UnsafeModelError
    from fairaudit.models import load_model

    X = [[0.0], [1.0], [2.0], [3.0]]
    model = Pipeline(
        [("scale", StandardScaler()), ("clf", LogisticRegression())],
        memory=str(tmp_path / "cache"),
    ).fit(X, [0, 0, 1, 1])
    path = tmp_path / "cached.skops"
    sio.dump(model, path)
    with pytest.raises(UnsafeModelError) as raised:
        load_model(path)
    assert str(raised.value) == (
        f"model file '{path}' sets memory: a cache folder that retraining would write to; "
        "save the model with memory=None"
    )
