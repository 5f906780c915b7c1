import numpy as np
import pandas as pd
import pytest

from repro.report.compare import COMPARISON_COLUMNS, compare
from repro.report.reported import load_reported
from repro.report.results import ResultsError


def _row(table, dataset, method, metric):
    hit = table[(table.dataset == dataset) & (table.method == method) & (table.metric == metric)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_columns_and_order(toy_paper, toy_results):
    table = compare(toy_paper, toy_results)
    assert list(table.columns) == COMPARISON_COLUMNS
    # paper cells first in paper order, then the unreported reproduced cell
    assert list(zip(table.dataset, table.method, table.metric))[:3] == [
        ("d1", "a", "acc"), ("d1", "b", "acc"), ("d1", "c", "acc")]
    assert len(table) == 6 + 1


def test_mean_std_delta_verdict_by_hand(toy_paper, toy_results):
    table = compare(toy_paper, toy_results)
    a = _row(table, "d1", "a", "acc")          # seeds 0.80, 0.82, 0.84 vs printed 81.0 %
    assert (a.unit, a.reported, a.n_seeds) == ("%", 81.0, 3)
    assert a.reproduced_mean == pytest.approx(82.0)
    assert a.reproduced_std == pytest.approx(2.0)   # sample std (ddof=1), in points
    assert a.delta == pytest.approx(1.0)
    # 1 +- t(0.975, 2) 4.30 x 2 / sqrt(3) = [-3.97, 5.97] straddles the 2-point tolerance
    assert (a.verdict, a.strength) == ("inconclusive", "indicative")    # 3 seeds < 5 runs
    b = _row(table, "d1", "b", "acc")          # one seed 0.70 vs 75.0 %
    assert b.reproduced_mean == pytest.approx(70.0) and np.isnan(b.reproduced_std)
    assert b.delta == pytest.approx(-5.0) and b.verdict == "inconclusive"   # one run
    c = _row(table, "d1", "c", "acc")          # 0.80, 0.82 vs 80.0 %
    assert c.reproduced_std == pytest.approx(np.sqrt(2.0))
    assert c.verdict == "inconclusive"


def _seeds(method, values, dataset="d1", metric="acc"):
    return pd.DataFrame({"dataset": dataset, "method": method, "metric": metric,
                         "seed": range(len(values)), "value": values, "unit": "fraction"})


def test_within_deviates_inconclusive_from_the_interval(toy_paper):
    """The (1 - alpha) one-sample interval of reproduced - reported against +- tolerance."""
    results = pd.concat([
        _seeds("a", [0.805, 0.81, 0.815, 0.81, 0.81]),    # 81.0 printed: [-0.3, +0.3] points
        _seeds("b", [0.70, 0.705, 0.71, 0.70, 0.705]),    # 75.0 printed: about -4.6 +- 0.5
        _seeds("c", [0.78, 0.83, 0.80, 0.76, 0.84])])     # 80.0 printed: 0.2 +- 4 points
    table = compare(toy_paper, results)
    assert [_row(table, "d1", m, "acc").verdict for m in "abc"] == [
        "within", "deviates", "inconclusive"]
    assert set(table.loc[table.verdict.isin(["within", "deviates", "inconclusive"]),
                         "strength"]) == {"decisive"}                  # paper, 5 seeds
    quick = compare(toy_paper, results, profile="quick")
    assert _row(quick, "d1", "a", "acc").strength == "indicative"
    assert _row(quick, "d1", "a", "sec").strength == ""                # no verdict, no strength
    # the same mean with a larger spread is no longer "within": the standard error counts
    wide = results.copy()
    wide.loc[wide.method == "a", "value"] = [0.78, 0.84, 0.81, 0.79, 0.83]
    assert _row(compare(toy_paper, wide), "d1", "a", "acc").verdict == "inconclusive"


def test_rerun_variance_widens_the_comparison_with_the_paper(toy_paper):
    results = _seeds("a", [0.815, 0.82, 0.825, 0.82, 0.82])     # 81.0 printed: +1 +- 0.3
    assert _row(compare(toy_paper, results), "d1", "a", "acc").verdict == "within"
    rerun = pd.DataFrame({"dataset": "d1", "method": "a", "variant": "", "metric": "acc",
                          "seed": range(5), "repeat": 0, "unit": "fraction",
                          "reference": [0.815, 0.82, 0.825, 0.82, 0.82],
                          "rerun": [0.87, 0.77, 0.88, 0.76, 0.82]})
    assert _row(compare(toy_paper, results, rerun=rerun), "d1", "a", "acc").verdict == \
        "inconclusive"


def test_not_run_not_comparable_and_unreported(toy_paper, toy_results):
    table = compare(toy_paper, toy_results)
    missing = _row(table, "d2", "a", "acc")
    assert missing.verdict == "not run" and missing.n_seeds == 0
    assert np.isnan(missing.reproduced_mean) and np.isnan(missing.delta)
    seconds = _row(table, "d1", "a", "sec")     # tolerance null -> not comparable
    assert seconds.verdict == "not comparable" and seconds.delta == pytest.approx(17.5)
    extra = _row(table, "d1", "a", "nmi")
    assert extra.table == "" and np.isnan(extra.reported)
    assert extra.verdict == "not comparable" and "not reported" in extra.note
    assert len(compare(toy_paper, toy_results, include_unreported=False)) == 6


def test_tolerance_boundary_counts_as_within(toy_paper):
    # |0.82 - 0.80| is 0.02 up to float rounding: exactly at the tolerance -> within (two
    # identical seeds: a zero-width interval)
    results = pd.DataFrame({"dataset": ["d1"] * 4, "method": ["c", "c", "b", "b"],
                            "metric": ["acc"] * 4, "seed": [0, 1, 0, 1],
                            "value": [0.82, 0.82, 0.7701, 0.7701], "unit": ["fraction"] * 4})
    table = compare(toy_paper, results)
    assert _row(table, "d1", "c", "acc").verdict == "within"
    assert _row(table, "d1", "b", "acc").verdict == "deviates"   # 2.01 points off


def test_percent_results_are_converted(toy_paper):
    results = pd.DataFrame({"dataset": ["d1"] * 2, "method": ["a"] * 2, "metric": ["acc"] * 2,
                            "seed": [0, 1], "value": [81.5, 81.5], "unit": ["%"] * 2})
    a = _row(compare(toy_paper, results), "d1", "a", "acc")
    assert a.reproduced_mean == pytest.approx(81.5) and a.verdict == "within"


def test_notes_with_wildcards(toy_paper, toy_results):
    notes = {("*", "*"): "quick profile", ("d2", "*"): "not run: d2 absent",
             ("d1", "b"): "1 seed"}
    table = compare(toy_paper, toy_results, notes)
    assert _row(table, "d2", "a", "acc").note == "quick profile; not run: d2 absent"
    assert _row(table, "d1", "b", "acc").note == "quick profile; 1 seed"
    assert _row(table, "d1", "a", "nmi").note == "quick profile; not reported in the paper"
    assert set(compare(toy_paper, toy_results, "global").note.str[:6]) == {"global"}
    with pytest.raises(KeyError, match="'d9'"):
        compare(toy_paper, toy_results, {("d9", "*"): "typo"})


def test_empty_results_are_all_not_run(toy_paper):
    table = compare(toy_paper, None)
    assert (table.verdict == "not run").all() and len(table) == 6


def test_incompatible_unit_is_an_error(toy_paper):
    results = pd.DataFrame({"dataset": ["d1"], "method": ["a"], "metric": ["acc"], "seed": [0],
                            "value": [3.0], "unit": ["s"]})
    with pytest.raises(ResultsError, match="'s'.*'%'"):
        compare(toy_paper, results)


def test_gapdcec_paper_numbers_compare_as_within():
    paper = load_reported("gapdcec")
    frame = paper.frame().drop(columns="table")
    one = frame.assign(seed=0, value=frame["value"] / 100, unit="fraction")
    assert (compare(paper, one).verdict == "inconclusive").all()     # one seed: no noise
    five = pd.concat([one.assign(seed=s) for s in range(5)], ignore_index=True)
    table = compare(paper, five)
    assert (table.verdict == "within").all() and (table.strength == "decisive").all()
    np.testing.assert_allclose(table.delta, 0.0, atol=1e-9)
    assert (compare(paper, five, profile="quick").strength == "indicative").all()


def test_stand_in_rows_sit_beside_the_paper_dataset(toy_dict, write_paper, toy_results):
    toy_dict["stand_ins"] = {"s2": "d2"}
    toy_dict["display"]["datasets"]["d2"] = "Data 2"
    paper = load_reported(write_paper(toy_dict))
    results = pd.concat([toy_results, toy_results[toy_results.method == "a"].assign(dataset="s2")
                         [lambda f: f.metric == "acc"]], ignore_index=True)
    table = compare(paper, results)
    stand_in = table[table.dataset == "s2"]
    # one row per printed d2 cell: a ran on s2 (not comparable), b did not (not run)
    assert stand_in[["method", "reported", "verdict"]].values.tolist() == [
        ["a", 60.0, "not comparable"], ["b", 50.0, "not run"]]
    a = stand_in.iloc[0]
    assert a.reproduced_mean == pytest.approx(82.0) and np.isnan(a.delta)
    assert a.note == "stand-in data for Data 2" and a.table == "t1"
    assert not ((table.dataset == "s2") & (table.table == "")).any()   # no unreported duplicate
    # the paper dataset's own cells are untouched
    assert _row(table, "d2", "a", "acc").verdict == "not run"


def test_stand_in_must_name_a_paper_dataset(toy_dict, write_paper):
    from repro.report.reported import ReportedSchemaError

    toy_dict["stand_ins"] = {"s2": "nope"}
    with pytest.raises(ReportedSchemaError, match="stand_ins.s2: unknown paper dataset 'nope'"):
        load_reported(write_paper(toy_dict))
