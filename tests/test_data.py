"""Data checks of fairaudit.data, through ``fairaudit run`` and on the functions directly.

Every refusal is asserted as the exact one-line ``Error: ...`` the user sees, with exit
code 1, no traceback and no report written. Datasets are a dozen rows whose counts are
worked out by hand in conftest.SCORED_ROWS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit.data import MISSING_GROUP, binarize, encode_sensitive, read_table
from fairaudit.errors import DataError
from tests.conftest import SCORED_ROWS, AuditRun

PRED = ("--target", "y", "--prediction-col", "pred")

RunCli = Callable[..., AuditRun]
WriteCsv = Callable[..., Path]


def metric_cells(html: str, caption_start: str, group_label: str) -> dict[str, str]:
    """Return {column header: cell text} of one group's row in the HTML metrics table."""
    section = html[html.index('<section id="metrics"') :]
    section = section[: section.index("</section>")]
    start = section.index(f"<caption>{caption_start}")
    table = section[start : section.index("</table>", start)]
    headers = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', table)
    row = re.search(rf'<tr><th scope="row">{re.escape(group_label)}<.*?</tr>', table, re.S)
    assert row is not None, f"no row for {group_label}"
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", row.group(0))]
    return dict(zip(headers[1:], cells, strict=True))


# --- reading the file ------------------------------------------------------------------


def test_data_file_not_found(audit_cli: RunCli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    run = audit_cli(missing, *PRED)
    run.assert_error(f"data file '{missing}' not found")


def test_data_path_is_a_directory(audit_cli: RunCli, tmp_path: Path) -> None:
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    run = audit_cli(folder, *PRED)
    run.assert_error(f"data path '{folder}' is a directory; pass a CSV or Parquet file")


@pytest.mark.parametrize("suffix", [".xlsx", ""])
def test_unsupported_suffix(audit_cli: RunCli, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"data{suffix}"
    path.write_text("y,pred,sex\n1,1,male\n", encoding="utf-8")
    run = audit_cli(path, *PRED)
    shown = suffix or "(none)"
    run.assert_error(
        f"data file '{path}' has an unsupported format '{shown}'; use .csv or .parquet"
    )


def test_not_utf8(audit_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("y,pred,sex\n1,1,caf\xe9\n0,0,male\n".encode("latin-1"))
    run = audit_cli(path, *PRED)
    run.assert_error(f"data file '{path}' is not UTF-8 text; save it as UTF-8 CSV")


def test_empty_file(audit_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    run = audit_cli(path, *PRED)
    run.assert_error(f"data file '{path}' is empty: it has no header row")


def test_header_but_no_rows(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    path = write_csv("header.csv", ["y", "pred", "sex"], [])
    run = audit_cli(path, *PRED)
    run.assert_error(f"data file '{path}' has no rows")


def test_parquet_without_rows(audit_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    pd.DataFrame({"y": [1], "pred": [1], "sex": ["male"]}).iloc[:0].to_parquet(path)
    run = audit_cli(path, *PRED)
    run.assert_error(f"data file '{path}' has no rows")


def test_corrupt_parquet(audit_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    run = audit_cli(path, *PRED)
    # pyarrow's own reason follows (its wording changes between versions).
    run.assert_error(f"data file '{path}' is not a valid Parquet file: ", prefix=True)


def test_ragged_row(audit_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("y,pred,sex\n1,1,male\n0,0,female,extra\n", encoding="utf-8")
    run = audit_cli(path, *PRED)
    run.assert_error(
        f"cannot read data file '{path}': Error tokenizing data. "
        "C error: Expected 3 fields in line 3, saw 4"
    )


def test_every_row_wider_than_header_is_not_shifted(audit_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "trailing.csv"
    body = "".join(f"{y},{p},{s},\n" for y, p, s in SCORED_ROWS)
    path.write_text("y,pred,sex\n" + body, encoding="utf-8")
    run = audit_cli(path, *PRED)
    # Either refuse the file in one line naming it, or read the columns where they are.
    if run.result.exit_code == 0:
        _assert_scored_counts(run)
    else:
        run.assert_nothing_written()
        assert re.fullmatch(rf"Error: [^\n]*'{re.escape(str(path))}'[^\n]*\n", run.stderr)
        assert "missing values" not in run.stderr


def test_utf8_bom_is_not_part_of_the_first_column_name(audit_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    body = "".join(f"{y},{p},{s}\n" for y, p, s in SCORED_ROWS)
    path.write_bytes(("\ufeffy,pred,sex\n" + body).encode("utf-8"))
    run = audit_cli(path, *PRED)
    run.assert_ok()
    assert run.json()["lineage"]["data"]["columns"] == ["y", "pred", "sex"]


def test_duplicate_column_names(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    path = write_csv("dup.csv", ["y", "pred", "sex", "pred"], [(1, 1, "male", 0)])
    run = audit_cli(path, *PRED)
    run.assert_error(f"data file '{path}' has two columns named 'pred'; rename one of them")


def test_empty_column_name_is_a_warning_and_the_run_continues(
    audit_cli: RunCli, write_csv: WriteCsv
) -> None:
    path = write_csv(
        "blank.csv", ["y", "", "pred", "sex"], [(y, "z", p, s) for y, p, s in SCORED_ROWS]
    )
    run = audit_cli(path, *PRED)
    run.assert_ok()
    assert run.check("empty_column_name") == [
        {
            "id": "empty_column_name",
            "status": "warning",
            "message": "column 2 has an empty name; it is ignored",
        }
    ]
    data = run.json()
    assert data["lineage"]["data"]["columns"] == ["y", "pred", "sex"]
    assert data["metrics"]["overall"]["count"] == len(SCORED_ROWS)


def test_empty_column_name_in_parquet(audit_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "blank.parquet"
    frame = pd.DataFrame(SCORED_ROWS, columns=["y", "pred", "sex"]).assign(**{"": 0})
    frame.to_parquet(path)
    run = audit_cli(path, *PRED)
    run.assert_ok()
    assert [c["message"] for c in run.check("empty_column_name")] == [
        "column 4 has an empty name; it is ignored"
    ]


# --- column roles ----------------------------------------------------------------------


def test_missing_target_column(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, "--target", "label", "--prediction-col", "pred")
    run.assert_error(
        f"column 'label' (--target) not found in '{scored_csv}'; its columns are: "
        "'y', 'pred', 'sex'"
    )


def test_missing_sensitive_column(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, sensitive=["race"])
    run.assert_error(
        f"column 'race' (--sensitive) not found in '{scored_csv}'; its columns are: "
        "'y', 'pred', 'sex'"
    )


def test_missing_prediction_column(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, "--target", "y", "--prediction-col", "score")
    run.assert_error(
        f"column 'score' (--prediction-col) not found in '{scored_csv}'; its columns are: "
        "'y', 'pred', 'sex'"
    )


@pytest.mark.parametrize(
    ("wanted", "close"),
    [
        ("Experience", "'experience'"),  # differs in case only
        ("experiance", "'experience'"),  # a typo
        ("year", "'years' or 'yearly'"),  # several close names, the closest first
    ],
)
@pytest.mark.parametrize("engine", ["numpy", "duckdb"])
def test_missing_sensitive_column_lists_the_closest_names_first(
    audit_cli: RunCli, write_csv: WriteCsv, wanted: str, close: str, engine: str
) -> None:
    """Issue 14 §6: the wanted column sat after position 12 of 16 and was not listed."""
    header = ["y", "pred", *(f"c{i}" for i in range(10)), "sex", "yearly", "experience", "years"]
    assert len(header) == 16 and header.index("experience") == 14
    path = write_csv("wide.csv", header, [(1, 1, *range(10), "male", 1, 2, 3)])
    run = audit_cli(path, *PRED, "--engine", engine, sensitive=[wanted])
    names = [n.strip("'") for n in close.split(" or ")]
    rest = [c for c in header if c not in names]
    shown = ", ".join(repr(c) for c in [*names, *rest][:12])
    run.assert_error(
        f"column {wanted!r} (--sensitive) not found in '{path}'; did you mean {close}? "
        f"its columns are: {shown}, ... (16 in all)"
    )


def test_closest_first_case_then_difflib() -> None:
    import difflib

    from fairaudit.data import closest_first

    columns = ["a", "Sex", "sexe", "gender", "SEX"]
    close, ordered = closest_first("sex", columns)
    # Same name but for case first (in table order), then difflib's ranking of the rest.
    ranked = difflib.get_close_matches("sex", ["a", "sexe", "gender"], n=5, cutoff=0.6)
    assert close == ["Sex", "SEX", *ranked] == ["Sex", "SEX", "sexe"]
    assert ordered == ["Sex", "SEX", "sexe", "a", "gender"]


def test_missing_column_lists_at_most_twelve_columns(
    audit_cli: RunCli, write_csv: WriteCsv
) -> None:
    header = ["y", "pred", "sex", *(f"c{i}" for i in range(12))]
    path = write_csv("wide.csv", header, [(1, 1, "male", *range(12))])
    run = audit_cli(path, *PRED, sensitive=["race"])
    shown = ", ".join(repr(c) for c in header[:12])
    run.assert_error(
        f"column 'race' (--sensitive) not found in '{path}'; its columns are: "
        f"{shown}, ... (15 in all)"
    )


# --- labels and predictions ------------------------------------------------------------


def test_labels_not_01_need_positive_label(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    path = write_csv("12.csv", ["y", "pred", "sex"], [(y + 1, p, s) for y, p, s in SCORED_ROWS])
    run = audit_cli(path, *PRED)
    run.assert_error(
        "label column 'y' has values '2', '1', not 0/1; pass --positive-label VALUE to say "
        "which value is the positive class"
    )


def test_string_labels_without_positive_label(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    rows = [(("no", "yes")[y], ("no", "yes")[p], s) for y, p, s in SCORED_ROWS]
    path = write_csv("yn.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED)
    run.assert_error(
        "label column 'y' has values 'yes', 'no', not 0/1; pass --positive-label VALUE to "
        "say which value is the positive class"
    )


def test_more_than_two_label_values(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    rows = [(i % 3, p, s) for i, (_, p, s) in enumerate(SCORED_ROWS)]
    path = write_csv("three.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED, "--positive-label", "1")
    run.assert_error(
        "label column 'y' has 3 distinct values ('0', '1', '2'); fairaudit audits binary "
        "classifiers: map them to two classes first"
    )


def test_positive_label_that_does_not_occur(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    rows = [(("no", "yes")[y], ("no", "yes")[p], s) for y, p, s in SCORED_ROWS]
    path = write_csv("yn.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED, "--positive-label", "Yes")
    run.assert_error(
        "positive label 'Yes' does not occur in label column 'y' (its values: 'yes', 'no'); "
        "check --positive-label"
    )


def _assert_scored_counts(run: AuditRun) -> None:
    """The hand-computed counts of SCORED_ROWS, whatever the labels were spelled as."""
    groups = run.groups("sex")
    assert groups["male"]["confusion"] == {"tn": 3, "fp": 1, "fn": 1, "tp": 3}
    assert groups["female"]["confusion"] == {"tn": 1, "fp": 1, "fn": 1, "tp": 1}
    assert groups["male"]["metrics"]["true_positive_rate"] == 0.75
    assert groups["female"]["metrics"]["true_positive_rate"] == 0.5
    assert groups["male"]["metrics"]["false_positive_rate"] == 0.25
    assert groups["female"]["metrics"]["false_positive_rate"] == 0.5
    assert groups["male"]["metrics"]["selection_rate"] == 0.5
    assert run.json()["metrics"]["overall"]["count"] == 12


def test_01_labels(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED)
    run.assert_ok()
    _assert_scored_counts(run)
    assert run.check("label_classes") == [
        {
            "id": "label_classes",
            "status": "ok",
            "message": "label column 'y': 6 positive, 6 negative",
        }
    ]


def test_boolean_labels(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    rows = [(bool(y), bool(p), s) for y, p, s in SCORED_ROWS]
    path = write_csv("bool.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED)
    run.assert_ok()
    _assert_scored_counts(run)


def test_boolean_labels_with_positive_label_any_case(
    audit_cli: RunCli, write_csv: WriteCsv
) -> None:
    rows = [(bool(y), bool(p), s) for y, p, s in SCORED_ROWS]
    path = write_csv("bool.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED, "--positive-label", "true")
    run.assert_ok()
    _assert_scored_counts(run)


def test_string_labels_with_positive_label(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    rows = [(("no", "yes")[y], ("no", "yes")[p], s) for y, p, s in SCORED_ROWS]
    path = write_csv("yn.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED, "--positive-label", "yes")
    run.assert_ok()
    _assert_scored_counts(run)


def test_negative_class_as_positive_label_swaps_the_counts(
    audit_cli: RunCli, scored_csv: Path
) -> None:
    run = audit_cli(scored_csv, *PRED, "--positive-label", "0")
    run.assert_ok()
    assert run.groups("sex")["male"]["confusion"] == {"tn": 3, "fp": 1, "fn": 1, "tp": 3}
    assert run.groups("sex")["female"]["metrics"]["true_positive_rate"] == 0.5


def test_prediction_class_the_labels_do_not_have(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    rows = [(("no", "yes")[y], ("no", "maybe")[p], s) for y, p, s in SCORED_ROWS]
    path = write_csv("maybe.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED, "--positive-label", "yes")
    run.assert_error(
        "predictions in column 'pred' include 'maybe', not among the label values ('yes', 'no'); "
        "predictions and labels must use the same classes"
    )


def test_predictions_not_01(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    rows = [(y, 2 * p, s) for y, p, s in SCORED_ROWS]
    path = write_csv("p02.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED)
    run.assert_error(
        "prediction column 'pred' has values '2', '0', not 0/1; pass --positive-label VALUE "
        "to say which value is the positive class"
    )


def test_missing_values_in_target(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    rows = [("" if i in (2, 7) else y, p, s) for i, (y, p, s) in enumerate(SCORED_ROWS)]
    path = write_csv("my.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED)
    run.assert_error(
        f"target column 'y' has 2 missing values in '{path}'; fill or remove those rows"
    )


def test_missing_values_in_predictions(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    rows = [(y, "" if i == 4 else p, s) for i, (y, p, s) in enumerate(SCORED_ROWS)]
    path = write_csv("mp.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED)
    run.assert_error(
        f"prediction column 'pred' has 1 missing values in '{path}'; fill or remove those rows"
    )


def test_scores_must_be_numbers(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    rows = [(y, p, s, "high" if i == 0 else 0.5) for i, (y, p, s) in enumerate(SCORED_ROWS)]
    path = write_csv("score.csv", ["y", "pred", "sex", "score"], rows)
    run = audit_cli(path, *PRED, "--score-col", "score")
    run.assert_error(
        f"score column 'score' has 1 missing or non-numeric values in '{path}'; "
        "scores must be numbers"
    )


def test_scores_must_be_finite(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    rows = [(y, p, s, "inf" if i == 0 else 0.5) for i, (y, p, s) in enumerate(SCORED_ROWS)]
    path = write_csv("score.csv", ["y", "pred", "sex", "score"], rows)
    run = audit_cli(path, *PRED, "--score-col", "score")
    run.assert_error("score column 'score' has infinite values; scores must be finite")


# --- missing sensitive values ----------------------------------------------------------


@pytest.fixture
def missing_sex_csv(write_csv: WriteCsv) -> Path:
    """SCORED_ROWS with the sex of rows 0 (male, tp) and 11 (female, fn) left empty."""
    rows = [(y, p, "" if i in (0, 11) else s) for i, (y, p, s) in enumerate(SCORED_ROWS)]
    return write_csv("missing_sex.csv", ["y", "pred", "sex"], rows)


def test_missing_sensitive_is_an_error_by_default(audit_cli: RunCli, missing_sex_csv: Path) -> None:
    run = audit_cli(missing_sex_csv, *PRED)
    run.assert_error(
        f"sensitive column 'sex' has 2 missing values in '{missing_sex_csv}'; pass "
        "--missing-sensitive group (a '(missing)' group) or --missing-sensitive drop "
        "(drop those rows)"
    )


def test_missing_sensitive_group(audit_cli: RunCli, missing_sex_csv: Path) -> None:
    run = audit_cli(missing_sex_csv, *PRED, "--missing-sensitive", "group")
    run.assert_ok()
    groups = run.groups("sex")
    assert list(groups) == ["female", "male", MISSING_GROUP]
    assert groups[MISSING_GROUP]["count"] == 2
    assert groups[MISSING_GROUP]["confusion"] == {"tn": 0, "fp": 0, "fn": 1, "tp": 1}
    assert groups["male"]["count"] == 7
    assert [c["message"] for c in run.check("missing_sensitive")] == [
        "sensitive column 'sex' has 2 missing values, audited as the group '(missing)'"
    ]
    data = run.json()["lineage"]["data"]
    assert data["rows"] == data["rows_read"] == 12


def test_missing_sensitive_drop(audit_cli: RunCli, missing_sex_csv: Path) -> None:
    run = audit_cli(missing_sex_csv, *PRED, "--missing-sensitive", "drop")
    run.assert_ok()
    groups = run.groups("sex")
    assert list(groups) == ["female", "male"]
    assert groups["male"]["confusion"] == {"tn": 3, "fp": 1, "fn": 1, "tp": 2}
    assert groups["female"]["confusion"] == {"tn": 1, "fp": 1, "fn": 0, "tp": 1}
    assert run.check("rows_dropped") == [
        {
            "id": "rows_dropped",
            "status": "warning",
            "message": "2 rows dropped because a sensitive value is missing; 10 rows audited",
        }
    ]
    data = run.json()["lineage"]["data"]
    assert (data["rows"], data["rows_read"]) == (10, 12)
    assert run.json()["metrics"]["overall"]["count"] == 10


def test_missing_sensitive_drop_of_every_row(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    path = write_csv("none.csv", ["y", "pred", "sex"], [(y, p, "") for y, p, _ in SCORED_ROWS])
    run = audit_cli(path, *PRED, "--missing-sensitive", "drop")
    run.assert_error(
        "every row has a missing sensitive value, so none is left to audit; "
        "use --missing-sensitive group instead"
    )


def test_missing_sensitive_choice_is_checked_by_click(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, "--missing-sensitive", "ignore")
    run.assert_error(
        "Invalid value for '--missing-sensitive': 'ignore' is not one of 'error', 'group', 'drop'.",
        exit_code=2,
    )


def test_missing_group_name_does_not_collide_with_a_real_value(
    audit_cli: RunCli, write_csv: WriteCsv
) -> None:
    rows = [(y, p, ("male", MISSING_GROUP, "")[i % 3]) for i, (y, p, _) in enumerate(SCORED_ROWS)]
    path = write_csv("collide.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED, "--missing-sensitive", "group")
    if run.result.exit_code == 0:
        names = [r["group"]["sex"] for r in run.json()["metrics"]["by_group"]]
        assert len(names) == len(set(names)) == 3
    else:
        run.assert_nothing_written()
        assert re.fullmatch(r"Error: [^\n]*'\(missing\)'[^\n]*\n", run.stderr)


def test_na_text_is_a_group_not_a_missing_value(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    rows = [(y, p, ("NA", "DE")[i % 2]) for i, (y, p, _) in enumerate(SCORED_ROWS)]
    path = write_csv("country.csv", ["y", "pred", "country"], rows)
    run = audit_cli(path, *PRED, sensitive=["country"])
    run.assert_ok()
    assert sorted(run.groups("country")) == ["DE", "NA"]


# --- numeric sensitive features and bins -----------------------------------------------


@pytest.fixture
def age_csv(write_csv: WriteCsv) -> Path:
    """SCORED_ROWS with an age column 20, 22, ..., 42 (12 distinct values)."""
    rows = [(y, p, s, 20 + 2 * i) for i, (y, p, s) in enumerate(SCORED_ROWS)]
    return write_csv("age.csv", ["y", "pred", "sex", "age"], rows)


def test_numeric_sensitive_with_many_values_is_refused(audit_cli: RunCli, age_csv: Path) -> None:
    run = audit_cli(age_csv, *PRED, sensitive=["age"])
    # Quartiles of 20, 22, ..., 42 are 25.5, 31, 36.5; the step is 2 (a quarter of the
    # interquartile range 11 is 2.75), so the edges are 26, 32, 36.
    run.assert_error(
        "sensitive column 'age' is numeric with 12 distinct values (from 20 to 42); bin it, "
        "e.g. at its rounded quartiles, with --bins age=26,32,36 or in the config "
        "([bins] age = [26, 32, 36]) rather than audit 12 groups"
    )


@pytest.mark.parametrize(
    ("column", "low", "high", "edges"),
    [
        # Issue 14 §6: experience in years 1-26 was told to bin at 25,40,60 (two empty bins).
        # Quartiles of 1..26: 7.25, 13.5, 19.75; IQR 12.5, step 2 (<= 3.125) -> 8, 14, 20.
        ("experience", 1, 26, "8,14,20"),
        # Quartiles of 18..90: 36, 54, 72; IQR 36, step 5 (<= 9) -> 35, 55, 70.
        ("age", 18, 90, "35,55,70"),
    ],
)
@pytest.mark.parametrize("engine", ["numpy", "duckdb"])
def test_binning_suggestion_comes_from_the_values(
    audit_cli: RunCli,
    write_csv: WriteCsv,
    column: str,
    low: int,
    high: int,
    edges: str,
    engine: str,
) -> None:
    values = list(range(low, high + 1))
    rows = [(i % 2, (i // 2) % 2, values[i % len(values)]) for i in range(2 * len(values))]
    path = write_csv("years.csv", ["y", "pred", column], rows)
    run = audit_cli(path, *PRED, "--engine", engine, sensitive=[column])
    n = len(values)
    quartiles = np.quantile(values, [0.25, 0.5, 0.75])  # the oracle: numpy, rounded by hand
    assert [round(q, 2) for q in quartiles] == {
        "experience": [7.25, 13.5, 19.75],
        "age": [36.0, 54.0, 72.0],
    }[column]
    run.assert_error(
        f"sensitive column {column!r} is numeric with {n} distinct values (from {low} to "
        f"{high}); bin it, e.g. at its rounded quartiles, with --bins {column}={edges} or in "
        f"the config ([bins] {column} = [{edges.replace(',', ', ')}]) rather than audit "
        f"{n} groups"
    )
    # Every suggested bin holds values: the suggestion works as given.
    cuts = [float(e) for e in edges.split(",")]
    assert all(np.histogram(values, [low, *cuts, high + 1])[0] > 0)


@pytest.mark.parametrize(
    ("values", "edges"),
    [
        (np.linspace(0, 1, 50), [0.3, 0.5, 0.8]),  # step 0.1, no 0.30000000000000004
        ([*range(100, 1000, 50), 1000, 5000, 20000, 200000], [400, 600, 900]),  # skewed
        (np.linspace(-3, 3, 40), [-1.5, 0.0, 1.5]),
    ],
)
def test_suggest_bins_rounds_quartiles_to_a_round_step(
    values: list[float], edges: list[float]
) -> None:
    from fairaudit.data import suggest_bins

    assert suggest_bins(values) == edges


def test_numeric_sensitive_with_few_values_is_audited_as_is(
    audit_cli: RunCli, write_csv: WriteCsv
) -> None:
    rows = [(y, p, 1 + i % 3) for i, (y, p, _) in enumerate(SCORED_ROWS)]
    path = write_csv("grade.csv", ["y", "pred", "grade"], rows)
    run = audit_cli(path, *PRED, sensitive=["grade"])
    run.assert_ok()
    assert {k: v["count"] for k, v in run.groups("grade").items()} == {"1": 4, "2": 4, "3": 4}


def _assert_age_bins(run: AuditRun) -> None:
    # ages 20, 22, 24 | 26 ... 38 | 40, 42
    groups = run.groups("age")
    assert {k: v["count"] for k, v in groups.items()} == {"< 25": 3, "[25, 40)": 7, ">= 40": 2}
    assert [c["message"] for c in run.check("binned")] == [
        "sensitive column 'age' binned into < 25, [25, 40), >= 40"
    ]


def test_bins_flag(audit_cli: RunCli, age_csv: Path) -> None:
    run = audit_cli(age_csv, *PRED, "--bins", "age=25,40", sensitive=["age"])
    run.assert_ok()
    _assert_age_bins(run)


def test_bins_in_config(audit_cli: RunCli, age_csv: Path) -> None:
    run = audit_cli(age_csv, *PRED, sensitive=["age"], config="[bins]\nage = [25, 40]")
    run.assert_ok()
    _assert_age_bins(run)


def test_bins_with_missing_values_grouped(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    rows = [(y, p, s, "" if i == 0 else 20 + 2 * i) for i, (y, p, s) in enumerate(SCORED_ROWS)]
    path = write_csv("age.csv", ["y", "pred", "sex", "age"], rows)
    run = audit_cli(
        path, *PRED, "--bins", "age=25,40", "--missing-sensitive", "group", sensitive=["age"]
    )
    run.assert_ok()
    counts = {k: v["count"] for k, v in run.groups("age").items()}
    assert counts == {"< 25": 2, "[25, 40)": 7, ">= 40": 2, MISSING_GROUP: 1}


def test_bins_on_a_non_numeric_column(audit_cli: RunCli, age_csv: Path) -> None:
    run = audit_cli(age_csv, *PRED, "--bins", "sex=25,40")
    run.assert_error(
        "bins are given for sensitive column 'sex', but its values are not numbers; "
        "remove its bins or fix the column"
    )


def test_bins_for_a_feature_that_is_not_sensitive(audit_cli: RunCli, age_csv: Path) -> None:
    run = audit_cli(age_csv, *PRED, "--bins", "age=25,40")
    run.assert_error("bins are given for 'age', which is not a sensitive feature")


def test_bins_must_increase(audit_cli: RunCli, age_csv: Path) -> None:
    run = audit_cli(age_csv, *PRED, "--bins", "age=40,25", sensitive=["age"])
    run.assert_error("bins for 'age' must be increasing finite numbers, e.g. age = [25, 40, 60]")


@pytest.mark.parametrize("value", ["age=x", "age", "=25", "age="])
def test_malformed_bins_flag_is_a_usage_error(audit_cli: RunCli, age_csv: Path, value: str) -> None:
    run = audit_cli(age_csv, *PRED, "--bins", value, sensitive=["age"])
    run.assert_error(
        f"--bins takes FEATURE=EDGE,EDGE,..., e.g. --bins age=25,40,60; got {value!r}",
        exit_code=2,
    )


def test_bins_in_config_must_be_numbers(audit_cli: RunCli, age_csv: Path) -> None:
    run = audit_cli(age_csv, *PRED, sensitive=["age"], config='[bins]\nage = ["young"]')
    run.assert_error(
        f"config file '{run.config_path}': bins for 'age' must be a list of numbers, "
        "e.g. age = [25, 40, 60]"
    )


# --- group sizes and single-class groups -------------------------------------------------


def test_small_groups_are_marked_insufficient(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, "--min-group-size", "5")
    run.assert_ok()
    groups = run.groups("sex")
    assert groups["female"]["insufficient_data"] is True
    assert groups["male"]["insufficient_data"] is False
    assert run.check("insufficient_data") == [
        {
            "id": "insufficient_data",
            "status": "warning",
            "message": "1 group has fewer than 5 rows and is marked 'insufficient data': "
            "sex=female (4)",
        }
    ]
    assert run.json()["audit"]["min_group_size"] == 5
    assert "insufficient data</span>" in run.html()


def test_default_min_group_size_is_30(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED)
    run.assert_ok()
    assert all(g["insufficient_data"] for g in run.groups("sex").values())
    assert run.check("insufficient_data")[0]["status"] == "warning"


def test_no_small_groups_is_an_ok_check(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, "--min-group-size", "4")
    run.assert_ok()
    assert run.check("insufficient_data") == [
        {"id": "insufficient_data", "status": "ok", "message": "every group has at least 4 rows"}
    ]


def test_min_group_size_zero_is_a_usage_error(audit_cli: RunCli, scored_csv: Path) -> None:
    run = audit_cli(scored_csv, *PRED, "--min-group-size", "0")
    run.assert_error(
        "Invalid value for '--min-group-size': 0 is not in the range x>=1.", exit_code=2
    )


def test_single_class_group_has_undefined_rates(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    # Group "other": three rows, all truly negative, one predicted positive.
    rows = [*SCORED_ROWS, (0, 0, "other"), (0, 1, "other"), (0, 0, "other")]
    path = write_csv("single.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED)
    run.assert_ok()
    other = run.groups("sex")["other"]
    assert other["single_class"] is True
    assert other["metrics"]["true_positive_rate"] is None
    assert other["metrics"]["false_negative_rate"] is None
    assert other["metrics"]["false_positive_rate"] == pytest.approx(1 / 3)
    assert other["metrics"]["balanced_accuracy"] is None
    assert run.groups("sex")["male"]["single_class"] is False
    assert [c["status"] for c in run.check("single_class")] == ["warning"]
    assert "sex=other (3)" in run.check("single_class")[0]["message"]
    tpr = [
        d
        for d in run.json()["disparities"]
        if d["metric"] == "true_positive_rate" and d["group"] == {"sex": "other"}
    ]
    assert tpr[0]["value"] is None and tpr[0]["ratio"] is None
    cells = metric_cells(run.html(), "Sensitive feature: sex: metrics by group", "sex: other")
    assert cells["true positive rate"] == "undefined"
    assert cells["false negative rate"] == "undefined"
    # The value, then its Wilson interval for 1 of 3.
    assert cells["false positive rate"] == "0.3333 [0.061, 0.792]"
    assert cells["count"] == "3"


def test_group_with_only_positive_labels_has_undefined_fpr(
    audit_cli: RunCli, write_csv: WriteCsv
) -> None:
    rows = [*SCORED_ROWS, (1, 1, "other"), (1, 0, "other")]
    path = write_csv("single.csv", ["y", "pred", "sex"], rows)
    run = audit_cli(path, *PRED)
    run.assert_ok()
    other = run.groups("sex")["other"]
    assert other["metrics"]["false_positive_rate"] is None
    assert other["metrics"]["true_positive_rate"] == 0.5
    cells = metric_cells(run.html(), "Sensitive feature: sex: metrics by group", "sex: other")
    assert cells["false positive rate"] == "undefined"
    assert cells["true positive rate"] == "0.5000 [0.095, 0.905]"


def test_labels_of_one_class_only_are_a_warning(audit_cli: RunCli, write_csv: WriteCsv) -> None:
    path = write_csv("neg.csv", ["y", "pred", "sex"], [(0, p, s) for _, p, s in SCORED_ROWS])
    run = audit_cli(path, *PRED)
    run.assert_ok()
    assert run.check("label_classes") == [
        {
            "id": "label_classes",
            "status": "warning",
            "message": "label column 'y': 0 positive, 12 negative",
        }
    ]


# --- the functions directly ------------------------------------------------------------


def test_read_table_returns_format_and_checks(scored_csv: Path) -> None:
    frame, fmt, checks = read_table(scored_csv)
    assert fmt == "csv"
    assert checks == []
    assert list(frame.columns) == ["y", "pred", "sex"]
    assert len(frame) == 12


def test_read_table_parquet(tmp_path: Path) -> None:
    path = tmp_path / "d.pq"
    pd.DataFrame(SCORED_ROWS, columns=["y", "pred", "sex"]).to_parquet(path)
    frame, fmt, _ = read_table(path)
    assert fmt == "parquet"
    assert frame["sex"].tolist() == [s for _, _, s in SCORED_ROWS]


@pytest.mark.parametrize(
    ("values", "positive", "expected"),
    [
        ([0, 1, 1, 0], None, [False, True, True, False]),
        ([True, False], None, [True, False]),
        ([True, False], "TRUE", [True, False]),
        (["yes", "no", "yes"], "yes", [True, False, True]),
        ([1.0, 0.0], "1", [True, False]),
        ([2, 1], "1", [False, True]),
        ([1, 1], None, [True, True]),
    ],
)
def test_binarize(values: list, positive: str | None, expected: list[bool]) -> None:
    out = binarize(pd.Series(values), positive, column="y", role="label")
    assert out.dtype == bool
    assert out.tolist() == expected


def test_binarize_raises_data_error() -> None:
    with pytest.raises(DataError, match=r"^label column 'y' has values 'a', 'b', not 0/1;"):
        binarize(pd.Series(["a", "b"]), None, column="y", role="label")


def test_encode_sensitive_orders_levels_and_puts_missing_last() -> None:
    feature = encode_sensitive(pd.Series(["b", None, "a", "b"]), column="g", edges=None)
    assert feature.levels == ("a", "b", MISSING_GROUP)
    assert feature.codes.tolist() == [1, 2, 0, 1]
    assert feature.binned is False


def test_encode_sensitive_numbers_sort_numerically() -> None:
    feature = encode_sensitive(pd.Series([10, 9, 10, 1]), column="n", edges=None)
    assert feature.levels == ("1", "9", "10")
    assert feature.codes.tolist() == [2, 1, 2, 0]


def test_encode_sensitive_bins_edges_are_left_closed() -> None:
    feature = encode_sensitive(pd.Series([24.9, 25, 39, 40, 99]), column="age", edges=[25, 40])
    assert feature.levels == ("< 25", "[25, 40)", ">= 40")
    assert feature.codes.tolist() == [0, 1, 1, 2, 2]
    assert feature.binned is True


def test_encode_sensitive_fractional_edges() -> None:
    feature = encode_sensitive(pd.Series([0.1, 0.7]), column="s", edges=[0.5])
    assert feature.levels == ("< 0.5", ">= 0.5")
    assert np.array_equal(feature.codes, [0, 1])


# --- nested Parquet columns (issue 12 §6) ----------------------------------------------


@pytest.mark.parametrize("engine", ["numpy", "duckdb"])
@pytest.mark.parametrize(
    ("role", "column", "kind"),
    [
        ("--sensitive", "tags", "lists"),
        ("--sensitive", "record", "structs"),
        ("--target", "tags", "lists"),
        ("--prediction-col", "record", "structs"),
    ],
)
def test_a_list_or_struct_column_in_a_role_is_one_line(
    audit_cli: RunCli, tmp_path: Path, engine: str, role: str, column: str, kind: str
) -> None:
    """Was `Error: internal error (TypeError: unhashable type ...)` on both engines."""
    path = tmp_path / "nested.parquet"
    pd.DataFrame(
        {
            "y": [1, 0] * 10,
            "pred": [1, 1, 0, 0] * 5,
            "sex": ["m", "f", "f", "m"] * 5,
            "tags": [[1, 2], [3]] * 10,
            "record": [{"a": 1}, {"a": 2}] * 10,
        }
    ).to_parquet(path)
    roles = {"--target": "y", "--prediction-col": "pred", "--sensitive": "sex", role: column}
    config = f"sensitive = [{roles.pop('--sensitive')!r}]"
    args = [x for flag, value in roles.items() for x in (flag, value)]
    run = audit_cli(path, *args, "--engine", engine, sensitive=None, config=config)
    run.assert_error(
        f"column {column!r} ({role}) holds {kind}, not one value per row; give {role} a "
        "column of single values (flatten or pick a field first)"
    )
