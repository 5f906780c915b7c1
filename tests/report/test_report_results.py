import numpy as np
import pandas as pd
import pytest

from repro.report.atomic import write_csv_atomic
from repro.report.results import (ResultsError, ResultsTable, histories_frame, read_results_csv,
                                  summarize_results)


def test_table_rows_and_round_trip(tmp_path):
    table = ResultsTable()
    table.add_metrics("mnist-full", "dcec", {"acc": 0.87, "nmi": 0.83}, seed=0, unit="fraction")
    table.add("mnist-full", "dcec", "seconds", 12, seed=0, unit="s")
    frame = table.frame()
    assert list(frame.columns) == ["dataset", "method", "variant", "metric", "seed", "repeat",
                                   "value", "unit"]
    assert frame["value"].tolist() == [0.87, 0.83, 12.0]
    back = read_results_csv(write_csv_atomic(tmp_path / "results.csv", frame))
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


@pytest.mark.parametrize("kwargs, message", [
    ({"value": float("nan")}, "finite number"),
    ({"value": "0.8"}, "finite number"),
    ({"unit": "percent"}, "unknown unit"),
])
def test_bad_rows_are_refused(kwargs, message):
    args = {"dataset": "d", "method": "m", "metric": "acc", "value": 0.5, "seed": 0,
            "unit": "fraction", **kwargs}
    with pytest.raises(ValueError, match=message):
        ResultsTable().add(**args)


def test_duplicate_seed_is_refused():
    table = ResultsTable()
    table.add("d", "m", "acc", 0.5, seed=1, unit="fraction")
    with pytest.raises(ResultsError, match=r"\('d', 'm', '', 'acc', 1, 0\)"):
        table.add("d", "m", "acc", 0.6, seed=1, unit="fraction")


def test_summarize_converts_units_and_uses_sample_std():
    frame = pd.DataFrame({"dataset": ["d"] * 3, "method": ["m"] * 3, "metric": ["acc"] * 3,
                          "seed": [0, 1, 2], "value": [80.0, 0.82, 84.0],
                          "unit": ["%", "fraction", "%"]})
    row = summarize_results(frame).iloc[0]
    assert row.unit == "fraction" and row.n_seeds == 3
    assert row["mean"] == pytest.approx(0.82) and row["std"] == pytest.approx(0.02)


def test_missing_column_is_named():
    with pytest.raises(ResultsError, match=r"\['seed'\]"):
        summarize_results(pd.DataFrame({"dataset": [], "method": [], "metric": [],
                                        "value": [], "unit": []}))


def test_histories_validation():
    rows = [{"dataset": "d", "method": "m", "seed": 0, "iteration": i, "epoch": i / 2,
             "acc": 0.5 + i / 10} for i in range(3)]
    frame = histories_frame(rows)
    assert list(frame.columns) == ["dataset", "method", "variant", "seed", "iteration", "epoch",
                                   "acc"]
    with pytest.raises(ResultsError, match="duplicate"):
        histories_frame(rows + rows[:1])
    with pytest.raises(ResultsError, match=r"\['epoch'\]"):
        histories_frame([{k: v for k, v in r.items() if k != "epoch"} for r in rows])
    with pytest.raises(ResultsError, match="no metric column"):
        histories_frame([{k: v for k, v in r.items() if k != "acc"} for r in rows])
    assert np.isnan(histories_frame(rows + [{**rows[0], "method": "k", "acc": None}])["acc"].iloc[-1])
