"""The parts of the verdict rule: chance levels and gates, derived metrics, paired re-run
data in an interval, and the YAML schema of the new keys (runs, alpha, gates, derived,
departures)."""

import numpy as np
import pandas as pd
import pytest

from repro.report.derived import add_derived
from repro.report.gates import chance_level, chance_levels, evaluate_gates
from repro.report.reported import GateSpec, ReportedSchemaError, load_reported
from repro.report.rerun import read_rerun, rerun_pairs, rerun_summary
from repro.report.stats import compare_cells

COLUMNS = ["dataset", "method", "variant", "metric", "seed", "repeat", "value", "unit"]


# ---------------------------------------------------------------- chance levels and gates

def test_chance_level_rules():
    assert chance_level("majority", [0, 0, 0, 1, 2]) == pytest.approx(0.6)
    assert chance_level("majority", np.eye(3)) is None          # no majority class multi-label
    assert chance_level("relevance_rate", [0, 0, 1, 1]) == pytest.approx(0.5)
    assert chance_level("relevance_rate", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) == pytest.approx(0.1)
    # multi-label: rows 0-1 and 1-2 share a label, 0-2 do not: 2 of 3 pairs
    assert chance_level("relevance_rate", np.array([[1, 0], [1, 1], [0, 1]])) == \
        pytest.approx(2 / 3)
    assert chance_level("zero", [3, 3, 3]) == 0.0
    with pytest.raises(ValueError, match="unknown chance rule 'median'"):
        chance_level("median", [0])
    spec = GateSpec(chance={"acc": "majority", "nmi": "zero"})
    assert chance_levels(spec, np.eye(3)) == {"nmi": 0.0}   # no majority of multi-hot labels
    assert chance_levels(spec, None) == {} and chance_levels(None, [0, 1]) == {}


def _results(rows):
    return pd.DataFrame(rows, columns=COLUMNS)


def test_gates_chance_band_loss_and_dynamic_range():
    spec = GateSpec(chance={"acc": "majority"}, chance_band=0.1,
                    loss={"trivial": {"b": 1.0}, "fraction": 0.05},
                    dynamic_range=({"datasets": ["d1"], "metric": "acc", "high": "sup",
                                    "low": "rand", "min": 0.05, "claims": ["probe"]},))
    results = _results(
        [("d1", "a", "", "acc", s, 0, v, "fraction") for s, v in ((0, 0.50), (1, 0.60))]
        + [("d1", "a", "", "sec", 0, 0, 3.0, "s")]
        + [("d1", "b", "", "acc", s, 0, 0.80, "fraction") for s in (0, 1)]
        + [("d1", m, v, "acc", 0, 0, x, "fraction") for m, v, x in
           (("sup", "conv1", 0.70), ("rand", "conv1", 0.68), ("sup", "conv2", 0.75),
            ("rand", "conv2", 0.72))])
    histories = pd.DataFrame({"dataset": "d1", "method": "b", "variant": "", "seed": [0, 0, 1, 1],
                              "iteration": [0, 1, 0, 1], "epoch": [0.0, 1.0, 0.0, 1.0],
                              "loss": [1.2, 0.97, 1.2, 0.99]})
    # chance of d1: 0.5 -> band up to 0.55; a's mean 0.55 is in it
    gates = evaluate_gates(spec, results, histories, {"d1": {"acc": 0.5}})
    assert gates.cell("d1", "a", "", "acc").startswith("did not train: a acc 0.550")
    assert gates.cell("d1", "a", "", "sec") is None             # seconds are not gated
    # b clears the chance band, but its loss 0.98 is not 5% below its trivial 1.0
    assert "final loss 0.980 is not 5% below its trivial loss 1" in gates.cell("d1", "b", "", "acc")
    # best contrast sup - rand over layers: 3 points < 5
    assert gates.claim("probe", "d1").startswith("no dynamic range: on d1")
    assert gates.claim("other", "d1") is None
    table = gates.frame()
    assert set(table["gate"]) == {"chance band", "loss below trivial", "dynamic range"}
    assert table.set_index("gate").loc["dynamic range", "value"] == pytest.approx(0.03)
    # a wider contrast and a lower chance: nothing gated
    wide = results.assign(value=np.where(results["method"] == "rand", 0.50, results["value"]))
    histories.loc[histories["epoch"] == 1.0, "loss"] = 0.5
    gates = evaluate_gates(spec, wide, histories, {"d1": {"acc": 0.1}})
    assert not gates.cell_gates and not gates.claim_gates
    assert evaluate_gates(None, results, histories, {}).frame().empty


# ---------------------------------------------------------------- derived metrics

def _probe_results():
    rows = []
    for dataset, offset in (("mnist-full", 0.0), ("usps", 0.05)):
        for seed in (0, 1):
            for layer, sup, dc in (("conv3", 0.90, 0.80), ("conv4", 0.92, 0.85)):
                rows += [(dataset, "imagenet_labels", layer, "top1", seed, 0, sup, "fraction"),
                         (dataset, "deepcluster", layer, "top1", seed, 0,
                          dc + offset + 0.01 * seed, "fraction")]
    return _results(rows)


def test_derived_metrics_do_not_depend_on_row_or_method_order():
    specs = load_reported("deepcluster").derived
    results = _probe_results()
    # a stale row of a derived metric that an older run recorded itself: replaced
    stale = _results([("usps", "deepcluster", "conv3", "supervised_gap", 0, 0, 9.9, "fraction")])
    out = add_derived(pd.concat([results, stale], ignore_index=True), specs)
    derived = out[out["metric"].isin(["supervised_gap", "transfer_gap_reduction"])]
    key = ["dataset", "variant", "metric", "seed"]
    values = derived.set_index(key)["value"].sort_index()
    assert values[("usps", "conv3", "supervised_gap", 0)] == pytest.approx(0.05)
    assert values[("mnist-full", "conv4", "supervised_gap", 1)] == pytest.approx(0.06)
    # transfer_gap_reduction on usps = gap(mnist-full) - gap(usps), per seed
    assert values[("usps", "conv3", "transfer_gap_reduction", 0)] == pytest.approx(0.05)
    assert not (values == 9.9).any()
    assert (derived["method"] == "deepcluster").all()
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(len(results))
        shuffled = results.iloc[order].reset_index(drop=True)
        again = add_derived(shuffled, specs)
        again = again[again["metric"].isin(["supervised_gap", "transfer_gap_reduction"])]
        pd.testing.assert_series_equal(again.set_index(key)["value"].sort_index(), values)


# ---------------------------------------------------------------- paired re-run data

def _series(values, seeds=None):
    seeds = list(seeds if seeds is not None else range(len(values)))
    return pd.Series(values, index=pd.MultiIndex.from_arrays(
        [seeds, [0] * len(values)], names=["seed", "repeat"]), dtype=float)


def _rerun(reference, rerun):
    index = _series(reference).index
    return pd.DataFrame({"reference": reference, "rerun": rerun}, index=index)


def test_rerun_variance_of_the_difference_widens_a_paired_interval():
    left, right = _series([0.70, 0.75, 0.80]), _series([0.68, 0.72, 0.785])
    base = compare_cells(left, right, unit="fraction")
    assert base.kind == "paired t" and base.df == pytest.approx(2)
    # a re-run that moved both cells together: the difference did not move, nothing changes
    same = compare_cells(left, right, unit="fraction",
                         rerun_left=_rerun([0.70, 0.75, 0.80], [0.75, 0.70, 0.85]),
                         rerun_right=_rerun([0.68, 0.72, 0.785], [0.73, 0.67, 0.835]))
    assert same.se == pytest.approx(base.se) and same.interval(0.95) == pytest.approx(
        base.interval(0.95))
    # a re-run that moved the difference: var_rerun = mean(delta^2) / 2, added as var / n
    moved = compare_cells(left, right, unit="fraction",
                          rerun_left=_rerun([0.70, 0.75, 0.80], [0.72, 0.75, 0.79]),
                          rerun_right=_rerun([0.68, 0.72, 0.785], [0.68, 0.73, 0.785]))
    delta = np.array([0.02, -0.01, -0.01])
    assert moved.se ** 2 == pytest.approx(base.se ** 2 + np.mean(delta ** 2) / 2 / 3)
    lo, hi = moved.interval(0.95)
    assert moved.se > base.se and moved.estimate == pytest.approx(base.estimate)
    assert moved.df == pytest.approx(2)             # the seeds' df: re-run data add none


def test_rerun_pairs_and_file(tmp_path):
    reference = _results([("d1", "a", "", "acc", s, 0, v, "fraction") for s, v in
                          ((0, 0.5), (1, 0.6))] + [("d1", "a", "", "sec", 0, 0, 3.0, "s")])
    rerun = reference.assign(value=reference["value"] + [0.01, -0.02, 1.0])
    pairs = rerun_pairs(reference, rerun, reference_run="intel", rerun_run="amd")
    assert len(pairs) == 2 and set(pairs["unit"]) == {"fraction"}       # seconds are not kept
    assert pairs["rerun"].tolist() == pytest.approx([0.51, 0.58])
    path = tmp_path / "toy-quick.csv"
    pairs.to_csv(path, index=False)
    assert read_rerun(path)["reference_run"].tolist() == ["intel", "intel"]
    assert rerun_summary(pairs)["max_abs_diff"].tolist() == pytest.approx([0.02])
    with pytest.raises(ValueError, match="share no"):
        rerun_pairs(reference, rerun.assign(seed=rerun["seed"] + 5))
    reference.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="bad.csv: not a re-run file"):
        read_rerun(tmp_path / "bad.csv")


def test_pairing_by_seed_when_repeats_differ_and_ratio_fallback():
    left = pd.Series([10.0, 11.0, 20.0, 21.0], index=pd.MultiIndex.from_arrays(
        [[0, 0, 1, 1], [0, 1, 0, 1]], names=["seed", "repeat"]))
    right = _series([20.0, 40.0])                         # one repeat per seed
    test = compare_cells(left, right, unit="s")
    assert (test.kind, test.n, test.scale) == ("paired t", 2, "ratio")
    zero = compare_cells(_series([0.0, 1.0]), _series([2.0, 3.0]), unit="s")
    assert zero.scale == "difference"                     # a 0 s value: no log scale
    against = compare_cells(_series([0.5, 0.6]), 0.4, unit="fraction")
    assert against.kind == "one-sample t" and against.estimate == pytest.approx(0.15)
    with pytest.raises(ValueError, match="at least one measured cell"):
        compare_cells(0.1, 0.2, unit="fraction")


# ---------------------------------------------------------------- YAML schema of the new keys

@pytest.mark.parametrize("key, value, where", [
    ("runs", 0, "runs"), ("runs", "five", "runs"), ("runs", True, "runs"),
    ("alpha", 0.5, "alpha"), ("alpha", 0, "alpha"), ("alpha", "5%", "alpha"),
    ("gates", {"chance": {"acc": "median"}}, "gates.chance.acc"),
    ("gates", {"chance": {"map": "zero"}}, "gates.chance.map"),
    ("gates", {"band": 0.1}, "gates.band"),
    ("gates", {"loss": {"trivial": {"zz": 1.0}, "fraction": 0.05}}, "gates.loss.trivial.zz"),
    ("gates", {"loss": {"trivial": {"a": 1.0}}}, "gates.loss.fraction"),
    ("gates", {"dynamic_range": [{"datasets": ["d1"], "metric": "acc", "high": "a", "low": "b",
                                  "min": 0.05, "claims": ["nope"]}]}, "gates.dynamic_range[0].claims"),
    ("gates", {"dynamic_range": [{"datasets": ["d1"], "metric": "acc", "high": "a",
                                  "min": 0.05, "claims": ["a_beats_b"]}]}, "gates.dynamic_range[0].low"),
    ("derived", {"metric": "acc"}, "derived"),
    ("derived", [{"metric": "acc", "method": "a", "of": "acc"}], "derived[0]"),
    ("derived", [{"metric": "gap", "method": "a", "of": "acc", "minus": ["a", "b"]}],
     "derived[0].metric"),
    ("derived", [{"metric": "acc", "method": "a", "of": "acc", "minus": ["a", "b", "c"]}],
     "derived[0].minus"),
    ("derived", [{"metric": "acc", "method": "a", "of": "acc",
                  "source_minus_target": {"d9": "d1"}}], "derived[0].source_minus_target.d9"),
    ("departures", [{"setting": "s", "paper": "p", "ours": "o", "source": "ours"}],
     "departures[0].reason"),
    ("departures", [{"setting": "s", "paper": "p", "ours": "o", "reason": "r", "source": "ours",
                     "profiles": ["fast"]}], "departures[0].profiles"),
    ("departures", [{"setting": "s", "paper": "p", "ours": "o", "reason": "r", "source": "ours",
                     "when": "x"}], "departures[0].when"),
])
def test_schema_errors_of_the_new_keys_name_the_key(toy_dict, write_paper, key, value, where):
    toy_dict[key] = value
    with pytest.raises(ReportedSchemaError) as error:
        load_reported(write_paper(toy_dict))
    assert f": {where}:" in str(error.value)


def test_new_keys_load(toy_dict, write_paper):
    toy_dict.update({
        "runs": 10, "alpha": 0.01, "gates": {"chance": {"acc": "majority"}, "chance_band": 0.2},
        "derived": [{"metric": "acc", "method": "a", "of": "acc", "minus": ["a", "b"]}],
        "departures": [{"setting": "s", "paper": "p", "ours": 3, "reason": "r",
                        "source": "paper: Sec. 4", "profiles": ["paper"]}]})
    paper = load_reported(write_paper(toy_dict))
    assert (paper.runs, paper.alpha) == (10, 0.01)
    assert paper.gates.chance == {"acc": "majority"} and paper.gates.chance_band == 0.2
    assert paper.derived[0].minus == ("a", "b")
    assert paper.departures_for("paper")[0].ours == "3" and paper.departures_for("quick") == ()
    plain = load_reported(write_paper({k: v for k, v in toy_dict.items() if k not in (
        "runs", "alpha", "gates", "derived", "departures")}))
    assert (plain.runs, plain.alpha, plain.gates, plain.derived) == (5, 0.05, None, ())


def test_rerun_data_widen_an_interval_and_never_add_degrees_of_freedom():
    """Re-run data add variance; they must not buy degrees of freedom the seeds lack (a
    Welch-Satterthwaite sum with a better-known re-run term would narrow the t quantile)."""
    import pandas as pd

    from repro.report.stats import compare_cells

    idx = pd.MultiIndex.from_tuples([(0, 0), (1, 0)], names=["seed", "repeat"])
    left, right = pd.Series([0.60, 0.64], idx), pd.Series([0.58, 0.59], idx)
    rerun = pd.DataFrame({"reference": [0.60, 0.64], "rerun": [0.601, 0.639]}, index=idx)
    plain = compare_cells(left, right, unit="fraction")
    with_rerun = compare_cells(left, right, unit="fraction", rerun_left=rerun,
                               rerun_right=rerun.assign(rerun=[0.58, 0.59]))
    assert with_rerun.df <= plain.df == 1
    lo, hi = plain.interval(0.95)
    lo_r, hi_r = with_rerun.interval(0.95)
    assert lo_r <= lo and hi_r >= hi
