"""Printed summary tables: one line per method and sweep point, the same lines as
``summary.json``, recomputable from ``results.csv`` (issue 13, defect 1)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from isaclearn.experiments.results import (
    ROWS_COLUMN,
    format_table,
    is_number,
    matches,
    read_results_csv,
    summary_table,
    table_cells,
)
from isaclearn.experiments.runner import run_experiment, table_from_summary, table_of
from isaclearn.systems.base import experiments, get_experiment

# Tiny configurations of real experiments (seconds each on one core).
TINY: dict[str, dict[str, str]] = {
    "qi_uplink.runtime": {"num_test": "8", "tx_list": "4,6", "rx_list": "4", "users_list": "2",
                          "num_cvxpy": "1", "repeats": "1"},
    "qi_uplink.schemes": {"num_train": "64", "num_val": "32", "num_test": "16",
                          "max_epochs": "2", "alphas": "0.2,0.8", "num_cvxpy": "0",
                          "num_tx": "4", "num_rx": "4", "num_users": "2", "batch_size": "32"},
    "qi_uplink.training": {"num_train": "64", "num_val": "32", "max_epochs": "3",
                           "train_sizes": "32,64", "num_tx": "4", "num_rx": "4",
                           "num_users": "2", "batch_size": "32"},
    "temiz_unsup.baselines": {"batch": "16", "convex_batch": "1", "tradeoff_sinr_db": "0",
                              "grid_points": "7", "num_antennas": "4", "num_users": "2"},
    "temiz_unsup.tradeoff": {"antennas": "4", "num_users": "2", "rhos": "0,1",
                             "variants": "dnn,struct_rho", "num_train": "200", "num_test": "20",
                             "max_epochs": "2", "num_beta": "8", "num_gamma": "2",
                             "sdr_instances": "1", "sdr_sinr_db": "0", "batch_size": "100"},
}


def test_a_table_never_averages_over_methods() -> None:
    # the defect: table columns without "method" gave one line per point, the mean of all
    rows = [
        {"key": "n=4", "method": "isacnn", "value": 4, "seconds_per_instance": 7.4e-5},
        {"key": "n=4", "method": "traditional", "value": 4, "seconds_per_instance": 2.4e-2},
        {"key": "n=6", "method": "isacnn", "value": 6, "seconds_per_instance": 8.0e-5},
    ]
    cols, table = summary_table(rows, columns=["value", "seconds_per_instance"],
                                group=["value"])
    assert cols == ["method", "value", "seconds_per_instance"]
    assert table == [{"method": "isacnn", "value": 4, "seconds_per_instance": 7.4e-5},
                     {"method": "traditional", "value": 4, "seconds_per_instance": 2.4e-2},
                     {"method": "isacnn", "value": 6, "seconds_per_instance": 8.0e-5}]
    # without the sweep coordinate as a group column, method alone does not name a line:
    # the sweep point's key is shown too
    cols, table = summary_table(rows, columns=["value", "seconds_per_instance"])
    assert cols == ["key", "method", "value", "seconds_per_instance"]
    assert [t["seconds_per_instance"] for t in table] == [7.4e-5, 2.4e-2, 8.0e-5]


def test_group_columns_filter_and_key_fallback() -> None:
    rows = [{"key": "M10/base", "method": "mmse", "rho": r, "y": 1.0} for r in (0.0, 1.0)]
    rows += [{"key": f"M10/net/rho{r:g}", "method": "net", "rho": r, "y": 2.0 + r}
             for r in (0.0, 1.0)]
    # rho identifies a line: the repeated baseline rows are not averaged into rho = 0.5
    cols, table = summary_table(rows, columns=["method", "rho", "y"], group=["rho"])
    assert cols == ["method", "rho", "y"]
    assert [(t["method"], t["rho"]) for t in table] == [("mmse", 0.0), ("mmse", 1.0),
                                                        ("net", 0.0), ("net", 1.0)]
    # without it, the two mmse rows share a line, which says that it averages two rows
    cols, table = summary_table(rows, columns=["method", "y"])
    assert cols == ["key", "method", "y", ROWS_COLUMN]  # key added: method alone is ambiguous
    assert table[0] == {"key": "M10/base", "method": "mmse", "y": 1.0, ROWS_COLUMN: 2}
    # keep: a row filter (e.g. the best epoch of a curve)
    cols, table = summary_table(rows, columns=["method", "rho", "y"], group=["rho"],
                                keep=lambda r: r["method"] == "net")
    assert [t["y"] for t in table] == [2.0, 3.0]


def test_table_cells_print_like_the_floats() -> None:
    table = [{"method": "a", "x": math.nan, "y": math.inf, "z": -math.inf, "w": 1.5}]
    cells = table_cells(table)
    json.dumps(cells, allow_nan=False)
    assert format_table(cells, list(table[0])) == format_table(table, list(table[0]))


def test_every_registered_table_names_its_methods() -> None:
    for name, spec in experiments().items():
        if spec.table_columns:
            assert "method" in spec.table_columns, name


def _recompute(spec: Any, csv_rows: list[dict[str, Any]], line: Mapping[str, Any],
               columns: list[str]) -> dict[str, Any]:
    """The line's values from the CSV rows of its method and sweep coordinates, by hand."""
    ident = ["method", *spec.table_group]
    if "key" in columns:
        ident.append("key")
    sel = [r for r in csv_rows if matches(r, spec.table_where)
           and (spec.table_filter is None or spec.table_filter(r))
           and all(str(r.get(c)) == str(line[c]) for c in ident if c in line)
           and all(str(r.get(c)) == str(line[c]) for c in columns
                   if c in line and not is_number(line[c]) and line[c] is not None)]
    assert len(sel) == 1, (line, sel)  # one result row per line: nothing averaged
    return {c: sel[0].get(c) for c in columns}


@pytest.mark.parametrize("name", sorted(TINY))
def test_printed_table_is_summary_json_is_results_csv(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    result = run_experiment(name, overrides=TINY[name], out_dir=out)
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    entry = summary["table"]
    assert result.table and result.table in printed
    # the printed text is the table of summary.json's lines ...
    assert table_from_summary(summary) == result.table
    assert format_table(entry["rows"], entry["columns"]) == result.table
    # ... which are the table recomputed from results.csv ...
    spec = get_experiment(name)
    csv_rows = read_results_csv(out / "results.csv")
    columns, lines = table_of(spec, csv_rows)
    assert entry["columns"] == columns and entry["rows"] == table_cells(lines)
    # ... and every line is one method at one sweep point, equal to its row of results.csv
    assert "method" in columns and ROWS_COLUMN not in columns
    for line in lines:
        want = _recompute(spec, csv_rows, line, columns)
        for c in columns:
            got = line[c]
            if isinstance(got, float) and math.isnan(got):
                assert want[c] is None or math.isnan(want[c])
            else:
                assert got == want[c], (c, line, want)


def test_runtime_table_shows_each_method_time(tmp_path: Path) -> None:
    # the reported case: ISACNN's time, not the mean over every scheme
    out = tmp_path / "run"
    run_experiment("qi_uplink.runtime", overrides=TINY["qi_uplink.runtime"], out_dir=out,
                   quiet=True)
    csv_rows = read_results_csv(out / "results.csv")
    lines = json.loads((out / "summary.json").read_text())["table"]["rows"]
    for sweep, value in (("num_tx", 4), ("num_tx", 6), ("num_rx", 4), ("num_users", 2)):
        isa = [r for r in csv_rows if r["sweep"] == sweep and r["value"] == value
               and r["method"] == "isacnn"]
        shown = [t for t in lines if t["sweep"] == sweep and t["value"] == value
                 and t["method"] == "isacnn"]
        assert len(isa) == len(shown) == 1
        assert shown[0]["seconds_per_instance"] == isa[0]["seconds_per_instance"]
